//! Batch normalisation (Ioffe & Szegedy 2015) with a fused CPU kernel for training mode: one
//! custom op computes y = γ (x - μ) / sqrt(σ² + eps) + β over the batch statistics, and one
//! computes dx, dγ and dβ together. candle's generic batch norm spends most of a BaseDCNN step
//! in about a dozen broadcast passes forward and as many backward; this does three passes.
//!
//! Semantics follow PyTorch: biased variance for normalising, unbiased (M / (M - 1)) for the
//! running variance, `running = (1 - momentum) running + momentum batch_stat`, parameters named
//! `weight`, `bias`, `running_mean`, `running_var`. Works for (B, C) and (B, C, H, W) inputs.
//! Off the CPU it falls back to candle's generic operations.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp3, DType, Layout, Shape, Tensor, Var, WithDType};
use candle_nn::{Init, VarBuilder};
use rayon::prelude::*;
use std::sync::Arc;

use crate::ops::cpu_slice::{contiguous_slice, float_kernel};
use crate::ops::lane_sum::{row_sum, LANES};

/// Batch norm with trainable affine parameters and running statistics.
#[derive(Debug, Clone)]
pub struct FusedBatchNorm {
    weight: Tensor,
    bias: Tensor,
    running_mean: Var,
    running_var: Var,
    eps: f64,
    momentum: f64,
}

impl FusedBatchNorm {
    pub fn new(features: usize, eps: f64, vb: VarBuilder) -> candle_core::Result<Self> {
        let running_mean = vb.get_with_hints(features, "running_mean", Init::Const(0.0))?;
        let running_var = vb.get_with_hints(features, "running_var", Init::Const(1.0))?;
        Ok(Self {
            weight: vb.get_with_hints(features, "weight", Init::Const(1.0))?,
            bias: vb.get_with_hints(features, "bias", Init::Const(0.0))?,
            // Shares storage with the variable in the VarMap, so updates are saved.
            running_mean: Var::from_tensor(&running_mean)?,
            running_var: Var::from_tensor(&running_var)?,
            eps,
            momentum: 0.1,
        })
    }

    fn broadcast_shape(&self, x: &Tensor) -> Vec<usize> {
        x.dims()
            .iter()
            .enumerate()
            .map(|(i, &d)| if i == 1 { d } else { 1 })
            .collect()
    }

    /// # Shapes
    /// (B, C, ...) -> (B, C, ...)
    pub fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        self.forward_impl(x, train, false)
    }

    /// `forward_t` followed by a ReLU. In training mode on the CPU both are one op, whose
    /// backward masks the gradient itself: a separate ReLU costs candle a comparison, a select
    /// and a zero-filled gradient buffer the size of the feature map.
    pub fn forward_relu_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        if x.device().is_cpu() {
            self.forward_impl(x, train, true)
        } else {
            self.forward_impl(x, train, false)?.relu()
        }
    }

    fn forward_impl(&self, x: &Tensor, train: bool, relu: bool) -> candle_core::Result<Tensor> {
        let shape = self.broadcast_shape(x);
        let cpu_dtype = matches!(x.dtype(), DType::F32 | DType::F64);
        if !train && x.device().is_cpu() && cpu_dtype && x.rank() >= 2 {
            // y = x a + o per channel, a = γ / sqrt(running_var + eps), o = β - running_mean a:
            // one pass over x instead of four broadcast passes (and a fifth for the ReLU).
            let inv = (self.running_var.as_detached_tensor() + self.eps)?
                .sqrt()?
                .recip()?;
            let a = self.weight.mul(&inv)?;
            let o = self
                .bias
                .sub(&self.running_mean.as_detached_tensor().mul(&a)?)?;
            return x.contiguous()?.apply_op3(&a, &o, ChannelAffine { relu });
        }
        if !train {
            let rm = self
                .running_mean
                .as_detached_tensor()
                .reshape(shape.as_slice())?;
            let rv = self
                .running_var
                .as_detached_tensor()
                .reshape(shape.as_slice())?;
            let g = self.weight.reshape(shape.as_slice())?;
            let b = self.bias.reshape(shape.as_slice())?;
            return x
                .broadcast_sub(&rm)?
                .broadcast_div(&(rv + self.eps)?.sqrt()?)?
                .broadcast_mul(&g)?
                .broadcast_add(&b);
        }
        let c = x.dim(1)?;
        let m = x.elem_count() / c;
        if m < 2 {
            candle_core::bail!(
                "batch norm in training mode needs more than one value per channel, got input {:?}",
                x.dims()
            );
        }
        let y = if x.device().is_cpu() {
            let x = x.contiguous()?;
            let op = BatchNormTrain::for_input(&x, self.eps, relu)?;
            let (mean, var): (Vec<f64>, Vec<f64>) = op.stats.iter().copied().unzip();
            let dev = x.device();
            self.update_running(
                &Tensor::new(mean, dev)?.to_dtype(x.dtype())?,
                &Tensor::new(var, dev)?.to_dtype(x.dtype())?,
                m,
            )?;
            x.apply_op3(&self.weight, &self.bias, op)?
        } else {
            let dims: Vec<usize> = (0..x.rank()).filter(|&d| d != 1).collect();
            let mean = x.mean_keepdim(dims.as_slice())?;
            let centred = x.broadcast_sub(&mean)?;
            let var = centred.sqr()?.mean_keepdim(dims.as_slice())?;
            self.update_running(
                &mean.flatten_all()?.detach(),
                &var.flatten_all()?.detach(),
                m,
            )?;
            centred
                .broadcast_div(&(var + self.eps)?.sqrt()?)?
                .broadcast_mul(&self.weight.reshape(shape.as_slice())?)?
                .broadcast_add(&self.bias.reshape(shape.as_slice())?)?
        };
        Ok(y)
    }

    fn update_running(&self, mean: &Tensor, var: &Tensor, m: usize) -> candle_core::Result<()> {
        let mom = self.momentum;
        let unbiased = (var * (m as f64 / (m as f64 - 1.0)))?;
        let rm = ((self.running_mean.as_detached_tensor() * (1.0 - mom))? + (mean * mom)?)?;
        let rv = ((self.running_var.as_detached_tensor() * (1.0 - mom))? + (unbiased * mom)?)?;
        self.running_mean.set(&rm)?;
        self.running_var.set(&rv)
    }
}

/// (N, C, S) view of a contiguous (N, C, ...) layout.
fn ncs(l: &Layout) -> candle_core::Result<(usize, usize, usize)> {
    let d = l.shape().dims();
    if d.len() < 2 {
        candle_core::bail!("batch norm: input must have at least 2 dimensions, got {d:?}");
    }
    let s: usize = d[2..].iter().product();
    Ok((d[0], d[1], s))
}

/// Per-channel mean and biased variance: rows summed in T (see `row_sum`), rows and channels
/// accumulated in f64; the variance from the deviations about the mean (two passes), not from
/// E[x²] - E[x]², which cancels badly in f32.
fn channel_stats<T: WithDType + Sync>(
    x: &[T],
    (n, c, s): (usize, usize, usize),
) -> Vec<(f64, f64)> {
    let m = (n * s) as f64;
    (0..c)
        .into_par_iter()
        .map(|ch| {
            let rows = || (0..n).map(move |b| &x[(b * c + ch) * s..][..s]);
            let mean = rows().map(|r| row_sum(r, |v| v)).sum::<f64>() / m;
            let mean_t = T::from_f64(mean);
            let sq = rows()
                .map(|r| {
                    row_sum(r, |v| {
                        let d = v - mean_t;
                        d * d
                    })
                })
                .sum::<f64>();
            (mean, sq / m)
        })
        .collect()
}

struct ChannelStats;

impl CustomOp1 for ChannelStats {
    fn name(&self) -> &'static str {
        "fer-channel-stats"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = ncs(l)?;
        let st = match s.dtype() {
            DType::F32 => channel_stats(contiguous_slice::<f32>(s, l)?, d),
            DType::F64 => channel_stats(contiguous_slice::<f64>(s, l)?, d),
            dt => candle_core::bail!("batch norm: unsupported dtype {dt:?}"),
        };
        // Always f64: the statistics feed the normalisation kernels at full precision.
        let out = st
            .iter()
            .map(|p| p.0)
            .chain(st.iter().map(|p| p.1))
            .collect();
        Ok((CpuStorage::F64(out), Shape::from((2, d.1))))
    }
}

/// Per-channel (mean, biased variance) of one training-mode input, computed once and shared
/// by the forward kernel, the backward kernel and the running-statistics update.
type Stats = Arc<Vec<(f64, f64)>>;

struct BatchNormTrain {
    eps: f64,
    stats: Stats,
    /// Whether a ReLU follows, inside the op.
    relu: bool,
}

impl BatchNormTrain {
    /// Computes the batch statistics of `x` (contiguous, on the CPU) in one pass.
    fn for_input(x: &Tensor, eps: f64, relu: bool) -> candle_core::Result<Self> {
        let st: Vec<Vec<f64>> = x.detach().apply_op1_no_bwd(&ChannelStats)?.to_vec2()?;
        let stats = st[0].iter().copied().zip(st[1].iter().copied()).collect();
        Ok(Self {
            eps,
            stats: Arc::new(stats),
            relu,
        })
    }
}

/// Per channel (scale, shift) with y = x scale + shift.
fn affine_coefficients<T: WithDType>(
    g: &[T],
    b: &[T],
    st: &[(f64, f64)],
    eps: f64,
) -> Vec<(f64, f64)> {
    st.iter()
        .enumerate()
        .map(|(ch, &(mean, var))| {
            let scale = g[ch].to_f64() / (var + eps).sqrt();
            (scale, b[ch].to_f64() - mean * scale)
        })
        .collect()
}

fn bn_forward<T: WithDType + Send + Sync>(
    x: &[T],
    g: &[T],
    b: &[T],
    d: (usize, usize, usize),
    st: &[(f64, f64)],
    eps: f64,
    relu: bool,
) -> Vec<T> {
    let (_, c, s) = d;
    let coef = affine_coefficients(g, b, st, eps);
    let mut y = vec![T::zero(); x.len()];
    y.par_chunks_mut(s)
        .zip(x.par_chunks(s))
        .enumerate()
        .for_each(|(i, (yo, xi))| {
            let (a, o) = coef[i % c];
            let (a, o) = (T::from_f64(a), T::from_f64(o));
            // Two loops, so that neither tests `relu` per element; the backward recomputes
            // the ReLU's mask with this same expression, x a + o in T.
            if relu {
                for (yv, &xv) in yo.iter_mut().zip(xi) {
                    let v = xv * a + o;
                    *yv = if v > T::zero() { v } else { T::zero() };
                }
            } else {
                for (yv, &xv) in yo.iter_mut().zip(xi) {
                    *yv = xv * a + o;
                }
            }
        });
    y
}

/// The incoming gradient where the ReLU passed (x a + o > 0, the forward's own expression),
/// zero elsewhere; `RELU = false` passes it unmasked. A const parameter, so that the element
/// loops carry no test of their own and vectorise.
#[inline(always)]
fn masked<T: WithDType, const RELU: bool>(xv: T, gv: T, (a, o): (T, T)) -> T {
    if !RELU || xv * a + o > T::zero() {
        gv
    } else {
        T::zero()
    }
}

/// (Σ gy, Σ gy (x - mean)) over one row, with `LANES` partial sums.
fn row_gradient_sums<T: WithDType, const RELU: bool>(
    xr: &[T],
    gr: &[T],
    mean: T,
    ao: (T, T),
) -> (f64, f64) {
    let mut acc_b = [T::zero(); LANES];
    let mut acc_g = [T::zero(); LANES];
    let (xc, gc) = (xr.chunks_exact(LANES), gr.chunks_exact(LANES));
    let (xt, gt) = (xc.remainder(), gc.remainder());
    for (xs, gs) in xc.zip(gc) {
        for lane in 0..LANES {
            let gy = masked::<T, RELU>(xs[lane], gs[lane], ao);
            acc_b[lane] += gy;
            acc_g[lane] += gy * (xs[lane] - mean);
        }
    }
    for (lane, (&xv, &gv)) in xt.iter().zip(gt).enumerate() {
        let gy = masked::<T, RELU>(xv, gv, ao);
        acc_b[lane] += gy;
        acc_g[lane] += gy * (xv - mean);
    }
    let total = |acc: &[T; LANES]| acc.iter().map(|v| v.to_f64()).sum::<f64>();
    (total(&acc_b), total(&acc_g))
}

/// dx of one row: gy c1 - (x - mean) c2 - c3.
fn row_input_gradient<T: WithDType, const RELU: bool>(
    dx: &mut [T],
    xr: &[T],
    gr: &[T],
    mean: T,
    ao: (T, T),
    (c1, c2, c3): (T, T, T),
) {
    for ((o, &xv), &gv) in dx.iter_mut().zip(xr).zip(gr) {
        *o = masked::<T, RELU>(xv, gv, ao) * c1 - (xv - mean) * c2 - c3;
    }
}

/// Returns dx (x.len()), then dγ (C), then dβ (C), flat. With `relu` = the forward's
/// per-channel (scale, shift), the incoming gradient is first masked where the ReLU's output
/// was zero (recomputed from x exactly as the forward computed it).
fn bn_backward<T: WithDType + Send + Sync>(
    x: &[T],
    g: &[T],
    dy: &[T],
    d: (usize, usize, usize),
    st: &[(f64, f64)],
    eps: f64,
    relu: Option<&[(f64, f64)]>,
) -> Vec<T> {
    let (n, c, s) = d;
    // Per channel, the ReLU's (scale, shift) in T, as the forward used them.
    let ao = |ch: usize| match relu {
        Some(coef) => (T::from_f64(coef[ch].0), T::from_f64(coef[ch].1)),
        None => (T::one(), T::zero()),
    };
    let m = (n * s) as f64;
    // Per channel: (invstd, dgamma, dbeta).
    let sums: Vec<(f64, f64, f64)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            let (mean, var) = st[ch];
            let invstd = 1.0 / (var + eps).sqrt();
            let mean_t = T::from_f64(mean);
            let (mut dg, mut db) = (0.0f64, 0.0f64);
            for b in 0..n {
                let off = (b * c + ch) * s;
                let (xr, gr) = (&x[off..off + s], &dy[off..off + s]);
                let (sb, sg) = if relu.is_some() {
                    row_gradient_sums::<T, true>(xr, gr, mean_t, ao(ch))
                } else {
                    row_gradient_sums::<T, false>(xr, gr, mean_t, ao(ch))
                };
                db += sb;
                dg += sg * invstd;
            }
            (invstd, dg, db)
        })
        .collect();
    let mut out = vec![T::zero(); x.len() + 2 * c];
    let (dx, rest) = out.split_at_mut(x.len());
    dx.par_chunks_mut(s)
        .zip(x.par_chunks(s).zip(dy.par_chunks(s)))
        .enumerate()
        .for_each(|(i, (dxo, (xi, dyi)))| {
            let ch = i % c;
            let (mean, _) = st[ch];
            let (invstd, dg, db) = sums[ch];
            let k = g[ch].to_f64() * invstd / m;
            // dx = k (m gy - dβ - x̂ dγ), x̂ = (x - μ) invstd, as gy c1 - (x - μ) c2 - c3.
            let coef = (
                T::from_f64(k * m),
                T::from_f64(k * invstd * dg),
                T::from_f64(k * db),
            );
            let mean_t = T::from_f64(mean);
            if relu.is_some() {
                row_input_gradient::<T, true>(dxo, xi, dyi, mean_t, ao(ch), coef);
            } else {
                row_input_gradient::<T, false>(dxo, xi, dyi, mean_t, ao(ch), coef);
            }
        });
    for ch in 0..c {
        rest[ch] = T::from_f64(sums[ch].1);
        rest[c + ch] = T::from_f64(sums[ch].2);
    }
    out
}

impl CustomOp3 for BatchNormTrain {
    fn name(&self) -> &'static str {
        "fer-batch-norm-train"
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
        let d = ncs(l1)?;
        let out = float_kernel!(s1.dtype(), "batch norm", T => bn_forward(
            contiguous_slice::<T>(s1, l1)?,
            contiguous_slice::<T>(s2, l2)?,
            contiguous_slice::<T>(s3, l3)?,
            d,
            &self.stats,
            self.eps,
            self.relu,
        ));
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let c = gamma.elem_count();
        let relu = if self.relu {
            let g = gamma.to_dtype(DType::F64)?.to_vec1::<f64>()?;
            let b = beta.to_dtype(DType::F64)?.to_vec1::<f64>()?;
            Some(affine_coefficients(&g, &b, &self.stats, self.eps))
        } else {
            None
        };
        let flat = x.apply_op3_no_bwd(
            &grad.contiguous()?,
            gamma,
            &BatchNormBackward {
                eps: self.eps,
                stats: self.stats.clone(),
                relu,
            },
        )?;
        let n = x.elem_count();
        let dx = flat.narrow(0, 0, n)?.reshape(x.shape())?;
        let dg = flat.narrow(0, n, c)?;
        let db = flat.narrow(0, n + c, c)?;
        Ok((Some(dx), Some(dg), Some(db)))
    }
}

struct BatchNormBackward {
    eps: f64,
    stats: Stats,
    /// The forward's (scale, shift) per channel when a ReLU followed inside the op.
    relu: Option<Vec<(f64, f64)>>,
}

impl CustomOp3 for BatchNormBackward {
    fn name(&self) -> &'static str {
        "fer-batch-norm-backward"
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
        let d = ncs(l1)?;
        let n = l1.shape().elem_count() + 2 * d.1;
        let out = float_kernel!(s1.dtype(), "batch norm", T => bn_backward(
            contiguous_slice::<T>(s1, l1)?,
            contiguous_slice::<T>(s3, l3)?,
            contiguous_slice::<T>(s2, l2)?,
            d,
            &self.stats,
            self.eps,
            self.relu.as_deref(),
        ));
        Ok((out, Shape::from(n)))
    }
}

/// y = x a_c + o_c per channel c (then max(0, y) with `relu`): evaluation-mode batch norm with
/// its running statistics folded into (a, o). The backward (rare: evaluation mode is not
/// trained) is written with candle operations, so every gradient, including those of γ and β
/// through a and o, comes from candle's own rules.
#[derive(Debug, Clone, Copy)]
struct ChannelAffine {
    relu: bool,
}

fn channel_affine<T: WithDType + Send + Sync>(
    x: &[T],
    a: &[T],
    o: &[T],
    (_, c, s): (usize, usize, usize),
    relu: bool,
) -> Vec<T> {
    let mut y = vec![T::zero(); x.len()];
    y.par_chunks_mut(s.max(1))
        .zip(x.par_chunks(s.max(1)))
        .enumerate()
        .for_each(|(i, (yo, xi))| {
            let (a, o) = (a[i % c], o[i % c]);
            // Two loops, so that neither tests `relu` per element.
            if relu {
                for (yv, &xv) in yo.iter_mut().zip(xi) {
                    let v = xv * a + o;
                    *yv = if v > T::zero() { v } else { T::zero() };
                }
            } else {
                for (yv, &xv) in yo.iter_mut().zip(xi) {
                    *yv = xv * a + o;
                }
            }
        });
    y
}

impl CustomOp3 for ChannelAffine {
    fn name(&self) -> &'static str {
        "fer-batch-norm-eval"
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
        let d = ncs(l1)?;
        if l2.shape().elem_count() != d.1 || l3.shape().elem_count() != d.1 {
            candle_core::bail!("batch norm: {} channels, coefficients of other sizes", d.1);
        }
        let out = float_kernel!(s1.dtype(), "batch norm", T => channel_affine(
            contiguous_slice::<T>(s1, l1)?,
            contiguous_slice::<T>(s2, l2)?,
            contiguous_slice::<T>(s3, l3)?,
            d,
            self.relu,
        ));
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        a: &Tensor,
        _o: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let grad = if self.relu {
            grad.mul(&res.gt(0.0)?.to_dtype(grad.dtype())?)?
        } else {
            grad.clone()
        };
        let mut shape = vec![1usize; x.rank()];
        shape[1] = a.elem_count();
        let dims: Vec<usize> = (0..x.rank()).filter(|&d| d != 1).collect();
        let dx = grad.broadcast_mul(&a.reshape(shape.as_slice())?)?;
        let da = grad.mul(x)?.sum(dims.as_slice())?;
        let d_o = grad.sum(dims.as_slice())?;
        Ok((Some(dx), Some(da), Some(d_o)))
    }
}

// Expected values are pasted exactly as PyTorch / scikit-learn printed them.
#[cfg(test)]
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use crate::ops::test_tensors::max_abs_diff as diff;
    use candle_core::Device;
    use candle_nn::VarMap;

    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 1.5
            })
            .collect()
    }

    // PyTorch 2.15:
    //   torch.manual_seed(0); x = torch.randn(2, 3, 2, 2)
    //   bn = nn.BatchNorm2d(3, eps=1e-3, momentum=0.1)
    //   bn.weight.data = torch.tensor([1.0, 2.0, 0.5]); bn.bias.data = torch.tensor([0.0, 0.1, -0.2])
    //   bn.train(); print(bn(x).flatten().tolist(), bn.running_mean, bn.running_var)
    // The same numbers from the definition, with numpy 2.4 (x as below, float64); they agree
    // with y_ref and the running statistics to 1e-7:
    //   w, b, eps = np.array([1.0, 2.0, 0.5]), np.array([0.0, 0.1, -0.2]), 1e-3
    //   x = np.array(X).reshape(2, 3, 2, 2); m = x.mean((0, 2, 3)); v = x.var((0, 2, 3))
    //   y = (x - m[:, None, None]) / np.sqrt(v[:, None, None] + eps) * w[:, None, None] + b[:, None, None]
    //   running_mean = 0.1 * m; running_var = 0.9 + 0.1 * x.var((0, 2, 3), ddof=1)
    #[test]
    fn matches_pytorch_batchnorm2d_training_forward() {
        let dev = Device::Cpu;
        let x: Vec<f32> = vec![
            -1.1258398,
            -1.1523602,
            -0.25057858,
            -0.43387881,
            0.84871036,
            0.69200915,
            -0.31601277,
            -2.1152194,
            0.46809641,
            -0.15771244,
            1.4436601,
            0.26604941,
            0.16645534,
            0.87438184,
            -0.14347385,
            -0.11160933,
            0.93182659,
            1.2590092,
            2.0049806,
            0.053736903,
            0.61805665,
            -0.41280222,
            -0.84106481,
            -2.3160419,
        ];
        let y_ref: [f32; 24] = [
            -1.3742515,
            -1.4169415,
            0.034664039,
            -0.26039591,
            0.83655411,
            0.56740582,
            -1.1639613,
            -4.2542582,
            0.076765358,
            -0.21952647,
            0.5386501,
            -0.018894641,
            0.70596713,
            1.8455224,
            0.20707144,
            0.25836402,
            0.97931361,
            1.5412788,
            2.8225508,
            -0.5288834,
            0.14776467,
            -0.34029981,
            -0.54306251,
            -1.2413967,
        ];
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let bn = FusedBatchNorm::new(3, 1e-3, vb).unwrap();
        let data = varmap.data().lock().unwrap();
        data["weight"]
            .set(&Tensor::new(&[1.0f32, 2.0, 0.5], &dev).unwrap())
            .unwrap();
        data["bias"]
            .set(&Tensor::new(&[0.0f32, 0.1, -0.2], &dev).unwrap())
            .unwrap();
        drop(data);
        let xt = Tensor::from_vec(x, (2, 3, 2, 2), &dev).unwrap();
        let y: Vec<f32> = bn
            .forward_t(&xt, true)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        for (a, b) in y.iter().zip(y_ref.iter()) {
            assert!((a - b).abs() < 2e-6, "{y:?}");
        }
        // running_mean = [-0.027211294, 0.041988011, -0.011646985]
        // running_var  = [0.94399166, 1.0548435, 1.0273463]
        let rm: Vec<f32> = bn.running_mean.as_tensor().to_vec1().unwrap();
        let rv: Vec<f32> = bn.running_var.as_tensor().to_vec1().unwrap();
        for (a, b) in rm.iter().zip([-0.027211294f32, 0.041988011, -0.011646985]) {
            assert!((a - b).abs() < 1e-6, "{rm:?}");
        }
        for (a, b) in rv.iter().zip([0.94399166f32, 1.0548435, 1.0273463]) {
            assert!((a - b).abs() < 1e-6, "{rv:?}");
        }
    }

    #[test]
    fn gradients_match_candles_generic_batch_norm() {
        let dev = Device::Cpu;
        // With the ReLU fused into the op and without; γ and β drawn from [-1.5, 2.5] leave a
        // good share of the outputs negative, so the mask matters (checked below).
        for (dims, relu) in [
            (vec![4usize, 3, 5, 5], false),
            (vec![6, 7], false),
            (vec![4, 3, 5, 5], true),
            (vec![6, 7], true),
        ] {
            let n: usize = dims.iter().product();
            let c = dims[1];
            let x =
                Var::from_tensor(&Tensor::from_vec(values(n, 1), dims.as_slice(), &dev).unwrap())
                    .unwrap();
            let w = Tensor::from_vec(values(n, 9), dims.as_slice(), &dev).unwrap();
            let gamma =
                Var::from_tensor(&Tensor::from_vec(values(c, 2), c, &dev).unwrap()).unwrap();
            let beta = Var::from_tensor(&Tensor::from_vec(values(c, 3), c, &dev).unwrap()).unwrap();
            let ours = x
                .as_tensor()
                .apply_op3(
                    gamma.as_tensor(),
                    beta.as_tensor(),
                    BatchNormTrain::for_input(x.as_tensor(), 1e-3, relu).unwrap(),
                )
                .unwrap();
            let reference = candle_nn::BatchNorm::new(
                c,
                Tensor::zeros(c, DType::F64, &dev).unwrap(),
                Tensor::ones(c, DType::F64, &dev).unwrap(),
                gamma.as_tensor().clone(),
                beta.as_tensor().clone(),
                1e-3,
            )
            .unwrap();
            let mut theirs =
                candle_nn::ModuleT::forward_t(&reference, x.as_tensor(), true).unwrap();
            if relu {
                theirs = theirs.relu().unwrap();
                let zeros = theirs.eq(0.0).unwrap().to_dtype(DType::F64).unwrap();
                let frac = zeros.mean_all().unwrap().to_scalar::<f64>().unwrap();
                assert!(frac > 0.2 && frac < 0.8, "{frac} of the outputs are zero");
            }
            assert!(diff(&ours, &theirs) < 1e-10);
            let g1 = (ours * &w).unwrap().sum_all().unwrap().backward().unwrap();
            let g2 = (theirs * &w)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            for v in [&x, &gamma, &beta] {
                let d = diff(
                    g1.get(v.as_tensor()).unwrap(),
                    g2.get(v.as_tensor()).unwrap(),
                );
                assert!(d < 1e-9, "{dims:?} relu {relu}: gradient differs by {d}");
            }
        }
    }

    /// Evaluation mode: the folded one-pass op (with and without the ReLU) against the
    /// formula written with candle operations, outputs and gradients of x, γ and β, with
    /// running statistics away from their initial values.
    #[test]
    fn evaluation_mode_matches_the_formula_with_running_statistics() {
        let dev = Device::Cpu;
        let (b, c, h, w) = (3usize, 4usize, 3usize, 2usize);
        let n = b * c * h * w;
        for relu in [false, true] {
            let varmap = VarMap::new();
            let vb = VarBuilder::from_varmap(&varmap, DType::F64, &dev);
            let bn = FusedBatchNorm::new(c, 1e-3, vb).unwrap();
            bn.running_mean
                .set(&Tensor::from_vec(values(c, 5), c, &dev).unwrap())
                .unwrap();
            let var: Vec<f64> = values(c, 6).iter().map(|v| v.abs() + 0.2).collect();
            bn.running_var
                .set(&Tensor::from_vec(var, c, &dev).unwrap())
                .unwrap();
            Var::from_tensor(&bn.weight)
                .unwrap()
                .set(&Tensor::from_vec(values(c, 7), c, &dev).unwrap())
                .unwrap();
            let x = Var::from_tensor(&Tensor::from_vec(values(n, 8), (b, c, h, w), &dev).unwrap())
                .unwrap();
            let ours = if relu {
                bn.forward_relu_t(x.as_tensor(), false).unwrap()
            } else {
                bn.forward_t(x.as_tensor(), false).unwrap()
            };
            let r = |t: &Tensor| t.reshape((1, c, 1, 1)).unwrap();
            let mut theirs = x
                .as_tensor()
                .broadcast_sub(&r(&bn.running_mean.as_detached_tensor()))
                .unwrap()
                .broadcast_div(&r(&(bn.running_var.as_detached_tensor() + 1e-3)
                    .unwrap()
                    .sqrt()
                    .unwrap()))
                .unwrap()
                .broadcast_mul(&r(&bn.weight))
                .unwrap()
                .broadcast_add(&r(&bn.bias))
                .unwrap();
            if relu {
                theirs = theirs.relu().unwrap();
            }
            assert!(diff(&ours, &theirs) < 1e-12);
            let wts = Tensor::from_vec(values(n, 9), (b, c, h, w), &dev).unwrap();
            let g1 = (ours * &wts)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g2 = (theirs * &wts)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            for t in [x.as_tensor(), &bn.weight, &bn.bias] {
                let d = diff(g1.get(t).unwrap(), g2.get(t).unwrap());
                assert!(d < 1e-10, "relu {relu}: gradient differs by {d}");
            }
        }
    }
}
