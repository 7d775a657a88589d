//! `cargo xtask reproduce <experiment...|all>`: runs the experiments of `experiments/` (the
//! paper's Tables 3-13 and Figs. 2-4) and writes their reports.

use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;
use std::time::Instant;

use crate::device::parse_device;
use crate::experiment_report::{write_report, PlanRecord};
use crate::experiment_spec::{known_experiments, ExperimentKind, ExperimentSpec};
use crate::run_executor::{execute, ExecEnd, ExecOptions};
use crate::run_plan::{FoldSelection, PlanOptions, RunPlan};
use crate::workspace;

/// Train and test every method of one or more experiments (experiments/<name>.yaml: table3,
/// table4, ..., table13, fig2, fig3, fig4, or `all`) with the paper's protocol (4.4: five seeds,
/// subject-exclusive 10-fold cross-validation on CK+ and Oulu-CASIA, grids selected on
/// validation), then write results/<experiment>/summary.csv, table.md (the paper's numbers and
/// our difference beside every cell) and the charts. Every dataset is checked before any run
/// starts. Runs are identified by the hash of their settings: running the same command again
/// skips finished runs and resumes an interrupted one from its last finished epoch.
#[derive(Args, Clone)]
pub struct ReproduceArgs {
    /// Experiment names (see experiments/) or `all`.
    #[arg(required = true)]
    pub experiments: Vec<String>,
    #[command(flatten)]
    pub options: RunOptions,
}

/// Options shared by `reproduce` and `ablation`.
#[derive(Args, Clone, Default)]
pub struct RunOptions {
    /// Datasets to run (comma-separated): a dataset of the experiment (`ck+`), its manifest, a
    /// stand-in it lists (`ckplus48` runs the CK+ protocol on CK+48) or `<dataset>=<manifest>`.
    #[arg(long, value_delimiter = ',')]
    pub datasets: Vec<String>,
    /// Only these methods (comma-separated method ids of the experiment).
    #[arg(long, value_delimiter = ',')]
    pub methods: Vec<String>,
    /// Seeds (comma-separated); default: the paper's 1,12,123,1234,12345.
    #[arg(long, value_delimiter = ',')]
    pub seeds: Vec<u64>,
    /// Folds of a k-fold protocol: `N` (the first N), `0,3,7` or `2-5`.
    #[arg(long)]
    pub folds: Option<FoldSelection>,
    /// Upper bound on epochs per run (paper: 50 with early stopping after 8).
    #[arg(long)]
    pub max_epochs: Option<usize>,
    /// Input side in pixels (paper: 100; 48 trains 48x48 data without upsampling).
    #[arg(long)]
    pub size: Option<usize>,
    /// A quick look: the first seed, two folds, two epochs, 48 px, no grid search; results go
    /// to results/<experiment>-quick/ so they never mix with full runs.
    #[arg(long)]
    pub quick: bool,
    /// Use only the first value of every hyperparameter grid instead of searching it.
    #[arg(long)]
    pub no_grid: bool,
    /// Runs at the same time, as separate processes (each uses the cores it is given).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Results folder (default: results/ of the workspace).
    #[arg(long)]
    pub results: Option<PathBuf>,
    /// Root of the (single) dataset, replacing its manifest's root and environment variable.
    #[arg(long)]
    pub data_root: Option<PathBuf>,
    /// Write to results/<experiment>-<tag>/ instead of results/<experiment>/.
    #[arg(long)]
    pub tag: Option<String>,
    /// Settings preset of every run: `paper` (the default) or `reference-code` (thuiar/cmcnn's
    /// settings: lr x0.1 every 15 epochs, no early stopping, its CK+ batch sizes). Without
    /// `--tag`, a non-default preset writes to results/<experiment>-<preset>/.
    #[arg(long)]
    pub preset: Option<String>,
    /// List the planned runs and whether each has finished, then per method the runs done
    /// and remaining and an estimate of the time left from the epochs measured so far; train
    /// nothing, write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Stop cleanly between epochs once this much time is spent (`3h`, `2h30m`, `90m`,
    /// `45s`), print what remains and the command that continues. An interrupted run resumes
    /// from its last epoch.
    #[arg(long, value_parser = parse_duration)]
    pub time_budget: Option<std::time::Duration>,
    /// Set by the runner in its worker processes.
    #[arg(long, hide = true)]
    pub claims: Option<PathBuf>,
    /// Set by the runner in its worker processes: the time budget's end (Unix seconds).
    #[arg(long, hide = true)]
    pub deadline_unix: Option<u64>,
}

/// `3h`, `2h30m`, `90m`, `45s`, `1h5m30s` or plain seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration> {
    let t = text.trim();
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(std::time::Duration::from_secs(secs));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => bail!("duration '{text}': unknown unit '{c}' (use h, m and s, e.g. 2h30m)"),
        };
        let n: u64 = number
            .parse()
            .map_err(|_| anyhow::anyhow!("duration '{text}': a number must come before '{c}'"))?;
        total += n * unit;
        number.clear();
    }
    if !number.is_empty() {
        bail!("duration '{text}': '{number}' has no unit (h, m or s)");
    }
    if total == 0 {
        bail!("duration '{text}' is zero");
    }
    Ok(std::time::Duration::from_secs(total))
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
            grid: !self.no_grid,
            data_root: self.data_root.clone(),
            output_name: self
                .tag
                .as_ref()
                .or(self.preset.as_ref().filter(|p| *p != "paper"))
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

    /// The command line that makes a worker process run `experiment` with these options.
    pub fn worker_args(&self, experiment: &str) -> Vec<String> {
        let mut a = vec!["reproduce".to_string(), experiment.to_string()];
        let mut push = |flag: &str, v: String| {
            a.push(flag.to_string());
            a.push(v);
        };
        let join = |v: &[String]| v.join(",");
        if !self.datasets.is_empty() {
            push("--datasets", join(&self.datasets));
        }
        if !self.methods.is_empty() {
            push("--methods", join(&self.methods));
        }
        if !self.seeds.is_empty() {
            let s: Vec<String> = self.seeds.iter().map(|s| s.to_string()).collect();
            push("--seeds", join(&s));
        }
        if let Some(f) = &self.folds {
            push(
                "--folds",
                match f {
                    FoldSelection::First(n) => n.to_string(),
                    FoldSelection::Indices(ix) => ix
                        .iter()
                        .map(|i| i.to_string())
                        .collect::<Vec<_>>()
                        .join(","),
                },
            );
        }
        if let Some(e) = self.max_epochs {
            push("--max-epochs", e.to_string());
        }
        if let Some(s) = self.size {
            push("--size", s.to_string());
        }
        push("--device", self.device.clone());
        if let Some(r) = &self.results {
            push("--results", r.display().to_string());
        }
        if let Some(r) = &self.data_root {
            push("--data-root", r.display().to_string());
        }
        if let Some(t) = &self.tag {
            push("--tag", t.clone());
        }
        if let Some(p) = &self.preset {
            push("--preset", p.clone());
        }
        if self.quick {
            a.push("--quick".into());
        }
        if self.no_grid {
            a.push("--no-grid".into());
        }
        a
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
    use crate::campaign_estimate::{human_duration, measured_timings, timing_key};
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
    let all_finished: Vec<f64> = timings.values().filter_map(|t| t.epochs_per_run).collect();
    let fallback_epochs = (!all_finished.is_empty())
        .then(|| all_finished.iter().sum::<f64>() / all_finished.len() as f64);
    #[derive(Default)]
    struct Row {
        done: usize,
        left: usize,
        waiting: usize,
        seconds: f64,
        unknown: usize,
    }
    let mut rows: std::collections::BTreeMap<(String, String), Row> = Default::default();
    let estimate = |cfg: &fer_train::TrainConfig, epochs_done: usize, row: &mut Row| match timings
        .get(&timing_key(cfg))
    {
        Some(t) => {
            let per_run = t
                .epochs_per_run
                .or(fallback_epochs)
                .unwrap_or(cfg.max_epochs as f64)
                .min(cfg.max_epochs as f64);
            row.seconds += (per_run - epochs_done as f64).max(1.0) * t.epoch_seconds;
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
    for ((dataset, method), row) in &rows {
        total += row.seconds;
        unknown += row.unknown;
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
        } else {
            human_duration(row.seconds)
        };
        println!(
            "| {dataset} | {method} | {} | {} | {} | {time} |",
            row.done, row.left, row.waiting
        );
    }
    println!(
        "\nEstimated time left: {}{} (mean measured epoch time x mean epochs of finished runs, on this machine).",
        human_duration(total),
        if unknown > 0 {
            format!(", plus {unknown} runs of methods with no measured epoch")
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

/// Experiments `all` stands for: every table and figure (ablations repeat table rows; the
/// demo has its own command).
fn expand_all(names: &[String]) -> Vec<String> {
    if names.iter().any(|n| n == "all") {
        known_experiments()
            .into_iter()
            .filter(|n| n != "demo" && !n.starts_with("ablation"))
            .collect()
    } else {
        names.to_vec()
    }
}

pub fn run(args: ReproduceArgs) -> Result<()> {
    run_experiments(&expand_all(&args.experiments), &args.options)
}

/// Plans every experiment first (so a missing dataset stops everything before any run),
/// then runs and reports them one after another.
pub fn run_experiments(names: &[String], options: &RunOptions) -> Result<()> {
    let started = Instant::now();
    let device = parse_device(&options.device)?;
    let results = options
        .results
        .clone()
        .unwrap_or_else(workspace::results_dir);
    let mut plans = Vec::new();
    let mut problems = Vec::new();
    for name in names {
        let mut spec = ExperimentSpec::load(name)?;
        if let Some(p) = &options.preset {
            spec.preset = p.clone();
            spec.validate()?;
        }
        match RunPlan::new(&spec, &options.plan_options(&spec)) {
            Ok(plan) => plans.push((spec, plan)),
            Err(e) => problems.push(format!("{name}: {e:#}")),
        }
    }
    if !problems.is_empty() {
        bail!("nothing was run:\n{}", problems.join("\n\n"));
    }
    if options.dry_run {
        for (spec, plan) in &plans {
            print_plan(spec, plan, &results)?;
        }
        return Ok(());
    }
    let in_worker = options.claims.is_some();
    let deadline = match (options.deadline_unix, options.time_budget) {
        (Some(secs), _) => Some(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs)),
        (None, Some(budget)) => Some(std::time::SystemTime::now() + budget),
        (None, None) => None,
    };
    let mut out_of_time = false;
    for (spec, plan) in &plans {
        if out_of_time {
            break;
        }
        let out_dir = plan.output_dir(&results);
        if spec.kind == ExperimentKind::InferenceTime {
            if !in_worker {
                crate::inference_timing::run(spec, plan, &device, &out_dir)?;
            }
            continue;
        }
        if !in_worker {
            println!(
                "{}: {} runs ({} datasets) -> {}",
                spec.name,
                plan.runs.len(),
                plan.datasets.len(),
                out_dir.display()
            );
            PlanRecord::new(spec, plan, &results)?.write(&out_dir)?;
        }
        let exec = ExecOptions {
            results: results.clone(),
            device: device.clone(),
            jobs: options.jobs.max(1),
            claims: options.claims.clone(),
            deadline,
        };
        let end = execute(
            spec,
            plan,
            &exec,
            &options.worker_args(&spec.source.to_string_lossy()),
        )?;
        if !in_worker {
            // Selections made during this invocation add final runs to the record.
            PlanRecord::new(spec, plan, &results)?.write(&out_dir)?;
        }
        if end == ExecEnd::OutOfTime {
            out_of_time = true;
            if !in_worker {
                print_remaining(spec, plan, &results)?;
                println!(
                    "Time budget spent. Continue with:\n  {}",
                    options.continue_command()
                );
            }
        }
        if !in_worker {
            let written = write_report(spec, &results, &plan.output_name, &device)?;
            println!("{}: written", spec.name);
            for w in written {
                println!("  {}", w.display());
            }
        }
    }
    if !in_worker {
        println!("Finished in {:.0} s.", started.elapsed().as_secs_f64());
    }
    Ok(())
}
