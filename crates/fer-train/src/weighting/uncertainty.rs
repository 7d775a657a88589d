//! `uncertainty`: uncertainty weighting (Kendall, Gal & Cipolla, "Multi-task learning using
//! uncertainty to weigh losses for scene geometry and semantics", CVPR 2018, eqs. 7 and 10),
//! in LibMTL's form `UW`: L = Σ_i L_i / (2 exp(s_i)) + s_i / 2 with s_i = log σ_i² learned
//! with the model. The s_i are updated by Adam with the run's optimiser settings and learning
//! rate (LibMTL puts them in the model's optimiser), from their exact gradient
//! ∂L/∂s_i = 1/2 - L_i / (2 exp(s_i)).

use std::collections::BTreeMap;

use crate::error::Result;
use crate::weighting::scalar_adam::ScalarAdam;
use crate::weighting::task_weighting::{
    StepInput, StepWeights, TaskWeighting, WeightingEntry, WeightingParam,
};

pub const ENTRY: WeightingEntry = WeightingEntry {
    name: "uncertainty",
    summary: "uncertainty weighting: learned log-variances s_i, L_i/(2e^s_i) + s_i/2 (Kendall et al., CVPR 2018)",
    needs_gradients: false,
    needs_losses_after_update: false,
    constant: false,
    params: &[WeightingParam {
        name: "init",
        default: -0.5,
        range: "any finite number",
        valid: |_| true,
    }],
    build: |w, cfg| Ok(Box::new(Uncertainty::new(w.param("init"), cfg.optimizer))),
};

#[derive(Debug, Clone)]
pub struct Uncertainty {
    /// s = log σ² per task, with their Adam state.
    s: ScalarAdam,
}

impl Uncertainty {
    pub fn new(init: f64, optimizer: crate::adam::AdamConfig) -> Self {
        Self {
            s: ScalarAdam::new(vec![init, init], optimizer),
        }
    }

    /// The log-variances now.
    pub fn log_variances(&self) -> [f64; 2] {
        [self.s.params[0], self.s.params[1]]
    }
}

/// The weights 1/(2 e^s_i), the offset Σ s_i/2, and ∂L/∂s_i for losses `l`.
pub fn uncertainty_terms(s: [f64; 2], l: [f64; 2]) -> ([f64; 2], f64, [f64; 2]) {
    let w = [0.5 * (-s[0]).exp(), 0.5 * (-s[1]).exp()];
    (
        w,
        0.5 * (s[0] + s[1]),
        [0.5 - l[0] * w[0], 0.5 - l[1] * w[1]],
    )
}

impl TaskWeighting for Uncertainty {
    fn weights(&mut self, step: &StepInput) -> Result<StepWeights> {
        let (w, offset, grad) = uncertainty_terms(self.log_variances(), step.losses);
        self.s.step(&grad, step.lr);
        Ok(StepWeights {
            loss_offset: offset,
            ..StepWeights::of_losses(w)
        })
    }

    fn state(&self) -> Vec<(String, f64)> {
        self.s.state("uncertainty")
    }

    fn load_state(&mut self, state: &BTreeMap<String, f64>) -> Result<()> {
        self.s.load_state("uncertainty", state)
    }
}
