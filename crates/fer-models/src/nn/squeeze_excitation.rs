//! The squeeze-and-excitation block of Hu et al. (2018), the `se-net` baseline of Table 12:
//! s = σ(W2 ReLU(W1 GAP(x))), x̃ = s ⊙ x, with W1: C -> C/r, W2: C/r -> C (with biases, as
//! the SE paper's fully connected layers), r = `attention_baseline.reduction` (16).
//! Parameter names `fc1.*`, `fc2.*`.

use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use crate::nn::layers::{self, Linear};
use crate::ops::broadcast_scale::broadcast_scale;

/// One SE block for `channels` channels.
#[derive(Debug, Clone)]
pub struct SqueezeExcitation {
    fc1: Linear,
    fc2: Linear,
}

impl SqueezeExcitation {
    pub fn new(channels: usize, reduction: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let hidden = (channels / reduction).max(1);
        Ok(Self {
            fc1: layers::linear(channels, hidden, vb.pp("fc1"))?,
            fc2: layers::linear(hidden, channels, vb.pp("fc2"))?,
        })
    }

    /// # Shapes
    /// (B, C, H, W) -> (B, C, H, W)
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c, _, _) = x.dims4()?;
        let z = x.mean(3)?.mean(2)?; // squeeze: (B, C)
        let s = candle_nn::ops::sigmoid(&self.fc2.forward(&self.fc1.forward(&z)?.relu()?)?)?;
        broadcast_scale(x, &s.reshape((b, c, 1, 1))?)
    }
}
