//! Where an unfinished run stands, so that running it again resumes after its last finished
//! epoch instead of starting over (ARCHITECTURE.md "Run record": stopping at any moment loses at
//! most the current epoch).
//!
//! After every epoch the trainer writes, each atomically and in this order: history.csv,
//! steps.csv, last-<epoch>.safetensors (all variables, batch-norm statistics included),
//! optimizer-<epoch>.safetensors (Adam's moments), then progress.json, the commit point, and
//! only then removes the previous epoch's two files. A kill before the commit leaves the
//! previous progress.json naming files that are still there. The data loader's randomness is a
//! function of (seed, epoch, sample), so nothing else is needed for a resumed run to continue
//! exactly as an uninterrupted one.

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};
use crate::run_dir::RunDir;

/// File name of the progress record in a run directory.
pub const PROGRESS_FILE: &str = "progress.json";

/// The state of the training loop after a finished epoch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainingProgress {
    /// Epochs finished (1-based count).
    pub epochs_done: usize,
    /// Optimiser updates so far.
    pub global_step: usize,
    /// Best validation score so far (`None` before any finite score).
    pub best_score: Option<f64>,
    /// Epoch (1-based) of the best score; its weights are best.safetensors.
    pub best_epoch: usize,
    /// Epochs since the best one (early stopping).
    pub since_best: usize,
    /// Training time of the sessions so far, in seconds.
    pub elapsed_seconds: f64,
}

impl TrainingProgress {
    /// A run that has not started.
    pub fn start() -> Self {
        Self {
            epochs_done: 0,
            global_step: 0,
            best_score: None,
            best_epoch: 0,
            since_best: 0,
            elapsed_seconds: 0.0,
        }
    }

    /// The progress of an unfinished run, if it has finished an epoch.
    pub fn read(dir: &RunDir) -> Result<Option<Self>> {
        let path = dir.file(PROGRESS_FILE);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| TrainError::Parse {
                path: path.clone(),
                line: e.line(),
                message: e.to_string(),
            })
    }

    pub fn write(&self, dir: &RunDir) -> Result<()> {
        let json = serde_json::to_string_pretty(self)
            .map_err(|e| TrainError::Config(format!("{PROGRESS_FILE}: {e}")))?;
        dir.write(PROGRESS_FILE, json.as_bytes())
    }
}

/// The committed rows of a run's CSV file `name` (see [`rows_up_to_epoch`]).
pub fn committed_rows(
    dir: &RunDir,
    name: &str,
    column: usize,
    epochs_done: usize,
) -> Result<String> {
    let path = dir.file(name);
    let text = std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))?;
    Ok(rows_up_to_epoch(&text, column, epochs_done))
}

/// The header and the rows of a CSV text whose `column` (an epoch number) is at most
/// `epochs_done`: rows of an epoch that was not committed are dropped on resume.
pub fn rows_up_to_epoch(csv: &str, column: usize, epochs_done: usize) -> String {
    let mut out = String::new();
    for (i, line) in csv.lines().enumerate() {
        let keep = i == 0
            || line
                .split(',')
                .nth(column)
                .and_then(|e| e.parse::<usize>().ok())
                .is_some_and(|e| e <= epochs_done);
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_of_uncommitted_epochs_are_dropped() {
        let csv = "step,epoch,x\n1,1,a\n2,1,b\n3,2,c\n4,3,d\n";
        assert_eq!(
            rows_up_to_epoch(csv, 1, 2),
            "step,epoch,x\n1,1,a\n2,1,b\n3,2,c\n"
        );
        assert_eq!(rows_up_to_epoch(csv, 1, 0), "step,epoch,x\n");
    }
}
