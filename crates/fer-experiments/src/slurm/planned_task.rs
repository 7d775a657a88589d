//! One Slurm array task: `xtask run-planned --tasks <file> --index $SLURM_ARRAY_TASK_ID` runs
//! entry `index` of the tasks file the submission wrote (a [`WorkerPlan`]), with the CPUs and
//! GPU Slurm gave it. On the warning signal it finishes and commits the epoch in progress,
//! requeues itself (`scontrol requeue`) and, started again, resumes from that epoch. A run
//! that another task holds is left to it; a run that fails leaves a failure record.

use std::path::{Path, PathBuf};

use super::slurm_cli::SlurmCli;
use super::stop_signal::install_warning_handler;
use super::sweep_ledger::task_logs;
use crate::device::parse_device;
use crate::error::{bail, Context, Result};
use crate::experiment_context::ExperimentContext;
use crate::run_executor::{run_here, ExecEnd, RunHere, WorkerPlan};

/// The task's index as Slurm passes it; a clear error when it is not one.
pub fn parse_task_index(text: &str) -> Result<usize> {
    text.trim().parse().map_err(|_| {
        crate::error::ExperimentError::Invalid(format!(
            "task index {text:?} is not a number: run-planned takes --index $SLURM_ARRAY_TASK_ID"
        ))
    })
}

/// The device a task computes on: Slurm makes the GPUs it gave the task visible as 0, 1, ...
/// (CUDA_VISIBLE_DEVICES), so `cuda:N` becomes `cuda:0` there.
fn task_device(planned: &str) -> String {
    if planned.starts_with("cuda") && std::env::var_os("CUDA_VISIBLE_DEVICES").is_some() {
        "cuda:0".to_string()
    } else {
        planned.to_string()
    }
}

/// This task's `<array job id>_<task id>` under Slurm.
fn slurm_task() -> Option<(String, usize)> {
    let job = std::env::var("SLURM_ARRAY_JOB_ID").ok()?;
    let task = std::env::var("SLURM_ARRAY_TASK_ID").ok()?.parse().ok()?;
    Some((job, task))
}

/// Runs entry `index` of `tasks_file`.
pub fn run_planned_task(tasks_file: &Path, index: &str, ctx: &ExperimentContext) -> Result<()> {
    let index = parse_task_index(index)?;
    let text = std::fs::read_to_string(tasks_file)
        .with_context(|| format!("reading the tasks file {}", tasks_file.display()))?;
    let plan: WorkerPlan = serde_json::from_str(&text)
        .with_context(|| format!("parsing the tasks file {}", tasks_file.display()))?;
    let Some(run) = plan.runs.get(index) else {
        bail!(
            "task index {index} is outside {} ({} runs, indices 0-{})",
            tasks_file.display(),
            plan.runs.len(),
            plan.runs.len().saturating_sub(1)
        );
    };
    install_warning_handler()?;
    let device_name = task_device(&plan.device);
    let device = parse_device(&device_name)?;
    let out_dir = plan.results.join(&run.config.experiment);
    let logs: Vec<PathBuf> = slurm_task()
        .map(|(job, task)| task_logs(&out_dir, &job, task).to_vec())
        .unwrap_or_default();
    println!(
        "task {index} of {}: {} {} {} seed {} on {device_name} with {} threads",
        tasks_file.display(),
        run.config.dataset,
        run.config.method_id(),
        run.config.split,
        run.config.seed,
        rayon_threads()
    );
    let here = RunHere {
        datasets: &plan.datasets,
        transfer_classes: plan.transfer_classes.as_deref(),
        results: &plan.results,
        device: &device,
        deadline: None,
        claims: None,
        quiet: true,
        task_logs: logs
            .iter()
            .map(|l| l.strip_prefix(&plan.results).unwrap_or(l).to_path_buf())
            .collect(),
    };
    let end = run_here(&here, std::slice::from_ref(run), ctx)?;
    if end == ExecEnd::Stopped {
        match slurm_task() {
            Some((job, task)) => {
                let id = format!("{job}_{task}");
                SlurmCli.requeue(&id)?;
                println!("requeued {id}: started again, it resumes from the last committed epoch");
            }
            None => println!("stopped by SIGUSR1 outside Slurm: run the task again to resume"),
        }
    }
    Ok(())
}

/// The threads the kernels use (rayon's pool, sized by RAYON_NUM_THREADS).
fn rayon_threads() -> String {
    std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_index_is_refused_by_name() {
        assert_eq!(parse_task_index("7").unwrap(), 7);
        let e = parse_task_index("seven").unwrap_err().to_string();
        assert!(
            e.contains("\"seven\"") && e.contains("SLURM_ARRAY_TASK_ID"),
            "{e}"
        );
        assert!(parse_task_index("-1").is_err());
    }
}
