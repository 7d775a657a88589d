//! `SweepLedger`: what a sweep submitted to Slurm, at results/<experiment>/slurm/
//! submissions.json. Written once every array and the report job are queued (a submission
//! that fails halfway cancels what it queued and leaves the ledger as it was), it maps each
//! array task to its run, so `status` and the next submission know which runs are queued or
//! running, and where each task's log is.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::SLURM_DIR;
use crate::error::{Context, Result};

pub const LEDGER_FILE: &str = "submissions.json";

/// Every submission of one experiment, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SweepLedger {
    pub submissions: Vec<Submission>,
}

/// One `reproduce --executor slurm`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    pub number: usize,
    pub submitted_unix: u64,
    /// The command that submits again (finished, queued and running runs are skipped).
    pub command: String,
    pub arrays: Vec<SubmittedArray>,
    /// The job that writes the report after the arrays.
    pub report_job: String,
}

/// One job array: task `k` runs `run_dirs[k]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmittedArray {
    pub job_id: String,
    pub script: PathBuf,
    pub tasks_file: PathBuf,
    /// Run directories relative to the results folder, in task order.
    pub run_dirs: Vec<PathBuf>,
}

/// The array task that last ran a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRef {
    pub array_job_id: String,
    pub task: usize,
    pub submission: usize,
}

impl SweepLedger {
    pub fn path(out_dir: &Path) -> PathBuf {
        out_dir.join(SLURM_DIR).join(LEDGER_FILE)
    }

    /// The ledger of the experiment at `out_dir` (empty when nothing was submitted).
    pub fn read(out_dir: &Path) -> Result<Self> {
        let path = Self::path(out_dir);
        if !path.is_file() {
            return Ok(Self::default());
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    pub fn write(&self, out_dir: &Path) -> Result<()> {
        let path = Self::path(out_dir);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        fer_train::write_atomic(&path, serde_json::to_string_pretty(self)?.as_bytes())?;
        Ok(())
    }

    /// For every run ever submitted, the latest array task that runs it.
    pub fn latest_tasks(&self) -> BTreeMap<PathBuf, TaskRef> {
        let mut out = BTreeMap::new();
        for s in &self.submissions {
            for a in &s.arrays {
                for (task, dir) in a.run_dirs.iter().enumerate() {
                    out.insert(
                        dir.clone(),
                        TaskRef {
                            array_job_id: a.job_id.clone(),
                            task,
                            submission: s.number,
                        },
                    );
                }
            }
        }
        out
    }

    /// The command of the latest submission.
    pub fn last_command(&self) -> Option<&str> {
        self.submissions.last().map(|s| s.command.as_str())
    }
}

/// The logs of an array task (`#SBATCH --output/--error` of the array script).
pub fn task_logs(out_dir: &Path, array_job_id: &str, task: usize) -> [PathBuf; 2] {
    let logs = out_dir.join(SLURM_DIR).join("logs");
    [
        logs.join(format!("{array_job_id}_{task}.out")),
        logs.join(format!("{array_job_id}_{task}.err")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_submission_of_a_run_wins() {
        let array = |id: &str, dirs: &[&str]| SubmittedArray {
            job_id: id.into(),
            script: "s.sh".into(),
            tasks_file: "t.json".into(),
            run_dirs: dirs.iter().map(PathBuf::from).collect(),
        };
        let ledger = SweepLedger {
            submissions: vec![
                Submission {
                    number: 1,
                    submitted_unix: 1,
                    command: "cargo xtask reproduce x --executor slurm".into(),
                    arrays: vec![array("10", &["a", "b", "c"]), array("11", &["d"])],
                    report_job: "12".into(),
                },
                Submission {
                    number: 2,
                    submitted_unix: 2,
                    command: "cargo xtask reproduce x --executor slurm --partition p".into(),
                    arrays: vec![array("20", &["b"])],
                    report_job: "21".into(),
                },
            ],
        };
        let t = ledger.latest_tasks();
        assert_eq!(t.len(), 4);
        assert_eq!(
            (
                t[Path::new("a")].array_job_id.as_str(),
                t[Path::new("a")].task
            ),
            ("10", 0)
        );
        assert_eq!(
            (
                t[Path::new("b")].array_job_id.as_str(),
                t[Path::new("b")].task
            ),
            ("20", 0)
        );
        assert_eq!(
            (
                t[Path::new("d")].array_job_id.as_str(),
                t[Path::new("d")].task
            ),
            ("11", 0)
        );
        assert_eq!(
            ledger.last_command(),
            Some("cargo xtask reproduce x --executor slurm --partition p")
        );
        let dir = std::env::temp_dir().join(format!("fer-ledger-{}", std::process::id()));
        ledger.write(&dir).unwrap();
        assert_eq!(SweepLedger::read(&dir).unwrap(), ledger);
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(SweepLedger::read(&dir).unwrap(), SweepLedger::default());
    }
}
