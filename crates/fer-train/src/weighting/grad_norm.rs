//! `gradnorm`: GradNorm (Chen, Badrinarayanan, Lee & Rabinovich, "GradNorm: gradient
//! normalization for adaptive loss balancing in deep multitask networks", ICML 2018, eqs. 1-2),
//! as LibMTL's `GradNorm`: task weights w = 2 softmax(θ) (θ starting at 1) scale each task's
//! gradient of the shared parameters (the heads keep their own task's gradient, as in LibMTL,
//! which measures the norms on all shared parameters, not the paper's last shared layer); θ learns to
//! make the weighted gradient norms G_i = w_i |∇L_i| of the shared parameters follow
//! Ḡ · r_i^α, with r_i the task's relative inverse training rate (L_i / L_i(0)) / mean_k(...),
//! by Adam on L_grad = Σ_i |G_i - Ḡ r_i^α| (targets held constant). L_i(0) is the first
//! epoch's mean training loss, and the method starts in the second epoch (weights 1 before),
//! as LibMTL does. θ is updated with the run's optimiser settings and learning rate.

use std::collections::BTreeMap;

use crate::error::{Result, TrainError};
use crate::weighting::scalar_adam::{softmax, softmax_vjp, ScalarAdam};
use crate::weighting::task_weighting::{
    positive, state_value, StepInput, StepWeights, TaskWeighting, WeightingEntry, WeightingParam,
};

pub const ENTRY: WeightingEntry = WeightingEntry {
    name: "gradnorm",
    summary: "GradNorm: learns weights that balance the tasks' gradient norms by training rate (Chen et al., ICML 2018)",
    needs_gradients: true,
    needs_losses_after_update: false,
    constant: false,
    params: &[WeightingParam {
        name: "alpha",
        default: 1.5,
        range: "> 0",
        valid: positive,
    }],
    build: |w, cfg| Ok(Box::new(GradNorm::new(w.param("alpha"), cfg.optimizer))),
};

#[derive(Debug, Clone)]
pub struct GradNorm {
    alpha: f64,
    /// The weight logits θ and their Adam state.
    theta: ScalarAdam,
    /// L_i(0): the first epoch's mean losses, once it has finished.
    initial_losses: Option<[f64; 2]>,
}

impl GradNorm {
    pub fn new(alpha: f64, optimizer: crate::adam::AdamConfig) -> Self {
        Self {
            alpha,
            theta: ScalarAdam::new(vec![1.0, 1.0], optimizer),
            initial_losses: None,
        }
    }
}

/// The weights w = 2 softmax(θ) and ∂L_grad/∂θ, from the Gram matrix of the task gradients,
/// the losses and the initial losses.
pub fn gradnorm_terms(
    theta: [f64; 2],
    [g11, _, g22]: [f64; 3],
    losses: [f64; 2],
    initial: [f64; 2],
    alpha: f64,
) -> ([f64; 2], [f64; 2]) {
    let s = softmax(&theta);
    let w = [2.0 * s[0], 2.0 * s[1]];
    let norms = [g11.max(0.0).sqrt(), g22.max(0.0).sqrt()];
    let g = [w[0] * norms[0], w[1] * norms[1]];
    let g_mean = (g[0] + g[1]) / 2.0;
    let ratio = [losses[0] / initial[0], losses[1] / initial[1]];
    let ratio_mean = (ratio[0] + ratio[1]) / 2.0;
    let target = [
        g_mean * (ratio[0] / ratio_mean).powf(alpha),
        g_mean * (ratio[1] / ratio_mean).powf(alpha),
    ];
    // ∂L_grad/∂w_i = sign(G_i - target_i) |∇L_i|; then through w = 2 softmax(θ).
    let sign = |x: f64| {
        if x > 0.0 {
            1.0
        } else if x < 0.0 {
            -1.0
        } else {
            0.0
        }
    };
    let dw = [
        2.0 * sign(g[0] - target[0]) * norms[0],
        2.0 * sign(g[1] - target[1]) * norms[1],
    ];
    let d = softmax_vjp(&s, &dw);
    (w, [d[0], d[1]])
}

impl TaskWeighting for GradNorm {
    fn weights(&mut self, step: &StepInput) -> Result<StepWeights> {
        let Some(initial) = self.initial_losses else {
            return Ok(StepWeights::of_shared_gradients([1.0, 1.0]));
        };
        let gram = step
            .gram
            .ok_or_else(|| TrainError::Config("gradnorm needs the task gradients".into()))?;
        let theta = [self.theta.params[0], self.theta.params[1]];
        let (w, grad) = gradnorm_terms(theta, gram, step.losses, initial, self.alpha);
        self.theta.step(&grad, step.lr);
        Ok(StepWeights::of_shared_gradients(w))
    }

    fn end_epoch(&mut self, mean_losses: [f64; 2]) {
        if self.initial_losses.is_none() {
            self.initial_losses = Some(mean_losses);
        }
    }

    fn state(&self) -> Vec<(String, f64)> {
        let mut out = self.theta.state("gradnorm.theta");
        if let Some([a, b]) = self.initial_losses {
            out.push(("gradnorm.initial_fer".into(), a));
            out.push(("gradnorm.initial_fld".into(), b));
        }
        out
    }

    fn load_state(&mut self, state: &BTreeMap<String, f64>) -> Result<()> {
        self.theta.load_state("gradnorm.theta", state)?;
        self.initial_losses = match state.get("gradnorm.initial_fer") {
            Some(&a) => Some([a, state_value(state, "gradnorm.initial_fld")?]),
            None => None,
        };
        Ok(())
    }
}
