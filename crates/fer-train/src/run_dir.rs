//! Run directories (ARCHITECTURE.md "Run record"):
//! `results/<experiment>/<dataset>/<method>/<run-id>/` with the resolved `config.yaml`,
//! `history.csv`, `steps.csv`, `metrics.json`, `predictions.csv`, `best.safetensors` and, written
//! last, the completion marker `DONE`.
//!
//! Every file is written to a temporary name in the same folder and renamed into place, so an
//! interrupted run never leaves a half-written file that looks complete.

use std::path::{Path, PathBuf};

use crate::error::{Result, TrainError};

pub use fer_runs::{run_id, write_atomic};

/// Name of the completion marker.
pub const DONE_MARKER: &str = fer_runs::DONE_FILE;

/// The folder of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// `<root>/<experiment>/<dataset>/<method>/<run_id>`; created if missing.
    pub fn create(
        root: &Path,
        experiment: &str,
        dataset: &str,
        model: &str,
        run_id: &str,
    ) -> Result<Self> {
        let path = root.join(experiment).join(dataset).join(model).join(run_id);
        std::fs::create_dir_all(&path).map_err(|e| TrainError::io(&path, e))?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Whether the run finished (its marker exists).
    pub fn is_done(&self) -> bool {
        self.file(DONE_MARKER).is_file()
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        Ok(write_atomic(&self.file(name), bytes)?)
    }

    /// Marks the run finished; call after every other file is in place.
    pub fn mark_done(&self) -> Result<()> {
        self.write(DONE_MARKER, b"done\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_leaves_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("fer-train-rundir-{}", std::process::id()));
        let rd = RunDir::create(&dir, "e", "d", "m", "r").unwrap();
        assert!(!rd.is_done());
        rd.write("metrics.json", b"{}").unwrap();
        rd.mark_done().unwrap();
        assert!(rd.is_done());
        let names: Vec<String> = std::fs::read_dir(rd.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".tmp")), "{names:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
