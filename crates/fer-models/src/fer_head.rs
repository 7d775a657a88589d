//! The FER classifier of paper 3.1: three fully connected layers, batch norm after the first
//! two, ReLU except after the last. Parameter names follow the reference code's CMCNN
//! (`fer_feature.fer_fc1`, `fer_feature.fer_bn1`, `fer_feature.fer_fc2`, `fer_feature.fer_bn2`,
//! `fer_out.fer_out`). The reference code has no ReLU after `fer_bn2`; the paper's text does;
//! `FerHeadConfig::relu_after_embedding` selects.

use candle_core::Tensor;
use candle_nn::{Module, VarBuilder};

use crate::fused_batch_norm::FusedBatchNorm;

use crate::layers::{self, Linear};
use crate::model_config::FerHeadConfig;

/// FER head: flat features -> hidden -> embedding -> class logits.
#[derive(Debug, Clone)]
pub struct FerHead {
    fc1: Linear,
    bn1: FusedBatchNorm,
    fc2: Linear,
    bn2: FusedBatchNorm,
    out: Linear,
    relu_after_embedding: bool,
}

impl FerHead {
    pub fn new(
        in_features: usize,
        num_classes: usize,
        cfg: &FerHeadConfig,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let f = vb.pp("fer_feature");
        Ok(Self {
            fc1: layers::linear(in_features, cfg.hidden, f.pp("fer_fc1"))?,
            bn1: layers::batch_norm(cfg.hidden, 1e-3, f.pp("fer_bn1"))?,
            fc2: layers::linear(cfg.hidden, cfg.embedding, f.pp("fer_fc2"))?,
            bn2: layers::batch_norm(cfg.embedding, 1e-3, f.pp("fer_bn2"))?,
            out: layers::linear(cfg.embedding, num_classes, vb.pp("fer_out").pp("fer_out"))?,
            relu_after_embedding: cfg.relu_after_embedding,
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
        self.bn1.forward_t(&self.fc1.forward(x)?, train)?.relu()
    }

    /// The rest after [`FerHead::hidden_t`]; returns (embedding, logits).
    pub fn from_hidden_t(&self, h: &Tensor, train: bool) -> candle_core::Result<(Tensor, Tensor)> {
        let mut e = self.bn2.forward_t(&self.fc2.forward(h)?, train)?;
        if self.relu_after_embedding {
            e = e.relu()?;
        }
        let logits = self.out.forward(&e)?;
        Ok((e, logits))
    }
}
