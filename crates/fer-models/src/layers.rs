//! Layer constructors with PyTorch's default initialisation, so that models start from the
//! same distribution as the reference implementation: weights and biases of convolutions and
//! fully connected layers uniform in ±1/sqrt(fan_in) (PyTorch's kaiming_uniform with a = sqrt(5)),
//! batch norm weight 1, bias 0, running mean 0, running variance 1. Parameter names follow
//! PyTorch (`weight`, `bias`, `running_mean`, `running_var`) so its checkpoints can be mapped.

use candle_nn::{Init, Linear, VarBuilder};

use crate::fused_batch_norm::FusedBatchNorm;

use crate::gemm_conv2d::GemmConv2d;

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

/// A fully connected layer `in_f -> out_f` with bias.
pub fn linear(in_f: usize, out_f: usize, vb: VarBuilder) -> candle_core::Result<Linear> {
    let bound = 1.0 / (in_f as f64).sqrt();
    let init = Init::Uniform {
        lo: -bound,
        up: bound,
    };
    let w = vb.get_with_hints((out_f, in_f), "weight", init)?;
    let b = vb.get_with_hints(out_f, "bias", init)?;
    Ok(Linear::new(w, Some(b)))
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
