//! `pcgrad`: projecting conflicting gradients (Yu, Kumar, Gupta, Levine, Hausman & Finn,
//! "Gradient surgery for multi-task learning", NeurIPS 2020, Algorithm 1) on the shared
//! parameters. With two tasks whose gradients conflict (g_1·g_2 < 0), each is projected on the
//! normal plane of the other, g_1' = g_1 - (g_1·g_2 / |g_2|²) g_2 and likewise g_2', and the
//! update is g_1' + g_2' = (1 - g_1·g_2/|g_1|²) g_1 + (1 - g_1·g_2/|g_2|²) g_2; otherwise
//! g_1 + g_2. The random task order of the paper does not matter for two tasks.

use crate::error::{Result, TrainError};
use crate::weighting::task_weighting::{StepInput, StepWeights, TaskWeighting, WeightingEntry};

pub const ENTRY: WeightingEntry = WeightingEntry {
    name: "pcgrad",
    summary: "PCGrad: projects conflicting task gradients of the shared parameters (Yu et al., NeurIPS 2020)",
    needs_gradients: true,
    needs_losses_after_update: false,
    constant: false,
    params: &[],
    build: |_, _| Ok(Box::new(PcGrad)),
};

#[derive(Debug, Clone, Copy)]
pub struct PcGrad;

/// The coefficients of g_1 and g_2 in PCGrad's update, from the Gram matrix
/// [g_1·g_1, g_1·g_2, g_2·g_2].
pub fn pcgrad_coefficients([g11, g12, g22]: [f64; 3]) -> [f64; 2] {
    if g12 < 0.0 {
        // LibMTL adds 1e-8 to the squared norms it divides by.
        [1.0 - g12 / (g11 + 1e-8), 1.0 - g12 / (g22 + 1e-8)]
    } else {
        [1.0, 1.0]
    }
}

impl TaskWeighting for PcGrad {
    fn weights(&mut self, step: &StepInput) -> Result<StepWeights> {
        let gram = step
            .gram
            .ok_or_else(|| TrainError::Config("pcgrad needs the task gradients".into()))?;
        Ok(StepWeights::of_shared_gradients(pcgrad_coefficients(gram)))
    }
}
