//! Run directories (ARCHITECTURE.md "Run record"):
//! `results/<experiment>/<dataset>/<method>/<run-id>/` with the resolved `config.yaml`,
//! `history.csv`, `steps.csv`, `metrics.json`, `predictions.csv`, `best.safetensors` and, written
//! last, the completion marker `DONE`.
//!
//! Every file is written to a temporary name in the same folder and renamed into place, so an
//! interrupted run never leaves a half-written file that looks complete.

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

use crate::error::{Result, TrainError};

/// Name of the completion marker.
pub const DONE_MARKER: &str = "DONE";

/// The folder of one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunDir {
    path: PathBuf,
}

/// The first 12 hex digits of the SHA-256 of the resolved config text: equal configs share a
/// run directory, so a finished run is not redone.
pub fn run_id(resolved_config_yaml: &str) -> String {
    let digest = Sha256::digest(resolved_config_yaml.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Writes `bytes` to `path` atomically (temporary file in the same folder, then rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| TrainError::io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| TrainError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| TrainError::io(path, e))?;
    Ok(())
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
        write_atomic(&self.file(name), bytes)
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
    fn run_id_is_a_stable_hash() {
        assert_eq!(run_id("a: 1\n"), run_id("a: 1\n"));
        assert_ne!(run_id("a: 1\n"), run_id("a: 2\n"));
        assert_eq!(run_id("x").len(), 12);
    }

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
