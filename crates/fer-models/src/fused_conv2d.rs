//! The CPU kernel of every 2-D convolution in the models (BaseDCNN's 3x3 components, paper
//! Table 1; ResNet-18's strided and 7x7 convolutions, 5.2; the attention maps' convolutions,
//! eq. 11): forward and backward each as one candle custom op, with one GEMM per image.
//!
//! Why one op: written as candle operations (im2col, matmul, bias broadcast, transpose to
//! NCHW) a convolution is five graph nodes, and candle's backward allocates, zero-fills and
//! adds a gradient buffer for each of them. At 100 px, batch 32, the first component's output
//! is 82 MB, so those passes cost more than the GEMMs. Here the forward writes NCHW directly
//! (y_b = W · cols_b + bias, cols_b the (C k k, H' W') unfold of image b) and the backward
//! computes, image by image, dW += dy_b · cols_bᵀ, db += Σ dy_b and, only when the input needs
//! it, dx_b = col2im(Wᵀ · dy_b). The unfold of one image (at most a few MB) is rebuilt in
//! the backward instead of being kept from the forward. Images are split over the cores,
//! each GEMM runs on one; with fewer images than cores the GEMM itself is split.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, DType, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use crate::cpu_slice::contiguous_slice;

/// The geometry of one convolution: input (B, C, H, W), kernel (C_out, C, k, k).
#[derive(Debug, Clone, Copy)]
struct Geometry {
    b: usize,
    c: usize,
    h: usize,
    w: usize,
    c_out: usize,
    k: usize,
    pad: usize,
    stride: usize,
    ho: usize,
    wo: usize,
}

impl Geometry {
    fn new(x: &Layout, w: &Layout, pad: usize, stride: usize) -> candle_core::Result<Self> {
        let (b, c, h, wd) = x.shape().dims4()?;
        let (c_out, c_w, k, k2) = w.shape().dims4()?;
        if c_w != c || k != k2 {
            candle_core::bail!(
                "conv2d: input {:?} and kernel {:?} do not match",
                x.shape().dims(),
                w.shape().dims()
            );
        }
        if h + 2 * pad < k || wd + 2 * pad < k || stride == 0 {
            candle_core::bail!("conv2d: a {k}x{k} kernel does not fit an input of {h}x{wd}");
        }
        Ok(Self {
            b,
            c,
            h,
            w: wd,
            c_out,
            k,
            pad,
            stride,
            ho: (h + 2 * pad - k) / stride + 1,
            wo: (wd + 2 * pad - k) / stride + 1,
        })
    }

    /// Rows of the unfold: C k k.
    fn ckk(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Output pixels per channel: H' W'.
    fn hw_out(&self) -> usize {
        self.ho * self.wo
    }
}

/// Whether to split the images over the cores (else the GEMM is split).
fn split_images(g: &Geometry) -> bool {
    g.b >= rayon::current_num_threads()
}

fn gemm_parallelism(g: &Geometry) -> gemm::Parallelism {
    if split_images(g) {
        gemm::Parallelism::None
    } else {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    }
}

/// Unfolds one image (C, H, W) into `cols` (C k k rows of H' W'), zero outside the image.
fn unfold<T: WithDType>(img: &[T], g: &Geometry, cols: &mut [T]) {
    let (k, hw) = (g.k, g.hw_out());
    for ci in 0..g.c {
        let plane = &img[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ky in 0..k {
            for kx in 0..k {
                let row = &mut cols[((ci * k + ky) * k + kx) * hw..][..hw];
                for oy in 0..g.ho {
                    let iy = (oy * g.stride + ky) as isize - g.pad as isize;
                    let out = &mut row[oy * g.wo..(oy + 1) * g.wo];
                    if iy < 0 || iy >= g.h as isize {
                        out.fill(T::zero());
                        continue;
                    }
                    let src = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    for (ox, o) in out.iter_mut().enumerate() {
                        let ix = (ox * g.stride + kx) as isize - g.pad as isize;
                        *o = if ix >= 0 && ix < g.w as isize {
                            src[ix as usize]
                        } else {
                            T::zero()
                        };
                    }
                }
            }
        }
    }
}

/// The adjoint of [`unfold`]: adds `cols` back into the (zeroed) image gradient.
fn fold<T: WithDType>(cols: &[T], g: &Geometry, img: &mut [T]) {
    let (k, hw) = (g.k, g.hw_out());
    for ci in 0..g.c {
        let plane = &mut img[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ky in 0..k {
            for kx in 0..k {
                let row = &cols[((ci * k + ky) * k + kx) * hw..][..hw];
                for oy in 0..g.ho {
                    let iy = (oy * g.stride + ky) as isize - g.pad as isize;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let dst = &mut plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    for (ox, &v) in row[oy * g.wo..(oy + 1) * g.wo].iter().enumerate() {
                        let ix = (ox * g.stride + kx) as isize - g.pad as isize;
                        if ix >= 0 && ix < g.w as isize {
                            dst[ix as usize] += v;
                        }
                    }
                }
            }
        }
    }
}

/// dst (m x n, row stride `dst_rs`) = [dst +] lhs (m x k) · rhs (k x n), each operand given
/// by its row and column strides.
#[allow(clippy::too_many_arguments)]
fn gemm_into<T: WithDType>(
    (m, n, k): (usize, usize, usize),
    dst: &mut [T],
    accumulate: bool,
    lhs: (&[T], isize, isize),
    rhs: (&[T], isize, isize),
    par: gemm::Parallelism,
) {
    debug_assert!(dst.len() >= m * n);
    // SAFETY: the slices hold m x n, m x k and k x n elements at the given strides (checked
    // by the callers' geometry), `dst` does not alias the operands (it is a distinct &mut),
    // and T is f32 or f64, which gemm supports.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.0.as_ptr(),
            lhs.2,
            lhs.1,
            rhs.0.as_ptr(),
            rhs.2,
            rhs.1,
            T::one(),
            T::one(),
            false,
            false,
            false,
            par,
        );
    }
}

fn forward<T: WithDType>(x: &[T], w: &[T], bias: Option<&[T]>, g: &Geometry) -> Vec<T> {
    let (ckk, hw) = (g.ckk(), g.hw_out());
    let mut y = vec![T::zero(); g.b * g.c_out * hw];
    let par = gemm_parallelism(g);
    let one_image = |cols: &mut Vec<T>, (yb, xb): (&mut [T], &[T])| {
        unfold(xb, g, cols);
        if let Some(bias) = bias {
            for (row, &bv) in yb.chunks_mut(hw).zip(bias) {
                row.fill(bv);
            }
        }
        gemm_into(
            (g.c_out, hw, ckk),
            yb,
            bias.is_some(),
            (w, ckk as isize, 1),
            (cols, hw as isize, 1),
            par,
        );
    };
    let img = g.c * g.h * g.w;
    if split_images(g) {
        y.par_chunks_mut(g.c_out * hw)
            .zip(x.par_chunks(img))
            .for_each_init(|| vec![T::zero(); ckk * hw], one_image);
    } else {
        let mut cols = vec![T::zero(); ckk * hw];
        for pair in y.chunks_mut(g.c_out * hw).zip(x.chunks(img)) {
            one_image(&mut cols, pair);
        }
    }
    y
}

/// Per-thread accumulators of the backward pass.
struct Partial<T> {
    dw: Vec<T>,
    db: Vec<T>,
    cols: Vec<T>,
    dcols: Vec<T>,
}

impl<T: WithDType> Partial<T> {
    fn new(g: &Geometry, need_dx: bool) -> Self {
        let n = g.ckk() * g.hw_out();
        Self {
            dw: vec![T::zero(); g.c_out * g.ckk()],
            db: vec![T::zero(); g.c_out],
            cols: vec![T::zero(); n],
            dcols: if need_dx {
                vec![T::zero(); n]
            } else {
                Vec::new()
            },
        }
    }

    fn merge(mut self, other: Self) -> Self {
        for (a, b) in self.dw.iter_mut().zip(&other.dw) {
            *a += *b;
        }
        for (a, b) in self.db.iter_mut().zip(&other.db) {
            *a += *b;
        }
        self
    }
}

/// Returns [dx (if `need_dx`) | dW | db], flat.
fn backward<T: WithDType>(x: &[T], w: &[T], dy: &[T], g: &Geometry, need_dx: bool) -> Vec<T> {
    let (ckk, hw) = (g.ckk(), g.hw_out());
    let img = g.c * g.h * g.w;
    let out_img = g.c_out * hw;
    let par = gemm_parallelism(g);
    let one_image = |mut acc: Partial<T>, i: usize, dxb: Option<&mut [T]>| {
        let xb = &x[i * img..(i + 1) * img];
        let dyb = &dy[i * out_img..(i + 1) * out_img];
        unfold(xb, g, &mut acc.cols);
        // dW += dy_b (C_out x H'W') · cols_bᵀ (H'W' x Ckk)
        gemm_into(
            (g.c_out, ckk, hw),
            &mut acc.dw,
            true,
            (dyb, hw as isize, 1),
            (&acc.cols, 1, hw as isize),
            par,
        );
        for (d, row) in acc.db.iter_mut().zip(dyb.chunks(hw)) {
            *d += row.iter().fold(T::zero(), |s, &v| s + v);
        }
        if let Some(dxb) = dxb {
            // dcols = Wᵀ (Ckk x C_out) · dy_b (C_out x H'W')
            gemm_into(
                (ckk, hw, g.c_out),
                &mut acc.dcols,
                false,
                (w, 1, ckk as isize),
                (dyb, hw as isize, 1),
                par,
            );
            dxb.fill(T::zero());
            fold(&acc.dcols, g, dxb);
        }
        acc
    };
    let mut dx = if need_dx {
        vec![T::zero(); g.b * img]
    } else {
        Vec::new()
    };
    let total = if split_images(g) {
        if need_dx {
            dx.par_chunks_mut(img)
                .enumerate()
                .fold(
                    || Partial::new(g, true),
                    |acc, (i, dxb)| one_image(acc, i, Some(dxb)),
                )
                .reduce_with(Partial::merge)
        } else {
            (0..g.b)
                .into_par_iter()
                .fold(|| Partial::new(g, false), |acc, i| one_image(acc, i, None))
                .reduce_with(Partial::merge)
        }
    } else {
        let mut acc = Partial::new(g, need_dx);
        for i in 0..g.b {
            let dxb = if need_dx {
                Some(&mut dx[i * img..(i + 1) * img])
            } else {
                None
            };
            acc = one_image(acc, i, dxb);
        }
        Some(acc)
    }
    .unwrap_or_else(|| Partial::new(g, false));
    dx.extend_from_slice(&total.dw);
    dx.extend_from_slice(&total.db);
    dx
}

/// The convolution: `x.apply_op3(w, b, op)` with a bias, `x.apply_op2(w, op)` without.
#[derive(Debug, Clone, Copy)]
pub struct FusedConv2d {
    pub pad: usize,
    pub stride: usize,
}

impl FusedConv2d {
    fn run_forward(
        &self,
        (sx, lx): (&CpuStorage, &Layout),
        (sw, lw): (&CpuStorage, &Layout),
        bias: Option<(&CpuStorage, &Layout)>,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let g = Geometry::new(lx, lw, self.pad, self.stride)?;
        let shape = Shape::from((g.b, g.c_out, g.ho, g.wo));
        let out = match sx.dtype() {
            DType::F32 => CpuStorage::F32(forward(
                contiguous_slice::<f32>(sx, lx)?,
                contiguous_slice::<f32>(sw, lw)?,
                bias.map(|(s, l)| contiguous_slice::<f32>(s, l))
                    .transpose()?,
                &g,
            )),
            DType::F64 => CpuStorage::F64(forward(
                contiguous_slice::<f64>(sx, lx)?,
                contiguous_slice::<f64>(sw, lw)?,
                bias.map(|(s, l)| contiguous_slice::<f64>(s, l))
                    .transpose()?,
                &g,
            )),
            dt => candle_core::bail!("conv2d: unsupported dtype {dt:?}"),
        };
        Ok((out, shape))
    }

    /// (dx if the input needs it, dW, db).
    fn gradients(
        &self,
        x: &Tensor,
        w: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Tensor, Tensor)> {
        let need_dx = x.track_op();
        let flat = x.apply_op3_no_bwd(
            &w.contiguous()?,
            &grad.contiguous()?,
            &FusedConv2dBackward {
                conv: *self,
                need_dx,
            },
        )?;
        let (nx, nw, c_out) = (x.elem_count(), w.elem_count(), w.dim(0)?);
        let (dx, off) = if need_dx {
            (Some(flat.narrow(0, 0, nx)?.reshape(x.shape())?), nx)
        } else {
            (None, 0)
        };
        let dw = flat.narrow(0, off, nw)?.reshape(w.shape())?;
        let db = flat.narrow(0, off + nw, c_out)?;
        Ok((dx, dw, db))
    }
}

impl CustomOp3 for FusedConv2d {
    fn name(&self) -> &'static str {
        "fer-conv2d"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        self.run_forward((s1, l1), (s2, l2), Some((s3, l3)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, db) = self.gradients(x, w, grad)?;
        Ok((dx, Some(dw), Some(db)))
    }
}

impl CustomOp2 for FusedConv2d {
    fn name(&self) -> &'static str {
        "fer-conv2d-no-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        self.run_forward((s1, l1), (s2, l2), None)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, _) = self.gradients(x, w, grad)?;
        Ok((dx, Some(dw)))
    }
}

/// The backward kernel, as an op on (x, W, dy).
struct FusedConv2dBackward {
    conv: FusedConv2d,
    need_dx: bool,
}

impl CustomOp3 for FusedConv2dBackward {
    fn name(&self) -> &'static str {
        "fer-conv2d-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let g = Geometry::new(l1, l2, self.conv.pad, self.conv.stride)?;
        if l3.shape().dims() != [g.b, g.c_out, g.ho, g.wo] {
            candle_core::bail!("conv2d backward: gradient of shape {:?}", l3.shape().dims());
        }
        let n = if self.need_dx {
            l1.shape().elem_count()
        } else {
            0
        } + l2.shape().elem_count()
            + g.c_out;
        let out = match s1.dtype() {
            DType::F32 => CpuStorage::F32(backward(
                contiguous_slice::<f32>(s1, l1)?,
                contiguous_slice::<f32>(s2, l2)?,
                contiguous_slice::<f32>(s3, l3)?,
                &g,
                self.need_dx,
            )),
            DType::F64 => CpuStorage::F64(backward(
                contiguous_slice::<f64>(s1, l1)?,
                contiguous_slice::<f64>(s2, l2)?,
                contiguous_slice::<f64>(s3, l3)?,
                &g,
                self.need_dx,
            )),
            dt => candle_core::bail!("conv2d backward: unsupported dtype {dt:?}"),
        };
        Ok((out, Shape::from(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn values(shape: (usize, usize, usize, usize), seed: f64) -> Tensor {
        let n = shape.0 * shape.1 * shape.2 * shape.3;
        let v: Vec<f32> = (0..n)
            .map(|i| ((i as f64 * 0.731 + seed).sin() * 0.8) as f32)
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    /// In f32, without a bias, with an input that needs no gradient (the image entering the
    /// first layer), and with a single image (the path that splits the GEMM instead of the
    /// images): the output and the weight gradient agree with candle's generic convolution,
    /// and no input gradient is produced.
    #[test]
    fn f32_without_bias_or_input_gradient_matches_candle() {
        for (b, c_in, c_out, s, k, pad, stride) in [
            (4, 3, 8, 10, 3, 1, 1),
            (1, 2, 4, 9, 3, 1, 1),
            (3, 2, 5, 11, 7, 3, 2),
        ] {
            let x = values((b, c_in, s, s), 0.3);
            let w = Var::from_tensor(&values((c_out, c_in, k, k), 1.7)).unwrap();
            let op = FusedConv2d { pad, stride };
            let ours = x.apply_op2(w.as_tensor(), op).unwrap();
            let theirs = x.conv2d(w.as_tensor(), pad, stride, 1, 1).unwrap();
            assert_eq!(ours.dims(), theirs.dims());
            assert!(max_diff(&ours, &theirs) < 1e-4);
            let r = values(ours.dims4().unwrap(), 2.9);
            let g1 = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let g2 = (theirs * &r)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            assert!(g1.get(&x).is_none());
            let d = max_diff(
                g1.get(w.as_tensor()).unwrap(),
                g2.get(w.as_tensor()).unwrap(),
            );
            assert!(d < 1e-3, "weight gradient differs by {d}");
        }
    }
}
