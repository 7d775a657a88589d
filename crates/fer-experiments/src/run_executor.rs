//! `execute`: runs a [`RunPlan`], one run after another or in `--jobs N` worker processes
//! (ARCHITECTURE.md "fer-experiments").
//!
//! Every run is identified by the hash of its resolved config (fer-train's run id), so running
//! the same plan again skips finished runs and resumes an unfinished one from its last epoch
//! (model, optimiser and progress are committed after every epoch). Workers get the runs the
//! parent planned through a plan file (`worker-plan.json`, a [`WorkerPlan`]) rather than
//! planning again from their own command line, so every worker trains exactly the parent's
//! configs. They share the runs by claiming them through files created with `create_new`,
//! which the filesystem makes atomic: no run is trained twice and a fast worker simply takes
//! more runs.

use crate::error::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use candle_core::Device;
use fer_data::{Expression, FaceDataset, Split};
use fer_train::{train_run, TrainOptions};
use serde::{Deserialize, Serialize};

use crate::device::parse_device;
use crate::experiment_context::ExperimentContext;
use crate::experiment_spec::ExperimentSpec;
use crate::run_failure::RunFailure;
use crate::run_lock::RunLock;
use crate::run_plan::{PlannedDataset, PlannedRun, RunPlan};

/// The subcommand that makes a copy of the program a worker: the program must route
/// `<program> worker --plan <file>` to [`run_worker`].
pub const WORKER_COMMAND: &str = "worker";

/// The plan file a worker reads (`<claims>/worker-plan.json`).
pub const WORKER_PLAN_FILE: &str = "worker-plan.json";

/// How to execute a plan.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub results: PathBuf,
    /// `cpu`, `cuda` or `cuda:N`, as the user typed it (workers parse it again).
    pub device: String,
    /// Worker processes (1: run in this process with progress bars).
    pub jobs: usize,
    /// The time budget's end: no run or epoch is started that would end after it.
    pub deadline: Option<std::time::SystemTime>,
}

/// What one worker process runs: the runs of one round as the parent planned them, the
/// datasets they index, and where to claim them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerPlan {
    pub runs: Vec<PlannedRun>,
    pub datasets: Vec<PlannedDataset>,
    /// The shared classes of a transfer experiment (Table 9).
    pub transfer_classes: Option<Vec<Expression>>,
    pub results: PathBuf,
    pub device: String,
    /// The time budget's end, in Unix seconds.
    pub deadline_unix: Option<u64>,
    /// The folder where runs are claimed.
    pub claims: PathBuf,
}

/// How an execution ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecEnd {
    /// Every run that could run has run (runs waiting for a selection may remain).
    Complete,
    /// The time budget was spent; unfinished runs remain.
    OutOfTime,
    /// The warning signal (a Slurm task's time limit or preemption) stopped a run after its
    /// last committed epoch.
    Stopped,
}

/// The run directory a planned config will use (fer-train's layout and run id).
pub fn run_dir_of(results: &Path, cfg: &fer_train::TrainConfig) -> Result<PathBuf> {
    Ok(cfg.run_dir(results)?)
}

/// Runs every planned run not finished before, then the final runs of tuned methods as their
/// selections become known. With `jobs > 1`, starts that many copies of this command as
/// workers (`worker_args` are the arguments that make a copy a worker) and waits for them.
pub fn execute(
    spec: &ExperimentSpec,
    plan: &RunPlan,
    opts: &ExecOptions,
    ctx: &ExperimentContext,
) -> Result<ExecEnd> {
    let device = parse_device(&opts.device)?;
    let transfer_classes = match plan.runs.iter().any(|r| r.transfer_target.is_some()) {
        true => Some(crate::run_plan::transfer_classes(spec)?),
        false => None,
    };
    let mut attempted: std::collections::BTreeSet<PathBuf> = Default::default();
    let mut stage: Vec<PlannedRun> = plan.runs.clone();
    // Each round runs what can run; a round that finishes tuning makes final runs plannable.
    for _round in 0..4 {
        let fresh: Vec<PlannedRun> = stage
            .into_iter()
            .filter(|r| {
                r.config
                    .run_dir(&opts.results)
                    .map(|d| !attempted.contains(&d))
                    .unwrap_or(true)
            })
            .collect();
        if fresh.is_empty() {
            break;
        }
        for r in &fresh {
            attempted.insert(r.config.run_dir(&opts.results)?);
        }
        let end = if opts.jobs > 1 {
            run_workers(plan, &fresh, transfer_classes.clone(), opts)?
        } else {
            let here = RunHere {
                datasets: &plan.datasets,
                transfer_classes: transfer_classes.as_deref(),
                results: &opts.results,
                device: &device,
                deadline: opts.deadline,
                claims: None,
                quiet: false,
                task_logs: Vec::new(),
            };
            run_here(&here, &fresh, ctx)?
        };
        if end != ExecEnd::Complete {
            return Ok(end);
        }
        stage = plan.resolve(&opts.results)?.runs;
    }
    Ok(ExecEnd::Complete)
}

/// The instant a wall-clock deadline falls at (now when it has passed; none when it lies past
/// what the monotonic clock holds, which `--time-budget`'s one-year cap never reaches).
fn deadline_instant(deadline: Option<std::time::SystemTime>) -> Option<Instant> {
    deadline.and_then(|d| {
        let left = d
            .duration_since(std::time::SystemTime::now())
            .unwrap_or_default();
        Instant::now().checked_add(left)
    })
}

fn run_workers(
    plan: &RunPlan,
    runs: &[PlannedRun],
    transfer_classes: Option<Vec<Expression>>,
    opts: &ExecOptions,
) -> Result<ExecEnd> {
    let claims = plan
        .output_dir(&opts.results)
        .join(format!(".claims-{}", std::process::id()));
    std::fs::create_dir_all(&claims).with_context(|| format!("creating {}", claims.display()))?;
    let exe = std::env::current_exe().context("finding this program to start workers")?;
    println!(
        "{} runs in {} worker processes (claims in {})",
        plan.runs.len(),
        opts.jobs,
        claims.display()
    );
    let worker_plan = WorkerPlan {
        runs: runs.to_vec(),
        datasets: plan.datasets.clone(),
        transfer_classes,
        results: opts.results.clone(),
        device: opts.device.clone(),
        deadline_unix: opts.deadline.map(|d| {
            d.duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0)
        }),
        claims: claims.clone(),
    };
    let plan_file = claims.join(WORKER_PLAN_FILE);
    fer_runs::write_atomic(&plan_file, serde_json::to_string(&worker_plan)?.as_bytes())?;
    // The cores are shared out between the workers (measured at 48 px on 2 cores: two
    // one-thread workers train CMCNN 1.5x and HPS 1.2x faster than one two-thread process),
    // unless the user set rayon's thread count. The count is recorded in every run's
    // provenance: the kernels' sums are split by thread.
    let threads = std::env::var("RAYON_NUM_THREADS").ok().unwrap_or_else(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (cores / opts.jobs).max(1).to_string()
    });
    println!("each worker computes with {threads} threads (RAYON_NUM_THREADS)");
    let mut children = Vec::new();
    for w in 0..opts.jobs {
        let mut cmd = Command::new(&exe);
        cmd.arg(WORKER_COMMAND)
            .arg("--plan")
            .arg(&plan_file)
            .env("FER_WORKER_NAME", format!("w{}", w + 1))
            .env("RAYON_NUM_THREADS", &threads);
        children.push(
            cmd.spawn()
                .with_context(|| format!("starting worker {}", w + 1))?,
        );
    }
    let mut failed = Vec::new();
    for (w, mut child) in children.into_iter().enumerate() {
        let status = child.wait().context("waiting for a worker")?;
        if !status.success() {
            failed.push(format!("worker {} ({status})", w + 1));
        }
    }
    // Claims only coordinate one invocation; a rerun starts with none.
    let _ = std::fs::remove_dir_all(&claims);
    if !failed.is_empty() {
        bail!(
            "{} failed; finished runs are kept and running the same command again resumes the rest",
            failed.join(", ")
        );
    }
    // Under a budget, workers that left runs of this round unstarted (or stopped one) ran out
    // of time. Only this round's runs count: final runs that the round's tuning made
    // plannable are the next round's, not a sign that time ran out.
    let mut unfinished = false;
    if opts.deadline.is_some() {
        for r in runs {
            if !run_dir_of(&opts.results, &r.config)?
                .join(fer_train::DONE_MARKER)
                .is_file()
            {
                unfinished = true;
                break;
            }
        }
    }
    Ok(if unfinished {
        ExecEnd::OutOfTime
    } else {
        ExecEnd::Complete
    })
}

/// Claims the run with this id: true if this process got it.
fn claim(claims: &Path, run_id: &str) -> bool {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(claims.join(format!("{run_id}.claim")))
        .is_ok()
}

fn worker_name() -> String {
    std::env::var("FER_WORKER_NAME").unwrap_or_default()
}

/// The whole job of a worker process: reads the plan file the parent wrote and trains the
/// runs it can claim.
pub fn run_worker(plan_file: &Path, ctx: &ExperimentContext) -> Result<()> {
    let text = std::fs::read_to_string(plan_file)
        .with_context(|| format!("reading {}", plan_file.display()))?;
    let plan: WorkerPlan =
        serde_json::from_str(&text).with_context(|| format!("parsing {}", plan_file.display()))?;
    let device = parse_device(&plan.device)?;
    let here = RunHere {
        datasets: &plan.datasets,
        transfer_classes: plan.transfer_classes.as_deref(),
        results: &plan.results,
        device: &device,
        deadline: match plan.deadline_unix {
            Some(secs) => Some(
                std::time::UNIX_EPOCH
                    .checked_add(std::time::Duration::from_secs(secs))
                    .with_context(|| {
                        format!(
                            "{}: deadline_unix {secs} is past what the clock holds",
                            plan_file.display()
                        )
                    })?,
            ),
            None => None,
        },
        claims: Some(&plan.claims),
        quiet: true,
        task_logs: Vec::new(),
    };
    run_here(&here, &plan.runs, ctx)?;
    Ok(())
}

/// Decodes one planned dataset at its planned size.
fn load_dataset(d: &PlannedDataset, tag: &str) -> Result<FaceDataset> {
    let started = Instant::now();
    let loaded = FaceDataset::load(&d.manifest, d.root.as_deref(), d.size as u32, None)
        .with_context(|| format!("loading {}", d.manifest.name))?;
    println!(
        "{tag}{}: {} images at {} px ({:.0} s)",
        d.manifest.name,
        loaded.len(),
        d.size,
        started.elapsed().as_secs_f64()
    );
    crate::dataset_loading::report_skipped(&loaded);
    Ok(loaded)
}

/// What `run_here` trains with: the plan's datasets and where runs go.
pub(crate) struct RunHere<'a> {
    pub datasets: &'a [PlannedDataset],
    pub transfer_classes: Option<&'a [Expression]>,
    pub results: &'a Path,
    pub device: &'a Device,
    pub deadline: Option<std::time::SystemTime>,
    /// Set in a worker process: the folder where runs are claimed.
    pub claims: Option<&'a Path>,
    /// No progress bars (a worker process or a Slurm task writes to a log).
    pub quiet: bool,
    /// The logs of this process, named in failure records (a Slurm task's).
    pub task_logs: Vec<PathBuf>,
}

/// Trains `runs` in this process: finished runs are skipped, a run another process holds
/// (its [`RunLock`]) is left to it, and a failed run leaves a [`RunFailure`] while the others
/// go on.
pub(crate) fn run_here(
    here: &RunHere<'_>,
    runs: &[PlannedRun],
    ctx: &ExperimentContext,
) -> Result<ExecEnd> {
    let results = here.results;
    let mut data: HashMap<usize, FaceDataset> = HashMap::new();
    let mut splits: HashMap<(usize, u64), Vec<Split>> = HashMap::new();
    let mut transfers: HashMap<(usize, usize, u64), (FaceDataset, Split)> = HashMap::new();
    let in_worker = here.quiet;
    let tag = match worker_name() {
        name if !name.is_empty() => format!("[{name}] "),
        _ => String::new(),
    };
    let total = runs.len();
    // A plan or task file written by hand may name a dataset the plan does not list.
    for (i, run) in runs.iter().enumerate() {
        for idx in std::iter::once(run.dataset).chain(run.transfer_target) {
            if idx >= here.datasets.len() {
                bail!(
                    "run {} names dataset {idx}, but the plan lists {} dataset(s)",
                    i + 1,
                    here.datasets.len()
                );
            }
        }
    }
    let mut failures = Vec::new();
    let deadline = deadline_instant(here.deadline);
    let measure =
        || crate::campaign_estimate::measured_timings(results, runs.iter().map(|r| &r.config));
    let mut timings = measure()?;
    let mut skipped_for_time = 0usize;
    for (i, run) in runs.iter().enumerate() {
        let cfg = &run.config;
        if let Some(c) = here.claims {
            let dir = run_dir_of(results, cfg)?;
            let id = dir
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            if !claim(c, &id) {
                continue;
            }
        }
        let d = &here.datasets[run.dataset];
        // `[3/12] ckplus48 hps fold-0 seed 1`, the start of every line about this run.
        let head = format!(
            "{tag}[{}/{total}] {} {} {} seed {}",
            i + 1,
            cfg.dataset,
            cfg.method_id(),
            cfg.split,
            cfg.seed
        );
        // A finished run needs neither its data nor a model: skip it before loading anything
        // (when its record is whole and its own; otherwise the trainer names the problem and
        // trains it again).
        let dir = run_dir_of(results, cfg)?;
        if dir.join(fer_train::DONE_MARKER).is_file()
            && fer_train::check_finished_record(&dir, cfg, &cfg.to_yaml()?).is_ok()
        {
            println!("{head}: finished before");
            continue;
        }
        // Under a time budget a run is started only when what is left of it, as measured on
        // runs of its kind, fits before the deadline: a run cut off by the end of a session
        // whose files do not outlive it would waste the time. A method with no epoch of its
        // own yet is timed by its model's other methods; runs nothing times start while any
        // time is left.
        if let Some(deadline) = deadline {
            let now = Instant::now();
            if now >= deadline {
                println!("{tag}time budget spent");
                return finish(failures, total, ExecEnd::OutOfTime);
            }
            let needed = expected_seconds_left(&timings, cfg, &run_dir_of(results, cfg)?);
            // Checked: an estimate past what a Duration or the clock holds does not fit.
            let fits = std::time::Duration::try_from_secs_f64(needed)
                .ok()
                .and_then(|d| now.checked_add(d))
                .is_some_and(|end| end <= deadline);
            if !fits {
                println!(
                    "{head}: not started, it needs about {} and {} of the budget is left",
                    crate::campaign_estimate::human_duration(needed),
                    crate::campaign_estimate::human_duration((deadline - now).as_secs_f64())
                );
                skipped_for_time += 1;
                continue;
            }
        }
        // Never a run that another process trains (a second invocation, a Slurm task).
        let Some(_lock) = RunLock::try_acquire(&dir)? else {
            println!("{head}: another process is training it; left to it");
            continue;
        };
        for idx in std::iter::once(run.dataset).chain(run.transfer_target) {
            if let std::collections::hash_map::Entry::Vacant(e) = data.entry(idx) {
                e.insert(load_dataset(&here.datasets[idx], &tag)?);
            }
        }
        let Some(dataset) = data.get(&run.dataset) else {
            continue;
        };
        let (dataset, split): (&FaceDataset, &Split) = match run.transfer_target {
            Some(t) => {
                // Table 9: the source's train/validation, the whole target as test.
                let key = (run.dataset, t, cfg.seed);
                if let std::collections::hash_map::Entry::Vacant(e) = transfers.entry(key) {
                    let Some(target) = data.get(&t) else { continue };
                    let classes = here
                        .transfer_classes
                        .context("a transfer run needs the experiment's shared classes")?;
                    e.insert(fer_data::transfer_dataset(
                        dataset,
                        &d.manifest.protocol,
                        target,
                        classes,
                        cfg.seed,
                    )?);
                }
                let Some((joined, split)) = transfers.get(&key) else {
                    continue;
                };
                (joined, split)
            }
            None => {
                let key = (run.dataset, cfg.seed);
                if let std::collections::hash_map::Entry::Vacant(e) = splits.entry(key) {
                    e.insert(d.manifest.protocol.splits(
                        &dataset.subjects(),
                        &dataset.split_hints(),
                        cfg.seed,
                    )?);
                }
                let Some(split) = splits.get(&key).and_then(|s| s.get(run.split_index)) else {
                    bail!(
                        "the protocol of {} has no split {}",
                        d.manifest.name,
                        run.split_index
                    );
                };
                (dataset, split)
            }
        };
        let what = format!(
            "{} {} {} seed {}{}",
            cfg.dataset,
            cfg.method_id(),
            split.name,
            cfg.seed,
            cfg.grid_point
                .as_deref()
                .map(|g| format!(" [{g}]"))
                .unwrap_or_default()
        );
        println!("{tag}[{}/{total}] {what}", i + 1);
        let started = Instant::now();
        let outcome = train_run(
            cfg,
            dataset,
            split,
            &ctx.registry,
            here.device,
            results,
            TrainOptions {
                show_progress: !in_worker,
                stop_after_epochs: None,
                deadline,
                code_version: ctx.code_version,
                stop_requested: Some(crate::slurm::stop_signal::warning_received),
            },
        );
        // The epochs just measured improve the estimates for the runs still to start.
        timings = measure()?;
        match outcome {
            Ok(out) => {
                RunFailure::clear(&dir);
                let t = &out.metrics.test;
                let score = match (t.acc_average, t.nrmse) {
                    (Some(a), Some(n)) => {
                        format!("ACC_average {:.2} %, NRMSE {:.2} %", a * 100.0, n * 100.0)
                    }
                    (Some(a), None) => format!("ACC_average {:.2} %", a * 100.0),
                    (None, Some(n)) => format!("NRMSE {:.2} %", n * 100.0),
                    (None, None) => String::new(),
                };
                println!(
                    "{tag}[{}/{total}] {what}: {}{score} ({:.0} s)",
                    i + 1,
                    if out.skipped { "finished before, " } else { "" },
                    started.elapsed().as_secs_f64()
                );
            }
            Err(fer_train::TrainError::Interrupted { epochs_done, .. })
                if crate::slurm::stop_signal::warning_received() =>
            {
                println!(
                    "{tag}[{}/{total}] {what}: stopped by the warning signal after epoch {epochs_done}; it resumes from there",
                    i + 1
                );
                return finish(failures, total, ExecEnd::Stopped);
            }
            Err(fer_train::TrainError::Interrupted { epochs_done, .. }) => {
                println!(
                    "{tag}[{}/{total}] {what}: time budget spent after epoch {epochs_done}; it resumes from there",
                    i + 1
                );
                return finish(failures, total, ExecEnd::OutOfTime);
            }
            Err(e) => {
                eprintln!("{tag}[{}/{total}] {what}: FAILED: {e}", i + 1);
                let record = RunFailure {
                    run_dir: dir.strip_prefix(results).unwrap_or(&dir).to_path_buf(),
                    run: what.clone(),
                    logs: here.task_logs.clone(),
                    error: e.to_string().lines().last().unwrap_or_default().to_string(),
                    failed_unix: crate::run_failure::unix_now(),
                };
                if let Err(w) = record.write(&dir) {
                    eprintln!("{tag}could not write the failure record: {w}");
                }
                failures.push(format!("{what}: {e}"));
            }
        }
    }
    let end = if skipped_for_time > 0 {
        ExecEnd::OutOfTime
    } else {
        ExecEnd::Complete
    };
    finish(failures, total, end)
}

/// Seconds a run still needs by the timings measured on runs of its kind (or of its model, see
/// [`crate::campaign_estimate::Timings::seconds_left`]) less the epochs its directory has done;
/// 0 when nothing times it, so that it starts.
fn expected_seconds_left(
    timings: &crate::campaign_estimate::Timings,
    cfg: &fer_train::TrainConfig,
    dir: &Path,
) -> f64 {
    let done = crate::campaign_estimate::history_seconds(dir).len();
    timings
        .seconds_left(cfg, done, 1.0)
        .map_or(0.0, |left| left.seconds)
}

/// The end of `run_here`: an error listing failed runs, or how it ended.
fn finish(failures: Vec<String>, total: usize, end: ExecEnd) -> Result<ExecEnd> {
    if !failures.is_empty() {
        bail!(
            "{} of {total} runs failed:\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
    Ok(end)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign_estimate::{model_timing_key, timing_key, MethodTiming, Timings};

    #[test]
    fn the_time_a_run_needs_comes_from_runs_of_its_kind() {
        let dir = std::env::temp_dir().join(format!("fer-exec-left-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let cfg = fer_train::TrainConfig::paper("e", "d", "hps", "fold-0", 1);
        let mut timings = Timings::default();
        // Nothing measured: the run may start.
        assert_eq!(expected_seconds_left(&timings, &cfg, &dir), 0.0);
        let hps = MethodTiming {
            epoch_seconds: 10.0,
            epochs_measured: 12,
            epochs_per_run: Some(6.0),
        };
        timings.by_method.insert(timing_key(&cfg), hps.clone());
        timings.by_model.insert(model_timing_key(&cfg), hps);
        assert_eq!(expected_seconds_left(&timings, &cfg, &dir), 60.0);
        // Two epochs done already.
        std::fs::write(dir.join("history.csv"), "h\n1,x,10\n2,x,10\n").unwrap();
        assert_eq!(expected_seconds_left(&timings, &cfg, &dir), 40.0);
        // A kind with epochs measured but no finished run: the other kinds' mean run length.
        let csn = fer_train::TrainConfig::paper("e", "d", "csn", "fold-0", 1);
        timings.by_method.insert(
            timing_key(&csn),
            MethodTiming {
                epoch_seconds: 20.0,
                epochs_measured: 3,
                epochs_per_run: None,
            },
        );
        assert_eq!(expected_seconds_left(&timings, &csn, &dir), 80.0);
        // A loss weighting of hps with no epoch of its own: timed by hps's fixed-λ runs, so it
        // is not started when it cannot finish (it used to start, and be cut off).
        let mut dwa = cfg.clone();
        dwa.method = Some("hps-dwa".into());
        assert_eq!(expected_seconds_left(&timings, &dwa, &dir), 40.0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[cfg(test)]
mod worker_plan_tests {
    use super::*;

    /// A worker trains exactly the configs its parent planned: the plan file gives back every
    /// config with the same run id (floats included).
    #[test]
    fn the_worker_plan_file_keeps_every_run_id() {
        let mut cfg = fer_train::TrainConfig::paper("e", "d", "cmcnn", "fold-3", 123);
        cfg.fld_loss_weight = 0.2;
        cfg.optimizer.lr = 0.1 / 3.0;
        cfg.grid_point = Some("fld_loss_weight=0.2".into());
        let plan = WorkerPlan {
            runs: vec![PlannedRun {
                dataset: 0,
                split_index: 3,
                transfer_target: None,
                config: cfg.clone(),
                role: crate::run_plan::RunRole::Final,
            }],
            datasets: vec![],
            transfer_classes: Some(vec![Expression::Happiness]),
            results: PathBuf::from("results"),
            device: "cpu".into(),
            deadline_unix: Some(1_800_000_000),
            claims: PathBuf::from("results/e/.claims-1"),
        };
        let text = serde_json::to_string(&plan).unwrap();
        let back: WorkerPlan = serde_json::from_str(&text).unwrap();
        assert_eq!(back.runs[0].config, cfg);
        assert_eq!(
            back.runs[0].config.run_dir(Path::new("r")).unwrap(),
            cfg.run_dir(Path::new("r")).unwrap()
        );
        assert_eq!(back.deadline_unix, plan.deadline_unix);
        assert_eq!(back.transfer_classes, plan.transfer_classes);
    }
}
