//! The CPU kernel of the fully connected layers (the FER and FLD heads of paper 3.1, CCAM's
//! embedding maps, eqs. 2-3): y = x Wᵀ + b forward, and dx = dy W, dW = dyᵀ x, db = Σ dy
//! backward, as one candle custom op each way.
//!
//! Why: candle writes a linear layer as a matmul with the transposed weight plus a broadcast
//! bias. Its backward then produces the weight gradient as the transpose of xᵀ dy and adds
//! that strided view into a zero-filled buffer: for the heads' 36,864 x 2,000 weight at 100 px
//! that is a 295 MB strided pass per step. Here dW is computed in the weight's own layout by
//! one GEMM, the bias is folded into the forward GEMM, and dx is skipped when the input needs
//! no gradient.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, CustomOp2, CustomOp3, Layout, Shape, Tensor, WithDType};

use crate::ops::cpu_gemm::gemm_into;
use crate::ops::cpu_slice::{check_bias, contiguous_slice, float_kernel};
use crate::ops::flat_gradients::split_flat_gradients;
use crate::ops::matmul_precision::Precision;
use crate::ops::small_batch_gemm::SmallBatchGemm;

/// (rows, in, out) of an (rows, in) input and an (out, in) weight.
fn dims(x: &Layout, w: &Layout) -> candle_core::Result<(usize, usize, usize)> {
    let (rows, fin) = x.shape().dims2()?;
    let (fout, win) = w.shape().dims2()?;
    if win != fin {
        candle_core::bail!("linear: input has {fin} features, the weight expects {win}");
    }
    Ok((rows, fin, fout))
}

fn forward<T: WithDType + SmallBatchGemm>(
    x: &[T],
    w: &[T],
    b: Option<&[T]>,
    (rows, fin, fout): (usize, usize, usize),
    precision: Precision,
) -> Vec<T> {
    let mut y = vec![T::zero(); rows * fout];
    if let Some(b) = b {
        for row in y.chunks_mut(fout) {
            row.copy_from_slice(b);
        }
    }
    // y (rows x out) = x (rows x in) · Wᵀ (in x out); a batch-sized x takes the dot-product
    // kernel, which does not repack the weight (small_batch_gemm.rs). It multiplies in fp32, so
    // bf16 takes the GEMM.
    if precision == Precision::Fp32
        && T::small_batch_gemm(x, w, &mut y, (rows, fin, fout), b.is_some())
    {
        return y;
    }
    gemm_into(
        (rows, fout, fin),
        &mut y,
        b.is_some(),
        (x, fin as isize, 1),
        (w, 1, fin as isize),
        gemm::Parallelism::Rayon(rayon::current_num_threads()),
        precision,
    );
    y
}

/// [dx (if `need_dx`) | dW | db], flat.
fn backward<T: WithDType>(
    x: &[T],
    w: &[T],
    dy: &[T],
    (rows, fin, fout): (usize, usize, usize),
    need_dx: bool,
    precision: Precision,
) -> Vec<T> {
    let nx = if need_dx { rows * fin } else { 0 };
    let mut out = vec![T::zero(); nx + fout * fin + fout];
    let (dx, rest) = out.split_at_mut(nx);
    let (dw, db) = rest.split_at_mut(fout * fin);
    if need_dx {
        // dx (rows x in) = dy (rows x out) · W (out x in)
        gemm_into(
            (rows, fin, fout),
            dx,
            false,
            (dy, fout as isize, 1),
            (w, fin as isize, 1),
            gemm::Parallelism::Rayon(rayon::current_num_threads()),
            precision,
        );
    }
    // dW (out x in) = dyᵀ (out x rows) · x (rows x in)
    gemm_into(
        (fout, fin, rows),
        dw,
        false,
        (dy, 1, fout as isize),
        (x, fin as isize, 1),
        gemm::Parallelism::Rayon(rayon::current_num_threads()),
        precision,
    );
    for row in dy.chunks(fout) {
        for (d, &g) in db.iter_mut().zip(row) {
            *d += g;
        }
    }
    out
}

/// The layer's op: `x.apply_op3(w, b, op)` with a bias, `x.apply_op2(w, op)` without; x is
/// (rows, in), contiguous. `precision` is that of its forward's caller (`matmul_precision`),
/// kept for the backward.
#[derive(Debug, Clone, Copy, Default)]
pub struct FusedLinear {
    pub precision: Precision,
}

fn run_forward(
    precision: Precision,
    (sx, lx): (&CpuStorage, &Layout),
    (sw, lw): (&CpuStorage, &Layout),
    bias: Option<(&CpuStorage, &Layout)>,
) -> candle_core::Result<(CpuStorage, Shape)> {
    let d = dims(lx, lw)?;
    check_bias("linear", bias, d.2)?;
    let out = float_kernel!(sx.dtype(), "linear", T => forward(
        contiguous_slice::<T>(sx, lx)?,
        contiguous_slice::<T>(sw, lw)?,
        bias.map(|(s, l)| contiguous_slice::<T>(s, l))
            .transpose()?,
        d,
        precision,
    ));
    Ok((out, Shape::from((d.0, d.2))))
}

/// (dx if the input needs it, dW, db).
fn gradients(
    precision: Precision,
    x: &Tensor,
    w: &Tensor,
    grad: &Tensor,
) -> candle_core::Result<(Option<Tensor>, Tensor, Tensor)> {
    let need_dx = x.track_op();
    let flat = x.apply_op3_no_bwd(
        &w.contiguous()?,
        &grad.contiguous()?,
        &FusedLinearBackward { need_dx, precision },
    )?;
    split_flat_gradients(&flat, x, w, need_dx)
}

impl CustomOp3 for FusedLinear {
    fn name(&self) -> &'static str {
        "fer-linear"
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
        run_forward(self.precision, (s1, l1), (s2, l2), Some((s3, l3)))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _b: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, db) = gradients(self.precision, x, w, grad)?;
        Ok((dx, Some(dw), Some(db)))
    }
}

impl CustomOp2 for FusedLinear {
    fn name(&self) -> &'static str {
        "fer-linear-no-bias"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        run_forward(self.precision, (s1, l1), (s2, l2), None)
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> candle_core::Result<(Option<Tensor>, Option<Tensor>)> {
        let (dx, dw, _) = gradients(self.precision, x, w, grad)?;
        Ok((dx, Some(dw)))
    }
}

/// The backward kernel, as an op on (x, W, dy).
struct FusedLinearBackward {
    need_dx: bool,
    precision: Precision,
}

impl CustomOp3 for FusedLinearBackward {
    fn name(&self) -> &'static str {
        "fer-linear-backward"
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
        let d = dims(l1, l2)?;
        if l3.shape().dims() != [d.0, d.2] {
            candle_core::bail!("linear backward: gradient of shape {:?}", l3.shape().dims());
        }
        let n = if self.need_dx { d.0 * d.1 } else { 0 } + d.2 * d.1 + d.2;
        let out = float_kernel!(s1.dtype(), "linear backward", T => backward(
            contiguous_slice::<T>(s1, l1)?,
            contiguous_slice::<T>(s2, l2)?,
            contiguous_slice::<T>(s3, l3)?,
            d,
            self.need_dx,
            self.precision,
        ));
        Ok((out, Shape::from(n)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_tensors::{max_abs_diff as max_diff, sine_tensor as values};
    use candle_core::{DType, Var};

    /// Output and gradients (x, W, b) against candle's matmul + broadcast add, in f64, with and
    /// without a bias and with an input that needs no gradient.
    #[test]
    fn forward_and_gradients_match_candles_generic_linear() {
        for (rows, fin, fout, bias, x_var) in [
            (5, 7, 3, true, true),
            (1, 40, 9, true, true),
            (6, 4, 11, false, true),
            (3, 8, 5, true, false),
        ] {
            let x = Var::from_tensor(&values((rows, fin), 0.2)).unwrap();
            let xt = if x_var {
                x.as_tensor().clone()
            } else {
                x.as_tensor().detach()
            };
            let w = Var::from_tensor(&values((fout, fin), 1.1)).unwrap();
            let b = Var::from_tensor(&values((1, fout), 2.3).reshape(fout).unwrap()).unwrap();
            let ours = if bias {
                xt.apply_op3(w.as_tensor(), b.as_tensor(), FusedLinear::default())
            } else {
                xt.apply_op2(w.as_tensor(), FusedLinear::default())
            }
            .unwrap();
            let mut theirs = xt.matmul(&w.as_tensor().t().unwrap()).unwrap();
            if bias {
                theirs = theirs.broadcast_add(b.as_tensor()).unwrap();
            }
            assert!(max_diff(&ours, &theirs) < 1e-12);
            let r = values((rows, fout), 3.7);
            let g1 = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
            let g2 = (theirs * &r)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            assert_eq!(g1.get(x.as_tensor()).is_some(), x_var);
            let mut vars = vec![&w];
            if bias {
                vars.push(&b);
            }
            if x_var {
                vars.push(&x);
            }
            for v in vars {
                let d = max_diff(
                    g1.get(v.as_tensor()).unwrap(),
                    g2.get(v.as_tensor()).unwrap(),
                );
                assert!(d < 1e-12, "gradient differs by {d}");
            }
        }
    }

    /// In f32 a batch of up to 64 rows takes the small-batch kernel (on AVX-512 machines);
    /// its output and the gradients must agree with candle's f32 matmul to float tolerance.
    #[test]
    fn f32_batch_matches_candles_generic_linear() {
        let (rows, fin, fout) = (32, 3000, 50);
        let f32v = |shape, seed| values(shape, seed).to_dtype(DType::F32).unwrap();
        let x = f32v((rows, fin), 0.2);
        let w = Var::from_tensor(&f32v((fout, fin), 1.1)).unwrap();
        let b = Var::from_tensor(&f32v((1, fout), 2.3).reshape(fout).unwrap()).unwrap();
        let ours = x
            .apply_op3(w.as_tensor(), b.as_tensor(), FusedLinear::default())
            .unwrap();
        let theirs = x
            .matmul(&w.as_tensor().t().unwrap())
            .unwrap()
            .broadcast_add(b.as_tensor())
            .unwrap();
        let scale = theirs
            .abs()
            .unwrap()
            .max_keepdim(1)
            .unwrap()
            .max(0)
            .unwrap();
        let scale = scale.to_vec1::<f32>().unwrap()[0] as f64;
        let d = max_diff(
            &ours.to_dtype(DType::F64).unwrap(),
            &theirs.to_dtype(DType::F64).unwrap(),
        );
        assert!(
            d < 1e-5 * scale,
            "f32 output differs by {d} (scale {scale})"
        );
        let r = f32v((rows, fout), 3.7);
        let g = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let gw = g.get(w.as_tensor()).unwrap();
        let want = r.t().unwrap().matmul(&x).unwrap();
        let d = max_diff(
            &gw.to_dtype(DType::F64).unwrap(),
            &want.to_dtype(DType::F64).unwrap(),
        );
        assert!(d < 1e-4, "f32 weight gradient differs by {d}");
    }

    #[test]
    fn a_bias_of_the_wrong_length_is_an_error() {
        let x = values((2, 3), 0.1);
        let w = values((4, 3), 0.2);
        let b = values((1, 5), 0.3).reshape(5).unwrap();
        let e = x
            .apply_op3(&w, &b, FusedLinear::default())
            .unwrap_err()
            .to_string();
        assert!(e.contains("linear: bias of shape [5] for 4 outputs"), "{e}");
    }
}
