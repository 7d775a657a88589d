//! `base-dcnn-fer`: the single-task FER baseline of paper Tables 3 and 4 ("BaseDCNN (FER)"):
//! BaseDCNN (Table 1) followed by the three-layer FER head (3.1).

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::error::Result;
use crate::model_config::ModelConfig;
use crate::multi_task_model::MultiTaskModel;
use crate::nn::base_dcnn::BaseDcnn;
use crate::nn::fer_head::FerHead;
use crate::task_outputs::{TaskOutputs, Tasks};

/// BaseDCNN + FER head.
#[derive(Debug, Clone)]
pub struct BaseDcnnFer {
    backbone: BaseDcnn,
    head: FerHead,
}

impl BaseDcnnFer {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let backbone = BaseDcnn::new(
            cfg.in_channels,
            cfg.input_size,
            cfg.bn_eps,
            vb.pp("baseDCNN"),
        )?;
        let flat = BaseDcnn::flat_features(cfg.input_size);
        let head = FerHead::new(flat, cfg.num_classes, &cfg.fer_head, vb.clone())?;
        Ok(Self { backbone, head })
    }
}

impl MultiTaskModel for BaseDcnnFer {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<TaskOutputs> {
        let f = self.backbone.forward_t(x, train)?; // (B, 256, s, s)
                                                    // Channel mean of the last feature map: the reference code's activation map (Fig. 4).
        let att = f.mean(1)?; // (B, s, s)
        let (emb, logits) = self.head.forward_t(&f.flatten_from(1)?, train)?;
        Ok(TaskOutputs {
            expression_logits: Some(logits),
            landmarks: None,
            fer_embedding: Some(emb),
            attention_maps: vec![att],
        })
    }

    fn tasks(&self) -> Tasks {
        Tasks::Fer
    }
}
