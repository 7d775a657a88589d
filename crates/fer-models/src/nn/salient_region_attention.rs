//! The salient-region attention of DAM-CNN (Xie, Hu & Wu 2019, "Deep multi-path convolutional
//! neural network joint with salient region attention for facial expression recognition",
//! the paper's ref. [51]), the `dam-cnn` baseline of Table 13.
//!
//! What is implemented: the attention of its Salient Expressional Region Descriptor (SERD):
//! a small network scores each spatial location of the last convolutional feature map,
//! e_ij = w2ᵀ tanh(W1 f_ij + b1) (1x1 convolutions, hidden width C/8; no output bias, since
//! the softmax over locations cancels any constant), the scores are
//! normalised by a softmax over the H·W locations into A, and the features are re-weighted,
//! f̃_ij = (H·W·A_ij) f_ij (scaled by H·W so that uniform attention leaves f unchanged, which
//! keeps the FER head's input scale).
//! What is left out: DAM-CNN's Multi-Path Variation-Suppressing Network (MPVS-Net), an
//! encoder-decoder trained with identity and pose reconstruction that needs labels our
//! datasets lack, and its VGG-Face backbone (the paper compares on BaseDCNN, Table 13).
//! Parameter names `score_hidden.*`, `score_out.*`.

use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use crate::nn::layers;
use crate::ops::broadcast_scale::broadcast_scale;
use crate::ops::gemm_conv2d::GemmConv2d;

/// SERD-style spatial attention.
#[derive(Debug, Clone)]
pub struct SalientRegionAttention {
    score_hidden: GemmConv2d,
    score_out: GemmConv2d,
}

impl SalientRegionAttention {
    pub fn new(channels: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        let hidden = (channels / 8).max(1);
        Ok(Self {
            score_hidden: layers::conv2d(channels, hidden, 1, 0, vb.pp("score_hidden"))?,
            score_out: layers::conv2d_no_bias(hidden, 1, 1, 0, vb.pp("score_out"))?,
        })
    }

    /// Returns the re-weighted features and the attention map A (sums to 1 per image).
    ///
    /// # Shapes
    /// (B, C, H, W) -> ((B, C, H, W), (B, H, W))
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        let (b, _, h, w) = x.dims4()?;
        let e = self
            .score_out
            .forward(&self.score_hidden.forward(x)?.tanh()?)?; // (B,1,H,W)
        let a = candle_nn::ops::softmax(&e.reshape((b, h * w))?, 1)?;
        let weights = (a.reshape((b, 1, h, w))? * (h * w) as f64)?;
        Ok((broadcast_scale(x, &weights)?, a.reshape((b, h, w))?))
    }
}
