//! `hps`: hard parameter sharing (paper 4.2, Tables 3-4): one BaseDCNN shared by both tasks,
//! the FER head (3.1) and the FLD head (3.1) on its flattened output. Parameter names:
//! `baseDCNN.*` as `base-dcnn-fer`, `fer_feature.*`, `fer_out.*`, `lm_feature.*`, `lm_out.*`.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::error::Result;
use crate::model_config::ModelConfig;
use crate::multi_task_model::MultiTaskModel;
use crate::nn::base_dcnn::BaseDcnn;
use crate::nn::fer_head::FerHead;
use crate::nn::fld_head::FldHead;
use crate::task_outputs::{TaskOutputs, Tasks};

/// Shared BaseDCNN + two task heads.
#[derive(Debug, Clone)]
pub struct Hps {
    backbone: BaseDcnn,
    fer_head: FerHead,
    fld_head: FldHead,
}

impl Hps {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let backbone = BaseDcnn::new(
            cfg.in_channels,
            cfg.input_size,
            cfg.bn_eps,
            vb.pp("baseDCNN"),
        )?;
        let flat = BaseDcnn::flat_features(cfg.input_size);
        Ok(Self {
            backbone,
            fer_head: FerHead::new(flat, cfg.num_classes, &cfg.fer_head, vb.clone())?,
            fld_head: FldHead::new(flat, cfg.num_landmarks, &cfg.fld_head, vb)?,
        })
    }
}

impl MultiTaskModel for Hps {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<TaskOutputs> {
        let f = self.backbone.forward_t(x, train)?;
        let flat = f.flatten_from(1)?;
        let (emb, logits) = self.fer_head.forward_t(&flat, train)?;
        let landmarks = self.fld_head.forward(&flat)?;
        Ok(TaskOutputs {
            expression_logits: Some(logits),
            landmarks: Some(landmarks),
            fer_embedding: Some(emb),
            attention_maps: vec![f.mean(1)?],
        })
    }

    fn tasks(&self) -> Tasks {
        Tasks::Both
    }
}
