//! `StepLog`: `steps.csv`, one row per optimiser step with the losses and every mixing
//! parameter of the model (α, β of the Co-ATT units of eq. 1, cross-stitch weights): paper
//! Fig. 3's β curves are drawn from it (ARCHITECTURE.md "Run record").

use std::fmt::Write as _;

use crate::error::Result;
use crate::run_dir::RunDir;
use crate::training_observer::{StepReport, TrainingObserver};
use crate::training_progress::committed_rows;

const STEPS_FILE: &str = "steps.csv";

/// The rows of `steps.csv` so far.
pub struct StepLog {
    text: String,
}

impl StepLog {
    /// The header names the loss weighting's columns (none under `fixed`), then the mixing
    /// parameters in the model's order.
    pub fn new(weighting_names: &[String], mixing_names: &[String]) -> Self {
        let mut text = String::from("step,epoch,lr,loss_total,loss_fer,loss_fld");
        for name in weighting_names.iter().chain(mixing_names) {
            text.push(',');
            text.push_str(name);
        }
        text.push('\n');
        Self { text }
    }
}

impl TrainingObserver for StepLog {
    fn resume(&mut self, dir: &RunDir, epochs_done: usize) -> Result<()> {
        self.text = committed_rows(dir, STEPS_FILE, 1, epochs_done)?;
        Ok(())
    }

    fn step(&mut self, s: &StepReport) {
        let _ = write!(
            self.text,
            "{},{},{},{:.6},{:.6},{:.6}",
            s.global_step,
            s.epoch + 1,
            s.lr,
            s.loss_total,
            s.loss_fer,
            s.loss_fld
        );
        for v in &s.weighting {
            let _ = write!(self.text, ",{v:.6}");
        }
        for v in &s.mixing {
            let _ = write!(self.text, ",{v:.6}");
        }
        self.text.push('\n');
    }

    fn commit(&mut self, dir: &RunDir) -> Result<()> {
        dir.write(STEPS_FILE, self.text.as_bytes())
    }
}
