//! CMCNN, the co-attentive multi-task CNN of the paper (3.1, Fig. 1), and its channel-only and
//! spatial-only ablations `cmcnn-c` (Table 12) and `cmcnn-s` (Table 13).
//!
//! Two BaseDCNN columns (Table 1), FER and FLD, with a Co-ATT unit after each of the six conv
//! components (after its pooling, as the reference code), the FER head (3.1) on the FER column
//! and the FLD head on the FLD column. Parameter names: `fer_net.layer{i}.*`,
//! `fld_net.layer{i}.*`, `co_att.{i}.*`, `fer_feature.*`, `fer_out.*`, `lm_feature.*`,
//! `lm_out.*`; `reference_checkpoint` maps the reference code's names onto these.
//! The attention map reported for Fig. 4 is the last SCAM's A_s (for `cmcnn-c`, which has no
//! SCAM, the channel mean of the last FER feature map, as the reference code's BaseDCNN).

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::error::Result;
use crate::model_config::ModelConfig;
use crate::multi_task_model::{MixingParameter, MultiTaskModel};
use crate::nn::base_dcnn::BaseDcnn;
use crate::nn::co_attention_unit::{CoAttentionModules, CoAttentionUnit};
use crate::nn::fer_head::FerHead;
use crate::nn::fld_head::FldHead;
use crate::task_outputs::{TaskOutputs, Tasks};

/// CMCNN with the chosen Co-ATT modules.
#[derive(Debug, Clone)]
pub struct Cmcnn {
    fer_net: BaseDcnn,
    fld_net: BaseDcnn,
    units: Vec<CoAttentionUnit>,
    fer_head: FerHead,
    fld_head: FldHead,
}

impl Cmcnn {
    pub fn new(cfg: &ModelConfig, modules: CoAttentionModules, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let fer_net = BaseDcnn::new(
            cfg.in_channels,
            cfg.input_size,
            cfg.bn_eps,
            vb.pp("fer_net"),
        )?;
        let fld_net = BaseDcnn::new(
            cfg.in_channels,
            cfg.input_size,
            cfg.bn_eps,
            vb.pp("fld_net"),
        )?;
        let units = BaseDcnn::feature_sizes(cfg.input_size)
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                CoAttentionUnit::new(
                    size,
                    modules,
                    &cfg.co_attention,
                    vb.pp(format!("co_att.{i}")),
                )
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let flat = BaseDcnn::flat_features(cfg.input_size);
        Ok(Self {
            fer_net,
            fld_net,
            units,
            fer_head: FerHead::new(flat, cfg.num_classes, &cfg.fer_head, vb.clone())?,
            fld_head: FldHead::new(flat, cfg.num_landmarks, &cfg.fld_head, vb)?,
        })
    }
}

impl MultiTaskModel for Cmcnn {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<TaskOutputs> {
        let (mut e, mut l) = (x.clone(), x.clone());
        let mut map = None;
        for (i, unit) in self.units.iter().enumerate() {
            let e_in = self.fer_net.component(i).forward_t(&e, train)?;
            let l_in = self.fld_net.component(i).forward_t(&l, train)?;
            let out = unit.forward_t(&e_in, &l_in, train)?;
            e = out.fer;
            l = out.fld;
            map = out.spatial_map;
        }
        let map = match map {
            Some(m) => m,
            None => e.mean(1)?,
        };
        let (emb, logits) = self.fer_head.forward_t(&e.flatten_from(1)?, train)?;
        let landmarks = self.fld_head.forward(&l.flatten_from(1)?)?;
        Ok(TaskOutputs {
            expression_logits: Some(logits),
            landmarks: Some(landmarks),
            fer_embedding: Some(emb),
            attention_maps: vec![map],
        })
    }

    fn tasks(&self) -> Tasks {
        Tasks::Both
    }

    fn mixing_parameters(&self) -> Result<Vec<MixingParameter>> {
        let mut out = Vec::new();
        for (i, u) in self.units.iter().enumerate() {
            out.extend(u.mixing_parameters(&format!("co_att.{i}"))?);
        }
        Ok(out)
    }
}
