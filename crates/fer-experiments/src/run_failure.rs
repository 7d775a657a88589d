//! `RunFailure`: the record a run that failed leaves (bad data, out of memory, a NaN loss),
//! at results/<experiment>/failures/<run id>.json. It names the run, the log that holds its
//! output (a Slurm task's) and the last error line, so `status` can show it and the other
//! runs go on. A run that later finishes removes it.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

use crate::error::{Context, Result};

/// The folder of an experiment's failure records.
pub const FAILURE_DIR: &str = "failures";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunFailure {
    /// The run directory, relative to the results folder.
    pub run_dir: PathBuf,
    /// `ckplus48 hps fold-0 seed 1`.
    pub run: String,
    /// The task's logs, when it ran under Slurm.
    pub logs: Vec<PathBuf>,
    pub error: String,
    pub failed_unix: u64,
}

/// The failure record of a run directory results/<experiment>/<dataset>/<method>/<id>.
pub fn failure_path(run_dir: &Path) -> PathBuf {
    let id = run_dir.file_name().unwrap_or_default();
    crate::run_lock::experiment_dir_of(run_dir)
        .join(FAILURE_DIR)
        .join(format!("{}.json", id.to_string_lossy()))
}

impl RunFailure {
    /// Writes the record of the run at `run_dir` (absolute).
    pub fn write(&self, run_dir: &Path) -> Result<()> {
        let path = failure_path(run_dir);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        fer_train::write_atomic(&path, serde_json::to_string_pretty(self)?.as_bytes())?;
        Ok(())
    }

    /// The record of the run at `run_dir`, if it failed last time it ran.
    pub fn read(run_dir: &Path) -> Result<Option<RunFailure>> {
        let path = failure_path(run_dir);
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        Ok(Some(
            serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?,
        ))
    }

    /// Removes the record (the run has finished).
    pub fn clear(run_dir: &Path) {
        let _ = std::fs::remove_file(failure_path(run_dir));
    }
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_record_round_trips_and_is_cleared() {
        let root = std::env::temp_dir().join(format!("fer-run-failure-{}", std::process::id()));
        let run = root.join("exp/ds/hps/0123abcd");
        assert_eq!(failure_path(&run), root.join("exp/failures/0123abcd.json"));
        assert!(RunFailure::read(&run).unwrap().is_none());
        let f = RunFailure {
            run_dir: "exp/ds/hps/0123abcd".into(),
            run: "ds hps fold-0 seed 1".into(),
            logs: vec!["exp/slurm/logs/12_0.err".into()],
            error: "loss became NaN".into(),
            failed_unix: 5,
        };
        f.write(&run).unwrap();
        assert_eq!(RunFailure::read(&run).unwrap(), Some(f));
        RunFailure::clear(&run);
        assert!(RunFailure::read(&run).unwrap().is_none());
        std::fs::write(failure_path(&run), "{").unwrap();
        let e = RunFailure::read(&run).unwrap_err().to_string();
        assert!(e.contains("0123abcd.json"), "{e}");
        let _ = std::fs::remove_dir_all(&root);
    }
}
