//! 2-D max pooling (kernel k, stride k, no padding, floor mode) with the correct gradient.
//!
//! Why our own op: candle 0.11.1's `max_pool2d` backward scales the incoming gradient by
//! (number of maxima in the window) / (k * k) instead of routing it to the maximum, and for odd
//! input sizes (25 -> 12, which BaseDCNN meets at 100 px) it places it on the wrong pixels.
//! This op routes each output gradient to the first maximum of its window in row-major order,
//! as PyTorch does; rows and columns beyond the last full window get no gradient.
//!
//! On the CPU both directions are custom ops. On other devices the pooling is written with
//! reshapes and a `max` reduction, whose gradient is routed to every tied maximum (ties have
//! probability zero for real-valued activations).

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use crate::cpu_slice::contiguous_slice;

/// Max pooling with a square kernel equal to its stride.
pub fn max_pool2d(x: &Tensor, k: usize) -> candle_core::Result<Tensor> {
    let (_, _, h, w) = x.dims4()?;
    if k == 0 || h < k || w < k {
        candle_core::bail!("max_pool2d: kernel {k} does not fit an input of {h}x{w}");
    }
    if x.device().is_cpu() {
        x.contiguous()?.apply_op1(MaxPool2d { k })
    } else {
        generic_max_pool2d(x, k)
    }
}

/// Device-independent pooling through reshape + max (used off the CPU).
fn generic_max_pool2d(x: &Tensor, k: usize) -> candle_core::Result<Tensor> {
    let (b, c, h, w) = x.dims4()?;
    let (ho, wo) = (h / k, w / k);
    let x = x.narrow(2, 0, ho * k)?.narrow(3, 0, wo * k)?;
    x.reshape((b, c, ho, k, wo, k))?.max(5)?.max(3)
}

struct MaxPool2d {
    k: usize,
}

struct MaxPool2dBackward {
    k: usize,
}

/// The flat index (within one H x W plane) of the first maximum of each window.
fn window_argmax<T: WithDType>(plane: &[T], w: usize, k: usize, oy: usize, ox: usize) -> usize {
    let mut best = oy * k * w + ox * k;
    let mut best_v = plane[best];
    for dy in 0..k {
        let row = (oy * k + dy) * w + ox * k;
        for dx in 0..k {
            let v = plane[row + dx];
            // Strict '>' keeps the first maximum; NaN never replaces a value, as in PyTorch's
            // CPU kernel it would propagate, but our inputs are finite.
            if v > best_v {
                best_v = v;
                best = row + dx;
            }
        }
    }
    best
}

fn forward_impl<T: WithDType + Send + Sync>(
    x: &[T],
    (b, c, h, w): (usize, usize, usize, usize),
    k: usize,
) -> Vec<T> {
    let (ho, wo) = (h / k, w / k);
    let mut out = vec![T::zero(); b * c * ho * wo];
    out.par_chunks_mut(ho * wo)
        .zip(x.par_chunks(h * w))
        .for_each(|(o, plane)| {
            for oy in 0..ho {
                for ox in 0..wo {
                    o[oy * wo + ox] = plane[window_argmax(plane, w, k, oy, ox)];
                }
            }
        });
    out
}

fn backward_impl<T: WithDType + Send + Sync>(
    x: &[T],
    g: &[T],
    (b, c, h, w): (usize, usize, usize, usize),
    k: usize,
) -> Vec<T> {
    let (ho, wo) = (h / k, w / k);
    let mut out = vec![T::zero(); b * c * h * w];
    out.par_chunks_mut(h * w)
        .zip(x.par_chunks(h * w))
        .zip(g.par_chunks(ho * wo))
        .for_each(|((o, plane), gp)| {
            for oy in 0..ho {
                for ox in 0..wo {
                    let i = window_argmax(plane, w, k, oy, ox);
                    o[i] += gp[oy * wo + ox];
                }
            }
        });
    out
}

fn dims4(l: &Layout) -> candle_core::Result<(usize, usize, usize, usize)> {
    l.shape().dims4()
}

impl CustomOp1 for MaxPool2d {
    fn name(&self) -> &'static str {
        "fer-max-pool2d"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = dims4(l)?;
        let shape = Shape::from((d.0, d.1, d.2 / self.k, d.3 / self.k));
        let out = match s.dtype() {
            DType::F32 => CpuStorage::F32(forward_impl(contiguous_slice::<f32>(s, l)?, d, self.k)),
            DType::F64 => CpuStorage::F64(forward_impl(contiguous_slice::<f64>(s, l)?, d, self.k)),
            dt => candle_core::bail!("max_pool2d: unsupported dtype {dt:?}"),
        };
        Ok((out, shape))
    }

    fn bwd(
        &self,
        arg: &Tensor,
        _res: &Tensor,
        grad_res: &Tensor,
    ) -> candle_core::Result<Option<Tensor>> {
        let g = arg.apply_op2_no_bwd(&grad_res.contiguous()?, &MaxPool2dBackward { k: self.k })?;
        Ok(Some(g))
    }
}

impl CustomOp2 for MaxPool2dBackward {
    fn name(&self) -> &'static str {
        "fer-max-pool2d-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = dims4(l1)?;
        let gd = dims4(l2)?;
        if gd != (d.0, d.1, d.2 / self.k, d.3 / self.k) {
            candle_core::bail!("max_pool2d backward: gradient shape {gd:?} for input {d:?}");
        }
        let out = match (s1.dtype(), s2.dtype()) {
            (DType::F32, DType::F32) => CpuStorage::F32(backward_impl(
                contiguous_slice::<f32>(s1, l1)?,
                contiguous_slice::<f32>(s2, l2)?,
                d,
                self.k,
            )),
            (DType::F64, DType::F64) => CpuStorage::F64(backward_impl(
                contiguous_slice::<f64>(s1, l1)?,
                contiguous_slice::<f64>(s2, l2)?,
                d,
                self.k,
            )),
            (a, b) => candle_core::bail!("max_pool2d backward: unsupported dtypes {a:?}/{b:?}"),
        };
        Ok((out, l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    /// Pseudo-random distinct values (no ties), deterministic.
    fn values(n: usize, seed: u64) -> Vec<f64> {
        let mut s = seed;
        (0..n)
            .map(|i| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0 + i as f64 * 1e-9
            })
            .collect()
    }

    #[test]
    fn forward_matches_candle_forward() {
        let dev = Device::Cpu;
        for (h, w) in [(24, 24), (25, 25), (7, 10)] {
            let x = Tensor::from_vec(values(2 * 3 * h * w, 5), (2, 3, h, w), &dev).unwrap();
            let ours = max_pool2d(&x, 2).unwrap();
            let theirs = x.max_pool2d(2).unwrap();
            let diff = (ours - theirs).unwrap().abs().unwrap().max_all().unwrap();
            assert_eq!(diff.to_scalar::<f64>().unwrap(), 0.0);
        }
    }

    #[test]
    fn gradient_matches_finite_differences_for_even_and_odd_sizes() {
        let dev = Device::Cpu;
        for (h, w) in [(4, 4), (5, 5), (25, 25), (6, 7)] {
            let n = 2 * h * w;
            let x0 = values(n, (h * 31 + w) as u64);
            let ho_wo = 2 * (h / 2) * (w / 2);
            let weights = Tensor::from_vec(values(ho_wo, 99), (1, 2, h / 2, w / 2), &dev).unwrap();
            let loss = |x: &Tensor| -> f64 {
                (max_pool2d(x, 2).unwrap() * &weights)
                    .unwrap()
                    .sum_all()
                    .unwrap()
                    .to_scalar::<f64>()
                    .unwrap()
            };
            let var = Var::from_tensor(&Tensor::from_vec(x0.clone(), (1, 2, h, w), &dev).unwrap())
                .unwrap();
            let l = (max_pool2d(var.as_tensor(), 2).unwrap() * &weights)
                .unwrap()
                .sum_all()
                .unwrap();
            let grads = l.backward().unwrap();
            let g: Vec<f64> = grads
                .get(var.as_tensor())
                .unwrap()
                .flatten_all()
                .unwrap()
                .to_vec1()
                .unwrap();
            let eps = 1e-6;
            for i in 0..n {
                let mut xp = x0.clone();
                xp[i] += eps;
                let mut xm = x0.clone();
                xm[i] -= eps;
                let tp = Tensor::from_vec(xp, (1, 2, h, w), &dev).unwrap();
                let tm = Tensor::from_vec(xm, (1, 2, h, w), &dev).unwrap();
                let fd = (loss(&tp) - loss(&tm)) / (2.0 * eps);
                assert!(
                    (fd - g[i]).abs() < 1e-6,
                    "{h}x{w} index {i}: fd {fd} vs grad {}",
                    g[i]
                );
            }
            // The gradient sums to the sum of the output weights: nothing is lost or scaled.
            let total: f64 = g.iter().sum();
            let wsum = weights.sum_all().unwrap().to_scalar::<f64>().unwrap();
            assert!((total - wsum).abs() < 1e-9);
        }
    }

    #[test]
    fn gradient_of_a_sum_has_the_right_total() {
        // The measurement: 2x2 pool on 24x24, d(sum)/dx must sum to 12*12*(channels).
        let dev = Device::Cpu;
        let x = Var::from_tensor(
            &Tensor::from_vec(values(24 * 24, 3), (1, 1, 24, 24), &dev)
                .unwrap()
                .to_dtype(DType::F32)
                .unwrap(),
        )
        .unwrap();
        let g = max_pool2d(x.as_tensor(), 2)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let s = g
            .get(x.as_tensor())
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(s, 144.0);
    }
}
