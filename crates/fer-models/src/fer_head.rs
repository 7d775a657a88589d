//! The FER classifier of paper 3.1: three fully connected layers, batch norm after the first
//! two, ReLU except after the last. Parameter names follow the reference code's CMCNN
//! (`fer_feature.fer_fc1`, `fer_feature.fer_bn1`, `fer_feature.fer_fc2`, `fer_feature.fer_bn2`,
//! `fer_out.fer_out`). The reference code has no ReLU after `fer_bn2`; the paper's text does;
//! `FerHeadConfig::relu_after_embedding` selects.
//!
//! `FerHeadStyle::ReferenceFerDcnn` is the reference code's single-task `FER_DCNN` head instead
//! (fc1: features -> embedding, ReLU, output layer; no batch norm), so that its checkpoints
//! import (`reference_checkpoint`).

use candle_core::Tensor;
use candle_nn::{Module, VarBuilder};

use crate::fused_batch_norm::FusedBatchNorm;

use crate::layers::{self, Linear};
use crate::model_config::{FerHeadConfig, FerHeadStyle};

/// FER head: flat features -> hidden -> embedding -> class logits.
#[derive(Debug, Clone)]
pub struct FerHead {
    fc1: Linear,
    /// bn1, fc2, bn2 of the paper's style; `None` for the reference FER_DCNN style.
    middle: Option<(FusedBatchNorm, Linear, FusedBatchNorm)>,
    out: Linear,
    relu_after_embedding: bool,
    hidden_width: usize,
}

impl FerHead {
    pub fn new(
        in_features: usize,
        num_classes: usize,
        cfg: &FerHeadConfig,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let f = vb.pp("fer_feature");
        // Construction order = order of the seeded initial values: fc1, bn1, fc2, bn2, out.
        let out = |vb: VarBuilder| {
            layers::linear(cfg.embedding, num_classes, vb.pp("fer_out").pp("fer_out"))
        };
        Ok(match cfg.style {
            FerHeadStyle::Paper => {
                let fc1 = layers::linear(in_features, cfg.hidden, f.pp("fer_fc1"))?;
                let middle = Some((
                    layers::batch_norm(cfg.hidden, 1e-3, f.pp("fer_bn1"))?,
                    layers::linear(cfg.hidden, cfg.embedding, f.pp("fer_fc2"))?,
                    layers::batch_norm(cfg.embedding, 1e-3, f.pp("fer_bn2"))?,
                ));
                Self {
                    fc1,
                    middle,
                    out: out(vb)?,
                    relu_after_embedding: cfg.relu_after_embedding,
                    hidden_width: cfg.hidden,
                }
            }
            FerHeadStyle::ReferenceFerDcnn => Self {
                fc1: layers::linear(in_features, cfg.embedding, f.pp("fer_fc1"))?,
                middle: None,
                out: out(vb)?,
                relu_after_embedding: false,
                hidden_width: cfg.embedding,
            },
        })
    }

    /// Returns (embedding, logits).
    ///
    /// # Shapes
    /// (B, F) -> ((B, embedding), (B, num_classes))
    pub fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<(Tensor, Tensor)> {
        let h = self.hidden_t(x, train)?;
        self.from_hidden_t(&h, train)
    }

    /// The first layer alone (fc1, batch norm, ReLU), for models that mix the hidden layer of
    /// two tasks (CSN).
    ///
    /// # Shapes
    /// (B, F) -> (B, hidden)
    pub fn hidden_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let h = self.fc1.forward(x)?;
        match &self.middle {
            Some((bn1, _, _)) => bn1.forward_relu_t(&h, train),
            None => h.relu(),
        }
    }

    /// Width of [`FerHead::hidden_t`]'s output.
    pub fn hidden_width(&self) -> usize {
        self.hidden_width
    }

    /// The rest after [`FerHead::hidden_t`]; returns (embedding, logits).
    pub fn from_hidden_t(&self, h: &Tensor, train: bool) -> candle_core::Result<(Tensor, Tensor)> {
        let e = match &self.middle {
            Some((_, fc2, bn2)) => {
                let e = bn2.forward_t(&fc2.forward(h)?, train)?;
                if self.relu_after_embedding {
                    e.relu()?
                } else {
                    e
                }
            }
            None => h.clone(),
        };
        let logits = self.out.forward(&e)?;
        Ok((e, logits))
    }
}
