//! `famo`: Fast Adaptive Multitask Optimization (Liu, Liang, Wang, Stone & Liu, NeurIPS 2023,
//! Algorithm 1), as the authors' code: logits ξ, z = softmax(ξ); the model follows the
//! gradient of Σ_i z_i log(L_i + ε) / c with c = Σ_i z_i / (L_i + ε) held constant, i.e. task
//! weights w_i = z_i / (c (L_i + ε)); after the update ξ moves by Adam (lr 0.025, L2 decay γ
//! = 0.001, the authors' run scripts' and LibMTL's value) along the softmax Jacobian times
//! δ_i = log(L_i + ε) - log(L_i' + ε), the decrease of each task's log loss, where L_i' is the
//! loss of the same batch after the update: one more forward pass per update, in training
//! mode as the authors' code and LibMTL do (batch-norm statistics see the batch twice).

use std::collections::BTreeMap;

use crate::adam::AdamConfig;
use crate::error::Result;
use crate::weighting::scalar_adam::{softmax, softmax_vjp, ScalarAdam};
use crate::weighting::task_weighting::{
    non_negative, positive, StepInput, StepWeights, TaskWeighting, WeightingEntry, WeightingParam,
};

pub const ENTRY: WeightingEntry = WeightingEntry {
    name: "famo",
    summary: "FAMO: weights that decrease every task's log loss at an equal rate (Liu et al., NeurIPS 2023)",
    needs_gradients: false,
    needs_losses_after_update: true,
    constant: false,
    params: &[
        WeightingParam {
            name: "lr",
            default: 0.025,
            range: "> 0",
            valid: positive,
        },
        WeightingParam {
            name: "gamma",
            default: 0.001,
            range: ">= 0",
            valid: non_negative,
        },
    ],
    build: |w, _| Ok(Box::new(Famo::new(w.param("lr"), w.param("gamma")))),
};

const EPS: f64 = 1e-8;

#[derive(Debug, Clone)]
pub struct Famo {
    lr: f64,
    logits: ScalarAdam,
    /// The losses of this update's batch before it, to measure its effect.
    previous: Option<[f64; 2]>,
}

impl Famo {
    pub fn new(lr: f64, gamma: f64) -> Self {
        let cfg = AdamConfig {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: gamma,
        };
        Self {
            lr,
            logits: ScalarAdam::new(vec![0.0, 0.0], cfg),
            previous: None,
        }
    }
}

/// FAMO's task weights z_i / (c (L_i + ε)) for logits ξ and losses L.
pub fn famo_weights(logits: [f64; 2], losses: [f64; 2]) -> [f64; 2] {
    let z = softmax(&logits);
    let d = [losses[0] + EPS, losses[1] + EPS];
    let c = z[0] / d[0] + z[1] / d[1];
    [z[0] / (c * d[0]), z[1] / (c * d[1])]
}

/// The gradient of the logits from the losses before and after an update.
pub fn famo_logit_gradient(logits: [f64; 2], before: [f64; 2], after: [f64; 2]) -> [f64; 2] {
    let z = softmax(&logits);
    let delta: Vec<f64> = (0..2)
        .map(|i| (before[i] + EPS).ln() - (after[i] + EPS).ln())
        .collect();
    let g = softmax_vjp(&z, &delta);
    [g[0], g[1]]
}

impl TaskWeighting for Famo {
    fn weights(&mut self, step: &StepInput) -> Result<StepWeights> {
        self.previous = Some(step.losses);
        let logits = [self.logits.params[0], self.logits.params[1]];
        Ok(StepWeights::of_losses(famo_weights(logits, step.losses)))
    }

    fn after_update(&mut self, losses_after: [f64; 2]) {
        if let Some(before) = self.previous.take() {
            let logits = [self.logits.params[0], self.logits.params[1]];
            let g = famo_logit_gradient(logits, before, losses_after);
            self.logits.step(&g, self.lr);
        }
    }

    fn state(&self) -> Vec<(String, f64)> {
        self.logits.state("famo.logits")
    }

    fn load_state(&mut self, state: &BTreeMap<String, f64>) -> Result<()> {
        self.logits.load_state("famo.logits", state)
    }
}
