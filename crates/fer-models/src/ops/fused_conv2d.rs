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
//! the backward instead of being kept from the forward. Small feature maps (ResNet-18's
//! 7x7 and 4x4) are unfolded a few images at a time so that each GEMM is large enough to be
//! efficient. The groups are split over the cores, each GEMM running on one; with fewer
//! groups than cores the GEMM itself is split.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use crate::ops::cpu_gemm::gemm_into;
use crate::ops::cpu_slice::{check_bias, contiguous_slice, float_kernel};
use crate::ops::flat_gradients::split_flat_gradients;
use crate::ops::lane_sum::row_sum;
use crate::ops::matmul_precision::Precision;

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

/// Output pixels one GEMM should cover at least: with fewer (ResNet-18's 4x4 maps) a GEMM per
/// image is a thin rank-16 update of the whole weight gradient, bound by memory.
const MIN_GEMM_PIXELS: usize = 1024;

/// How the batch is cut into work units: `group` consecutive images share one unfold and
/// one GEMM, and the groups are split over the cores (or, with fewer groups than cores, the
/// GEMM itself is split).
#[derive(Debug, Clone, Copy)]
struct Plan {
    group: usize,
    groups: usize,
    split_groups: bool,
}

impl Plan {
    fn new(g: &Geometry) -> Self {
        let threads = rayon::current_num_threads().max(1);
        let wanted = MIN_GEMM_PIXELS.div_ceil(g.hw_out().max(1));
        // Keep at least one group per core when the batch allows it.
        let group = wanted.min(g.b.div_ceil(threads)).max(1);
        let groups = g.b.div_ceil(group);
        Self {
            group,
            groups,
            split_groups: groups >= threads,
        }
    }

    /// Images in group `i` (the last may be short).
    fn images(&self, i: usize, b: usize) -> std::ops::Range<usize> {
        i * self.group..((i + 1) * self.group).min(b)
    }

    fn parallelism(&self) -> gemm::Parallelism {
        if self.split_groups {
            gemm::Parallelism::None
        } else {
            gemm::Parallelism::Rayon(rayon::current_num_threads())
        }
    }
}

/// The output columns `lo..hi` whose input column ox * stride + kx - pad lies inside a row of
/// width `w`: the branch-free inner range of [`unfold`] and [`fold`].
fn valid_columns(g: &Geometry, kx: usize) -> (usize, usize) {
    let lo = if g.pad > kx {
        (g.pad - kx).div_ceil(g.stride)
    } else {
        0
    };
    let hi = if g.w + g.pad > kx {
        (g.w + g.pad - kx).div_ceil(g.stride).min(g.wo)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// For a stride-1 convolution whose output has the input's size (2 pad = k - 1, the 3x3 layers
/// of BaseDCNN and ResNet-18), the tap (ky, kx) reads the plane shifted by a constant: output
/// pixel i (row-major) reads input pixel i + shift over the rows `rows`, except in the columns
/// outside `valid_columns`, where the flat shift wraps into the neighbouring row. Returns
/// (shift, rows as a flat output range) for [`unfold`] and [`fold`] to move whole row blocks
/// at once; `None` for every other geometry.
fn flat_shift(g: &Geometry, ky: usize, kx: usize) -> Option<(isize, std::ops::Range<usize>)> {
    if g.stride != 1 || g.ho != g.h || g.wo != g.w {
        return None;
    }
    let (h, w) = (g.h as isize, g.w as isize);
    let dy = ky as isize - g.pad as isize;
    let dx = kx as isize - g.pad as isize;
    let first = (-dy).clamp(0, h) as usize;
    let last = (h - dy).clamp(0, h) as usize;
    Some((dy * w + dx, first * g.w..last.max(first) * g.w))
}

/// The part of `range` (flat output indices) whose input index i + shift lies inside the plane
/// of `len` pixels: the rest is in wrapped columns, which the callers zero.
fn clip_to_plane(
    range: &std::ops::Range<usize>,
    shift: isize,
    len: usize,
) -> std::ops::Range<usize> {
    let a = (range.start as isize).max(-shift).max(0) as usize;
    let b = (range.end as isize).min(len as isize - shift).max(0) as usize;
    a.min(range.end)..b.max(a.min(range.end))
}

/// Unfolds one image (C, H, W) into columns `off..off + H'W'` of `cols`, whose C k k rows are
/// `ld` long; zero outside the image.
fn unfold<T: WithDType>(img: &[T], g: &Geometry, cols: &mut [T], ld: usize, off: usize) {
    let k = g.k;
    for ci in 0..g.c {
        let plane = &img[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ky in 0..k {
            for kx in 0..k {
                let row = &mut cols[((ci * k + ky) * k + kx) * ld + off..][..g.hw_out()];
                let (lo, hi) = valid_columns(g, kx);
                if let Some((shift, rows)) = flat_shift(g, ky, kx) {
                    // One copy for the whole block of valid rows, then zeros in the wrapped
                    // columns and outside the block.
                    let copied = clip_to_plane(&rows, shift, plane.len());
                    row[..copied.start].fill(T::zero());
                    if !copied.is_empty() {
                        // copied.start >= -shift, so the source index is not negative.
                        let src = (copied.start as isize + shift) as usize;
                        row[copied.clone()].copy_from_slice(&plane[src..src + copied.len()]);
                    }
                    row[copied.end..].fill(T::zero());
                    for oy in rows.start / g.w..rows.end / g.w {
                        let r = &mut row[oy * g.w..(oy + 1) * g.w];
                        r[..lo].fill(T::zero());
                        r[hi..].fill(T::zero());
                    }
                    continue;
                }
                for oy in 0..g.ho {
                    let iy = (oy * g.stride + ky) as isize - g.pad as isize;
                    let out = &mut row[oy * g.wo..(oy + 1) * g.wo];
                    if iy < 0 || iy >= g.h as isize {
                        out.fill(T::zero());
                        continue;
                    }
                    let src = &plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    out[..lo].fill(T::zero());
                    out[hi..].fill(T::zero());
                    if lo == hi {
                        continue;
                    }
                    if g.stride == 1 {
                        let first = lo + kx - g.pad;
                        out[lo..hi].copy_from_slice(&src[first..first + (hi - lo)]);
                    } else {
                        for (ox, o) in out[lo..hi].iter_mut().enumerate() {
                            *o = src[(lo + ox) * g.stride + kx - g.pad];
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`unfold`]: adds columns `off..off + H'W'` of `cols` into the (zeroed)
/// image gradient.
/// `cols` is scratch: the fast path of stride-1 "same" convolutions zeroes its wrapped columns
/// so that whole row blocks can be added at once.
fn fold<T: WithDType>(cols: &mut [T], g: &Geometry, img: &mut [T], ld: usize, off: usize) {
    let k = g.k;
    for ci in 0..g.c {
        let plane = &mut img[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ky in 0..k {
            for kx in 0..k {
                let row = &mut cols[((ci * k + ky) * k + kx) * ld + off..][..g.hw_out()];
                let (lo, hi) = valid_columns(g, kx);
                if let Some((shift, rows)) = flat_shift(g, ky, kx) {
                    for oy in rows.start / g.w..rows.end / g.w {
                        let r = &mut row[oy * g.w..(oy + 1) * g.w];
                        r[..lo].fill(T::zero());
                        r[hi..].fill(T::zero());
                    }
                    let added = clip_to_plane(&rows, shift, plane.len());
                    if !added.is_empty() {
                        let dst = (added.start as isize + shift) as usize;
                        for (d, &v) in plane[dst..dst + added.len()].iter_mut().zip(&row[added]) {
                            *d += v;
                        }
                    }
                    continue;
                }
                let row = &*row;
                for oy in 0..g.ho {
                    let iy = (oy * g.stride + ky) as isize - g.pad as isize;
                    if iy < 0 || iy >= g.h as isize {
                        continue;
                    }
                    let dst = &mut plane[iy as usize * g.w..(iy as usize + 1) * g.w];
                    let src = &row[oy * g.wo + lo..oy * g.wo + hi];
                    if lo == hi {
                        continue;
                    }
                    if g.stride == 1 {
                        let first = lo + kx - g.pad;
                        for (d, &v) in dst[first..first + (hi - lo)].iter_mut().zip(src) {
                            *d += v;
                        }
                    } else {
                        for (ox, &v) in src.iter().enumerate() {
                            dst[(lo + ox) * g.stride + kx - g.pad] += v;
                        }
                    }
                }
            }
        }
    }
}

/// Per-worker buffers: the group's unfold, its (C_out, G H'W') output or gradient, and the
/// weight and bias gradients accumulated over the worker's groups.
struct Scratch<T> {
    cols: Vec<T>,
    out: Vec<T>,
    dcols: Vec<T>,
    dw: Vec<T>,
    db: Vec<T>,
}

impl<T: WithDType> Scratch<T> {
    fn new(g: &Geometry, plan: &Plan, backward: bool, need_dx: bool) -> Self {
        let ld = plan.group * g.hw_out();
        Self {
            cols: vec![T::zero(); g.ckk() * ld],
            out: vec![T::zero(); g.c_out * ld],
            dcols: if need_dx {
                vec![T::zero(); g.ckk() * ld]
            } else {
                Vec::new()
            },
            dw: if backward {
                vec![T::zero(); g.c_out * g.ckk()]
            } else {
                Vec::new()
            },
            db: if backward {
                vec![T::zero(); g.c_out]
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

/// Runs `work` (scratch, group index, the group's chunk of `per_group`) for every group, over
/// the cores when the plan says so, and returns the merged scratch.
fn for_each_group<T: WithDType, F>(
    plan: &Plan,
    per_group: &mut [T],
    chunk: usize,
    new_scratch: &(dyn Fn() -> Scratch<T> + Sync),
    work: F,
) -> Scratch<T>
where
    F: Fn(&mut Scratch<T>, usize, &mut [T]) + Sync,
{
    if plan.split_groups {
        let chunks: Vec<&mut [T]> = if chunk == 0 {
            (0..plan.groups).map(|_| &mut [][..]).collect()
        } else {
            per_group.chunks_mut(chunk).collect()
        };
        // One fixed, contiguous run of groups per core, each with its own scratch, merged in
        // run order: the sums do not depend on which core ran what, so a seeded run gives the
        // same weights every time (rayon's fold would split by work stealing).
        let per_core = plan.groups.div_ceil(rayon::current_num_threads().max(1));
        let mut runs: Vec<Vec<(usize, &mut [T])>> = Vec::new();
        for (i, part) in chunks.into_iter().enumerate() {
            if i % per_core == 0 {
                runs.push(Vec::with_capacity(per_core));
            }
            if let Some(run) = runs.last_mut() {
                run.push((i, part));
            }
        }
        let partials: Vec<Scratch<T>> = runs
            .into_par_iter()
            .map(|run| {
                let mut s = new_scratch();
                for (i, part) in run {
                    work(&mut s, i, part);
                }
                s
            })
            .collect();
        partials
            .into_iter()
            .reduce(Scratch::merge)
            .unwrap_or_else(new_scratch)
    } else {
        let mut s = new_scratch();
        if chunk == 0 {
            for i in 0..plan.groups {
                work(&mut s, i, &mut []);
            }
        } else {
            for (i, part) in per_group.chunks_mut(chunk).enumerate() {
                work(&mut s, i, part);
            }
        }
        s
    }
}

fn forward<T: WithDType>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    g: &Geometry,
    precision: Precision,
) -> Vec<T> {
    let (ckk, hw) = (g.ckk(), g.hw_out());
    let plan = Plan::new(g);
    let (img, out_img) = (g.c * g.h * g.w, g.c_out * hw);
    let mut y = vec![T::zero(); g.b * out_img];
    let new_scratch = || Scratch::new(g, &plan, false, false);
    for_each_group(
        &plan,
        &mut y,
        plan.group * out_img,
        &new_scratch,
        |s, i, yg| {
            let images = plan.images(i, g.b);
            let n = images.len();
            let ld = n * hw;
            for (j, b) in images.clone().enumerate() {
                unfold(&x[b * img..(b + 1) * img], g, &mut s.cols, ld, j * hw);
            }
            // With one image the GEMM writes NCHW directly; with several, (C_out, G H'W') is
            // scattered image by image afterwards.
            let dst: &mut [T] = if n == 1 {
                yg
            } else {
                &mut s.out[..g.c_out * ld]
            };
            if let Some(bias) = bias {
                for (row, &bv) in dst.chunks_mut(ld).zip(bias) {
                    row.fill(bv);
                }
            }
            gemm_into(
                (g.c_out, ld, ckk),
                dst,
                bias.is_some(),
                (w, ckk as isize, 1),
                (&s.cols[..ckk * ld], ld as isize, 1),
                plan.parallelism(),
                precision,
            );
            if n > 1 {
                for j in 0..n {
                    for c in 0..g.c_out {
                        yg[j * out_img + c * hw..][..hw]
                            .copy_from_slice(&s.out[c * ld + j * hw..][..hw]);
                    }
                }
            }
        },
    );
    y
}

/// Returns [dx (if `need_dx`) | dW | db], flat.
fn backward<T: WithDType>(
    x: &[T],
    w: &[T],
    dy: &[T],
    g: &Geometry,
    need_dx: bool,
    precision: Precision,
) -> Vec<T> {
    let (ckk, hw) = (g.ckk(), g.hw_out());
    let plan = Plan::new(g);
    let (img, out_img) = (g.c * g.h * g.w, g.c_out * hw);
    let mut dx = if need_dx {
        vec![T::zero(); g.b * img]
    } else {
        Vec::new()
    };
    let chunk = if need_dx { plan.group * img } else { 0 };
    let new_scratch = || Scratch::new(g, &plan, true, need_dx);
    let total = for_each_group(&plan, &mut dx, chunk, &new_scratch, |s, i, dxg| {
        let images = plan.images(i, g.b);
        let n = images.len();
        let ld = n * hw;
        for (j, b) in images.clone().enumerate() {
            unfold(&x[b * img..(b + 1) * img], g, &mut s.cols, ld, j * hw);
        }
        // dy of the group as (C_out, G H'W'): the image's own slice when G = 1.
        let dyg: &[T] = if n == 1 {
            &dy[images.start * out_img..][..out_img]
        } else {
            for (j, b) in images.clone().enumerate() {
                for c in 0..g.c_out {
                    s.out[c * ld + j * hw..][..hw]
                        .copy_from_slice(&dy[b * out_img + c * hw..][..hw]);
                }
            }
            &s.out[..g.c_out * ld]
        };
        // dW += dy_g (C_out x G H'W') · cols_gᵀ (G H'W' x Ckk)
        gemm_into(
            (g.c_out, ckk, ld),
            &mut s.dw,
            true,
            (dyg, ld as isize, 1),
            (&s.cols[..ckk * ld], 1, ld as isize),
            plan.parallelism(),
            precision,
        );
        for (d, row) in s.db.iter_mut().zip(dyg.chunks(ld)) {
            *d += T::from_f64(row_sum(row, |v| v));
        }
        if need_dx {
            // dcols = Wᵀ (Ckk x C_out) · dy_g (C_out x G H'W'), folded back image by image.
            gemm_into(
                (ckk, ld, g.c_out),
                &mut s.dcols,
                false,
                (w, 1, ckk as isize),
                (dyg, ld as isize, 1),
                plan.parallelism(),
                precision,
            );
            dxg.fill(T::zero());
            for j in 0..n {
                fold(
                    &mut s.dcols,
                    g,
                    &mut dxg[j * img..(j + 1) * img],
                    ld,
                    j * hw,
                );
            }
        }
    });
    dx.extend_from_slice(&total.dw);
    dx.extend_from_slice(&total.db);
    dx
}

/// The convolution: `x.apply_op3(w, b, op)` with a bias, `x.apply_op2(w, op)` without.
/// `precision` is that of its forward's caller (`matmul_precision`), kept for the backward.
#[derive(Debug, Clone, Copy)]
pub struct FusedConv2d {
    pub pad: usize,
    pub stride: usize,
    pub precision: Precision,
}

impl FusedConv2d {
    fn run_forward(
        &self,
        (sx, lx): (&CpuStorage, &Layout),
        (sw, lw): (&CpuStorage, &Layout),
        bias: Option<(&CpuStorage, &Layout)>,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let g = Geometry::new(lx, lw, self.pad, self.stride)?;
        check_bias("conv2d", bias, g.c_out)?;
        let shape = Shape::from((g.b, g.c_out, g.ho, g.wo));
        // The largest activations of every model are conv outputs (batch norm, ReLU and the
        // attention units keep their shape), so this is where an oversized input stops.
        crate::memory_limit::check_tensor(
            &format!("the conv2d output {:?}", shape.dims()),
            shape.elem_count(),
            sx.dtype().size_in_bytes(),
        )?;
        let out = float_kernel!(sx.dtype(), "conv2d", T => forward(
            contiguous_slice::<T>(sx, lx)?,
            contiguous_slice::<T>(sw, lw)?,
            bias.map(|(s, l)| contiguous_slice::<T>(s, l))
                .transpose()?,
            &g,
            self.precision,
        ));
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
        split_flat_gradients(&flat, x, w, need_dx)
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
        let out = float_kernel!(s1.dtype(), "conv2d backward", T => backward(
            contiguous_slice::<T>(s1, l1)?,
            contiguous_slice::<T>(s2, l2)?,
            contiguous_slice::<T>(s3, l3)?,
            &g,
            self.need_dx,
            self.conv.precision,
        ));
        Ok((out, Shape::from(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_tensors::max_abs_diff as max_diff;
    use candle_core::{Device, Var};

    fn values(shape: (usize, usize, usize, usize), seed: f64) -> Tensor {
        let n = shape.0 * shape.1 * shape.2 * shape.3;
        let v: Vec<f32> = (0..n)
            .map(|i| ((i as f64 * 0.731 + seed).sin() * 0.8) as f32)
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
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
            // A 7x7 kernel on a 2x2 map: some kernel columns see no input pixel at all.
            (2, 2, 3, 2, 7, 3, 1),
        ] {
            let x = values((b, c_in, s, s), 0.3);
            let w = Var::from_tensor(&values((c_out, c_in, k, k), 1.7)).unwrap();
            let op = FusedConv2d {
                pad,
                stride,
                precision: Precision::Fp32,
            };
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

    /// <unfold(x), c> = <x, fold(c)>: fold is the exact adjoint of unfold, so dx is the exact
    /// input gradient, also for the shapes whose input gradient candle's own conv2d backward
    /// gets wrong (7x6 at stride 2) and for kernels wider than the map.
    #[test]
    fn unfold_and_fold_are_adjoint() {
        for (c, h, w, k, pad, stride) in [
            (3, 7, 6, 3, 1, 2),
            (2, 9, 10, 7, 3, 2),
            (4, 7, 6, 1, 0, 2),
            (2, 8, 7, 3, 1, 3),
            (2, 2, 3, 7, 3, 1),
            // Stride 1 with the output the input's size: the flat-shift path, including a
            // 1x1 map and a 5x5 kernel on a wide plane.
            (3, 5, 4, 3, 1, 1),
            (2, 1, 1, 3, 1, 1),
            (2, 4, 6, 5, 2, 1),
        ] {
            let x_layout = Layout::contiguous((1, c, h, w));
            let w_layout = Layout::contiguous((1, c, k, k));
            let g = Geometry::new(&x_layout, &w_layout, pad, stride).unwrap();
            let x: Vec<f64> = (0..c * h * w).map(|i| (i as f64 * 0.37).sin()).collect();
            let n = g.ckk() * g.hw_out();
            let r: Vec<f64> = (0..n).map(|i| (i as f64 * 0.91 + 0.4).cos()).collect();
            let mut cols = vec![0.0; n];
            unfold(&x, &g, &mut cols, g.hw_out(), 0);
            let mut folded = vec![0.0; x.len()];
            fold(&mut r.clone(), &g, &mut folded, g.hw_out(), 0);
            let lhs: f64 = cols.iter().zip(&r).map(|(a, b)| a * b).sum();
            let rhs: f64 = x.iter().zip(&folded).map(|(a, b)| a * b).sum();
            assert!((lhs - rhs).abs() < 1e-10, "{lhs} vs {rhs}");
            assert!(lhs.abs() > 1e-3, "a zero inner product proves nothing");
        }
    }

    /// `unfold` against the definition of im2col, element by element, on the general path and
    /// on the flat-shift path of stride-1 "same" convolutions (which moves whole row blocks).
    #[test]
    fn unfold_matches_the_definition() {
        for (c, h, w, k, pad, stride) in [
            (2, 5, 4, 3, 1, 1),
            (1, 1, 1, 3, 1, 1),
            (2, 3, 7, 5, 2, 1),
            (2, 6, 5, 3, 0, 1),
            (2, 7, 6, 3, 1, 2),
        ] {
            let g = Geometry::new(
                &Layout::contiguous((1, c, h, w)),
                &Layout::contiguous((1, c, k, k)),
                pad,
                stride,
            )
            .unwrap();
            let x: Vec<f64> = (0..c * h * w).map(|i| i as f64 + 1.0).collect();
            let hw = g.hw_out();
            let mut cols = vec![f64::NAN; g.ckk() * hw];
            unfold(&x, &g, &mut cols, hw, 0);
            for ci in 0..c {
                for ky in 0..k {
                    for kx in 0..k {
                        for oy in 0..g.ho {
                            for ox in 0..g.wo {
                                let iy = (oy * stride + ky) as isize - pad as isize;
                                let ix = (ox * stride + kx) as isize - pad as isize;
                                let inside =
                                    (0..h as isize).contains(&iy) && (0..w as isize).contains(&ix);
                                let want = if inside {
                                    x[(ci * h + iy as usize) * w + ix as usize]
                                } else {
                                    0.0
                                };
                                let got = cols[((ci * k + ky) * k + kx) * hw + oy * g.wo + ox];
                                assert_eq!(got, want, "{c}x{h}x{w} k{k} p{pad} s{stride}");
                            }
                        }
                    }
                }
            }
        }
    }

    /// The weight gradient is the same, bit for bit, on every run: a seeded training run must
    /// be reproducible on the CPU, whatever the order in which the cores finish.
    #[test]
    fn weight_gradient_is_reproducible() {
        let x = values((16, 3, 9, 9), 0.5);
        let w = Var::from_tensor(&values((6, 3, 3, 3), 1.3)).unwrap();
        let op = FusedConv2d {
            pad: 1,
            stride: 1,
            precision: Precision::Fp32,
        };
        let r = values((16, 6, 9, 9), 2.2);
        let grad = || {
            let y = x.apply_op2(w.as_tensor(), op).unwrap();
            let g = (y * &r).unwrap().sum_all().unwrap().backward().unwrap();
            g.get(w.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1::<f32>()
                .unwrap()
        };
        let first = grad();
        for _ in 0..20 {
            assert_eq!(grad(), first);
        }
    }

    #[test]
    fn a_bias_of_the_wrong_length_is_an_error() {
        let x = values((1, 2, 4, 4), 0.1);
        let w = values((3, 2, 3, 3), 0.2);
        let b = values((1, 1, 1, 2), 0.3).reshape(2).unwrap();
        let op = FusedConv2d {
            pad: 1,
            stride: 1,
            precision: Precision::Fp32,
        };
        let e = x.apply_op3(&w, &b, op).unwrap_err().to_string();
        assert!(e.contains("conv2d: bias of shape [2] for 3 outputs"), "{e}");
    }
}
