//! The channel half of CBAM (Woo et al. 2018), the `cbam-c` baseline of Table 12:
//! M_c = σ(MLP(AvgPool(x)) + MLP(MaxPool(x))), x̃ = M_c ⊙ x, one MLP (C -> C/r -> C, ReLU
//! between, with biases as the CBAM authors' `ChannelGate`) shared by both poolings.
//! Parameter names `mlp.0.*`, `mlp.2.*`.

use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use crate::nn::layers::{self, Linear};
use crate::ops::broadcast_scale::broadcast_scale;

/// CBAM channel attention for `channels` channels.
#[derive(Debug, Clone)]
pub struct CbamChannelAttention {
    fc1: Linear,
    fc2: Linear,
}

impl CbamChannelAttention {
    pub fn new(channels: usize, reduction: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let hidden = (channels / reduction).max(1);
        Ok(Self {
            fc1: layers::linear(channels, hidden, vb.pp("mlp.0"))?,
            fc2: layers::linear(hidden, channels, vb.pp("mlp.2"))?,
        })
    }

    fn mlp(&self, z: &Tensor) -> candle_core::Result<Tensor> {
        self.fc2.forward(&self.fc1.forward(z)?.relu()?)
    }

    /// # Shapes
    /// (B, C, H, W) -> (B, C, H, W)
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let avg = x.mean(3)?.mean(2)?;
        let max = x.reshape((b, c, h * w))?.max(2)?;
        let m = candle_nn::ops::sigmoid(&(self.mlp(&avg)? + self.mlp(&max)?)?)?;
        broadcast_scale(x, &m.reshape((b, c, 1, 1))?)
    }
}
