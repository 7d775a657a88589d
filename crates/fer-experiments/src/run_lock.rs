//! `RunLock`: the lock a process holds while it trains a run, so that no two processes (local
//! `--jobs` workers, a second `reproduce`, Slurm tasks) ever train the same run at once, and
//! `status` can tell a running run from an abandoned one. It is an advisory lock on
//! results/<experiment>/.locks/<run id>.lock held by the open file: the operating system
//! releases it when the process ends, so a killed holder never blocks a run.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use crate::error::{Context, Result};

/// The folder of an experiment's run locks.
pub const LOCK_DIR: &str = ".locks";

/// A held run lock; dropping it releases the run.
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// The experiment folder of a run directory results/<experiment>/<dataset>/<method>/<id>.
pub fn experiment_dir_of(run_dir: &Path) -> &Path {
    run_dir
        .parent()
        .and_then(Path::parent)
        .and_then(Path::parent)
        .unwrap_or(run_dir)
}

/// The lock file of a run directory results/<experiment>/<dataset>/<method>/<id>.
pub fn lock_path(run_dir: &Path) -> PathBuf {
    let id = run_dir.file_name().unwrap_or_default();
    experiment_dir_of(run_dir)
        .join(LOCK_DIR)
        .join(format!("{}.lock", id.to_string_lossy()))
}

fn open(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("opening the run lock {}", path.display()))
}

impl RunLock {
    /// Takes the run's lock, or None when another process holds it.
    pub fn try_acquire(run_dir: &Path) -> Result<Option<RunLock>> {
        let path = lock_path(run_dir);
        let file = open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(RunLock { _file: file })),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("locking {}", path.display()))
            }
        }
    }

    /// Whether some process holds the run's lock now (it is training the run).
    pub fn is_held(run_dir: &Path) -> bool {
        let path = lock_path(run_dir);
        if !path.is_file() {
            return false;
        }
        match File::open(&path) {
            Ok(f) => matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)),
            Err(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let root = std::env::temp_dir().join(format!("fer-run-lock-{}", std::process::id()));
        let run = root.join("exp/ds/hps/0123abcd");
        assert_eq!(lock_path(&run), root.join("exp/.locks/0123abcd.lock"));
        assert!(!RunLock::is_held(&run));
        let held = RunLock::try_acquire(&run).unwrap().expect("free");
        assert!(RunLock::is_held(&run));
        // A second open file (as another process has) cannot take it.
        assert!(RunLock::try_acquire(&run).unwrap().is_none());
        drop(held);
        assert!(!RunLock::is_held(&run));
        assert!(RunLock::try_acquire(&run).unwrap().is_some());
        let _ = std::fs::remove_dir_all(&root);
    }
}
