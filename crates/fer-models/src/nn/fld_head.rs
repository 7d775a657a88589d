//! The FLD regressor of paper 3.1: two fully connected layers with a ReLU between, predicting
//! 68 (x, y) points in input pixels. Names follow the reference code (`lm_feature.lm_fc1`,
//! `lm_out.lm_out`).

use candle_core::Tensor;
use candle_nn::{Module, VarBuilder};

use crate::model_config::FldHeadConfig;
use crate::nn::layers::{self, Linear};

/// FLD head: flat features -> hidden -> (num_landmarks, 2).
#[derive(Debug, Clone)]
pub struct FldHead {
    fc1: Linear,
    out: Linear,
    num_landmarks: usize,
}

impl FldHead {
    pub fn new(
        in_features: usize,
        num_landmarks: usize,
        cfg: &FldHeadConfig,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            fc1: layers::linear(in_features, cfg.hidden, vb.pp("lm_feature").pp("lm_fc1"))?,
            out: layers::linear(cfg.hidden, num_landmarks * 2, vb.pp("lm_out").pp("lm_out"))?,
            num_landmarks,
        })
    }

    /// # Shapes
    /// (B, F) -> (B, num_landmarks, 2)
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.from_hidden(&self.hidden(x)?)
    }

    /// The first layer alone (fc1, ReLU), for models that mix hidden layers of two tasks (CSN).
    ///
    /// # Shapes
    /// (B, F) -> (B, hidden)
    pub fn hidden(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.fc1.forward(x)?.relu()
    }

    /// The output layer after [`FldHead::hidden`].
    ///
    /// # Shapes
    /// (B, hidden) -> (B, num_landmarks, 2)
    pub fn from_hidden(&self, h: &Tensor) -> candle_core::Result<Tensor> {
        let b = h.dim(0)?;
        self.out.forward(h)?.reshape((b, self.num_landmarks, 2))
    }
}
