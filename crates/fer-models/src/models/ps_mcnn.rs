//! `ps-mcnn`: the Partially Shared Multi-task CNN of Cao et al. (2018) as the paper's
//! multi-task baseline (4.2, Tables 3-4), without its LCLoss (as the paper).
//!
//! Two task-specific networks (TSNets, FER and FLD) and one shared network (SNet), each built
//! from the six conv components of BaseDCNN (Table 1: same channels, same pooling). At stage 0
//! every network sees the image. At stage i > 0, as in Cao et al.:
//! - TSNet_t^i takes [T_t^(i-1); S^(i-1)] (its own previous output and the SNet's),
//! - SNet^i takes [T_FER^(i-1); T_FLD^(i-1); S^(i-1)] (all TSNets' and its own),
//!
//! concatenated along channels. The heads (3.1) read the last TSNet outputs; since those
//! already include the SNet's stage-4 output, the SNet has five stages (0-4): a sixth would
//! feed nothing. Parameter names `fer_net.layer{i}.*`, `fld_net.layer{i}.*`,
//! `shared_net.layer{i}.*`, heads as the reference code.

use candle_core::Tensor;
use candle_nn::VarBuilder;

use crate::error::Result;
use crate::model_config::ModelConfig;
use crate::multi_task_model::MultiTaskModel;
use crate::nn::base_dcnn::{BaseDcnn, ConvComponent, CHANNELS, POOL_AFTER};
use crate::nn::fer_head::FerHead;
use crate::nn::fld_head::FldHead;
use crate::task_outputs::{TaskOutputs, Tasks};

/// TSNets + SNet + heads.
#[derive(Debug, Clone)]
pub struct PsMcnn {
    fer_net: Vec<ConvComponent>,
    fld_net: Vec<ConvComponent>,
    shared_net: Vec<ConvComponent>,
    fer_head: FerHead,
    fld_head: FldHead,
}

fn component(
    i: usize,
    in_c: usize,
    cfg: &ModelConfig,
    vb: &VarBuilder,
) -> candle_core::Result<ConvComponent> {
    ConvComponent::new(
        in_c,
        CHANNELS[i],
        POOL_AFTER[i],
        cfg.bn_eps,
        i,
        vb.pp(format!("layer{i}")),
    )
}

impl PsMcnn {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let (mut fer_net, mut fld_net, mut shared_net) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..6 {
            let (task_in, shared_in) = if i == 0 {
                (cfg.in_channels, cfg.in_channels)
            } else {
                (2 * CHANNELS[i - 1], 3 * CHANNELS[i - 1])
            };
            fer_net.push(component(i, task_in, cfg, &vb.pp("fer_net"))?);
            fld_net.push(component(i, task_in, cfg, &vb.pp("fld_net"))?);
            if i < 5 {
                shared_net.push(component(i, shared_in, cfg, &vb.pp("shared_net"))?);
            }
        }
        let flat = BaseDcnn::flat_features(cfg.input_size);
        Ok(Self {
            fer_net,
            fld_net,
            shared_net,
            fer_head: FerHead::new(flat, cfg.num_classes, &cfg.fer_head, vb.clone())?,
            fld_head: FldHead::new(flat, cfg.num_landmarks, &cfg.fld_head, vb)?,
        })
    }
}

impl MultiTaskModel for PsMcnn {
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<TaskOutputs> {
        let mut e = self.fer_net[0].forward_t(x, train)?;
        let mut l = self.fld_net[0].forward_t(x, train)?;
        let mut s = self.shared_net[0].forward_t(x, train)?;
        for i in 1..6 {
            let e_next = self.fer_net[i].forward_t(&Tensor::cat(&[&e, &s], 1)?, train)?;
            let l_next = self.fld_net[i].forward_t(&Tensor::cat(&[&l, &s], 1)?, train)?;
            if i < 5 {
                s = self.shared_net[i].forward_t(&Tensor::cat(&[&e, &l, &s], 1)?, train)?;
            }
            (e, l) = (e_next, l_next);
        }
        let att = e.mean(1)?;
        let (emb, logits) = self.fer_head.forward_t(&e.flatten_from(1)?, train)?;
        let landmarks = self.fld_head.forward(&l.flatten_from(1)?)?;
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
}
