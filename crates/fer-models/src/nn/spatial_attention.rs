//! Spatial attention map from channel-wise max and mean pooling: the map of CMCNN's SCAM (paper
//! 3.3, eqs. 9-11) and of CBAM's spatial half (Woo et al. 2018, the paper's `cbam-s` baseline).
//!
//! A_s = σ(conv([F_max; F_avg])) with F_max, F_avg the maximum and mean over the channel axis.
//! The paper (eq. 11) uses a 7x7 kernel; the reference code uses a 3x3 kernel followed by a
//! one-channel batch norm and orders the two maps [mean; max]. `SpatialKernel` selects; with
//! the reference variant the channel order is the reference's, so its weights import as they
//! are. Neither variant has a convolution bias (eq. 11 has none; the reference sets
//! `bias=False`).

use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use crate::model_config::SpatialKernel;
use crate::nn::layers;
use crate::ops::channel_pool::{channel_max_mean, PooledOrder};
use crate::ops::fused_batch_norm::FusedBatchNorm;
use crate::ops::gemm_conv2d::GemmConv2d;

/// The attention map generator. Parameter names: `conv.weight` and, for the reference
/// variant, `bn.*`.
#[derive(Debug, Clone)]
pub struct SpatialAttention {
    conv: GemmConv2d,
    bn: Option<FusedBatchNorm>,
    kernel: SpatialKernel,
}

impl SpatialAttention {
    pub fn new(kernel: SpatialKernel, vb: VarBuilder) -> candle_core::Result<Self> {
        let (k, bn) = match kernel {
            SpatialKernel::Paper7x7 => (7, None),
            // PyTorch's BatchNorm2d(1) default epsilon, as in the reference code.
            SpatialKernel::Reference3x3BatchNorm => {
                (3, Some(layers::batch_norm(1, 1e-5, vb.pp("bn"))?))
            }
        };
        Ok(Self {
            conv: layers::conv2d_no_bias(2, 1, k, k / 2, vb.pp("conv"))?,
            bn,
            kernel,
        })
    }

    /// The attention map of one feature map (CBAM's spatial half, `cbam-s`).
    ///
    /// # Shapes
    /// (B, C, H, W) -> (B, 1, H, W), values in (0, 1).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        self.attend(x, None, train)
    }

    /// The attention map of the concatenation [first; second] along channels, without
    /// building it (SCAM's [L_in; E_in]).
    ///
    /// # Shapes
    /// (B, C1, H, W), (B, C2, H, W) -> (B, 1, H, W), values in (0, 1).
    pub fn forward_pair_t(
        &self,
        first: &Tensor,
        second: &Tensor,
        train: bool,
    ) -> candle_core::Result<Tensor> {
        self.attend(first, Some(second), train)
    }

    fn attend(
        &self,
        first: &Tensor,
        second: Option<&Tensor>,
        train: bool,
    ) -> candle_core::Result<Tensor> {
        let order = match self.kernel {
            SpatialKernel::Paper7x7 => PooledOrder::MaxThenMean,
            SpatialKernel::Reference3x3BatchNorm => PooledOrder::MeanThenMax,
        };
        let pooled = channel_max_mean(first, second, order)?;
        let mut a = self.conv.forward(&pooled)?;
        if let Some(bn) = &self.bn {
            a = bn.forward_t(&a, train)?;
        }
        candle_nn::ops::sigmoid(&a)
    }
}
