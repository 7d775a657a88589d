//! CCAM's channel scores (paper 3.2, eqs. 5-6) from the similarity S (B, C_e, C_l) of eq. 4:
//! A_e[i] = Σ_j softmax_i(S)[i, j], one score per FER channel (S normalised down each column,
//! summed along the row), and A_l[j] = Σ_i softmax_j(S)[i, j], one per FLD channel (normalised
//! along each row, summed down the column).
//!
//! Why an op of its own: candle's softmax over a non-last axis and the sums that follow are
//! strided loops; measured on the 2-core development machine for S of 32 x 256 x 256, 13.8 ms
//! for one softmax and its sum against 1.1 ms in PyTorch, four times per pass at 256 channels.
//! Here both softmaxes and sums take two passes over each image's S, and the exponentials
//! are vectorised (vector_exp.rs).
//!
//! Gradient, with the scale c (eq. 4's 1/√D), P = softmax_i(c S), Q = softmax_j(c S) and
//! incoming g_e, g_l:
//! dS[i, j] = c (P[i, j] (g_e[i] - Σ_i' P[i', j] g_e[i']) + Q[i, j] (g_l[j] - Σ_j' Q[i, j'] g_l[j'])).
//! Off the CPU the scores are written with candle's tensor ops.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp1, CustomOp2, DType, Layout, Shape, Tensor, WithDType};
use num_traits::Float;
use rayon::prelude::*;

use crate::ops::cpu_slice::{contiguous_slice, float_kernel};
use crate::ops::vector_exp::VectorExp;

/// (A_e (B, C_e), A_l (B, C_l)) of eqs. 5-6 for the similarity `scale` · S, `scale` > 0 (eq. 4's
/// 1/√D). The scale is applied inside the op, after the maxima are subtracted, which saves the
/// graph a full pass over S and its gradient in each direction.
pub fn co_attention_scores(s: &Tensor, scale: f64) -> candle_core::Result<(Tensor, Tensor)> {
    let (_, ce, cl) = s.dims3()?;
    if !(scale > 0.0 && scale.is_finite()) {
        candle_core::bail!("co-attention scores: scale {scale} is not positive and finite");
    }
    if s.device().is_cpu() && matches!(s.dtype(), DType::F32 | DType::F64) {
        let both = s.contiguous()?.apply_op1(CoAttentionScores { scale })?; // (B, C_e + C_l)
        Ok((both.narrow(1, 0, ce)?, both.narrow(1, ce, cl)?))
    } else {
        let s = (s * scale)?;
        Ok((
            candle_nn::ops::softmax(&s, 1)?.sum(2)?,
            candle_nn::ops::softmax(&s, 2)?.sum(1)?,
        ))
    }
}

/// The CPU op on S, returning [A_e | A_l] per image of `scale` · S.
#[derive(Debug, Clone, Copy)]
struct CoAttentionScores {
    scale: f64,
}

/// P (column softmax) and Q (row softmax) of one image's `scale` · S (S ce x cl, row-major).
fn softmaxes<T: WithDType + Float + VectorExp>(
    s: &[T],
    ce: usize,
    cl: usize,
    scale: T,
) -> (Vec<T>, Vec<T>) {
    // Q: along each row. The shifted row is exponentiated in one vectorised pass.
    let mut q = s.to_vec();
    for row in q.chunks_mut(cl) {
        let m = row.iter().fold(T::neg_infinity(), |a, &b| Float::max(a, b));
        row.iter_mut().for_each(|v| *v = (*v - m) * scale);
        T::exp_in_place(row);
        let z = row.iter().fold(T::zero(), |acc, &v| acc + v);
        let inv = T::one() / z;
        row.iter_mut().for_each(|v| *v *= inv);
    }
    // P: down each column, with running column maxima and sums so that S is read row by row.
    let mut col_max = s[..cl].to_vec();
    for row in s.chunks(cl).skip(1) {
        for (m, &v) in col_max.iter_mut().zip(row) {
            *m = Float::max(*m, v);
        }
    }
    let mut p = vec![T::zero(); ce * cl];
    let mut col_sum = vec![T::zero(); cl];
    for (prow, srow) in p.chunks_mut(cl).zip(s.chunks(cl)) {
        for ((pv, &sv), &m) in prow.iter_mut().zip(srow).zip(&col_max) {
            *pv = (sv - m) * scale;
        }
        T::exp_in_place(prow);
        col_sum
            .iter_mut()
            .zip(prow.iter())
            .for_each(|(z, &v)| *z += v);
    }
    let inv: Vec<T> = col_sum.iter().map(|&z| T::one() / z).collect();
    for prow in p.chunks_mut(cl) {
        prow.iter_mut().zip(&inv).for_each(|(v, &i)| *v *= i);
    }
    (p, q)
}

fn forward<T: WithDType + Float + VectorExp>(
    s: &[T],
    (b, ce, cl): (usize, usize, usize),
    scale: f64,
) -> Vec<T> {
    let scale = T::from_f64(scale);
    let mut out = vec![T::zero(); b * (ce + cl)];
    out.par_chunks_mut(ce + cl).enumerate().for_each(|(i, o)| {
        let (p, q) = softmaxes(&s[i * ce * cl..(i + 1) * ce * cl], ce, cl, scale);
        let (a_e, a_l) = o.split_at_mut(ce);
        for ((a, prow), qrow) in a_e.iter_mut().zip(p.chunks(cl)).zip(q.chunks(cl)) {
            *a = prow.iter().fold(T::zero(), |acc, &v| acc + v);
            a_l.iter_mut().zip(qrow).for_each(|(l, &v)| *l += v);
        }
    });
    out
}

fn backward<T: WithDType + Float + VectorExp>(
    s: &[T],
    g: &[T],
    (b, ce, cl): (usize, usize, usize),
    scale: f64,
) -> Vec<T> {
    let scale = T::from_f64(scale);
    let mut ds = vec![T::zero(); b * ce * cl];
    ds.par_chunks_mut(ce * cl).enumerate().for_each(|(i, d)| {
        let (p, q) = softmaxes(&s[i * ce * cl..(i + 1) * ce * cl], ce, cl, scale);
        let (g_e, g_l) = g[i * (ce + cl)..(i + 1) * (ce + cl)].split_at(ce);
        // Σ_i' P[i', j] g_e[i'] per column j.
        let mut col = vec![T::zero(); cl];
        for (prow, &ge) in p.chunks(cl).zip(g_e) {
            col.iter_mut().zip(prow).for_each(|(c, &pv)| *c += pv * ge);
        }
        for (((drow, prow), qrow), &ge) in d
            .chunks_mut(cl)
            .zip(p.chunks(cl))
            .zip(q.chunks(cl))
            .zip(g_e)
        {
            // Σ_j' Q[i, j'] g_l[j'] for this row i.
            let row = qrow
                .iter()
                .zip(g_l)
                .fold(T::zero(), |acc, (&qv, &gl)| acc + qv * gl);
            for ((((dv, &pv), &qv), &c), &gl) in
                drow.iter_mut().zip(prow).zip(qrow).zip(&col).zip(g_l)
            {
                *dv = (pv * (ge - c) + qv * (gl - row)) * scale;
            }
        }
    });
    ds
}

impl CustomOp1 for CoAttentionScores {
    fn name(&self) -> &'static str {
        "fer-co-attention-scores"
    }

    fn cpu_fwd(&self, st: &CpuStorage, l: &Layout) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = l.shape().dims3()?;
        let out = float_kernel!(st.dtype(), "co-attention scores", T => forward(contiguous_slice::<T>(st, l)?, d, self.scale));
        Ok((out, Shape::from((d.0, d.1 + d.2))))
    }

    fn bwd(&self, s: &Tensor, _res: &Tensor, grad: &Tensor) -> candle_core::Result<Option<Tensor>> {
        Ok(Some(s.apply_op2_no_bwd(
            &grad.contiguous()?,
            &CoAttentionScoresBackward { scale: self.scale },
        )?))
    }
}

/// The backward kernel, as an op on (S, grad).
struct CoAttentionScoresBackward {
    scale: f64,
}

impl CustomOp2 for CoAttentionScoresBackward {
    fn name(&self) -> &'static str {
        "fer-co-attention-scores-backward"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let d = l1.shape().dims3()?;
        if l2.dims() != [d.0, d.1 + d.2] {
            candle_core::bail!(
                "co-attention scores backward: gradient of shape {:?}",
                l2.dims()
            );
        }
        let out = float_kernel!(s1.dtype(), "co-attention scores backward", T => backward(
            contiguous_slice::<T>(s1, l1)?,
            contiguous_slice::<T>(s2, l2)?,
            d,
            self.scale,
        ));
        Ok((out, l1.shape().clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_tensors::{max_abs, sine_tensor};
    use candle_core::Var;

    /// 3 sin(...): large enough that the softmaxes are far from uniform.
    fn values(shape: (usize, usize, usize), seed: f64) -> Tensor {
        (sine_tensor(shape, seed) * 3.0).unwrap()
    }

    /// Scores and the gradient of S against candle's softmax + sum of the scaled S, square and
    /// non-square S, with and without a scale.
    #[test]
    fn matches_candles_softmax_and_sum() {
        for (shape, scale) in [
            ((2, 4, 4), 1.0),
            ((3, 5, 2), 0.37),
            ((1, 1, 6), 1.0),
            ((2, 3, 7), 2.5),
        ] {
            let s = Var::from_tensor(&values(shape, 0.7)).unwrap();
            let (a_e, a_l) = co_attention_scores(s.as_tensor(), scale).unwrap();
            let scaled = (s.as_tensor() * scale).unwrap();
            let t_e = candle_nn::ops::softmax(&scaled, 1).unwrap().sum(2).unwrap();
            let t_l = candle_nn::ops::softmax(&scaled, 2).unwrap().sum(1).unwrap();
            assert!(max_abs(&(&a_e - &t_e).unwrap()) < 1e-13);
            assert!(max_abs(&(&a_l - &t_l).unwrap()) < 1e-13);
            let r_e = values((shape.0, shape.1, 1), 2.1).squeeze(2).unwrap();
            let r_l = values((shape.0, shape.2, 1), 4.2).squeeze(2).unwrap();
            let loss = |e: &Tensor, l: &Tensor| {
                ((e * &r_e).unwrap().sum_all().unwrap() + (l * &r_l).unwrap().sum_all().unwrap())
                    .unwrap()
            };
            let g1 = loss(&a_e, &a_l).backward().unwrap();
            let g2 = loss(&t_e, &t_l).backward().unwrap();
            let d = (g1.get(s.as_tensor()).unwrap() - g2.get(s.as_tensor()).unwrap()).unwrap();
            assert!(max_abs(&d) < 1e-13, "{shape:?}: gradient differs");
        }
    }

    /// A scale that is not positive and finite is an error, not a silent flip of the softmax.
    #[test]
    fn a_bad_scale_is_an_error() {
        let s = values((1, 2, 2), 0.1);
        for scale in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(co_attention_scores(&s, scale).is_err(), "scale {scale}");
        }
    }

    /// In f32 (the vectorised exponentials) the scores and the gradient of S stay within f32
    /// rounding of candle's softmax + sum computed in f64.
    #[test]
    fn f32_matches_candles_softmax_in_f64() {
        let shape = (3, 37, 21);
        let s64 = values(shape, 0.3);
        let s32 = Var::from_tensor(&s64.to_dtype(DType::F32).unwrap()).unwrap();
        let (a_e, a_l) = co_attention_scores(s32.as_tensor(), 1.0).unwrap();
        let s64 = Var::from_tensor(&s32.as_tensor().to_dtype(DType::F64).unwrap()).unwrap();
        let t_e = candle_nn::ops::softmax(s64.as_tensor(), 1)
            .unwrap()
            .sum(2)
            .unwrap();
        let t_l = candle_nn::ops::softmax(s64.as_tensor(), 2)
            .unwrap()
            .sum(1)
            .unwrap();
        let rel = |a: &Tensor, t: &Tensor| {
            let d = (a.to_dtype(DType::F64).unwrap() - t).unwrap();
            max_abs(&d) / max_abs(t)
        };
        assert!(rel(&a_e, &t_e) < 1e-6, "A_e: {}", rel(&a_e, &t_e));
        assert!(rel(&a_l, &t_l) < 1e-6, "A_l: {}", rel(&a_l, &t_l));
        let r_e = values((shape.0, shape.1, 1), 2.1).squeeze(2).unwrap();
        let r_l = values((shape.0, shape.2, 1), 4.2).squeeze(2).unwrap();
        let loss = |e: &Tensor, l: &Tensor| {
            ((e * &r_e).unwrap().sum_all().unwrap() + (l * &r_l).unwrap().sum_all().unwrap())
                .unwrap()
        };
        let g32 = loss(
            &a_e.to_dtype(DType::F64).unwrap(),
            &a_l.to_dtype(DType::F64).unwrap(),
        )
        .backward()
        .unwrap();
        let g64 = loss(&t_e, &t_l).backward().unwrap();
        let g32 = g32.get(s32.as_tensor()).unwrap();
        let g64 = g64.get(s64.as_tensor()).unwrap();
        assert!(rel(g32, g64) < 1e-5, "dS: {}", rel(g32, g64));
    }

    /// Each softmax sums to one over its axis, so A_e sums to C_l and A_l to C_e per image;
    /// large S (|S| up to 300) must not overflow.
    #[test]
    fn scores_sum_to_the_other_channel_count_without_overflow() {
        let s = (values((2, 6, 3), 0.1) * 100.0)
            .unwrap()
            .to_dtype(DType::F32)
            .unwrap();
        let (a_e, a_l) = co_attention_scores(&s, 1.0).unwrap();
        for (a, want) in [(a_e, 3.0f32), (a_l, 6.0)] {
            for v in a.sum(1).unwrap().to_vec1::<f32>().unwrap() {
                assert!((v - want).abs() < 1e-4, "sum {v}, expected {want}");
            }
        }
    }
}
