//! `status`: where every planned run of an experiment stands, per dataset and method: done,
//! running, queued, failed or not submitted. It reads the plan (plan.json), the run records,
//! the run locks (a process is training the run), the failure records, the Slurm ledger and
//! `squeue` (tasks that ended recently are listed there for MinJobAge seconds; `sacct` is not
//! needed). Without Slurm it describes local runs. For each failed run it shows the tail of
//! its log and the command that resubmits it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::slurm_cli::{QueueEntry, QueueState, SlurmCli};
use super::sweep_ledger::{task_logs, SweepLedger};
use crate::error::Result;
use crate::experiment_report::PlanRecord;
use crate::run_failure::RunFailure;
use crate::run_lock::RunLock;

/// Where one run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RunState {
    Done,
    Running,
    Queued,
    Failed,
    NotSubmitted,
}

/// What is known about a run, from files and from Slurm.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunEvidence {
    pub done: bool,
    /// A process holds the run's lock.
    pub held: bool,
    /// The state of its latest Slurm task in `squeue`, if listed.
    pub queue: Option<QueueState>,
    /// It was ever submitted to Slurm.
    pub submitted: bool,
    /// A failure record exists.
    pub failure_record: bool,
}

/// The state the evidence supports. A submitted run whose task is neither queued nor running
/// and that is not done has failed: its task was cancelled, killed, ran out of time without
/// requeueing, or its run failed.
pub fn classify(e: RunEvidence) -> RunState {
    if e.done {
        return RunState::Done;
    }
    if e.held || e.queue == Some(QueueState::Running) {
        return RunState::Running;
    }
    if e.queue == Some(QueueState::Queued) {
        return RunState::Queued;
    }
    if e.failure_record || e.submitted {
        return RunState::Failed;
    }
    RunState::NotSubmitted
}

/// One run's state, and for a failed one what is known of why.
#[derive(Debug, Clone)]
pub struct RunStatus {
    /// Relative to the results folder: <experiment>/<dataset>/<method>/<id>.
    pub run_dir: PathBuf,
    pub state: RunState,
    /// The run's words (from its failure record), else its directory.
    pub label: String,
    pub error: Option<String>,
    /// The logs of its latest task (existing files only).
    pub logs: Vec<PathBuf>,
    /// Epochs committed so far (an unfinished run resumes after them).
    pub epochs_done: usize,
}

/// Every planned run's state.
#[derive(Debug, Clone)]
pub struct SweepStatus {
    pub experiment: String,
    pub runs: Vec<RunStatus>,
    pub awaiting_selection: usize,
    /// The command that submits again (the latest Slurm submission's, else the plan's).
    pub resubmit: String,
    /// Why `squeue` could not be asked (shown, not fatal).
    pub queue_note: Option<String>,
}

/// `ckplus48 hps fold-0 seed 1 [fld_loss_weight=0.2]` from the run's config.yaml.
fn config_label(dir: &Path) -> Option<String> {
    let text = std::fs::read_to_string(dir.join("config.yaml")).ok()?;
    let c: fer_train::TrainConfig = serde_yaml::from_str(&text).ok()?;
    Some(super::sweep_submission::run_label(&c))
}

/// Epochs committed in a run's history.csv (the campaign estimate reads the same rows).
fn epochs_done(dir: &Path) -> usize {
    crate::campaign_estimate::history_seconds(dir).len()
}

/// The status of the experiment whose outputs are at `out_dir` under `results`. `queue` is
/// `squeue`'s answer (None: Slurm was not asked).
pub fn sweep_status_with(
    results: &Path,
    out_dir: &Path,
    queue: Option<&[QueueEntry]>,
) -> Result<SweepStatus> {
    let plan = PlanRecord::read(out_dir)?;
    let ledger = SweepLedger::read(out_dir)?;
    let latest = ledger.latest_tasks();
    let listed: BTreeMap<(String, usize), QueueState> = queue
        .unwrap_or_default()
        .iter()
        .map(|q| ((q.array_job_id.clone(), q.task), q.state))
        .collect();
    let mut runs = Vec::new();
    for rel in &plan.run_dirs {
        let dir = results.join(rel);
        let failure = RunFailure::read(&dir)?;
        let task = latest.get(rel);
        let evidence = RunEvidence {
            done: dir.join(fer_train::DONE_MARKER).is_file(),
            held: RunLock::is_held(&dir),
            queue: task.and_then(|t| listed.get(&(t.array_job_id.clone(), t.task)).copied()),
            submitted: task.is_some(),
            failure_record: failure.is_some(),
        };
        let state = classify(evidence);
        let logs = task
            .map(|t| task_logs(out_dir, &t.array_job_id, t.task).to_vec())
            .unwrap_or_default()
            .into_iter()
            .filter(|l| l.is_file())
            .collect();
        runs.push(RunStatus {
            run_dir: rel.clone(),
            state,
            label: failure
                .as_ref()
                .map(|f| f.run.clone())
                .or_else(|| config_label(&dir))
                .map(|l| format!("{l} ({})", rel.display()))
                .unwrap_or_else(|| rel.display().to_string()),
            error: failure.map(|f| f.error),
            logs,
            epochs_done: epochs_done(&dir),
        });
    }
    Ok(SweepStatus {
        experiment: plan.output_name.clone(),
        runs,
        awaiting_selection: plan.awaiting_selection,
        resubmit: ledger
            .last_command()
            .map(str::to_string)
            .unwrap_or(plan.command),
        queue_note: None,
    })
}

/// The status, asking `squeue` when the experiment was submitted to Slurm.
pub fn sweep_status(results: &Path, out_dir: &Path) -> Result<SweepStatus> {
    let submitted = !SweepLedger::read(out_dir)?.submissions.is_empty();
    if !submitted {
        return sweep_status_with(results, out_dir, None);
    }
    match SlurmCli.queue() {
        Ok(q) => sweep_status_with(results, out_dir, Some(&q)),
        Err(e) => {
            let mut s = sweep_status_with(results, out_dir, None)?;
            s.queue_note = Some(format!(
                "squeue could not be asked ({e}): queued and running tasks show as failed"
            ));
            Ok(s)
        }
    }
}

/// The last `n` non-empty lines of a file.
fn tail(path: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.to_string())
        .collect()
}

/// The status as text: a table per dataset and method, then every failed run.
pub fn render_status(s: &SweepStatus) -> String {
    let mut out = Vec::new();
    let count = |state: RunState| s.runs.iter().filter(|r| r.state == state).count();
    out.push(format!(
        "{}: {} of {} planned runs done, {} running, {} queued, {} failed, {} not submitted{}",
        s.experiment,
        count(RunState::Done),
        s.runs.len(),
        count(RunState::Running),
        count(RunState::Queued),
        count(RunState::Failed),
        count(RunState::NotSubmitted),
        if s.awaiting_selection > 0 {
            format!(
                "; {} more wait for their method's grid selection",
                s.awaiting_selection
            )
        } else {
            String::new()
        }
    ));
    if let Some(note) = &s.queue_note {
        out.push(format!("note: {note}"));
    }
    out.push(String::new());
    out.push("| dataset | method | done | running | queued | failed | not submitted |".into());
    out.push("|---|---|--:|--:|--:|--:|--:|".into());
    let mut rows: BTreeMap<(String, String), [usize; 5]> = BTreeMap::new();
    for r in &s.runs {
        let parts: Vec<String> = r
            .run_dir
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        let key = (
            parts.get(1).cloned().unwrap_or_default(),
            parts.get(2).cloned().unwrap_or_default(),
        );
        rows.entry(key).or_default()[r.state as usize] += 1;
    }
    for ((dataset, method), c) in &rows {
        out.push(format!(
            "| {dataset} | {method} | {} | {} | {} | {} | {} |",
            c[0], c[1], c[2], c[3], c[4]
        ));
    }
    let partial = s
        .runs
        .iter()
        .filter(|r| r.state == RunState::NotSubmitted && r.epochs_done > 0)
        .count();
    if partial > 0 {
        out.push(format!(
            "\n{partial} of the runs not submitted have committed epochs and resume from them."
        ));
    }
    let failed: Vec<&RunStatus> = s
        .runs
        .iter()
        .filter(|r| r.state == RunState::Failed)
        .collect();
    if !failed.is_empty() {
        out.push("\nFailed runs:".into());
        for r in &failed {
            out.push(format!(
                "- {} ({} epochs committed): {}",
                r.label,
                r.epochs_done,
                r.error.as_deref().unwrap_or(
                    "its task ended without finishing (cancelled, killed, or out of time without requeueing)"
                )
            ));
            for log in &r.logs {
                let lines = tail(log, 5);
                out.push(format!(
                    "    {} (last {} lines):",
                    log.display(),
                    lines.len()
                ));
                for l in lines {
                    out.push(format!("      | {l}"));
                }
            }
        }
        out.push(format!(
            "\nResubmit the failed and unsubmitted runs (finished, queued and running ones are skipped):\n  {}",
            s.resubmit
        ));
    }
    out.join("\n")
}

/// Prints the status of the experiment at `out_dir`.
pub fn print_status(results: &Path, out_dir: &Path) -> Result<()> {
    println!("{}", render_status(&sweep_status(results, out_dir)?));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_decides_the_state() {
        let e = RunEvidence::default;
        assert_eq!(classify(e()), RunState::NotSubmitted);
        assert_eq!(
            classify(RunEvidence {
                done: true,
                submitted: true,
                failure_record: true,
                ..e()
            }),
            RunState::Done
        );
        assert_eq!(
            classify(RunEvidence { held: true, ..e() }),
            RunState::Running
        );
        let submitted = RunEvidence {
            submitted: true,
            ..e()
        };
        assert_eq!(
            classify(RunEvidence {
                queue: Some(QueueState::Queued),
                ..submitted
            }),
            RunState::Queued
        );
        assert_eq!(
            classify(RunEvidence {
                queue: Some(QueueState::Running),
                ..submitted
            }),
            RunState::Running
        );
        // Submitted, no longer queued and not done: its task ended without finishing it.
        assert_eq!(classify(submitted), RunState::Failed);
        assert_eq!(
            classify(RunEvidence {
                queue: Some(QueueState::Ended),
                ..submitted
            }),
            RunState::Failed
        );
        // A local run that failed left a record.
        assert_eq!(
            classify(RunEvidence {
                failure_record: true,
                ..e()
            }),
            RunState::Failed
        );
    }

    #[test]
    fn the_table_counts_runs_per_dataset_and_method() {
        let run = |dir: &str, state| RunStatus {
            run_dir: dir.into(),
            state,
            label: dir.into(),
            error: None,
            logs: vec![],
            epochs_done: 1,
        };
        let s = SweepStatus {
            experiment: "x".into(),
            runs: vec![
                run("x/d/hps/1", RunState::Done),
                run("x/d/hps/2", RunState::Failed),
                run("x/d/csn/3", RunState::Queued),
                run("x/d/csn/4", RunState::NotSubmitted),
            ],
            awaiting_selection: 2,
            resubmit: "cargo xtask reproduce x --executor slurm".into(),
            queue_note: None,
        };
        let text = render_status(&s);
        assert!(text.contains("x: 1 of 4 planned runs done, 0 running, 1 queued, 1 failed, 1 not submitted; 2 more wait"), "{text}");
        assert!(text.contains("| d | csn | 0 | 0 | 1 | 0 | 1 |"), "{text}");
        assert!(text.contains("| d | hps | 1 | 0 | 0 | 1 | 0 |"), "{text}");
        assert!(
            text.contains("- x/d/hps/2 (1 epochs committed): its task ended"),
            "{text}"
        );
        assert!(
            text.contains("  cargo xtask reproduce x --executor slurm"),
            "{text}"
        );
    }
}
