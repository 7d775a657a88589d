//! Reproducing experiments (ARCHITECTURE.md "fer-experiments"): every experiment is planned
//! first (so a missing dataset stops everything before any run), then run and reported one
//! after another. `cargo xtask reproduce` and `ablation` are this with options from the
//! command line; `demo` is the demo experiment.

use std::path::PathBuf;
use std::time::Instant;

use fer_models::ops::matmul_precision::Precision;

use crate::error::{bail, Context, Result};
use crate::experiment_context::ExperimentContext;
use crate::experiment_report::{write_report, PlanRecord};
use crate::experiment_spec::{ExperimentKind, ExperimentSpec};
use crate::run_executor::{execute, ExecEnd, ExecOptions};
use crate::run_plan::{FoldSelection, PlanOptions, RunPlan};
use crate::slurm::sweep_submission::{check_local_only_options, submit_sweep, SubmitRequest};
use crate::slurm::SlurmOptions;

/// The user's options of one invocation (`reproduce` and `ablation`).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Datasets to run: a dataset of the experiment (`ck+`), its manifest, a stand-in it lists
    /// (`ckplus48` runs the CK+ protocol on CK+48) or `<dataset>=<manifest>`.
    pub datasets: Vec<String>,
    /// Only these methods (method ids of the experiment; all when empty).
    pub methods: Vec<String>,
    /// Seeds; empty: the experiment's.
    pub seeds: Vec<u64>,
    pub folds: Option<FoldSelection>,
    /// Upper bound on epochs per run.
    pub max_epochs: Option<usize>,
    /// Input side in pixels.
    pub size: Option<usize>,
    /// Precision of every run's multiplications (None: the experiment's, fp32 by default).
    pub precision: Option<Precision>,
    /// Every run's loss weighting (`--weighting`), replacing the experiment's.
    pub weighting: Option<fer_train::WeightingConfig>,
    /// A quick look: the first seed, two folds, two epochs, 48 px, no grid search, results in
    /// results/<experiment>-quick/.
    pub quick: bool,
    /// Only the first value of every hyperparameter grid.
    pub no_grid: bool,
    /// Runs at the same time, as separate processes.
    pub jobs: usize,
    /// `cpu`, `cuda` or `cuda:N`.
    pub device: String,
    /// Results folder (None: the workspace's results/).
    pub results: Option<PathBuf>,
    /// Root of the (single) dataset.
    pub data_root: Option<PathBuf>,
    /// Drop class folders that name no expression instead of refusing the dataset.
    pub ignore_unknown_classes: bool,
    /// Write to results/<experiment>-<tag>/.
    pub tag: Option<String>,
    /// Settings preset of every run (`paper`, `reference-code`).
    pub preset: Option<String>,
    /// List the plan and the time left; train nothing, write nothing.
    pub dry_run: bool,
    /// Stop cleanly between epochs once this much time is spent.
    pub time_budget: Option<std::time::Duration>,
    /// Where runs train: here, or as Slurm array tasks.
    pub executor: Executor,
    /// Set in the report job of a Slurm sweep: write the report, then submit only the runs
    /// that became plannable and were never submitted.
    pub followup: bool,
}

/// Where the runs of an invocation train.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Executor {
    /// In this process, or `--jobs N` worker processes on this machine.
    #[default]
    Local,
    /// As Slurm array tasks, one per run; the command submits and returns.
    Slurm(SlurmOptions),
}

impl RunOptions {
    /// The plan options for one experiment, with `--quick` expanded.
    pub fn plan_options(&self, spec: &ExperimentSpec) -> PlanOptions {
        let mut o = PlanOptions {
            datasets: self.datasets.clone(),
            methods: self.methods.clone(),
            seeds: (!self.seeds.is_empty()).then(|| self.seeds.clone()),
            folds: self.folds.clone(),
            max_epochs: self.max_epochs,
            size: self.size,
            precision: self.precision,
            weighting: self.weighting.clone(),
            grid: !self.no_grid,
            data_root: self.data_root.clone(),
            ignore_unknown_classes: self.ignore_unknown_classes,
            // bf16 runs go to their own folder so that a table never mixes precisions.
            output_name: self
                .tag
                .as_deref()
                .or(self.preset.as_deref().filter(|p| *p != "paper"))
                .or(self.precision.filter(|p| !p.is_fp32()).map(Precision::name))
                .or(self.weighting.as_ref().map(|w| w.method.as_str()))
                .map(|t| format!("{}-{t}", spec.name)),
        };
        if self.quick {
            o.seeds = o.seeds.or_else(|| spec.seeds.first().map(|s| vec![*s]));
            o.folds = o.folds.or(Some(FoldSelection::First(2)));
            o.max_epochs = o.max_epochs.or(Some(2));
            o.size = o.size.or(Some(48));
            o.grid = false;
            o.output_name = o
                .output_name
                .or_else(|| Some(format!("{}-quick", spec.name)));
        }
        o
    }

    /// The command that continues this invocation, as a user types it.
    pub fn continue_command(&self) -> String {
        let args: Vec<String> = std::env::args().skip(1).collect();
        format!("cargo xtask {}", args.join(" "))
    }
}

/// The state of a run directory.
fn run_state(dir: &std::path::Path) -> &'static str {
    if dir.join(fer_train::DONE_MARKER).is_file() {
        "finished"
    } else if dir.join("progress.json").is_file() {
        "interrupted (resumes)"
    } else {
        "to run"
    }
}

/// `--dry-run`: one line per planned run with its directory and state, then per method the
/// runs done and left and the time left, estimated from the epochs measured so far.
fn print_plan(spec: &ExperimentSpec, plan: &RunPlan, results: &std::path::Path) -> Result<()> {
    use crate::campaign_estimate::{human_duration, measured_timings};
    let resolution = plan.resolve(results)?;
    let runs: Vec<&crate::run_plan::PlannedRun> = plan
        .runs
        .iter()
        .chain(
            resolution
                .runs
                .iter()
                .filter(|r| r.role == crate::run_plan::RunRole::Final),
        )
        .collect();
    let mut finished = 0;
    for (i, r) in runs.iter().enumerate() {
        let dir = crate::run_executor::run_dir_of(results, &r.config)?;
        let state = run_state(&dir);
        if state == "finished" {
            finished += 1;
        }
        println!(
            "[{}/{}] {} {} {} seed {}{}{}: {state} ({})",
            i + 1,
            runs.len(),
            r.config.dataset,
            r.config.method_id(),
            r.config.split,
            r.config.seed,
            r.config
                .grid_point
                .as_deref()
                .map(|g| format!(" [{g}]"))
                .unwrap_or_default(),
            if r.role == crate::run_plan::RunRole::Tuning {
                " (tuning)"
            } else {
                ""
            },
            dir.display()
        );
    }
    // Per (dataset, method): done, left, waiting for selection, and time left.
    let all_configs: Vec<&fer_train::TrainConfig> = runs
        .iter()
        .map(|r| &r.config)
        .chain(plan.pending.iter().flat_map(|p| p.candidates.iter()))
        .collect();
    let timings = measured_timings(results, all_configs.iter().copied())?;
    #[derive(Default)]
    struct Row {
        done: usize,
        left: usize,
        waiting: usize,
        seconds: f64,
        unknown: usize,
        /// Runs timed by other methods of their model (none of their own has an epoch yet).
        borrowed: usize,
    }
    let mut rows: std::collections::BTreeMap<(String, String), Row> = Default::default();
    let estimate = |cfg: &fer_train::TrainConfig, epochs_done: usize, row: &mut Row| match timings
        .seconds_left(cfg, epochs_done, cfg.max_epochs as f64)
    {
        Some(left) => {
            row.seconds += left.seconds;
            row.borrowed += usize::from(left.borrowed);
        }
        None => row.unknown += 1,
    };
    for r in &runs {
        let key = (r.config.dataset.clone(), r.config.method_id().to_string());
        let row = rows.entry(key).or_default();
        let dir = crate::run_executor::run_dir_of(results, &r.config)?;
        if run_state(&dir) == "finished" {
            row.done += 1;
        } else {
            row.left += 1;
            let done = crate::campaign_estimate::history_seconds(&dir).len();
            estimate(&r.config, done, row);
        }
    }
    let selected: std::collections::BTreeSet<(String, String)> = resolution
        .selected
        .iter()
        .map(|s| (s.dataset.clone(), s.method.clone()))
        .collect();
    for p in &plan.pending {
        let Some(first) = p.candidates.first() else {
            continue;
        };
        let key = (first.dataset.clone(), p.method.clone());
        if selected.contains(&key) {
            continue;
        }
        let row = rows.entry(key).or_default();
        row.waiting += 1;
        estimate(first, 0, row);
    }
    println!(
        "\n{}: {finished} of {} planned runs finished{}",
        spec.name,
        runs.len(),
        if resolution.pending_runs > 0 {
            format!(
                "; {} more wait for their method's grid selection",
                resolution.pending_runs
            )
        } else {
            String::new()
        }
    );
    for s in &resolution.selected {
        println!(
            "  selected on validation: {} {} {}",
            s.dataset, s.method, s.grid_point
        );
    }
    for w in &resolution.waiting {
        println!(
            "  tuning: {} {} {} of {} grid runs finished",
            w.dataset, w.method, w.tuning_finished, w.tuning_total
        );
    }
    println!("\n| dataset | method | done | to run | waiting for selection | time left (est.) |");
    println!("|---|---|--:|--:|--:|--:|");
    let mut total = 0.0;
    let mut unknown = 0;
    let mut borrowed = 0;
    for ((dataset, method), row) in &rows {
        total += row.seconds;
        unknown += row.unknown;
        borrowed += row.borrowed;
        let time = if row.left + row.waiting == 0 {
            "-".to_string()
        } else if row.unknown > 0 && row.seconds == 0.0 {
            "not measured yet".to_string()
        } else if row.unknown > 0 {
            format!(
                "{} + {} runs not measured yet",
                human_duration(row.seconds),
                row.unknown
            )
        } else if row.borrowed > 0 {
            format!(
                "{} (by the model's other runs)",
                human_duration(row.seconds)
            )
        } else {
            human_duration(row.seconds)
        };
        println!(
            "| {dataset} | {method} | {} | {} | {} | {time} |",
            row.done, row.left, row.waiting
        );
    }
    println!(
        "\nEstimated time left: {}{} (mean measured epoch time x mean epochs of finished runs, on this machine){}.",
        human_duration(total),
        if unknown > 0 {
            format!(", plus {unknown} runs of methods with no measured epoch")
        } else {
            String::new()
        },
        if borrowed > 0 {
            format!("; {borrowed} runs of methods not measured yet are timed by other runs of their model, which leaves out the extra backward pass of a gradient weighting (up to 1.7x per step: results/bench/weighting-cpu.csv)")
        } else {
            String::new()
        }
    );
    Ok(())
}

/// What a stopped invocation leaves: finished, interrupted and unstarted runs.
fn print_remaining(spec: &ExperimentSpec, plan: &RunPlan, results: &std::path::Path) -> Result<()> {
    let resolution = plan.resolve(results)?;
    let (mut done, mut interrupted, mut to_run) = (0, 0, 0);
    for r in plan.runs.iter().chain(
        resolution
            .runs
            .iter()
            .filter(|r| r.role == crate::run_plan::RunRole::Final),
    ) {
        match run_state(&crate::run_executor::run_dir_of(results, &r.config)?) {
            "finished" => done += 1,
            "to run" => to_run += 1,
            _ => interrupted += 1,
        }
    }
    println!(
        "{}: {done} runs finished, {interrupted} interrupted (they resume from their last epoch), {to_run} not started, {} waiting for a grid selection",
        spec.name, resolution.pending_runs
    );
    Ok(())
}

/// Writes plan.json; a plan of some methods only keeps the other methods' runs of the
/// previous plan, so the report still covers them.
fn write_plan_record(
    spec: &ExperimentSpec,
    plan: &RunPlan,
    results: &std::path::Path,
    options: &RunOptions,
    out_dir: &std::path::Path,
) -> Result<()> {
    let record = PlanRecord::new(spec, plan, results)?;
    let record = if options.methods.is_empty() {
        record
    } else {
        record.merged_with_previous(out_dir)?
    };
    record.write(out_dir)
}

/// Plans every experiment first (so a missing dataset stops everything before any run),
/// then runs and reports them one after another.
pub fn run_experiments(
    names: &[String],
    options: &RunOptions,
    ctx: &ExperimentContext,
) -> Result<()> {
    let started = Instant::now();
    let device = crate::device::parse_device(&options.device)?;
    let results = options
        .results
        .clone()
        .unwrap_or_else(|| ctx.workspace.results_dir());
    let mut plans = Vec::new();
    let mut problems = Vec::new();
    for name in names {
        let mut spec = ExperimentSpec::load(&ctx.workspace, name)?;
        if let Some(p) = &options.preset {
            spec.preset = p.clone();
            spec.validate()?;
        }
        // An unknown model fails here, before any run of any experiment trains.
        if let Some(m) = spec
            .methods
            .iter()
            .find(|m| ctx.registry.get(m.model()).is_err())
        {
            problems.push(format!(
                "{}: method '{}' uses model '{}', which is not registered (known: {})",
                spec.source.display(),
                m.id,
                m.model(),
                ctx.registry.names().join(", ")
            ));
            continue;
        }
        match RunPlan::new(&spec, &options.plan_options(&spec), &ctx.workspace) {
            Ok(plan) => match weighting_problem(&plan, &ctx.registry) {
                Some(problem) => problems.push(format!("{name}: {problem}")),
                None => plans.push((spec, plan)),
            },
            Err(e) => problems.push(format!("{name}: {e:#}")),
        }
    }
    if !problems.is_empty() {
        // One experiment's problem on one line; several, one paragraph each.
        match problems.as_slice() {
            [one] => bail!("nothing was run: {one}"),
            _ => bail!("nothing was run:\n{}", problems.join("\n\n")),
        }
    }
    if options.dry_run {
        for (spec, plan) in &plans {
            print_plan(spec, plan, &results)?;
        }
        return Ok(());
    }
    if let Executor::Slurm(slurm) = &options.executor {
        check_local_only_options(options.jobs, options.time_budget.is_some())?;
        let args: Vec<String> = std::env::args().skip(1).collect();
        for (spec, plan) in &plans {
            if spec.kind == ExperimentKind::InferenceTime {
                bail!(
                    "{}: timing experiments measure this machine; run them with --executor local",
                    spec.name
                );
            }
            let out_dir = plan.output_dir(&results);
            std::fs::create_dir_all(&out_dir)?;
            write_plan_record(spec, plan, &results, options, &out_dir)?;
            if options.followup {
                let written = write_report(spec, &results, &plan.output_name, &device, ctx)?;
                println!("{}: report written ({} files)", spec.name, written.len());
            }
            submit_sweep(
                &SubmitRequest {
                    spec,
                    plan,
                    results: &results,
                    device: &options.device,
                    options: slurm,
                    followup: options.followup,
                    args: &args,
                },
                ctx,
            )?;
        }
        return Ok(());
    }
    let deadline = match options.time_budget {
        Some(budget) => Some(
            std::time::SystemTime::now()
                .checked_add(budget)
                .with_context(|| format!("--time-budget {budget:?} is too long"))?,
        ),
        None => None,
    };
    let mut out_of_time = false;
    for (spec, plan) in &plans {
        if out_of_time {
            break;
        }
        let out_dir = plan.output_dir(&results);
        if spec.kind == ExperimentKind::InferenceTime {
            crate::inference_timing::run(spec, plan, &device, &out_dir, &ctx.registry)?;
            continue;
        }
        for removed in crate::litter::clean_litter(&out_dir) {
            println!(
                "removed {} (left by a process that is gone)",
                removed.display()
            );
        }
        println!(
            "{}: {} runs ({} datasets) -> {}",
            spec.name,
            plan.runs.len(),
            plan.datasets.len(),
            out_dir.display()
        );
        write_plan_record(spec, plan, &results, options, &out_dir)?;
        let exec = ExecOptions {
            results: results.clone(),
            device: options.device.clone(),
            jobs: options.jobs.max(1),
            deadline,
        };
        let end = execute(spec, plan, &exec, ctx)?;
        // Selections made during this invocation add final runs to the record.
        write_plan_record(spec, plan, &results, options, &out_dir)?;
        if end == ExecEnd::OutOfTime {
            out_of_time = true;
            print_remaining(spec, plan, &results)?;
            println!(
                "Time budget spent. Continue with:\n  {}",
                options.continue_command()
            );
        }
        let written = write_report(spec, &results, &plan.output_name, &device, ctx)?;
        println!("{}: written", spec.name);
        for w in written {
            println!("  {}", w.display());
        }
    }
    println!("Finished in {:.0} s.", started.elapsed().as_secs_f64());
    Ok(())
}

/// A loss weighting other than `fixed` on a model that learns one task, found before any run
/// starts: the method and the model, and what to do.
fn weighting_problem(plan: &RunPlan, registry: &fer_models::ModelRegistry) -> Option<String> {
    let mut checked = std::collections::BTreeSet::new();
    let configs = plan
        .runs
        .iter()
        .map(|r| &r.config)
        .chain(plan.pending.iter().flat_map(|p| p.candidates.iter()));
    for cfg in configs {
        // `fixed` fits every model, so its runs (most of them) skip `tasks`, which builds the
        // model on zeros; a model is checked once, since the answer depends on it alone.
        if cfg.weighting.is_fixed() || !checked.insert(cfg.model.clone()) {
            continue;
        }
        match registry.tasks(&cfg.model, &cfg.model_config) {
            Ok(tasks) => {
                if let Err(e) =
                    fer_train::weighting::check_model_tasks(&cfg.weighting, &cfg.model, tasks)
                {
                    return Some(format!("method '{}': {e}", cfg.method_id()));
                }
            }
            Err(e) => return Some(format!("model '{}': {e}", cfg.model)),
        }
    }
    None
}
