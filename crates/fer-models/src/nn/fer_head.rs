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

use crate::ops::fused_batch_norm::FusedBatchNorm;

use crate::model_config::{FerHeadConfig, FerHeadStyle};
use crate::nn::layers::{self, Linear};

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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ops::test_tensors::max_abs_diff as diff;
    use candle_core::{DType, Device, Var};
    use candle_nn::{ModuleT, VarMap};

    /// The paper's head (fc1 - batch norm - ReLU - fc2 - batch norm - ReLU - out) as our fused
    /// CPU ops against the same head written with candle_nn's generic layers, in training
    /// mode: logits and the gradients of the input and of every weight agree in f64.
    #[test]
    fn paper_head_matches_candles_generic_layers() {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F64, &dev);
        let mut cfg = crate::ModelConfig::paper().fer_head;
        cfg.hidden = 40;
        cfg.embedding = 12;
        cfg.relu_after_embedding = true;
        let head = FerHead::new(30, 7, &cfg, vb).unwrap();
        let x = Var::from_tensor(
            &Tensor::arange(0u32, 8 * 30, &dev)
                .unwrap()
                .to_dtype(DType::F64)
                .unwrap()
                .affine(0.173, 0.2)
                .unwrap()
                .sin()
                .unwrap()
                .reshape((8, 30))
                .unwrap(),
        )
        .unwrap();
        let (_, ours) = head.forward_t(x.as_tensor(), true).unwrap();

        // The same variables, through candle_nn's generic layers.
        let var =
            |name: &str| -> Tensor { varmap.data().lock().unwrap()[name].as_tensor().clone() };
        let lin = |p: &str| {
            candle_nn::Linear::new(var(&format!("{p}.weight")), Some(var(&format!("{p}.bias"))))
        };
        let bn = |p: &str, c: usize| {
            candle_nn::BatchNorm::new(
                c,
                Tensor::zeros(c, DType::F64, &dev).unwrap(),
                Tensor::ones(c, DType::F64, &dev).unwrap(),
                var(&format!("{p}.weight")),
                var(&format!("{p}.bias")),
                1e-3,
            )
            .unwrap()
        };
        let h = lin("fer_feature.fer_fc1").forward(x.as_tensor()).unwrap();
        let h = bn("fer_feature.fer_bn1", 40)
            .forward_t(&h, true)
            .unwrap()
            .relu()
            .unwrap();
        let e = lin("fer_feature.fer_fc2").forward(&h).unwrap();
        let e = bn("fer_feature.fer_bn2", 12)
            .forward_t(&e, true)
            .unwrap()
            .relu()
            .unwrap();
        let theirs = lin("fer_out.fer_out").forward(&e).unwrap();
        assert!(diff(&ours, &theirs) < 1e-10);
        let r = Tensor::arange(0u32, 8 * 7, &dev)
            .unwrap()
            .to_dtype(DType::F64)
            .unwrap()
            .cos()
            .unwrap()
            .reshape((8, 7))
            .unwrap();
        let g1 = (ours * &r).unwrap().sum_all().unwrap().backward().unwrap();
        let g2 = (theirs * &r)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let data = varmap.data().lock().unwrap();
        let mut checked = 0;
        for (name, var) in data.iter() {
            if let (Some(a), Some(b)) = (g1.get(var.as_tensor()), g2.get(var.as_tensor())) {
                let d = diff(a, b);
                assert!(d < 1e-9, "{name}: gradient differs by {d}");
                checked += 1;
            }
        }
        assert!(checked >= 10, "only {checked} gradients compared");
        let d = diff(
            g1.get(x.as_tensor()).unwrap(),
            g2.get(x.as_tensor()).unwrap(),
        );
        assert!(d < 1e-9, "input gradient differs by {d}");
    }
}
