//! `fixed`: the paper's loss, L = loss_E + λ loss_L (Yu & Xu 2021, eq. 16), λ being the run's
//! `fld_loss_weight` (tuned by grid search on validation, paper 4.4). The default method.

use crate::error::Result;
use crate::weighting::task_weighting::{StepInput, StepWeights, TaskWeighting, WeightingEntry};

pub const ENTRY: WeightingEntry = WeightingEntry {
    name: "fixed",
    summary: "loss_E + λ loss_L with the run's fld_loss_weight λ (the paper's eq. 16)",
    needs_gradients: false,
    needs_losses_after_update: false,
    constant: true,
    params: &[],
    build: |_, cfg| Ok(Box::new(Fixed::new(cfg.fld_loss_weight))),
};

/// Constant weights (1, λ).
#[derive(Debug, Clone)]
pub struct Fixed {
    lambda: f64,
}

impl Fixed {
    pub fn new(lambda: f64) -> Self {
        Self { lambda }
    }
}

impl TaskWeighting for Fixed {
    fn weights(&mut self, _step: &StepInput) -> Result<StepWeights> {
        Ok(StepWeights::of_losses([1.0, self.lambda]))
    }
}
