//! `base-dcnn-fld`: the single-task FLD baseline of paper Tables 3 and 4 ("BaseDCNN (FLD)"):
//! BaseDCNN (Table 1) followed by the two-layer FLD head (3.1).

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::error::Result;
use crate::model_config::ModelConfig;
use crate::multi_task_model::MultiTaskModel;
use crate::nn::base_dcnn::BaseDcnn;
use crate::nn::fld_head::FldHead;
use crate::task_outputs::{TaskOutputs, Tasks};

/// BaseDCNN + FLD head.
#[derive(Debug, Clone)]
pub struct BaseDcnnFld {
    backbone: BaseDcnn,
    head: FldHead,
}

impl BaseDcnnFld {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let backbone = BaseDcnn::new(
            cfg.in_channels,
            cfg.input_size,
            cfg.bn_eps,
            vb.pp("baseDCNN"),
        )?;
        let flat = BaseDcnn::flat_features(cfg.input_size);
        let head = FldHead::new(flat, cfg.num_landmarks, &cfg.fld_head, vb.clone())?;
        Ok(Self { backbone, head })
    }
}

impl MultiTaskModel for BaseDcnnFld {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<TaskOutputs> {
        let f = self.backbone.forward_t(x, train)?;
        let landmarks = self.head.forward(&f.flatten_from(1)?)?;
        Ok(TaskOutputs {
            expression_logits: None,
            landmarks: Some(landmarks),
            fer_embedding: None,
            attention_maps: vec![f.mean(1)?],
        })
    }

    fn tasks(&self) -> Tasks {
        Tasks::Fld
    }
}
