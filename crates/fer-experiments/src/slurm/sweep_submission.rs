//! Submitting a sweep (`reproduce`/`ablation --executor slurm`): the runs that are not
//! finished, not queued or running and not held by another process become array tasks (split
//! at MaxArraySize), each array script and tasks file is written under
//! results/<experiment>/slurm/, the arrays and a report job that waits for them (`afterany`)
//! are submitted, and the command returns. Either everything is queued and recorded in the
//! [`SweepLedger`], or what was queued is cancelled and nothing is recorded.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::array_split::split_array;
use super::batch_script::{array_script, report_script, ArrayScript, ReportScript};
use super::slurm_cli::{QueueState, SlurmCli};
use super::slurm_options::SlurmOptions;
use super::sweep_ledger::{Submission, SubmittedArray, SweepLedger};
use super::SLURM_DIR;
use crate::error::{bail, Context, ExperimentError, Result};
use crate::experiment_context::ExperimentContext;
use crate::experiment_spec::ExperimentSpec;
use crate::run_executor::{run_dir_of, WorkerPlan};
use crate::run_lock::RunLock;
use crate::run_plan::{PlannedRun, RunPlan, RunRole};

/// What to submit and how.
pub struct SubmitRequest<'a> {
    pub spec: &'a ExperimentSpec,
    pub plan: &'a RunPlan,
    pub results: &'a Path,
    /// `cpu`, `cuda` or `cuda:N`.
    pub device: &'a str,
    pub options: &'a SlurmOptions,
    /// Run by the report job: submit only runs that were never submitted (the final runs of
    /// tuned methods whose grid was just selected), so a failed run is not retried unasked.
    pub followup: bool,
    /// The program's arguments after its name, as typed (`reproduce table4 --executor slurm`).
    pub args: &'a [String],
}

/// The command that submits again, as a user types it.
fn resubmit_command(args: &[String]) -> String {
    let words: Vec<String> = args
        .iter()
        .filter(|a| *a != "--followup")
        .map(|a| super::batch_script::shell_quote(a))
        .collect();
    format!("cargo xtask {}", words.join(" "))
}

/// A one-line label of a run (`ckplus48 hps fold-0 seed 1 [fld_loss_weight=0.2]`).
pub fn run_label(c: &fer_train::TrainConfig) -> String {
    format!(
        "{} {} {} seed {}{}",
        c.dataset,
        c.method_id(),
        c.split,
        c.seed,
        c.grid_point
            .as_deref()
            .map(|g| format!(" [{g}]"))
            .unwrap_or_default()
    )
}

/// Copies this program to results/<experiment>/slurm/bin/xtask-<sha256 prefix> (once per
/// build), so that rebuilding while the sweep runs changes neither its code nor its numbers.
fn program_copy(slurm_dir: &Path) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("finding this program to copy it for the tasks")?;
    let mut file =
        std::fs::File::open(&exe).with_context(|| format!("reading {}", exe.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file
            .read(&mut buf)
            .with_context(|| format!("reading {}", exe.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let digest = hasher.finalize();
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    let bin = slurm_dir.join("bin");
    let dest = bin.join(format!("xtask-{hex}"));
    if !dest.is_file() {
        std::fs::create_dir_all(&bin).with_context(|| format!("creating {}", bin.display()))?;
        let tmp = bin.join(format!(".xtask-{hex}.tmp-{}", std::process::id()));
        std::fs::copy(&exe, &tmp)
            .with_context(|| format!("copying {} to {}", exe.display(), tmp.display()))?;
        std::fs::rename(&tmp, &dest).with_context(|| format!("writing {}", dest.display()))?;
    }
    Ok(dest)
}

/// What a submission does with one planned run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitDecision {
    /// Its record is whole: nothing to do.
    Finished,
    /// Its latest task is queued or running.
    InQueue,
    /// A process holds its lock (a local run, a task of another ledger).
    HeldElsewhere,
    /// The report job's follow-up never resubmits a run that was submitted before (it failed
    /// or was cancelled): the user decides, with the command `status` prints.
    LeftForTheUser,
    Submit,
}

/// The submission's plan for one run, from what is known of it. Nothing is queued twice: a
/// run whose task is queued or running, or that a process trains, is left alone.
pub fn submit_decision(
    done: bool,
    queued_or_running: bool,
    held: bool,
    submitted_before: bool,
    followup: bool,
) -> SubmitDecision {
    if done {
        SubmitDecision::Finished
    } else if queued_or_running {
        SubmitDecision::InQueue
    } else if held {
        SubmitDecision::HeldElsewhere
    } else if submitted_before && followup {
        SubmitDecision::LeftForTheUser
    } else {
        SubmitDecision::Submit
    }
}

/// Submits the runs of `req.plan` that need a task; returns the submission (None when there
/// was nothing to submit).
pub fn submit_sweep(
    req: &SubmitRequest<'_>,
    ctx: &ExperimentContext,
) -> Result<Option<Submission>> {
    req.options.validate()?;
    let slurm = SlurmCli;
    // Before anything is written: is Slurm there, and what runs already?
    let queue = slurm.queue()?;
    let results = std::path::absolute(req.results)
        .with_context(|| format!("resolving {}", req.results.display()))?;
    let out_dir = req.plan.output_dir(&results);
    let slurm_dir = out_dir.join(SLURM_DIR);
    let mut ledger = SweepLedger::read(&out_dir)?;
    let live: BTreeMap<(String, usize), QueueState> = queue
        .iter()
        .filter(|q| q.state != QueueState::Ended)
        .map(|q| ((q.array_job_id.clone(), q.task), q.state))
        .collect();
    let latest = ledger.latest_tasks();

    let resolution = req.plan.resolve(&results)?;
    let candidates = req
        .plan
        .runs
        .iter()
        .chain(resolution.runs.iter().filter(|r| r.role == RunRole::Final));
    let (mut finished, mut in_queue, mut held, mut failed_before) = (0, 0, 0, 0);
    let mut to_submit: Vec<(PlannedRun, PathBuf)> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for run in candidates {
        let dir = run_dir_of(&results, &run.config)?;
        if !seen.insert(dir.clone()) {
            continue;
        }
        let rel = dir.strip_prefix(&results).unwrap_or(&dir).to_path_buf();
        let done = dir.join(fer_train::DONE_MARKER).is_file();
        let task = latest.get(&rel);
        let queued = task.is_some_and(|t| live.contains_key(&(t.array_job_id.clone(), t.task)));
        let locked = !done && !queued && RunLock::is_held(&dir);
        match submit_decision(done, queued, locked, task.is_some(), req.followup) {
            SubmitDecision::Finished => {
                finished += 1;
                continue;
            }
            SubmitDecision::InQueue => {
                in_queue += 1;
                continue;
            }
            SubmitDecision::HeldElsewhere => {
                held += 1;
                continue;
            }
            SubmitDecision::LeftForTheUser => {
                failed_before += 1;
                continue;
            }
            SubmitDecision::Submit => {}
        }
        to_submit.push((run.clone(), rel));
    }
    let counts = format!(
        "{finished} finished, {in_queue} queued or running, {held} training elsewhere{}{}",
        if failed_before > 0 {
            format!(", {failed_before} ended unfinished (resubmit them with the command in `cargo xtask status`)")
        } else {
            String::new()
        },
        if resolution.pending_runs > 0 {
            format!(
                ", {} waiting for their method's grid selection (the report job submits them)",
                resolution.pending_runs
            )
        } else {
            String::new()
        }
    );
    if to_submit.is_empty() {
        println!("{}: nothing to submit ({counts})", req.spec.name);
        return Ok(None);
    }

    let program = program_copy(&slurm_dir)?;
    let max_array_size = slurm.max_array_size()?;
    let chunks = split_array(to_submit.len(), max_array_size)?;
    let number = ledger
        .submissions
        .iter()
        .map(|s| s.number)
        .max()
        .unwrap_or(0)
        + 1;
    let workdir = std::env::current_dir().context("finding the current folder")?;
    let workspace_root = std::path::absolute(&ctx.workspace.root)
        .with_context(|| format!("resolving {}", ctx.workspace.root.display()))?;
    let log_dir = slurm_dir.join("logs");
    std::fs::create_dir_all(&log_dir).with_context(|| format!("creating {}", log_dir.display()))?;
    let transfer_classes = match req.plan.runs.iter().any(|r| r.transfer_target.is_some()) {
        true => Some(crate::run_plan::transfer_classes(req.spec)?),
        false => None,
    };
    let command = resubmit_command(req.args);
    let job_name = format!("fer-{}", req.plan.output_name);

    // Write every script first, then queue; a failure cancels what was queued.
    let mut arrays = Vec::new();
    for (k, chunk) in chunks.iter().enumerate() {
        let runs: Vec<PlannedRun> = to_submit[chunk.clone()]
            .iter()
            .map(|(r, _)| r.clone())
            .collect();
        let labels: Vec<String> = runs.iter().map(|r| run_label(&r.config)).collect();
        let tasks_file = slurm_dir.join(format!("tasks-{number}-{}.json", k + 1));
        let tasks = WorkerPlan {
            runs,
            datasets: req.plan.datasets.clone(),
            transfer_classes: transfer_classes.clone(),
            results: results.clone(),
            device: req.device.to_string(),
            deadline_unix: None,
            claims: slurm_dir.clone(),
        };
        fer_train::write_atomic(&tasks_file, serde_json::to_string(&tasks)?.as_bytes())?;
        let script = slurm_dir.join(format!("array-{number}-{}.sh", k + 1));
        let text = array_script(&ArrayScript {
            job_name: &job_name,
            run_labels: &labels,
            options: req.options,
            workdir: &workdir,
            workspace_root: &workspace_root,
            program: &program,
            tasks_file: &tasks_file,
            log_dir: &log_dir,
            command: &command,
        });
        fer_train::write_atomic(&script, text.as_bytes())?;
        arrays.push(SubmittedArray {
            job_id: String::new(),
            script,
            tasks_file,
            run_dirs: to_submit[chunk.clone()]
                .iter()
                .map(|(_, d)| d.clone())
                .collect(),
        });
    }
    let report = slurm_dir.join(format!("report-{number}.sh"));
    let report_text = report_script(&ReportScript {
        job_name: &format!("{job_name}-report"),
        options: req.options,
        workdir: &workdir,
        workspace_root: &workspace_root,
        program: &program,
        log_dir: &log_dir,
        args: req.args,
    });
    fer_train::write_atomic(&report, report_text.as_bytes())?;

    let mut queued: Vec<String> = Vec::new();
    let undo = |queued: &[String], e: ExperimentError| -> ExperimentError {
        let cancelled = match slurm.cancel(queued) {
            Ok(()) if queued.is_empty() => String::new(),
            Ok(()) => format!(" (cancelled what was queued: {})", queued.join(", ")),
            Err(c) => format!(
                " and cancelling what was queued ({}) failed too: {c}; cancel them with scancel",
                queued.join(", ")
            ),
        };
        ExperimentError::Invalid(format!("nothing was submitted{cancelled}: {e}"))
    };
    for a in &mut arrays {
        match slurm.submit(&a.script, &[]) {
            Ok(id) => {
                a.job_id = id.clone();
                queued.push(id);
            }
            Err(e) => return Err(undo(&queued, e)),
        }
    }
    let dependency = format!("--dependency=afterany:{}", queued.join(":"));
    let report_job = match slurm.submit(&report, &[dependency]) {
        Ok(id) => id,
        Err(e) => return Err(undo(&queued, e)),
    };
    queued.push(report_job.clone());
    let submission = Submission {
        number,
        submitted_unix: crate::run_failure::unix_now(),
        command: command.clone(),
        arrays,
        report_job,
    };
    ledger.submissions.push(submission.clone());
    if let Err(e) = ledger.write(&out_dir) {
        return Err(undo(&queued, e));
    }

    let total: usize = submission.arrays.iter().map(|a| a.run_dirs.len()).sum();
    println!(
        "{}: submitted {total} runs as {} array{} ({}), report job {} after them ({counts})",
        req.spec.name,
        submission.arrays.len(),
        if submission.arrays.len() == 1 {
            ""
        } else {
            "s"
        },
        submission
            .arrays
            .iter()
            .map(|a| format!("{} with {} tasks", a.job_id, a.run_dirs.len()))
            .collect::<Vec<_>>()
            .join(", "),
        submission.report_job
    );
    println!("  scripts and logs: {}", slurm_dir.display());
    println!(
        "  watch: squeue --me    or    {}",
        status_command(req, ctx, &results)
    );
    Ok(Some(submission))
}

/// The `status` command for this experiment, as a user types it.
fn status_command(req: &SubmitRequest<'_>, ctx: &ExperimentContext, results: &Path) -> String {
    let spec = req.spec;
    let in_workspace = spec.source.parent() == Some(ctx.workspace.experiments_dir().as_path());
    let mut words = vec![
        "cargo xtask status".to_string(),
        if in_workspace {
            spec.name.clone()
        } else {
            super::batch_script::shell_quote(&spec.source.to_string_lossy())
        },
    ];
    if let Some(tag) = req
        .plan
        .output_name
        .strip_prefix(&format!("{}-", spec.name))
    {
        words.push(format!("--tag {}", super::batch_script::shell_quote(tag)));
    }
    let default_results = std::path::absolute(ctx.workspace.results_dir()).ok();
    if default_results.as_deref() != Some(results) {
        words.push(format!(
            "--results {}",
            super::batch_script::shell_quote(&results.to_string_lossy())
        ));
    }
    words.join(" ")
}

/// Refuses local-only options with the Slurm executor.
pub fn check_local_only_options(jobs: usize, time_budget: bool) -> Result<()> {
    if jobs > 1 {
        bail!("--jobs runs workers on this machine; with --executor slurm use --array-parallelism to cap the tasks running at once");
    }
    if time_budget {
        bail!("--time-budget stops local runs; with --executor slurm give each task a --time limit (tasks requeue themselves before it)");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_queued_twice_and_a_followup_never_retries_a_failure() {
        use SubmitDecision::*;
        // (done, queued or running, held, submitted before, followup)
        let d = submit_decision;
        assert_eq!(d(true, true, true, true, true), Finished);
        assert_eq!(d(false, true, false, true, false), InQueue);
        assert_eq!(d(false, true, false, true, true), InQueue);
        assert_eq!(d(false, false, true, false, false), HeldElsewhere);
        // Submitted, no longer queued, unfinished: the user's resubmission takes it...
        assert_eq!(d(false, false, false, true, false), Submit);
        // ...the report job's follow-up does not.
        assert_eq!(d(false, false, false, true, true), LeftForTheUser);
        // Never submitted (a final run whose grid was just selected): both submit it.
        assert_eq!(d(false, false, false, false, true), Submit);
        assert_eq!(d(false, false, false, false, false), Submit);
    }

    #[test]
    fn the_resubmit_command_drops_the_followup_flag() {
        let args: Vec<String> = ["reproduce", "x y.yaml", "--executor", "slurm", "--followup"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            resubmit_command(&args),
            "cargo xtask reproduce 'x y.yaml' --executor slurm"
        );
        assert!(check_local_only_options(2, false).is_err());
        assert!(check_local_only_options(1, true).is_err());
        assert!(check_local_only_options(1, false).is_ok());
    }
}
