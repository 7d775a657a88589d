//! Settings shared by the models: input size and channels, number of classes, head sizes and
//! batch-norm epsilon, with the paper's and the reference code's values as named presets.

use serde::{Deserialize, Serialize};

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
}

/// Settings of the fully connected FLD head (paper 3.1: two layers, ReLU between).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FldHeadConfig {
    /// Width of the hidden layer (`lm_embedding`, 2048 for CK+ in the reference code).
    pub hidden: usize,
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
            },
            fld_head: FldHeadConfig { hidden: 2048 },
        }
    }

    /// As the reference implementation's code (thuiar/cmcnn): no ReLU after the FER embedding.
    pub fn reference_code() -> Self {
        let mut c = Self::paper();
        c.fer_head.relu_after_embedding = false;
        c
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
        Ok(())
    }
}
