//! `ProgressDisplay`: the progress bar of a run (steps done of the epoch budget, the current
//! epoch and loss); hidden in worker processes and tests (ARCHITECTURE.md "fer-train").

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::Result;
use crate::run_dir::RunDir;
use crate::training_observer::{StepReport, TrainingObserver};

pub struct ProgressDisplay {
    bar: ProgressBar,
    steps_per_epoch: usize,
}

impl ProgressDisplay {
    /// A bar over `epochs` x `steps_per_epoch` steps, labelled with the model's name.
    pub fn new(model: &str, epochs: usize, steps_per_epoch: usize, visible: bool) -> Self {
        let bar = ProgressBar::new((epochs * steps_per_epoch) as u64);
        if !visible {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:>22} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} steps {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_prefix(model.to_string());
        Self {
            bar,
            steps_per_epoch,
        }
    }
}

impl TrainingObserver for ProgressDisplay {
    fn resume(&mut self, _dir: &RunDir, epochs_done: usize) -> Result<()> {
        self.bar
            .set_position((epochs_done * self.steps_per_epoch) as u64);
        Ok(())
    }

    fn step(&mut self, s: &StepReport) {
        self.bar.inc(1);
        self.bar
            .set_message(format!("epoch {} loss {:.4}", s.epoch + 1, s.loss_total));
    }

    fn end(&mut self) {
        self.bar.finish_and_clear();
    }
}
