//! Settings shared by the models: input size and channels, number of classes, head sizes and
//! batch-norm epsilon, with the paper's and the reference code's values as named presets, and
//! the settings of add-on models (ARCHITECTURE.md "Baseline crates and the catalogue").

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Layout of the FER head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FerHeadStyle {
    /// Paper 3.1 (and the reference CMCNN): fc1 -> BN -> ReLU -> fc2 -> BN (-> ReLU) -> out.
    #[default]
    Paper,
    /// The reference code's single-task `FER_DCNN`: fc1 (features -> `embedding`) -> ReLU ->
    /// out; `hidden` unused. Only for importing its checkpoints.
    ReferenceFerDcnn,
}

/// Settings of the fully connected FER head (paper 3.1: three layers with batch norm, ReLU
/// except after the last).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FerHeadConfig {
    /// Width of the first hidden layer (2000 in the reference code).
    pub hidden: usize,
    /// Width of the second hidden layer, the FER embedding (128 for CK+ in the reference code).
    pub embedding: usize,
    /// Paper: ReLU after the second layer too ("ReLU except the last layer"). The reference
    /// code has none there (its `fer_feature` ends with a batch norm).
    pub relu_after_embedding: bool,
    #[serde(default)]
    pub style: FerHeadStyle,
}

/// Settings of the fully connected FLD head (paper 3.1: two layers, ReLU between).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FldHeadConfig {
    /// Width of the hidden layer (`lm_embedding`, 2048 for CK+ in the reference code).
    pub hidden: usize,
}

/// Kernel of the spatial attention (SCAM, eq. 11, and CBAM-S).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpatialKernel {
    /// The paper's eq. 11: a 7x7 convolution of [F_max; F_avg], then the sigmoid.
    Paper7x7,
    /// The reference code's `SpatialAttention(kernel_size=3)`: a 3x3 convolution of
    /// [F_avg; F_max] (that channel order, so its weights import), batch norm, sigmoid.
    Reference3x3BatchNorm,
}

/// The mixing of eq. 1: E_out = β1 L_out^c + β2 E_out^s, L_out = α1 E_out^c + α2 L_out^s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoAttentionMixing {
    /// (α1, α2): weights of the FLD output (the reference code's `cross_stitch_l`).
    pub alpha: [f64; 2],
    /// (β1, β2): weights of the FER output (the reference code's `cross_stitch_e`).
    pub beta: [f64; 2],
    /// Trainable (paper: "four trainable parameters", start 0.5/0.5) or fixed (Table 11).
    pub trainable: bool,
}

/// Settings of the Co-ATT unit (paper 3.1-3.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CoAttentionConfig {
    /// δ of eqs. 2-3: the CCAM embedding has D = floor(δ·H·W) features (the reference
    /// code's `e_ratio`: 0.5 for CK+ and Oulu-CASIA, 0.2 for RAF-DB and SFEW2).
    pub embedding_ratio: f64,
    pub spatial_kernel: SpatialKernel,
    pub mixing: CoAttentionMixing,
}

impl CoAttentionConfig {
    /// Table 11: β fixed at (β1, β2). α is fixed at the same values, so that (1, 0) is exactly
    /// the channel-only model (`cmcnn-c`) and (0, 1) the spatial-only one (`cmcnn-s`); the
    /// paper does not say what it did with α.
    pub fn fixed_beta(mut self, beta1: f64, beta2: f64) -> Self {
        self.mixing = CoAttentionMixing {
            alpha: [beta1, beta2],
            beta: [beta1, beta2],
            trainable: false,
        };
        self
    }
}

/// Settings of the cross-stitch units of CSN (Misra et al. 2016).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrossStitchConfig {
    /// Initial weight of a task's own activation (Misra et al. start at 0.9).
    pub self_weight: f64,
    /// Initial weight of the other task's activation (Misra et al.: 0.1).
    pub other_weight: f64,
}

/// Settings of the single-task attention baselines (Tables 12-13).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttentionBaselineConfig {
    /// Channel reduction ratio r of SE-Net and CBAM's channel MLP (16 in both papers).
    pub reduction: usize,
}

/// Settings of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Side of the square input (100 in the paper; 48 allowed for CK+48 and FER2013).
    pub input_size: usize,
    /// 1 for grayscale.
    pub in_channels: usize,
    pub num_classes: usize,
    pub num_landmarks: usize,
    /// Batch-norm epsilon of the convolutional components (1e-3 in the reference code).
    pub bn_eps: f64,
    pub fer_head: FerHeadConfig,
    pub fld_head: FldHeadConfig,
    #[serde(default = "default_co_attention")]
    pub co_attention: CoAttentionConfig,
    #[serde(default = "default_cross_stitch")]
    pub cross_stitch: CrossStitchConfig,
    #[serde(default = "default_attention_baseline")]
    pub attention_baseline: AttentionBaselineConfig,
    /// Settings of add-on models (crates/baselines/*), under their registry name:
    /// `addons: {mtan: {task_specific_f: true}}`. They travel like every other setting: saved
    /// in config.yaml, hashed into the run id, settable from an experiment YAML. Left out of
    /// the YAML when empty, so configs without add-on settings keep their run ids.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub addons: BTreeMap<String, serde_yaml::Value>,
}

fn default_co_attention() -> CoAttentionConfig {
    ModelConfig::paper().co_attention
}

fn default_cross_stitch() -> CrossStitchConfig {
    ModelConfig::paper().cross_stitch
}

fn default_attention_baseline() -> AttentionBaselineConfig {
    ModelConfig::paper().attention_baseline
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self::paper()
    }
}

impl ModelConfig {
    /// The paper's setting: 100 x 100 grayscale, 7 classes, 68 landmarks, the reference code's
    /// CK+ head sizes, ReLU after every hidden FC layer as the paper's text says.
    pub fn paper() -> Self {
        Self {
            input_size: 100,
            in_channels: 1,
            num_classes: 7,
            num_landmarks: 68,
            bn_eps: 1e-3,
            fer_head: FerHeadConfig {
                hidden: 2000,
                embedding: 128,
                relu_after_embedding: true,
                style: FerHeadStyle::Paper,
            },
            fld_head: FldHeadConfig { hidden: 2048 },
            co_attention: CoAttentionConfig {
                embedding_ratio: 0.5,
                spatial_kernel: SpatialKernel::Paper7x7,
                mixing: CoAttentionMixing {
                    alpha: [0.5, 0.5],
                    beta: [0.5, 0.5],
                    trainable: true,
                },
            },
            cross_stitch: CrossStitchConfig {
                self_weight: 0.9,
                other_weight: 0.1,
            },
            attention_baseline: AttentionBaselineConfig { reduction: 16 },
            addons: BTreeMap::new(),
        }
    }

    /// As the reference implementation's code (thuiar/cmcnn): no ReLU after the FER embedding,
    /// SCAM with a 3x3 kernel and batch norm.
    pub fn reference_code() -> Self {
        let mut c = Self::paper();
        c.fer_head.relu_after_embedding = false;
        c.co_attention.spatial_kernel = SpatialKernel::Reference3x3BatchNorm;
        c
    }

    /// The settings of add-on model `name` (its `T::default()` when none are given). A setting
    /// the add-on does not know, or a value of the wrong type, is an error naming the key.
    pub fn addon_settings<T: DeserializeOwned + Default>(&self, name: &str) -> crate::Result<T> {
        match self.addons.get(name) {
            None => Ok(T::default()),
            Some(value) => serde_yaml::from_value(value.clone())
                .map_err(|e| crate::ModelError::Config(format!("model_config.addons.{name}: {e}"))),
        }
    }

    /// Checks the settings that the type cannot.
    pub fn validate(&self) -> crate::Result<()> {
        let bad = |m: &str| Err(crate::ModelError::Config(m.to_string()));
        if self.input_size < 8 {
            return bad("input_size must be at least 8 (three 2x2 poolings)");
        }
        if self.in_channels == 0 || self.num_classes < 2 || self.num_landmarks == 0 {
            return bad("in_channels, num_classes (>= 2) and num_landmarks must be positive");
        }
        if self.fer_head.hidden == 0 || self.fer_head.embedding == 0 || self.fld_head.hidden == 0 {
            return bad("head widths must be positive");
        }
        // Upper bounds far past any FER setting, so that a hand-edited config.yaml cannot make
        // a layer's size overflow before the tensor memory limit sees it.
        let sizes = [
            ("input_size", self.input_size, 4096),
            ("in_channels", self.in_channels, 64),
            ("num_classes", self.num_classes, 100_000),
            ("num_landmarks", self.num_landmarks, 10_000),
            ("fer_head.hidden", self.fer_head.hidden, 1 << 20),
            ("fer_head.embedding", self.fer_head.embedding, 1 << 20),
            ("fld_head.hidden", self.fld_head.hidden, 1 << 20),
            (
                "attention_baseline.reduction",
                self.attention_baseline.reduction,
                1 << 20,
            ),
        ];
        if let Some((name, value, max)) = sizes.iter().find(|(_, v, max)| v > max) {
            return Err(crate::ModelError::Config(format!(
                "{name} = {value} is more than the {max} allowed"
            )));
        }
        let d = self.co_attention.embedding_ratio;
        if !(d > 0.0 && d <= 1.0) {
            return bad("co_attention.embedding_ratio (δ) must be in (0, 1]");
        }
        if self.attention_baseline.reduction == 0 {
            return bad("attention_baseline.reduction must be positive");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_past_any_fer_setting_are_refused_by_name() {
        assert!(ModelConfig::paper().validate().is_ok());
        let mut cfg = ModelConfig::paper();
        cfg.num_landmarks = 1_000_000_000_000;
        let err = cfg
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("num_landmarks = 1000000000000"), "{err}");
        let mut cfg = ModelConfig::paper();
        cfg.fer_head.hidden = usize::MAX;
        let err = cfg
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("fer_head.hidden"), "{err}");
        let mut cfg = ModelConfig::paper();
        cfg.input_size = 4096;
        assert!(cfg.validate().is_ok());
        cfg.input_size = 4097;
        assert!(cfg.validate().is_err());
    }
}
