//! `TaskWeighting`: the interface of a weighting method, what it sees of a step
//! (`StepInput`) and what it returns (`StepWeights`), and its registry entry.

use std::collections::BTreeMap;

use crate::error::Result;
use crate::train_config::TrainConfig;
use crate::weighting::WeightingConfig;

/// What a method sees of one training step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepInput {
    /// This batch's task losses: [FER (cross-entropy), FLD (wing loss)], unweighted.
    pub losses: [f64; 2],
    /// The Gram matrix of the two task gradients over the shared parameters,
    /// [g_fer·g_fer, g_fer·g_fld, g_fld·g_fld]; only for methods that ask for gradients.
    pub gram: Option<[f64; 3]>,
    /// Updates before this one (0 for the first update of the run).
    pub global_step: usize,
    /// 0-based epoch.
    pub epoch: usize,
    /// The run's learning rate in this epoch.
    pub lr: f64,
}

/// The weights of one update: the gradient of the shared parameters is
/// `shared[0] ∇L_fer + shared[1] ∇L_fld`, that of the FER head `specific[0] ∇L_fer`, that of
/// the FLD head `specific[1] ∇L_fld`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepWeights {
    pub shared: [f64; 2],
    pub specific: [f64; 2],
    /// Added to the weighted sum of the losses for the reported total (uncertainty
    /// weighting's log σ terms); it carries no gradient of the model.
    pub loss_offset: f64,
    /// Whether `shared` are coefficients of a gradient combination that may be zero or
    /// negative (Aligned-MTL's α), so that only their finiteness is checked; loss weights and
    /// the other methods' coefficients must be positive.
    pub shared_any_sign: bool,
}

impl StepWeights {
    /// The same weights for every parameter (a weighted sum of the losses).
    pub fn of_losses(w: [f64; 2]) -> Self {
        Self {
            shared: w,
            specific: w,
            loss_offset: 0.0,
            shared_any_sign: false,
        }
    }

    /// Weights of the shared gradients only; each head keeps its own task's gradient.
    pub fn of_shared_gradients(w: [f64; 2]) -> Self {
        Self {
            shared: w,
            specific: [1.0, 1.0],
            loss_offset: 0.0,
            shared_any_sign: false,
        }
    }

    /// Coefficients of the shared gradients that may be zero or negative, each head keeping
    /// its own task's gradient: Aligned-MTL gives a task whose gradient points nearly along a
    /// much larger one a small negative α (LibMTL and the authors' code use it as it is).
    pub fn of_signed_shared_gradients(w: [f64; 2]) -> Self {
        Self {
            shared_any_sign: true,
            ..Self::of_shared_gradients(w)
        }
    }

    /// The first weight that is not a finite number, or not positive where it must be, by
    /// name, or `None`.
    pub fn first_invalid(&self) -> Option<(&'static str, f64)> {
        let signed = self.shared_any_sign;
        [
            ("shared FER", self.shared[0], signed),
            ("shared FLD", self.shared[1], signed),
            ("FER head", self.specific[0], false),
            ("FLD head", self.specific[1], false),
        ]
        .into_iter()
        .find(|(_, v, any_sign)| !(v.is_finite() && (*any_sign || *v > 0.0)))
        .map(|(name, v, _)| (name, v))
    }
}

/// A weighting method: called once per update, in order, on the training batches.
pub trait TaskWeighting: Send {
    /// The weights of this update. Methods with learnable weights (uncertainty, GradNorm,
    /// FAMO) return the weights before this step's update of them and then update them, as
    /// their reference implementations do.
    fn weights(&mut self, step: &StepInput) -> Result<StepWeights>;

    /// After the update, with the same batch's losses under the updated weights (FAMO; only
    /// called for methods whose entry sets `needs_losses_after_update`).
    fn after_update(&mut self, _losses_after: [f64; 2]) {}

    /// After every epoch, with the epoch's mean training losses [FER, FLD] (DWA, GradNorm).
    fn end_epoch(&mut self, _mean_losses: [f64; 2]) {}

    /// The method's state, saved with the optimiser's at every epoch commit so that a resumed
    /// run continues bit for bit.
    fn state(&self) -> Vec<(String, f64)> {
        Vec::new()
    }

    /// Restores [`TaskWeighting::state`].
    fn load_state(&mut self, _state: &BTreeMap<String, f64>) -> Result<()> {
        Ok(())
    }
}

/// One setting of a method: name, paper default, and its valid range.
#[derive(Debug, Clone, Copy)]
pub struct WeightingParam {
    pub name: &'static str,
    pub default: f64,
    /// What the range check says when a value fails it.
    pub range: &'static str,
    pub valid: fn(f64) -> bool,
}

/// A registered method.
#[derive(Debug, Clone, Copy)]
pub struct WeightingEntry {
    /// The name a config and `--weighting` use.
    pub name: &'static str,
    /// One line: what it is, and its paper.
    pub summary: &'static str,
    /// Whether it needs each task's gradient of the shared parameters (one more backward
    /// pass per update).
    pub needs_gradients: bool,
    /// Whether it needs the batch's losses after the update (one more forward pass).
    pub needs_losses_after_update: bool,
    /// Whether the weights are the same at every update (`fixed`). Constant weights are not
    /// written to steps.csv (a `fixed` run's file is the paper's), and they are checked once,
    /// with the config, rather than at every step: λ = 0 is a valid fixed weight.
    pub constant: bool,
    pub params: &'static [WeightingParam],
    pub build: fn(&WeightingConfig, &TrainConfig) -> Result<Box<dyn TaskWeighting>>,
}

/// Reads a state value saved by the same method, or says which is missing.
pub(crate) fn state_value(state: &BTreeMap<String, f64>, name: &str) -> Result<f64> {
    state.get(name).copied().ok_or_else(|| {
        crate::TrainError::Config(format!(
            "the saved optimiser state lacks the weighting state '{name}': it was written by another weighting method"
        ))
    })
}

/// A positive number.
pub(crate) fn positive(v: f64) -> bool {
    v > 0.0
}

/// Any non-negative number.
pub(crate) fn non_negative(v: f64) -> bool {
    v >= 0.0
}
