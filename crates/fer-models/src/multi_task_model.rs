//! The one interface every model of the framework implements (ARCHITECTURE.md "fer-models").

use candle_core::Tensor;

use crate::error::Result;
use crate::task_outputs::{TaskOutputs, Tasks};

/// A named, trainable mixing parameter (α, β of a Co-ATT unit; a cross-stitch weight),
/// read after each step for the β curves of paper Fig. 3.
#[derive(Debug, Clone, PartialEq)]
pub struct MixingParameter {
    pub name: String,
    pub value: f32,
}

/// A FER and/or FLD model.
pub trait MultiTaskModel: Send + Sync {
    /// Forward pass; `train` selects batch statistics and updates running statistics.
    ///
    /// # Shapes
    /// `x`: (B, C, S, S) with S the configured input size.
    fn forward_t(&self, x: &Tensor, train: bool) -> Result<TaskOutputs>;

    /// The tasks this model solves.
    fn tasks(&self) -> Tasks;

    /// Current values of the model's mixing parameters (none for most models).
    fn mixing_parameters(&self) -> Result<Vec<MixingParameter>> {
        Ok(Vec::new())
    }
}
