//! What every model returns: the outputs of the tasks it has, plus what the report needs
//! (the FER embedding for t-SNE, attention maps for heat maps).

use candle_core::Tensor;

/// Outputs of one forward pass. Single-task models fill only their task.
#[derive(Debug, Clone, Default)]
pub struct TaskOutputs {
    /// (B, num_classes) FER logits.
    pub expression_logits: Option<Tensor>,
    /// (B, 68, 2) landmark predictions in input pixels.
    pub landmarks: Option<Tensor>,
    /// (B, D) the FER feature before the last layer (paper Fig. 2).
    pub fer_embedding: Option<Tensor>,
    /// (B, H, W) attention or activation maps (paper Fig. 4).
    pub attention_maps: Vec<Tensor>,
}

/// Which tasks a model solves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tasks {
    /// Expression recognition only.
    Fer,
    /// Landmark detection only.
    Fld,
    /// Both: FER main task, FLD auxiliary (paper 3).
    Both,
}

impl Tasks {
    pub fn has_fer(self) -> bool {
        matches!(self, Tasks::Fer | Tasks::Both)
    }

    pub fn has_fld(self) -> bool {
        matches!(self, Tasks::Fld | Tasks::Both)
    }
}
