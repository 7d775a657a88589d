//! The single-task attention baselines of the ablation study (paper 5.7): BaseDCNN-FER
//! (Table 1 + FER head) with a self-attention module of one task.
//! - `se-net` (Table 12): a squeeze-and-excitation block after each of the six conv
//!   components.
//! - `cbam-c` (Table 12): CBAM's channel attention after each component.
//! - `cbam-s` (Table 13): CBAM's spatial attention after each component, built by the same
//!   `SpatialAttention` as CMCNN's SCAM (same kernel setting), which is what makes `cmcnn-s`
//!   its multi-task counterpart.
//! - `dam-cnn` (Table 13): DAM-CNN's salient-region attention on the last feature map.
//!
//! "After each component" means after its pooling, where CMCNN places its Co-ATT units, so the
//! baselines differ from `cmcnn-c`/`cmcnn-s` only by the attention itself. Parameter names:
//! `baseDCNN.*` and the FER head as `base-dcnn-fer`, modules under `attention.{i}.*`.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::error::Result;
use crate::model_config::ModelConfig;
use crate::multi_task_model::MultiTaskModel;
use crate::nn::base_dcnn::{BaseDcnn, CHANNELS};
use crate::nn::cbam_channel_attention::CbamChannelAttention;
use crate::nn::fer_head::FerHead;
use crate::nn::salient_region_attention::SalientRegionAttention;
use crate::nn::spatial_attention::SpatialAttention;
use crate::nn::squeeze_excitation::SqueezeExcitation;
use crate::ops::broadcast_scale::broadcast_scale;
use crate::task_outputs::{TaskOutputs, Tasks};

/// Which single-task attention.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelfAttentionKind {
    SqueezeExcitation,
    CbamChannel,
    CbamSpatial,
    SalientRegion,
}

#[derive(Debug, Clone)]
enum Module {
    Se(SqueezeExcitation),
    CbamC(CbamChannelAttention),
    CbamS(SpatialAttention),
    Salient(SalientRegionAttention),
}

impl Module {
    /// Returns the attended features and, for spatial modules, the map (B, H, W).
    fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<(Tensor, Option<Tensor>)> {
        match self {
            Module::Se(m) => Ok((m.forward(x)?, None)),
            Module::CbamC(m) => Ok((m.forward(x)?, None)),
            Module::CbamS(m) => {
                let a = m.forward_t(x, train)?;
                Ok((broadcast_scale(x, &a)?, Some(a.squeeze(1)?)))
            }
            Module::Salient(m) => {
                let (y, a) = m.forward(x)?;
                Ok((y, Some(a)))
            }
        }
    }
}

/// BaseDCNN-FER with one kind of self-attention.
#[derive(Debug, Clone)]
pub struct AttendedBaseDcnnFer {
    backbone: BaseDcnn,
    /// (component index, module): the module runs after that component.
    modules: Vec<(usize, Module)>,
    head: FerHead,
}

impl AttendedBaseDcnnFer {
    pub fn new(cfg: &ModelConfig, kind: SelfAttentionKind, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let backbone = BaseDcnn::new(
            cfg.in_channels,
            cfg.input_size,
            cfg.bn_eps,
            vb.pp("baseDCNN"),
        )?;
        let r = cfg.attention_baseline.reduction;
        let at = |i: usize| vb.pp(format!("attention.{i}"));
        let modules = match kind {
            SelfAttentionKind::SalientRegion => {
                vec![(
                    5,
                    Module::Salient(SalientRegionAttention::new(CHANNELS[5], at(5))?),
                )]
            }
            _ => (0..6)
                .map(|i| {
                    let m = match kind {
                        SelfAttentionKind::SqueezeExcitation => {
                            Module::Se(SqueezeExcitation::new(CHANNELS[i], r, at(i))?)
                        }
                        SelfAttentionKind::CbamChannel => {
                            Module::CbamC(CbamChannelAttention::new(CHANNELS[i], r, at(i))?)
                        }
                        _ => Module::CbamS(SpatialAttention::new(
                            cfg.co_attention.spatial_kernel,
                            at(i),
                        )?),
                    };
                    Ok((i, m))
                })
                .collect::<candle_core::Result<Vec<_>>>()?,
        };
        let flat = BaseDcnn::flat_features(cfg.input_size);
        Ok(Self {
            backbone,
            modules,
            head: FerHead::new(flat, cfg.num_classes, &cfg.fer_head, vb)?,
        })
    }
}

impl MultiTaskModel for AttendedBaseDcnnFer {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<TaskOutputs> {
        let mut f = x.clone();
        let mut map = None;
        for i in 0..6 {
            f = self.backbone.component(i).forward_t(&f, train)?;
            for (_, m) in self.modules.iter().filter(|(at, _)| *at == i) {
                let (y, a) = m.forward_t(&f, train)?;
                f = y;
                if a.is_some() {
                    map = a;
                }
            }
        }
        let map = match map {
            Some(m) => m,
            None => f.mean(1)?,
        };
        let (emb, logits) = self.head.forward_t(&f.flatten_from(1)?, train)?;
        Ok(TaskOutputs {
            expression_logits: Some(logits),
            landmarks: None,
            fer_embedding: Some(emb),
            attention_maps: vec![map],
        })
    }

    fn tasks(&self) -> Tasks {
        Tasks::Fer
    }
}
