//! `mtan`: the Multi-Task Attention Network of Liu, Johns & Davison, "End-to-End Multi-Task
//! Learning with Attention" (CVPR 2019, section 3 and eq. 2), built on BaseDCNN (Yu & Xu 2021,
//! Table 1) with FER as the main task and FLD as the auxiliary one.
//!
//! What follows MTAN's paper (and its authors' code, lorenmt/mtan):
//! - one shared network (the global feature pool) and, per task and per shared block j, a
//!   soft-attention mask a_j = h_j(g_j([u_j ; f_{j-1}(â_{j-1})])) with g = 1x1 conv-BN-ReLU
//!   and h = 1x1 conv-BN-sigmoid, both task-specific, g's width equal to the block's channels;
//!   the first mask reads u_0 alone (eq. 2 writes f^(j); we number f by the stage whose
//!   attended feature it reads, as the authors' `encoder_block_att[j]`);
//! - the attended feature â_j = a_j ⊙ p_j;
//! - f_j = 3x3 conv-BN-ReLU mapping block j's channels to block j + 1's (the last one keeps
//!   its width), followed by the shared network's pooling, so that f_j(â_j) has the size of
//!   u_{j+1}; in eq. 2 f carries no task index and the authors' code keeps one
//!   `encoder_block_att` list for all tasks, so f is shared by the tasks by default
//!   (`MtanConfig::task_specific_f` gives each task its own);
//! - each task's prediction reads its branch's last f output, as in the authors' Visual
//!   Decathlon model (`model_wrn_mtan.py`).
//!
//! What is adapted to BaseDCNN:
//! - the shared blocks are BaseDCNN's six conv components (one conv-BN-ReLU each, SegNet's
//!   blocks have two or three), so u_j (the block's first layer) and p_j (its last layer) are the
//!   same tensor: the component's conv-BN-ReLU output before its pooling;
//! - pooling is BaseDCNN's 2x2 max pooling after components 0, 1 and 3 (Table 1), nowhere else;
//! - the heads are the paper's (Yu & Xu 3.1): `FerHead` on the FER branch's last output,
//!   `FldHead` on the FLD branch's, both flattened (256 x s x s, s from the input size);
//! - initialisation is PyTorch's default (`fer_models::nn::layers`) rather than MTAN's
//!   Xavier, and every batch norm uses `ModelConfig::bn_eps` (the reference code's 1e-3)
//!   rather than PyTorch's 1e-5, so that the whole model follows one convention.
//!
//! Cost: f_j runs at block j's resolution before the pooling, as in MTAN, so the two branches
//! do several times the shared network's work: 0.86 G multiply-accumulates per 48 px image
//! (base-dcnn-fer 0.12 G) and 3.67 G per 100 px image (0.51 G), by `fer_models::mac_counter`.

use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use fer_models::nn::base_dcnn::{BaseDcnn, CHANNELS, POOL_AFTER};
use fer_models::nn::fer_head::FerHead;
use fer_models::nn::fld_head::FldHead;
use fer_models::nn::layers;
use fer_models::ops::fused_batch_norm::FusedBatchNorm;
use fer_models::ops::gemm_conv2d::GemmConv2d;
use fer_models::ops::max_pool::max_pool2d;
use fer_models::{ModelConfig, MultiTaskModel, Result, TaskOutputs, Tasks};

/// The two tasks, in the order of the branch arrays: FER (main) first, FLD second.
const TASK_NAMES: [&str; 2] = ["fer", "fld"];
const FER: usize = 0;
const FLD: usize = 1;

/// MTAN's own settings (the rest comes from `ModelConfig`), read from the run's
/// `model_config.addons.mtan` (absent: MTAN's paper settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MtanConfig {
    /// false (MTAN's eq. 2 and code): one f block per stage, applied to each task's attended
    /// features; true: every task has its own f blocks.
    pub task_specific_f: bool,
}

impl MtanConfig {
    /// As MTAN's paper and code: f shared by the tasks.
    pub fn paper() -> Self {
        Self {
            task_specific_f: false,
        }
    }
}

/// g then h of MTAN eq. 2: the soft mask of one task at one stage.
#[derive(Debug, Clone)]
struct AttentionMask {
    g_conv: GemmConv2d,
    g_norm: FusedBatchNorm,
    h_conv: GemmConv2d,
    h_norm: FusedBatchNorm,
}

impl AttentionMask {
    fn new(in_c: usize, c: usize, eps: f64, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            g_conv: layers::conv2d(in_c, c, 1, 0, vb.pp("g_conv"))?,
            g_norm: layers::batch_norm(c, eps, vb.pp("g_norm"))?,
            h_conv: layers::conv2d(c, c, 1, 0, vb.pp("h_conv"))?,
            h_norm: layers::batch_norm(c, eps, vb.pp("h_norm"))?,
        })
    }

    /// # Shapes
    /// (B, C_in, S, S) -> (B, C, S, S), values in (0, 1)
    fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let h = self.g_conv.forward(x)?;
        let h = self.g_norm.forward_relu_t(&h, train)?;
        let a = self.h_conv.forward(&h)?;
        candle_nn::ops::sigmoid(&self.h_norm.forward_t(&a, train)?)
    }
}

/// f of MTAN eq. 2: 3x3 conv-BN-ReLU to the next stage's width, then the shared pooling.
#[derive(Debug, Clone)]
struct FeatureBlock {
    conv: GemmConv2d,
    norm: FusedBatchNorm,
    pool: bool,
}

impl FeatureBlock {
    fn new(
        in_c: usize,
        out_c: usize,
        pool: bool,
        eps: f64,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            conv: layers::conv2d(in_c, out_c, 3, 1, vb.pp("conv"))?,
            norm: layers::batch_norm(out_c, eps, vb.pp("norm"))?,
            pool,
        })
    }

    /// # Shapes
    /// (B, C_in, S, S) -> (B, C_out, S', S') with S' = S or floor(S / 2).
    fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let y = self.conv.forward(x)?;
        let y = self.norm.forward_relu_t(&y, train)?;
        if self.pool {
            max_pool2d(&y, 2)
        } else {
            Ok(y)
        }
    }
}

/// The f blocks of all stages, built under `vb`.
fn feature_blocks(eps: f64, vb: &VarBuilder) -> candle_core::Result<Vec<FeatureBlock>> {
    let n = CHANNELS.len();
    (0..n)
        .map(|j| {
            // The last stage keeps its width, as MTAN's last `encoder_block_att`.
            let out_c = CHANNELS[(j + 1).min(n - 1)];
            FeatureBlock::new(CHANNELS[j], out_c, POOL_AFTER[j], eps, vb.pp(j.to_string()))
        })
        .collect()
}

/// MTAN on BaseDCNN with the FER and FLD heads of Yu & Xu (3.1).
#[derive(Debug, Clone)]
pub struct Mtan {
    backbone: BaseDcnn,
    /// `masks[task][stage]`.
    masks: [Vec<AttentionMask>; 2],
    /// `f_blocks[task][stage]`; both tasks hold the same tensors when f is shared.
    f_blocks: [Vec<FeatureBlock>; 2],
    fer_head: FerHead,
    fld_head: FldHead,
}

impl Mtan {
    /// MTAN with the settings of the run's `model_config.addons.mtan` (absent: as its
    /// paper, f shared by the tasks).
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let mtan: MtanConfig = cfg.addon_settings(crate::REGISTRY_NAME)?;
        Self::with_config(cfg, &mtan, vb)
    }

    /// Parameter names: `baseDCNN.layer{j}.*` (the shared network, as the other models),
    /// `encoder_att.{fer,fld}.{j}.{g,h}_{conv,norm}.*`, `encoder_block_att.{j}.*` (shared f) or
    /// `encoder_block_att.{fer,fld}.{j}.*` (task-specific f), and the heads' reference names
    /// (`fer_feature.*`, `fer_out.*`, `lm_feature.*`, `lm_out.*`).
    pub fn with_config(cfg: &ModelConfig, mtan: &MtanConfig, vb: VarBuilder) -> Result<Self> {
        cfg.validate()?;
        let eps = cfg.bn_eps;
        let backbone = BaseDcnn::new(cfg.in_channels, cfg.input_size, eps, vb.pp("baseDCNN"))?;
        let att = vb.pp("encoder_att");
        let mask_branch = |task: &str| -> candle_core::Result<Vec<AttentionMask>> {
            let vb = att.pp(task);
            CHANNELS
                .iter()
                .enumerate()
                .map(|(j, &c)| {
                    // Stage 0 sees u_0 alone; later stages see [u_j ; f_{j-1}(â_{j-1})].
                    let in_c = if j == 0 { c } else { 2 * c };
                    AttentionMask::new(in_c, c, eps, vb.pp(j.to_string()))
                })
                .collect()
        };
        let masks = [mask_branch(TASK_NAMES[FER])?, mask_branch(TASK_NAMES[FLD])?];
        let block_vb = vb.pp("encoder_block_att");
        let f_blocks = if mtan.task_specific_f {
            [
                feature_blocks(eps, &block_vb.pp(TASK_NAMES[FER]))?,
                feature_blocks(eps, &block_vb.pp(TASK_NAMES[FLD]))?,
            ]
        } else {
            let shared = feature_blocks(eps, &block_vb)?;
            [shared.clone(), shared]
        };
        // The last f block keeps BaseDCNN's last width and size, so the heads see the same
        // flattened length as in the single-task baselines.
        let flat = BaseDcnn::flat_features(cfg.input_size);
        let fer_head = FerHead::new(flat, cfg.num_classes, &cfg.fer_head, vb.clone())?;
        let fld_head = FldHead::new(flat, cfg.num_landmarks, &cfg.fld_head, vb.clone())?;
        Ok(Self {
            backbone,
            masks,
            f_blocks,
            fer_head,
            fld_head,
        })
    }
}

impl MultiTaskModel for Mtan {
    /// # Shapes
    /// (B, C, S, S) -> logits (B, classes), landmarks (B, 68, 2), embedding (B, D),
    /// attention map (B, s, s) with s = BaseDcnn::feature_sizes(S)[5].
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<TaskOutputs> {
        let n = CHANNELS.len();
        let mut shared = x.clone();
        // f_{j-1}(â_{j-1}) of each task: (B, C_j, S_j, S_j), the size of u_j.
        let mut previous: [Option<Tensor>; 2] = [None, None];
        let mut last_fer_mask = None;
        for j in 0..n {
            let component = self.backbone.component(j);
            let u = component.forward_unpooled_t(&shared, train)?; // (B, C_j, S_j, S_j)
            for task in [FER, FLD] {
                let mask_input = match &previous[task] {
                    None => u.clone(),
                    Some(p) => Tensor::cat(&[&u, p], 1)?, // (B, 2 C_j, S_j, S_j)
                };
                let a = self.masks[task][j].forward_t(&mask_input, train)?; // (B, C_j, S_j, S_j)
                let attended = (&a * &u)?;
                previous[task] = Some(self.f_blocks[task][j].forward_t(&attended, train)?);
                if task == FER && j + 1 == n {
                    last_fer_mask = Some(a);
                }
            }
            if j + 1 < n {
                shared = if component.pools() {
                    max_pool2d(&u, 2)?
                } else {
                    u
                };
            }
        }
        let [Some(fer_out), Some(fld_out)] = previous else {
            return Err(fer_models::ModelError::Config(
                "MTAN needs at least one stage".to_string(),
            ));
        };
        let Some(mask) = last_fer_mask else {
            return Err(fer_models::ModelError::Config(
                "MTAN produced no FER attention mask".to_string(),
            ));
        };
        let (embedding, logits) = self.fer_head.forward_t(&fer_out.flatten_from(1)?, train)?; // (B, D), (B, classes)
        let landmarks = self.fld_head.forward(&fld_out.flatten_from(1)?)?; // (B, 68, 2)
        Ok(TaskOutputs {
            expression_logits: Some(logits),
            landmarks: Some(landmarks),
            fer_embedding: Some(embedding),
            // Channel mean of the FER branch's last mask: where the FER task looks (Fig. 4).
            attention_maps: vec![mask.mean(1)?],
        })
    }

    fn tasks(&self) -> Tasks {
        Tasks::Both
    }
}
