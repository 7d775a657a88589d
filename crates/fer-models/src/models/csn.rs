//! `csn`: the Cross-Stitch Network (Misra et al. 2016) as the paper's multi-task baseline
//! (4.2, Tables 3-4): a FER column (BaseDCNN + FER head) and an FLD column (BaseDCNN + FLD
//! head) with a cross-stitch unit between every pair of adjacent layers, convolutional and
//! fully connected: after each of the six conv components and after the first fully
//! connected layer (the only FC layer both heads have before their outputs).
//!
//! Deviation, stated: a cross-stitch unit needs equal shapes, so the FLD head's hidden layer
//! takes the FER head's width (`fer_head.hidden`, 2000) instead of `fld_head.hidden` (2048).
//! Parameter names: `fer_net.*` and `fld_net.*` are exactly the names of `base-dcnn-fer` and
//! `base-dcnn-fld` under a prefix; `cross_stitch.conv{i}.*`, `cross_stitch.fc1.*`.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::error::Result;
use crate::model_config::{FldHeadConfig, ModelConfig};
use crate::multi_task_model::{MixingParameter, MultiTaskModel};
use crate::nn::base_dcnn::BaseDcnn;
use crate::nn::cross_stitch_unit::CrossStitchUnit;
use crate::nn::fer_head::FerHead;
use crate::nn::fld_head::FldHead;
use crate::task_outputs::{TaskOutputs, Tasks};

/// Two columns joined by cross-stitch units.
#[derive(Debug, Clone)]
pub struct Csn {
    fer_net: BaseDcnn,
    fld_net: BaseDcnn,
    conv_units: Vec<CrossStitchUnit>,
    fc_unit: CrossStitchUnit,
    fer_head: FerHead,
    fld_head: FldHead,
}

impl Csn {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let fer_vb = vb.pp("fer_net");
        let fld_vb = vb.pp("fld_net");
        let fer_net = BaseDcnn::new(
            cfg.in_channels,
            cfg.input_size,
            cfg.bn_eps,
            fer_vb.pp("baseDCNN"),
        )?;
        let fld_net = BaseDcnn::new(
            cfg.in_channels,
            cfg.input_size,
            cfg.bn_eps,
            fld_vb.pp("baseDCNN"),
        )?;
        let conv_units = (0..6)
            .map(|i| {
                CrossStitchUnit::new(&cfg.cross_stitch, vb.pp(format!("cross_stitch.conv{i}")))
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        let fc_unit = CrossStitchUnit::new(&cfg.cross_stitch, vb.pp("cross_stitch.fc1"))?;
        let flat = BaseDcnn::flat_features(cfg.input_size);
        let fer_head = FerHead::new(flat, cfg.num_classes, &cfg.fer_head, fer_vb)?;
        let fld_cfg = FldHeadConfig {
            hidden: fer_head.hidden_width(),
        };
        Ok(Self {
            fer_net,
            fld_net,
            conv_units,
            fc_unit,
            fer_head,
            fld_head: FldHead::new(flat, cfg.num_landmarks, &fld_cfg, fld_vb)?,
        })
    }
}

impl MultiTaskModel for Csn {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<TaskOutputs> {
        let (mut e, mut l) = (x.clone(), x.clone());
        for (i, unit) in self.conv_units.iter().enumerate() {
            let e_i = self.fer_net.component(i).forward_t(&e, train)?;
            let l_i = self.fld_net.component(i).forward_t(&l, train)?;
            (e, l) = unit.forward(&e_i, &l_i)?;
        }
        let att = e.mean(1)?;
        let h_e = self.fer_head.hidden_t(&e.flatten_from(1)?, train)?;
        let h_l = self.fld_head.hidden(&l.flatten_from(1)?)?;
        let (h_e, h_l) = self.fc_unit.forward(&h_e, &h_l)?;
        let (emb, logits) = self.fer_head.from_hidden_t(&h_e, train)?;
        let landmarks = self.fld_head.from_hidden(&h_l)?;
        Ok(TaskOutputs {
            expression_logits: Some(logits),
            landmarks: Some(landmarks),
            fer_embedding: Some(emb),
            attention_maps: vec![att],
        })
    }

    fn tasks(&self) -> Tasks {
        Tasks::Both
    }

    fn mixing_parameters(&self) -> Result<Vec<MixingParameter>> {
        let mut out = Vec::new();
        for (i, u) in self.conv_units.iter().enumerate() {
            out.extend(u.mixing_parameters(&format!("cross_stitch.conv{i}"))?);
        }
        out.extend(self.fc_unit.mixing_parameters("cross_stitch.fc1")?);
        Ok(out)
    }
}
