//! y = w0 · a + w1 · b for two feature maps of one shape and two learned scalars: the mixing of
//! CMCNN's eq. 1 (α and β, paper 3.1) and of the cross-stitch units of CSN (Misra et al. 2016,
//! the paper's `csn` baseline).
//!
//! Why an op of its own: as candle operations this is two broadcast multiplications and an
//! add. Their backward writes dy·w and dy·a as new full-size tensors, reduces dy·a to a scalar
//! in another pass, and gives each of the five graph nodes a zero-filled gradient buffer; CSN
//! does it twice at every layer. Here the forward is one pass and the backward one pass that
//! writes da = w0 dy, db = w1 dy and sums dw0 = Σ dy·a, dw1 = Σ dy·b. The sums run over
//! fixed blocks of `SUM_BLOCK` elements (each with `lane_sum`'s partial sums), added in f64 in
//! block order, so the result does not depend on the number of threads. Off the CPU it is candle's operations.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp3, DType, Layout, Shape, Tensor, WithDType};
use rayon::prelude::*;

use crate::ops::cpu_slice::{contiguous_slice, float_kernel};
use crate::ops::lane_sum::row_dot;

/// Elements per partial sum of dw0 and dw1.
const SUM_BLOCK: usize = 4096;

/// w[0] · a + w[1] · b, with a and b of one shape and w of shape (2,).
pub fn weighted_sum(a: &Tensor, b: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    if a.dims() != b.dims() {
        candle_core::bail!(
            "weighted sum: maps of shapes {:?} and {:?}",
            a.dims(),
            b.dims()
        );
    }
    if w.dims() != [2] {
        candle_core::bail!("weighted sum: weights of shape {:?}, not (2,)", w.dims());
    }
    let fused = [a, b, w]
        .iter()
        .all(|t| t.device().is_cpu() && t.dtype() == a.dtype())
        && matches!(a.dtype(), DType::F32 | DType::F64);
    if !fused {
        let w0 = w.narrow(0, 0, 1)?;
        let w1 = w.narrow(0, 1, 1)?;
        return a.broadcast_mul(&w0)?.add(&b.broadcast_mul(&w1)?);
    }
    a.contiguous()?
        .apply_op3(&b.contiguous()?, &w.contiguous()?, WeightedSum)
}

/// The forward op on (a, b, w).
#[derive(Debug, Clone, Copy)]
struct WeightedSum;

fn forward<T: WithDType>(a: &[T], b: &[T], w: &[T]) -> Vec<T> {
    let (w0, w1) = (w[0], w[1]);
    let mut y = vec![T::zero(); a.len()];
    y.par_chunks_mut(SUM_BLOCK)
        .zip(a.par_chunks(SUM_BLOCK).zip(b.par_chunks(SUM_BLOCK)))
        .for_each(|(y, (a, b))| {
            for ((y, &a), &b) in y.iter_mut().zip(a).zip(b) {
                *y = a * w0 + b * w1;
            }
        });
    y
}

/// [da | db | dw0, dw1] for a, b, dy of n elements each.
fn backward<T: WithDType>(a: &[T], b: &[T], dy: &[T], (w0, w1): (T, T)) -> Vec<T> {
    let n = a.len();
    let mut out = vec![T::zero(); 2 * n + 2];
    let (da, rest) = out.split_at_mut(n);
    let (db, dw) = rest.split_at_mut(n);
    let partial: Vec<(f64, f64)> = da
        .par_chunks_mut(SUM_BLOCK)
        .zip(db.par_chunks_mut(SUM_BLOCK))
        .zip(a.par_chunks(SUM_BLOCK).zip(b.par_chunks(SUM_BLOCK)))
        .zip(dy.par_chunks(SUM_BLOCK))
        .map(|(((da, db), (a, b)), g)| {
            da.iter_mut().zip(g).for_each(|(d, &g)| *d = g * w0);
            db.iter_mut().zip(g).for_each(|(d, &g)| *d = g * w1);
            (row_dot(g, a), row_dot(g, b))
        })
        .collect();
    let (s0, s1) = partial
        .iter()
        .fold((0.0, 0.0), |(u, v), &(s0, s1)| (u + s0, v + s1));
    dw[0] = T::from_f64(s0);
    dw[1] = T::from_f64(s1);
    out
}

impl CustomOp3 for WeightedSum {
    fn name(&self) -> &'static str {
        "fer-weighted-sum"
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
        let out = float_kernel!(s1.dtype(), "weighted sum", T => forward(
            contiguous_slice::<T>(s1, l1)?,
            contiguous_slice::<T>(s2, l2)?,
            contiguous_slice::<T>(s3, l3)?,
        ));
        Ok((out, l1.shape().clone()))
    }

    fn bwd(
        &self,
        a: &Tensor,
        b: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let wv = w.to_dtype(DType::F64)?.to_vec1::<f64>()?;
        let flat = a.apply_op3_no_bwd(
            b,
            &grad.contiguous()?,
            &WeightedSumBackward {
                w0: wv[0],
                w1: wv[1],
            },
        )?;
        let n = a.elem_count();
        let da = flat.narrow(0, 0, n)?.reshape(a.shape())?;
        let db = flat.narrow(0, n, n)?.reshape(b.shape())?;
        let dw = flat.narrow(0, 2 * n, 2)?;
        Ok((Some(da), Some(db), Some(dw)))
    }
}

/// The backward kernel, as an op on (a, b, dy) with the weights' values.
struct WeightedSumBackward {
    w0: f64,
    w1: f64,
}

impl CustomOp3 for WeightedSumBackward {
    fn name(&self) -> &'static str {
        "fer-weighted-sum-backward"
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
        if l3.shape() != l1.shape() {
            candle_core::bail!(
                "weighted sum backward: gradient of shape {:?} for maps of shape {:?}",
                l3.dims(),
                l1.dims()
            );
        }
        let n = l1.shape().elem_count();
        let out = float_kernel!(s1.dtype(), "weighted sum backward", T => backward(
            contiguous_slice::<T>(s1, l1)?,
            contiguous_slice::<T>(s2, l2)?,
            contiguous_slice::<T>(s3, l3)?,
            (T::from_f64(self.w0), T::from_f64(self.w1)),
        ));
        Ok((out, Shape::from(2 * n + 2)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_tensors::{max_abs, max_abs_diff, sine_tensor};
    use candle_core::Var;

    /// Values (bit for bit) and the gradients of a, b and w against candle's broadcast_mul + add,
    /// on a map larger than one sum block, in f64 and f32.
    #[test]
    fn matches_candles_operations() {
        for (dtype, tol) in [(DType::F64, 1e-12), (DType::F32, 1e-5)] {
            let shape = (3, 5, 23, 29); // 10,005 elements: two full blocks and a partial one
            let var = |seed: f64, shape: (usize, usize, usize, usize)| {
                Var::from_tensor(&sine_tensor(shape, seed).to_dtype(dtype).unwrap()).unwrap()
            };
            let (a, b) = (var(0.3, shape), var(1.1, shape));
            let w = Var::from_tensor(
                &Tensor::new(&[0.8f64, -0.35], &candle_core::Device::Cpu)
                    .unwrap()
                    .to_dtype(dtype)
                    .unwrap(),
            )
            .unwrap();
            let r = sine_tensor(shape, 2.9).to_dtype(dtype).unwrap();
            let ours = weighted_sum(a.as_tensor(), b.as_tensor(), w.as_tensor()).unwrap();
            let (w0, w1) = (w.narrow(0, 0, 1).unwrap(), w.narrow(0, 1, 1).unwrap());
            let theirs = a
                .broadcast_mul(&w0)
                .unwrap()
                .add(&b.broadcast_mul(&w1).unwrap())
                .unwrap();
            assert_eq!(max_abs_diff(&ours, &theirs), 0.0, "{dtype:?}: values");
            let g1 = (&ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let g2 = (&theirs * &r)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            for (v, what) in [(&a, "da"), (&b, "db"), (&w, "dw")] {
                let (p, q) = (
                    g1.get(v.as_tensor()).unwrap(),
                    g2.get(v.as_tensor()).unwrap(),
                );
                // Relative to the largest value: dw sums 10,005 products in another order.
                let d = max_abs_diff(p, q) / max_abs(q);
                assert!(d < tol, "{dtype:?} {what}: relative {d}");
            }
        }
    }

    /// The partial sums are fixed by the shape: 1 and 2 threads give the same bits.
    #[test]
    fn gradient_does_not_depend_on_the_thread_count() {
        let a = sine_tensor((40_000,), 0.2).to_dtype(DType::F32).unwrap();
        let b = sine_tensor((40_000,), 0.9).to_dtype(DType::F32).unwrap();
        let g = sine_tensor((40_000,), 1.6).to_dtype(DType::F32).unwrap();
        let run = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                a.apply_op3_no_bwd(&b, &g, &WeightedSumBackward { w0: 0.7, w1: 0.2 })
                    .unwrap()
                    .to_vec1::<f32>()
                    .unwrap()
            })
        };
        assert_eq!(run(1), run(2));
    }

    /// Maps of different shapes, or weights that are not two values, are errors.
    #[test]
    fn shape_errors() {
        let a = sine_tensor((2, 3), 0.1);
        let w = sine_tensor((2,), 0.5);
        assert!(weighted_sum(&a, &sine_tensor((3, 2), 0.2), &w).is_err());
        assert!(weighted_sum(&a, &a, &sine_tensor((3,), 0.5)).is_err());
    }
}
