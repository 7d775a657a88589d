//! Slurm's client commands as the executor uses them (`sbatch --parsable`, `scontrol show
//! config`, `scontrol requeue`, `squeue`, `scancel`), and the parsers of their output (pure
//! functions, tested without a cluster). Every failure is one line quoting Slurm's message.

use std::path::Path;
use std::process::Command;

use crate::error::{bail, ExperimentError, Result};

/// Where a task stands in `squeue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueState {
    /// Waiting to start (also a requeued task waiting to start again).
    Queued,
    Running,
    /// Ended (still listed for MinJobAge seconds); the run records say how.
    Ended,
}

/// One array task in `squeue`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub array_job_id: String,
    pub task: usize,
    pub state: QueueState,
    /// Slurm's word for the state (`PENDING`, `RUNNING`, `CANCELLED`, ...).
    pub slurm_state: String,
}

/// The last non-empty line of a command's error output (Slurm's message).
fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .unwrap_or("(no message)")
        .to_string()
}

/// Runs a Slurm command and returns its standard output; a missing program or a failure is
/// one line with Slurm's message.
fn run(program: &str, args: &[String]) -> Result<String> {
    let out = Command::new(program).args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            ExperimentError::Invalid(format!(
                "`{program}` is not on the PATH: --executor slurm needs Slurm's client commands (run on the cluster's login node, or install slurm-client)"
            ))
        } else {
            ExperimentError::Invalid(format!("running {program}: {e}"))
        }
    })?;
    if !out.status.success() {
        bail!(
            "{program} {} failed: {}",
            args.join(" "),
            last_line(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The job id in `sbatch --parsable`'s output (`1234` or `1234;cluster`).
pub fn parse_sbatch_parsable(stdout: &str) -> Result<String> {
    let id = stdout.trim().split(';').next().unwrap_or("").trim();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        bail!(
            "sbatch --parsable printed {:?}, not a job id",
            stdout.trim()
        );
    }
    Ok(id.to_string())
}

/// MaxArraySize from `scontrol show config` (Slurm's default, 1001, when it is not listed).
pub fn parse_max_array_size(config: &str) -> Result<usize> {
    for line in config.lines() {
        let mut parts = line.splitn(2, '=');
        let (Some(key), Some(value)) = (parts.next(), parts.next()) else {
            continue;
        };
        if key.trim() == "MaxArraySize" {
            return value.trim().parse().map_err(|_| {
                ExperimentError::Invalid(format!(
                    "scontrol show config: MaxArraySize = {:?} is not a number",
                    value.trim()
                ))
            });
        }
    }
    Ok(1001)
}

/// The array tasks of `squeue -h -r -o '%F|%K|%T'` (other jobs' lines are skipped).
pub fn parse_squeue(stdout: &str) -> Vec<QueueEntry> {
    let mut out = Vec::new();
    for line in stdout.lines() {
        let f: Vec<&str> = line.trim().split('|').collect();
        let [array, task, state] = f[..] else {
            continue;
        };
        let Ok(task) = task.trim().parse() else {
            continue; // not an array task (N/A)
        };
        let slurm_state = state.trim().to_string();
        let state = match slurm_state.as_str() {
            "PENDING" | "REQUEUED" | "REQUEUE_HOLD" | "REQUEUE_FED" | "SUSPENDED"
            | "CONFIGURING" | "RESV_DEL_HOLD" | "SPECIAL_EXIT" | "RESIZING" => QueueState::Queued,
            "RUNNING" | "COMPLETING" | "STAGE_OUT" | "SIGNALING" => QueueState::Running,
            _ => QueueState::Ended,
        };
        out.push(QueueEntry {
            array_job_id: array.trim().to_string(),
            task,
            state,
            slurm_state,
        });
    }
    out
}

/// The cluster, through its client commands.
pub struct SlurmCli;

impl SlurmCli {
    /// Submits a script; extra options go before it. Returns the job id.
    pub fn submit(&self, script: &Path, options: &[String]) -> Result<String> {
        let mut args = vec!["--parsable".to_string()];
        args.extend(options.iter().cloned());
        args.push(script.to_string_lossy().into_owned());
        parse_sbatch_parsable(&run("sbatch", &args)?)
    }

    /// The cluster's MaxArraySize.
    pub fn max_array_size(&self) -> Result<usize> {
        parse_max_array_size(&run("scontrol", &["show".into(), "config".into()])?)
    }

    /// This user's array tasks, including those that ended recently.
    pub fn queue(&self) -> Result<Vec<QueueEntry>> {
        let args = ["--me", "-h", "-r", "--states=all", "-o", "%F|%K|%T"];
        Ok(parse_squeue(&run("squeue", &args.map(String::from))?))
    }

    /// Puts a job (or array task, `123_4`) back in the queue.
    pub fn requeue(&self, job: &str) -> Result<()> {
        run("scontrol", &["requeue".into(), job.into()]).map(|_| ())
    }

    /// Cancels jobs (a submission that failed halfway takes back what it queued).
    pub fn cancel(&self, jobs: &[String]) -> Result<()> {
        if jobs.is_empty() {
            return Ok(());
        }
        run("scancel", jobs).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sbatch_output_gives_the_job_id() {
        assert_eq!(parse_sbatch_parsable("1234\n").unwrap(), "1234");
        assert_eq!(parse_sbatch_parsable("77;fer-local\n").unwrap(), "77");
        assert!(parse_sbatch_parsable("").is_err());
        assert!(parse_sbatch_parsable("Submitted batch job 5").is_err());
    }

    #[test]
    fn max_array_size_is_read_from_the_config() {
        let config = "Configuration data as of 2026-12-06T05:00:00\nAccountingStorageType   = accounting_storage/none\nMaxArraySize            = 3\nMaxJobCount             = 10000\n";
        assert_eq!(parse_max_array_size(config).unwrap(), 3);
        assert_eq!(parse_max_array_size("ClusterName = x\n").unwrap(), 1001);
        assert!(parse_max_array_size("MaxArraySize = lots\n").is_err());
    }

    #[test]
    fn squeue_lines_become_array_tasks() {
        let out = "12|0|RUNNING\n12|1|PENDING\n12|2|CANCELLED\n15|N/A|RUNNING\n13|4|COMPLETING\ngarbage\n";
        let q = parse_squeue(out);
        assert_eq!(q.len(), 4);
        assert_eq!(
            (q[0].array_job_id.as_str(), q[0].task, q[0].state),
            ("12", 0, QueueState::Running)
        );
        assert_eq!(q[1].state, QueueState::Queued);
        assert_eq!(q[2].state, QueueState::Ended);
        assert_eq!(q[2].slurm_state, "CANCELLED");
        assert_eq!((q[3].task, q[3].state), (4, QueueState::Running));
    }

    #[test]
    fn a_missing_program_says_what_to_install() {
        let e = run("sbatch-that-does-not-exist", &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("not on the PATH"), "{e}");
        let e = run("false", &["x".into()]).unwrap_err().to_string();
        assert!(e.contains("false x failed"), "{e}");
    }
}
