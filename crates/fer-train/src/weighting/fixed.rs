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

#[cfg(test)]
mod tests {
    use super::*;

    /// Eq. 16 by hand: L = 1·loss_E + λ·loss_L on the shared and the task-specific parameters
    /// alike, whatever the losses, the step or the learning rate.
    #[test]
    fn weights_are_one_and_lambda_at_every_step() {
        let mut fixed = Fixed::new(0.2);
        for (global_step, losses) in [(0, [1.9, 0.04]), (57, [0.3, 0.01]), (431, [0.0, 2.5])] {
            let w = fixed
                .weights(&StepInput {
                    losses,
                    gram: None,
                    global_step,
                    epoch: global_step / 24,
                    lr: 0.01,
                })
                .unwrap();
            assert_eq!(w.shared, [1.0, 0.2]);
            assert_eq!(w.specific, [1.0, 0.2]);
            assert_eq!(w.loss_offset, 0.0);
        }
    }
}
