//! `TrainingObserver`: what watches a run without steering it (ARCHITECTURE.md "fer-train").
//! The trainer's stages report every optimiser step and every epoch to its observers:
//! `HistoryLog` (history.csv), `StepLog` (steps.csv, the mixing weights of paper Fig. 3) and
//! `ProgressDisplay` (the progress bar). An observer never changes the numbers.

use crate::error::Result;
use crate::evaluation::Evaluation;
use crate::run_dir::RunDir;

/// One optimiser step.
#[derive(Debug, Clone)]
pub struct StepReport {
    /// Updates so far, this one included (1-based).
    pub global_step: usize,
    /// 0-based epoch.
    pub epoch: usize,
    pub lr: f64,
    pub loss_total: f64,
    pub loss_fer: f64,
    pub loss_fld: f64,
    /// The loss weighting's values of this update (`TrainingSession::weighting_names`):
    /// empty under `fixed`.
    pub weighting: Vec<f64>,
    /// The model's mixing parameters after the update, in `mixing_parameters()` order.
    pub mixing: Vec<f32>,
}

/// One finished epoch, evaluated on validation.
#[derive(Debug, Clone)]
pub struct EpochReport {
    /// 1-based epoch.
    pub epoch: usize,
    pub lr: f64,
    pub train_loss_fer: f64,
    pub train_loss_fld: f64,
    pub val: Evaluation,
    /// The whole epoch: updates and validation.
    pub seconds: f64,
    /// The training updates alone (what a weighting method adds to).
    pub train_seconds: f64,
}

/// Watches a run; every hook does nothing unless the observer needs it.
pub trait TrainingObserver {
    /// The run resumes after `epochs_done` committed epochs of `dir`.
    fn resume(&mut self, _dir: &RunDir, _epochs_done: usize) -> Result<()> {
        Ok(())
    }
    /// After every optimiser step.
    fn step(&mut self, _step: &StepReport) {}
    /// After every epoch's validation.
    fn epoch(&mut self, _epoch: &EpochReport) {}
    /// Writes what the run directory keeps, before the epoch's commit point.
    fn commit(&mut self, _dir: &RunDir) -> Result<()> {
        Ok(())
    }
    /// Training ended (finished, stopped or out of time).
    fn end(&mut self) {}
}
