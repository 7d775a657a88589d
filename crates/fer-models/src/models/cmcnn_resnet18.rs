//! `cmcnn-resnet18`: CMCNN on ResNet-18 columns (paper 5.2, Tables 5-8): a FER and an FLD
//! ResNet-18 (torchvision layout) with a Co-ATT unit (3.1-3.3, eq. 1) after each of the four
//! stages (layer1..layer4), as the reference code's `CMCNN_Resnet`.
//!
//! Heads: the FER column's own `fc` classifies the pooled 512 features (torchvision layout, so
//! an ImageNet/MS-Celeb checkpoint loads into `fer_net.*` with `pretrained_weights`); the FLD
//! column's `fc` has 2 x 68 outputs and regresses the landmarks. The reference code adds a
//! 512 -> 512 layer before each output (`fer_fc`/`lm_fc`, then `fer_out`/`lm_out`); we follow
//! the paper, which names ResNet18 as the backbone and nothing more, and keep one layer.
//! Parameter names `fer_net.*`, `fld_net.*` (torchvision names inside), `co_att.{i}.*`.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::error::Result;
use crate::model_config::ModelConfig;
use crate::models::resnet18::ResNet18;
use crate::multi_task_model::{MixingParameter, MultiTaskModel};
use crate::nn::co_attention_unit::{CoAttentionModules, CoAttentionUnit};
use crate::task_outputs::{TaskOutputs, Tasks};

/// Two ResNet-18 columns joined by Co-ATT units.
#[derive(Debug, Clone)]
pub struct CmcnnResNet18 {
    fer_net: ResNet18,
    fld_net: ResNet18,
    units: Vec<CoAttentionUnit>,
    num_landmarks: usize,
}

impl CmcnnResNet18 {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let fer_net = ResNet18::new(cfg, vb.pp("fer_net"))?;
        let mut fld_cfg = cfg.clone();
        fld_cfg.num_classes = 2 * cfg.num_landmarks;
        let fld_net = ResNet18::new(&fld_cfg, vb.pp("fld_net"))?;
        let units = ResNet18::stage_sizes(cfg.input_size)
            .iter()
            .enumerate()
            .map(|(i, &size)| {
                CoAttentionUnit::new(
                    size,
                    CoAttentionModules::Both,
                    &cfg.co_attention,
                    vb.pp(format!("co_att.{i}")),
                )
            })
            .collect::<candle_core::Result<Vec<_>>>()?;
        Ok(Self {
            fer_net,
            fld_net,
            units,
            num_landmarks: cfg.num_landmarks,
        })
    }
}

impl MultiTaskModel for CmcnnResNet18 {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<TaskOutputs> {
        let mut e = self.fer_net.stem_forward_t(x, train)?;
        let mut l = self.fld_net.stem_forward_t(x, train)?;
        let mut map = None;
        for (i, unit) in self.units.iter().enumerate() {
            let e_in = self.fer_net.stage_forward_t(i, &e, train)?;
            let l_in = self.fld_net.stage_forward_t(i, &l, train)?;
            let out = unit.forward_t(&e_in, &l_in, train)?;
            e = out.fer;
            l = out.fld;
            map = out.spatial_map;
        }
        let map = match map {
            Some(m) => m,
            None => e.mean(1)?,
        };
        let (emb, logits) = self.fer_net.pool_and_classify(&e)?;
        let (_, coords) = self.fld_net.pool_and_classify(&l)?;
        let b = coords.dim(0)?;
        Ok(TaskOutputs {
            expression_logits: Some(logits),
            landmarks: Some(coords.reshape((b, self.num_landmarks, 2))?),
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
