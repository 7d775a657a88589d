//! 2-D convolution (square kernel, zero padding, stride 1 for BaseDCNN, stride 2 for the
//! downsampling convolutions of ResNet-18, paper 5.2) written as im2col + one GEMM, so that
//! its backward pass is two GEMMs and a col2im instead of candle's slow CPU
//! `conv_transpose2d` (the input gradient) and strided weight-gradient convolution.
//!
//! Forward: cols = im2col(x) with shape (B*H'*W', C*k*k); y = cols · Wᵀ (+ b), reshaped to NCHW,
//! with H' = (H + 2 pad - k) / stride + 1 (floor, as PyTorch).
//! Backward comes from candle's matmul (two GEMMs) and our `Im2col` op, whose backward is
//! col2im (a scatter-add). When the input needs no gradient (the image entering the first
//! layer), candle never calls that backward, so the unneeded input gradient is not computed.
//! Off the CPU the layer uses candle's own convolution (cuDNN where built with it).

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, DType, Layout, Module, Shape, Tensor, WithDType};
use rayon::prelude::*;

use crate::cpu_slice::contiguous_slice;
use crate::fused_conv2d::FusedConv2d;

/// The unfold of a (B, C, H, W) input for a k x k kernel with padding `pad` and stride 1:
/// (B * H_out * W_out, C * k * k), row = output pixel, column = (channel, ky, kx).
pub fn im2col(x: &Tensor, k: usize, pad: usize) -> candle_core::Result<Tensor> {
    im2col_strided(x, k, pad, 1)
}

/// [`im2col`] for any stride: output pixel (oy, ox) reads input rows oy * stride + ky - pad.
pub fn im2col_strided(
    x: &Tensor,
    k: usize,
    pad: usize,
    stride: usize,
) -> candle_core::Result<Tensor> {
    if stride == 0 {
        candle_core::bail!("im2col: stride must be positive");
    }
    x.contiguous()?.apply_op1(Im2col { k, pad, stride })
}

#[derive(Clone, Copy)]
struct Im2col {
    k: usize,
    pad: usize,
    stride: usize,
}

/// The adjoint of [`Im2col`]: scatter-adds columns back into an image of the given shape.
#[derive(Clone, Copy)]
struct Col2im {
    k: usize,
    pad: usize,
    stride: usize,
    dims: (usize, usize, usize, usize),
}

/// Output length of a convolution along one axis: floor((n + 2 pad - k) / stride) + 1, or 0
/// when the kernel does not fit.
fn out_size(n: usize, k: usize, pad: usize, stride: usize) -> usize {
    if n + 2 * pad < k {
        0
    } else {
        (n + 2 * pad - k) / stride + 1
    }
}

fn im2col_impl<T: WithDType + Send + Sync>(
    x: &[T],
    (b, c, h, w): (usize, usize, usize, usize),
    k: usize,
    pad: usize,
    stride: usize,
) -> Vec<T> {
    let (ho, wo) = (out_size(h, k, pad, stride), out_size(w, k, pad, stride));
    let row_len = c * k * k;
    let mut cols = vec![T::zero(); b * ho * wo * row_len];
    cols.par_chunks_mut(ho * wo * row_len)
        .zip(x.par_chunks(c * h * w))
        .for_each(|(out, img)| {
            for oy in 0..ho {
                for ox in 0..wo {
                    let row = &mut out[(oy * wo + ox) * row_len..(oy * wo + ox + 1) * row_len];
                    for ci in 0..c {
                        let plane = &img[ci * h * w..(ci + 1) * h * w];
                        for ky in 0..k {
                            let iy = (oy * stride + ky) as isize - pad as isize;
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            let src = &plane[iy as usize * w..(iy as usize + 1) * w];
                            let dst = &mut row[(ci * k + ky) * k..(ci * k + ky + 1) * k];
                            for (kx, d) in dst.iter_mut().enumerate() {
                                let ix = (ox * stride + kx) as isize - pad as isize;
                                if ix >= 0 && ix < w as isize {
                                    *d = src[ix as usize];
                                }
                            }
                        }
                    }
                }
            }
        });
    cols
}

fn col2im_impl<T: WithDType + Send + Sync>(
    cols: &[T],
    (b, c, h, w): (usize, usize, usize, usize),
    k: usize,
    pad: usize,
    stride: usize,
) -> Vec<T> {
    let (ho, wo) = (out_size(h, k, pad, stride), out_size(w, k, pad, stride));
    let row_len = c * k * k;
    let mut x = vec![T::zero(); b * c * h * w];
    x.par_chunks_mut(c * h * w)
        .zip(cols.par_chunks(ho * wo * row_len))
        .for_each(|(img, src)| {
            for oy in 0..ho {
                for ox in 0..wo {
                    let row = &src[(oy * wo + ox) * row_len..(oy * wo + ox + 1) * row_len];
                    for ci in 0..c {
                        for ky in 0..k {
                            let iy = (oy * stride + ky) as isize - pad as isize;
                            if iy < 0 || iy >= h as isize {
                                continue;
                            }
                            let base = ci * h * w + iy as usize * w;
                            for kx in 0..k {
                                let ix = (ox * stride + kx) as isize - pad as isize;
                                if ix >= 0 && ix < w as isize {
                                    img[base + ix as usize] += row[(ci * k + ky) * k + kx];
                                }
                            }
                        }
                    }
                }
            }
        });
    x
}

impl CustomOp1 for Im2col {
    fn name(&self) -> &'static str {
        "fer-im2col"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = l.shape().dims4()?;
        let (ho, wo) = (
            out_size(d.2, self.k, self.pad, self.stride),
            out_size(d.3, self.k, self.pad, self.stride),
        );
        let shape = Shape::from((d.0 * ho * wo, d.1 * self.k * self.k));
        let out = match s.dtype() {
            DType::F32 => CpuStorage::F32(im2col_impl(
                contiguous_slice::<f32>(s, l)?,
                d,
                self.k,
                self.pad,
                self.stride,
            )),
            DType::F64 => CpuStorage::F64(im2col_impl(
                contiguous_slice::<f64>(s, l)?,
                d,
                self.k,
                self.pad,
                self.stride,
            )),
            dt => candle_core::bail!("im2col: unsupported dtype {dt:?}"),
        };
        Ok((out, shape))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let op = Col2im {
            k: self.k,
            pad: self.pad,
            stride: self.stride,
            dims: arg.dims4()?,
        };
        Ok(Some(grad.contiguous()?.apply_op1_no_bwd(&op)?))
    }
}

impl CustomOp1 for Col2im {
    fn name(&self) -> &'static str {
        "fer-col2im"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = self.dims;
        let rows = b
            * out_size(h, self.k, self.pad, self.stride)
            * out_size(w, self.k, self.pad, self.stride);
        if l.shape().dims() != [rows, c * self.k * self.k] {
            candle_core::bail!("col2im: columns {:?} for image {:?}", l.shape(), self.dims);
        }
        let out = match s.dtype() {
            DType::F32 => CpuStorage::F32(col2im_impl(
                contiguous_slice::<f32>(s, l)?,
                self.dims,
                self.k,
                self.pad,
                self.stride,
            )),
            DType::F64 => CpuStorage::F64(col2im_impl(
                contiguous_slice::<f64>(s, l)?,
                self.dims,
                self.k,
                self.pad,
                self.stride,
            )),
            dt => candle_core::bail!("col2im: unsupported dtype {dt:?}"),
        };
        Ok((out, Shape::from(self.dims)))
    }
}

/// A convolution layer with PyTorch's parameter layout (weight (C_out, C_in, k, k),
/// bias (C_out)), square stride, zero padding.
#[derive(Debug, Clone)]
pub struct GemmConv2d {
    weight: Tensor,
    bias: Option<Tensor>,
    pad: usize,
    stride: usize,
}

impl GemmConv2d {
    /// A stride-1 convolution.
    pub fn new(weight: Tensor, bias: Option<Tensor>, pad: usize) -> Self {
        Self::with_stride(weight, bias, pad, 1)
    }

    /// A convolution with the given stride (ResNet's stride-2 stem and downsampling layers).
    /// A stride of 0 is treated as 1.
    pub fn with_stride(weight: Tensor, bias: Option<Tensor>, pad: usize, stride: usize) -> Self {
        Self {
            weight,
            bias,
            pad,
            stride: stride.max(1),
        }
    }

    pub fn stride(&self) -> usize {
        self.stride
    }

    pub fn weight(&self) -> &Tensor {
        &self.weight
    }
}

impl Module for GemmConv2d {
    /// # Shapes
    /// (B, C_in, H, W) -> (B, C_out, H', W'), H' = (H + 2 pad - k) / stride + 1.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (c_out, c_in, k, _) = self.weight.dims4()?;
        let s = self.stride;
        {
            // One MAC per weight element per output pixel: the stride enters through H', W'.
            let (b, _, h, w) = x.dims4()?;
            let (ho, wo) = (out_size(h, k, self.pad, s), out_size(w, k, self.pad, s));
            crate::mac_counter::add((b * ho * wo * c_out * c_in * k * k) as u64);
        }
        if !x.device().is_cpu() {
            let y = x.conv2d(&self.weight, self.pad, s, 1, 1)?;
            return match &self.bias {
                Some(b) => y.broadcast_add(&b.reshape((1, c_out, 1, 1))?),
                None => Ok(y),
            };
        }
        let _ = c_in;
        let op = FusedConv2d {
            pad: self.pad,
            stride: s,
        };
        let x = x.contiguous()?;
        match &self.bias {
            Some(b) => x.apply_op3(&self.weight, b, op),
            None => x.apply_op2(&self.weight, op),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn rand(shape: (usize, usize, usize, usize), seed: u64) -> Tensor {
        let n = shape.0 * shape.1 * shape.2 * shape.3;
        let mut s = seed;
        let v: Vec<f64> = (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn forward_and_gradients_match_candles_generic_convolution() {
        for (b, c_in, c_out, h, w, k, pad, stride) in [
            (2, 3, 4, 7, 6, 3, 1, 1),
            (1, 2, 5, 5, 5, 3, 0, 1),
            (3, 1, 2, 4, 9, 3, 1, 1),
            (2, 2, 2, 6, 6, 7, 3, 1),
            // Stride 2, as ResNet-18: the 3x3 first convolution of layers 2-4 on even and odd
            // sizes, the 7x7 stem, the 1x1 downsampling shortcut, and a stride of 3 for the
            // general index arithmetic. candle 0.11.1's own conv2d backward derives the
            // transposed convolution's output padding from the height alone, so its input
            // gradient has the wrong width when (H + 2 pad - k) and (W + 2 pad - k) leave
            // different remainders modulo the stride (7x6 at stride 2): the reference cases
            // avoid that, and `strided_unfold_and_fold_are_adjoint` covers it for ours.
            (2, 3, 4, 7, 9, 3, 1, 2),
            (2, 2, 3, 8, 8, 3, 1, 2),
            (1, 2, 3, 9, 11, 7, 3, 2),
            (2, 4, 3, 7, 5, 1, 0, 2),
            (1, 2, 2, 8, 8, 3, 1, 3),
            (2, 3, 2, 8, 6, 3, 1, 2),
        ] {
            let x = Var::from_tensor(&rand((b, c_in, h, w), 1)).unwrap();
            let wv = Var::from_tensor(&rand((c_out, c_in, k, k), 2)).unwrap();
            let bv = Var::from_tensor(&rand((1, 1, 1, c_out), 3).reshape(c_out).unwrap()).unwrap();
            let (ho, wo) = (out_size(h, k, pad, stride), out_size(w, k, pad, stride));
            let weights = rand((b, c_out, ho, wo), 4);

            let ours = GemmConv2d::with_stride(
                wv.as_tensor().clone(),
                Some(bv.as_tensor().clone()),
                pad,
                stride,
            )
            .forward(x.as_tensor())
            .unwrap();
            let theirs = x
                .as_tensor()
                .conv2d(wv.as_tensor(), pad, stride, 1, 1)
                .unwrap()
                .broadcast_add(&bv.as_tensor().reshape((1, c_out, 1, 1)).unwrap())
                .unwrap();
            let max_diff = |a: &Tensor, b: &Tensor| -> f64 {
                (a - b)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .max(0)
                    .unwrap()
                    .to_scalar::<f64>()
                    .unwrap()
            };
            assert_eq!(ours.dims(), theirs.dims());
            assert!(max_diff(&ours, &theirs) < 1e-12);

            let g1 = (ours * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g2 = (theirs * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            for v in [&x, &wv, &bv] {
                let d = max_diff(
                    g1.get(v.as_tensor()).unwrap(),
                    g2.get(v.as_tensor()).unwrap(),
                );
                assert!(
                    d < 1e-10,
                    "gradient differs by {d} for case {:?}",
                    (b, c_in, c_out, h, w, k, pad, stride)
                );
            }
        }
    }

    #[test]
    fn mac_count_uses_the_strided_output_size() {
        // ResNet-18's stem at 100 px: 7x7 stride 2 pad 3 -> 50x50 outputs.
        let x = rand((2, 1, 100, 100), 5).to_dtype(DType::F32).unwrap();
        let w = rand((64, 1, 7, 7), 6).to_dtype(DType::F32).unwrap();
        let conv = GemmConv2d::with_stride(w, None, 3, 2);
        let (y, macs) = crate::mac_counter::count(|| conv.forward(&x).unwrap());
        assert_eq!(y.dims(), &[2, 64, 50, 50]);
        assert_eq!(macs, 2 * 50 * 50 * 64 * 49);
    }

    #[test]
    fn strided_unfold_and_fold_are_adjoint() {
        // <im2col(x), c> = <x, col2im(c)>: col2im is the exact gradient of im2col, also for
        // the non-square shapes candle's reference gradient gets wrong.
        for (b, c, h, w, k, pad, stride) in [
            (2, 3, 7, 6, 3, 1, 2),
            (1, 2, 9, 10, 7, 3, 2),
            (2, 4, 7, 6, 1, 0, 2),
            (1, 2, 8, 7, 3, 1, 3),
        ] {
            let x = rand((b, c, h, w), 7);
            let cols = im2col_strided(&x, k, pad, stride).unwrap();
            let (rows, len) = cols.dims2().unwrap();
            let r = rand((1, 1, rows, len), 8).reshape((rows, len)).unwrap();
            let folded = r
                .apply_op1_no_bwd(&Col2im {
                    k,
                    pad,
                    stride,
                    dims: (b, c, h, w),
                })
                .unwrap();
            let lhs = (cols * &r)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap();
            let rhs = (x * folded)
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f64>()
                .unwrap();
            assert!((lhs - rhs).abs() < 1e-10, "{lhs} vs {rhs}");
            assert_eq!(
                rows,
                b * out_size(h, k, pad, stride) * out_size(w, k, pad, stride)
            );
        }
    }
}
