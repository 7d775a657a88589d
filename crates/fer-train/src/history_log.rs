//! `HistoryLog`: `history.csv`, one row per epoch (losses, validation metrics of paper eqs.
//! 17-22, learning rate, seconds); ARCHITECTURE.md "Run record".

use crate::error::Result;
use crate::run_dir::RunDir;
use crate::training_observer::{EpochReport, TrainingObserver};
use crate::training_progress::committed_rows;

const HISTORY_FILE: &str = "history.csv";

const HISTORY_HEADER: &str = "epoch,lr,train_loss_fer,train_loss_fld,val_loss_fer,val_loss_fld,val_acc_total,val_acc_average,val_f1_eq19,val_macro_f1,val_nrmse,seconds\n";

/// The rows of `history.csv` so far.
pub struct HistoryLog {
    text: String,
}

impl HistoryLog {
    pub fn new() -> Self {
        Self {
            text: String::from(HISTORY_HEADER),
        }
    }
}

impl Default for HistoryLog {
    fn default() -> Self {
        Self::new()
    }
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.6}")).unwrap_or_default()
}

/// One line of `history.csv` (after [`HISTORY_HEADER`]).
fn history_row(r: &EpochReport) -> String {
    let m = r.val.metric_set();
    format!(
        "{},{},{:.6},{:.6},{},{},{},{},{},{},{},{:.2}\n",
        r.epoch,
        r.lr,
        r.train_loss_fer,
        r.train_loss_fld,
        fmt_opt(r.val.loss_fer),
        fmt_opt(r.val.loss_fld),
        fmt_opt(m.acc_total),
        fmt_opt(m.acc_average),
        fmt_opt(m.f1_eq19),
        fmt_opt(m.macro_f1),
        fmt_opt(m.nrmse),
        r.seconds
    )
}

impl TrainingObserver for HistoryLog {
    fn resume(&mut self, dir: &RunDir, epochs_done: usize) -> Result<()> {
        self.text = committed_rows(dir, HISTORY_FILE, 0, epochs_done)?;
        Ok(())
    }

    fn epoch(&mut self, epoch: &EpochReport) {
        self.text.push_str(&history_row(epoch));
    }

    fn commit(&mut self, dir: &RunDir) -> Result<()> {
        dir.write(HISTORY_FILE, self.text.as_bytes())
    }
}
