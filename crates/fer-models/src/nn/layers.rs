//! Layer constructors with PyTorch's default initialisation, so that models start from the
//! same distribution as the reference implementation: weights and biases of convolutions and
//! fully connected layers uniform in ±1/sqrt(fan_in) (PyTorch's kaiming_uniform with a = sqrt(5)),
//! batch norm weight 1, bias 0, running mean 0, running variance 1. Parameter names follow
//! PyTorch (`weight`, `bias`, `running_mean`, `running_var`) so its checkpoints can be mapped.

use candle_core::{DType, Module, Tensor};
use candle_nn::{Init, VarBuilder};

use crate::ops::fused_batch_norm::FusedBatchNorm;
use crate::ops::fused_linear::FusedLinear;

use crate::ops::gemm_conv2d::GemmConv2d;

/// A 2-D convolution with bias (square kernel `k`, stride 1, padding `pad`).
pub fn conv2d(
    in_c: usize,
    out_c: usize,
    k: usize,
    pad: usize,
    vb: VarBuilder,
) -> candle_core::Result<GemmConv2d> {
    let bound = 1.0 / ((in_c * k * k) as f64).sqrt();
    let init = Init::Uniform {
        lo: -bound,
        up: bound,
    };
    let w = vb.get_with_hints((out_c, in_c, k, k), "weight", init)?;
    let b = vb.get_with_hints(out_c, "bias", init)?;
    Ok(GemmConv2d::new(w, Some(b), pad))
}

/// A 2-D convolution without bias (used before a batch norm or a sigmoid: SCAM, CBAM).
pub fn conv2d_no_bias(
    in_c: usize,
    out_c: usize,
    k: usize,
    pad: usize,
    vb: VarBuilder,
) -> candle_core::Result<GemmConv2d> {
    let bound = 1.0 / ((in_c * k * k) as f64).sqrt();
    let init = Init::Uniform {
        lo: -bound,
        up: bound,
    };
    let w = vb.get_with_hints((out_c, in_c, k, k), "weight", init)?;
    Ok(GemmConv2d::new(w, None, pad))
}

/// A fully connected layer without bias (CBAM's channel MLP).
pub fn linear_no_bias(in_f: usize, out_f: usize, vb: VarBuilder) -> candle_core::Result<Linear> {
    let bound = 1.0 / (in_f as f64).sqrt();
    let init = Init::Uniform {
        lo: -bound,
        up: bound,
    };
    let w = vb.get_with_hints((out_f, in_f), "weight", init)?;
    Ok(Linear::new(w, None))
}

/// A fully connected layer `in_f -> out_f` with bias.
pub fn linear(in_f: usize, out_f: usize, vb: VarBuilder) -> candle_core::Result<Linear> {
    let bound = 1.0 / (in_f as f64).sqrt();
    let init = Init::Uniform {
        lo: -bound,
        up: bound,
    };
    let w = vb.get_with_hints((out_f, in_f), "weight", init)?;
    let b = vb.get_with_hints(out_f, "bias", init)?;
    Ok(Linear {
        inner: candle_nn::Linear::new(w, Some(b)),
    })
}

/// A fully connected layer (candle's) that reports its multiply-accumulates to
/// `mac_counter`.
#[derive(Debug, Clone)]
pub struct Linear {
    inner: candle_nn::Linear,
}

impl Linear {
    /// Wraps an existing weight (out_f, in_f) and optional bias (out_f).
    pub fn new(weight: Tensor, bias: Option<Tensor>) -> Self {
        Self {
            inner: candle_nn::Linear::new(weight, bias),
        }
    }

    pub fn weight(&self) -> &Tensor {
        self.inner.weight()
    }
}

impl Module for Linear {
    /// # Shapes
    /// (..., in_f) -> (..., out_f)
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (out_f, in_f) = self.inner.weight().dims2()?;
        let rows = x.elem_count() / in_f.max(1);
        crate::mac_counter::add((rows * in_f * out_f) as u64);
        let dtype_ok = matches!(x.dtype(), DType::F32 | DType::F64);
        if !x.device().is_cpu() || !dtype_ok || x.rank() == 0 {
            return self.inner.forward(x);
        }
        // On the CPU: one op for the matmul, the bias and their gradients (fused_linear).
        let mut out_dims = x.dims().to_vec();
        if let Some(last) = out_dims.last_mut() {
            *last = out_f;
        }
        let flat = x.reshape((rows, in_f))?.contiguous()?;
        let op = FusedLinear {
            precision: crate::ops::matmul_precision::current(),
        };
        let y = match self.inner.bias() {
            Some(b) => flat.apply_op3(self.inner.weight(), b, op)?,
            None => flat.apply_op2(self.inner.weight(), op)?,
        };
        y.reshape(out_dims)
    }
}

/// Batch norm with PyTorch's momentum 0.1 and the given epsilon (1e-3 in the reference code),
/// with the fused CPU kernel of `fused_batch_norm`.
pub fn batch_norm(
    features: usize,
    eps: f64,
    vb: VarBuilder,
) -> candle_core::Result<FusedBatchNorm> {
    FusedBatchNorm::new(features, eps, vb)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::matmul_precision::{autocast, Precision};
    use crate::ops::test_tensors::{bf16_rounded, max_abs_diff, sine_tensor};
    use candle_core::Var;

    /// Under `autocast(Bf16)` a linear layer multiplies bf16-rounded operands with fp32 sums,
    /// forward and backward (the weight and input gradients also round the upstream gradient),
    /// for a batch-sized input (which in fp32 takes the small-batch kernel) and a larger one.
    #[test]
    fn bf16_autocast_linear_multiplies_rounded_operands() {
        let Ok(guard) = autocast(Precision::Bf16) else {
            eprintln!("skipped: this processor has no AVX-512 BF16");
            return;
        };
        drop(guard);
        for (rows, fin, fout) in [(32, 3000, 50), (130, 77, 9)] {
            let f32s = |t: Tensor| t.to_dtype(DType::F32).unwrap();
            let x = Var::from_tensor(&f32s(sine_tensor((rows, fin), 0.2))).unwrap();
            let w = Var::from_tensor(&f32s(sine_tensor((fout, fin), 1.1))).unwrap();
            let b = Var::from_tensor(&f32s(sine_tensor(fout, 2.3))).unwrap();
            let up = f32s(sine_tensor((rows, fout), 3.7));
            let layer = Linear::new(w.as_tensor().clone(), Some(b.as_tensor().clone()));
            let (ours, grads) = {
                let _bf16 = autocast(Precision::Bf16).unwrap();
                let y = layer.forward(x.as_tensor()).unwrap();
                let g = (&y * &up).unwrap().sum_all().unwrap().backward().unwrap();
                (y, g)
            };
            let rx = Var::from_tensor(&bf16_rounded(x.as_tensor())).unwrap();
            let rw = Var::from_tensor(&bf16_rounded(w.as_tensor())).unwrap();
            let rb = Var::from_tensor(&b.as_tensor().to_dtype(DType::F64).unwrap()).unwrap();
            let theirs = rx
                .as_tensor()
                .matmul(&rw.as_tensor().t().unwrap())
                .unwrap()
                .broadcast_add(rb.as_tensor())
                .unwrap();
            let g2 = (&theirs * bf16_rounded(&up))
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            // Sums of up to 3000 products of magnitude <= 1 in fp32.
            assert!(
                max_abs_diff(&ours, &theirs) < 1e-3,
                "({rows}, {fin}, {fout})"
            );
            // db is a reduction, not a product: fp32 sums of the unrounded gradient.
            let db = up.to_dtype(DType::F64).unwrap().sum(0).unwrap();
            assert!(max_abs_diff(grads.get(b.as_tensor()).unwrap(), &db) < 1e-4);
            for (v, r) in [(&x, &rx), (&w, &rw)] {
                let d = max_abs_diff(
                    grads.get(v.as_tensor()).unwrap(),
                    g2.get(r.as_tensor()).unwrap(),
                );
                assert!(d < 1e-3, "gradient differs by {d} ({rows}, {fin}, {fout})");
            }
        }
    }
}
