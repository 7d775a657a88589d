//! `execute`: runs a [`RunPlan`], one run after another or in `--jobs N` worker processes.
//!
//! Every run is identified by the hash of its resolved config (fer-train's run id), so running
//! the same plan again skips finished runs and resumes an unfinished one from its last epoch
//! (model, optimiser and progress are committed after every epoch). Workers share the plan by
//! claiming runs through files created with `create_new`, which the filesystem makes atomic:
//! no run is trained twice and a fast worker simply takes more runs.

use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use candle_core::Device;
use fer_data::{FaceDataset, Split};
use fer_train::{train_run, TrainOptions};

use crate::experiment_spec::ExperimentSpec;
use crate::run_plan::RunPlan;

/// How to execute a plan.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    pub results: PathBuf,
    pub device: Device,
    /// Worker processes (1: run in this process with progress bars).
    pub jobs: usize,
    /// Set in a worker process: the folder where runs are claimed.
    pub claims: Option<PathBuf>,
}

/// The run directory a planned config will use (fer-train's layout and run id).
pub fn run_dir_of(results: &Path, cfg: &fer_train::TrainConfig) -> Result<PathBuf> {
    Ok(cfg.run_dir(results)?)
}

/// Runs every planned run not finished before. With `jobs > 1`, starts that many copies of
/// this command as workers (`worker_args` are the arguments that make a copy a worker) and
/// waits for them.
pub fn execute(
    spec: &ExperimentSpec,
    plan: &RunPlan,
    opts: &ExecOptions,
    worker_args: &[String],
) -> Result<()> {
    if opts.jobs > 1 && opts.claims.is_none() {
        return run_workers(plan, opts, worker_args);
    }
    run_here(spec, plan, opts)
}

fn run_workers(plan: &RunPlan, opts: &ExecOptions, worker_args: &[String]) -> Result<()> {
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
    let mut children = Vec::new();
    for w in 0..opts.jobs {
        let mut cmd = Command::new(&exe);
        cmd.args(worker_args)
            .arg("--claims")
            .arg(&claims)
            .env("FER_WORKER_NAME", format!("w{}", w + 1));
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
    Ok(())
}

/// Claims run `index`: true if this process got it.
fn claim(claims: &Path, index: usize) -> bool {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(claims.join(format!("{index}.claim")))
        .is_ok()
}

fn worker_name() -> String {
    std::env::var("FER_WORKER_NAME").unwrap_or_default()
}

/// Decodes one planned dataset at its planned size.
fn load_dataset(d: &crate::run_plan::PlannedDataset, tag: &str) -> Result<FaceDataset> {
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
    crate::commands::train::report_skipped(&loaded);
    Ok(loaded)
}

fn run_here(spec: &ExperimentSpec, plan: &RunPlan, opts: &ExecOptions) -> Result<()> {
    let registry = crate::model_catalog::model_registry();
    let mut data: HashMap<usize, FaceDataset> = HashMap::new();
    let mut splits: HashMap<(usize, u64), Vec<Split>> = HashMap::new();
    let mut transfers: HashMap<(usize, usize, u64), (FaceDataset, Split)> = HashMap::new();
    let in_worker = opts.claims.is_some();
    let tag = if in_worker {
        format!("[{}] ", worker_name())
    } else {
        String::new()
    };
    let total = plan.runs.len();
    let mut failures = Vec::new();
    for (i, run) in plan.runs.iter().enumerate() {
        if let Some(c) = &opts.claims {
            if !claim(c, i) {
                continue;
            }
        }
        let cfg = &run.config;
        let d = &plan.datasets[run.dataset];
        // A finished run needs neither its data nor a model: skip it before loading anything.
        if run_dir_of(&opts.results, cfg)?
            .join(fer_train::DONE_MARKER)
            .is_file()
        {
            println!(
                "{tag}[{}/{total}] {} {} {} seed {}: finished before",
                i + 1,
                cfg.dataset,
                cfg.method_id(),
                cfg.split,
                cfg.seed
            );
            continue;
        }
        for idx in std::iter::once(run.dataset).chain(run.transfer_target) {
            if let std::collections::hash_map::Entry::Vacant(e) = data.entry(idx) {
                e.insert(load_dataset(&plan.datasets[idx], &tag)?);
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
                    let classes = crate::run_plan::transfer_classes(spec)?;
                    e.insert(fer_data::transfer_dataset(
                        dataset,
                        &d.manifest.protocol,
                        target,
                        &classes,
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
        match train_run(
            cfg,
            dataset,
            split,
            &registry,
            &opts.device,
            &opts.results,
            TrainOptions {
                show_progress: !in_worker,
                stop_after_epochs: None,
            },
        ) {
            Ok(out) => {
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
            Err(e) => {
                eprintln!("{tag}[{}/{total}] {what}: FAILED: {e}", i + 1);
                failures.push(format!("{what}: {e}"));
            }
        }
    }
    if !failures.is_empty() {
        bail!(
            "{} of {total} runs failed:\n  {}",
            failures.len(),
            failures.join("\n  ")
        );
    }
    Ok(())
}
