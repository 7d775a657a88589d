//! `cargo xtask reproduce <experiment...|all>`: runs the experiments of `experiments/` (the
//! paper's Tables 3-13 and Figs. 2-4) and writes their reports.

use anyhow::{bail, Result};
use clap::Args;
use std::path::PathBuf;

use fer_experiments::{known_experiments, FoldSelection, RunOptions};
use fer_models::ops::matmul_precision::Precision;

use crate::workspace;

/// Train and test every method of one or more experiments (experiments/<name>.yaml: table3,
/// table4, ..., table13, fig2, fig3, fig4, weighting, or `all`) with the paper's protocol (4.4:
/// five seeds, subject-exclusive 10-fold cross-validation on CK+ and Oulu-CASIA, grids selected
/// on validation), then write results/<experiment>/summary.csv, table.md (the paper's numbers
/// and our difference beside every cell) and the charts. Every dataset is checked before any run
/// starts. Runs are identified by the hash of their settings: running the same command again
/// skips finished runs and resumes an interrupted one from its last finished epoch.
#[derive(Args, Clone)]
pub struct ReproduceArgs {
    /// Experiment names (see experiments/) or `all`.
    #[arg(required = true)]
    pub experiments: Vec<String>,
    #[command(flatten)]
    pub options: RunArgs,
}

/// Options shared by `reproduce` and `ablation`.
#[derive(Args, Clone, Default)]
pub struct RunArgs {
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
    /// Input side in pixels (paper: 100; 48 trains 48x48 data without upsampling), 16-512.
    #[arg(long, value_parser = parse_size)]
    pub size: Option<usize>,
    /// Precision of the convolutions' and linear layers' multiplications: fp32 (the default,
    /// the paper's) or bf16 (fp32 accumulation, AVX-512 BF16 processors only; results go to
    /// results/<experiment>-bf16/ unless --tag is given).
    #[arg(long, value_parser = parse_precision)]
    pub precision: Option<Precision>,
    /// Train every method under this loss weighting instead of the experiment's: fixed,
    /// uncertainty, dwa, rlw, gradnorm, famo, pcgrad, cagrad or aligned-mtl (multi-task
    /// methods only; pick them with --methods). Results go to results/<experiment>-<method>/
    /// unless --tag is given.
    #[arg(long, value_parser = parse_weighting)]
    pub weighting: Option<fer_train::WeightingConfig>,
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
    /// Drop class folders whose names are no expression instead of refusing the dataset (as
    /// `ignore_unknown_classes: true` in the manifest).
    #[arg(long)]
    pub ignore_unknown_classes: bool,
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
    /// Where runs train: `local` (this machine, `--jobs` workers) or `slurm` (one array task
    /// per unfinished run, a report job after them; the command submits and returns). See
    /// README "Running on a cluster".
    #[arg(long, value_enum, default_value = "local")]
    pub executor: ExecutorArg,
    #[command(flatten)]
    pub slurm: SlurmArgs,
    /// Set by the report job of a Slurm sweep (writes the report, then submits the runs that
    /// became plannable and were never submitted).
    #[arg(long, hide = true)]
    pub followup: bool,
}

#[derive(Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ExecutorArg {
    #[default]
    Local,
    Slurm,
}

/// Slurm's resources for every task (`--executor slurm`).
#[derive(Args, Clone, Default)]
pub struct SlurmArgs {
    /// Slurm partition of the tasks and the report job.
    #[arg(long, help_heading = "Slurm (--executor slurm)")]
    pub partition: Option<String>,
    /// Time limit per task (HH:MM:SS); a task requeues itself before it and resumes.
    #[arg(long, help_heading = "Slurm (--executor slurm)")]
    pub time: Option<String>,
    /// CPUs per task; the task computes with that many threads.
    #[arg(long, help_heading = "Slurm (--executor slurm)")]
    pub cpus_per_task: Option<usize>,
    /// Memory per task (e.g. 8G).
    #[arg(long, help_heading = "Slurm (--executor slurm)")]
    pub mem: Option<String>,
    /// Generic resources per task (e.g. gpu:1, with --device cuda).
    #[arg(long, help_heading = "Slurm (--executor slurm)")]
    pub gres: Option<String>,
    /// At most this many tasks of the sweep run at once (--array=0-N%P).
    #[arg(long, help_heading = "Slurm (--executor slurm)")]
    pub array_parallelism: Option<usize>,
    /// Slurm account to charge.
    #[arg(long, help_heading = "Slurm (--executor slurm)")]
    pub account: Option<String>,
    /// A further sbatch option, e.g. --sbatch-arg=--qos=long (repeatable).
    #[arg(
        long,
        allow_hyphen_values = true,
        help_heading = "Slurm (--executor slurm)"
    )]
    pub sbatch_arg: Vec<String>,
    /// Seconds before the time limit at which Slurm warns a task (SIGUSR1): it finishes
    /// its epoch, commits it and requeues itself.
    #[arg(long, default_value_t = 300, help_heading = "Slurm (--executor slurm)")]
    pub signal_lead: u64,
}

impl SlurmArgs {
    fn options(&self) -> fer_experiments::SlurmOptions {
        fer_experiments::SlurmOptions {
            partition: self.partition.clone(),
            time: self.time.clone(),
            cpus_per_task: self.cpus_per_task,
            mem: self.mem.clone(),
            gres: self.gres.clone(),
            array_parallelism: self.array_parallelism,
            account: self.account.clone(),
            sbatch_args: self.sbatch_arg.clone(),
            signal_lead_seconds: self.signal_lead,
        }
    }
}

/// An input side in pixels, refused outside 16-512 before anything is allocated (a 2000 px
/// CK+ would need hundreds of GB).
/// `--precision`: a known name that this processor runs natively, or an error saying which.
/// `--weighting NAME`: a registered weighting method with its paper's settings.
pub fn parse_weighting(text: &str) -> Result<fer_train::WeightingConfig> {
    Ok(fer_train::weighting::resolved(
        &fer_train::WeightingConfig::named(text),
    )?)
}

pub fn parse_precision(text: &str) -> Result<Precision> {
    let precision = Precision::parse(text).map_err(|_| {
        anyhow::anyhow!(
            "unknown precision '{text}' (known: {})",
            Precision::NAMES.join(", ")
        )
    })?;
    if let Some(problem) = precision.support_problem() {
        bail!("{problem}");
    }
    Ok(precision)
}

pub fn parse_size(text: &str) -> Result<usize> {
    let size: usize = text
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("'{text}' is not a number of pixels"))?;
    if !(16..=512).contains(&size) {
        bail!("{size} px is outside 16-512 (the paper uses 100; CK+48 trains at 48)");
    }
    Ok(size)
}

/// `3h`, `2h30m`, `90m`, `45s`, `1h5m30s` or plain seconds.
pub fn parse_duration(text: &str) -> Result<std::time::Duration> {
    // A year: longer than any campaign, and short enough that a deadline never overflows.
    const MAX_SECONDS: u64 = 366 * 24 * 3600;
    let t = text.trim();
    let total = if let Ok(secs) = t.parse::<u64>() {
        secs
    } else {
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
            let n: u64 = number.parse().map_err(|_| {
                anyhow::anyhow!("duration '{text}': a number must come before '{c}'")
            })?;
            total = n
                .checked_mul(unit)
                .and_then(|s| total.checked_add(s))
                .unwrap_or(u64::MAX);
            number.clear();
        }
        if !number.is_empty() {
            bail!("duration '{text}': '{number}' has no unit (h, m or s)");
        }
        total
    };
    if total == 0 {
        bail!("duration '{text}' is zero");
    }
    if total > MAX_SECONDS {
        bail!("duration '{text}' is longer than a year (366 days)");
    }
    Ok(std::time::Duration::from_secs(total))
}

impl RunArgs {
    /// The options as fer-experiments takes them.
    pub fn options(&self) -> RunOptions {
        RunOptions {
            datasets: self.datasets.clone(),
            methods: self.methods.clone(),
            seeds: self.seeds.clone(),
            folds: self.folds.clone(),
            max_epochs: self.max_epochs,
            size: self.size,
            precision: self.precision,
            weighting: self.weighting.clone(),
            quick: self.quick,
            no_grid: self.no_grid,
            jobs: self.jobs,
            device: self.device.clone(),
            results: self.results.clone(),
            data_root: self.data_root.clone(),
            ignore_unknown_classes: self.ignore_unknown_classes,
            tag: self.tag.clone(),
            preset: self.preset.clone(),
            dry_run: self.dry_run,
            time_budget: self.time_budget,
            executor: match self.executor {
                ExecutorArg::Local => fer_experiments::Executor::Local,
                ExecutorArg::Slurm => fer_experiments::Executor::Slurm(self.slurm.options()),
            },
            followup: self.followup,
        }
    }
}

/// Experiments `all` stands for: every experiment file, `weighting` included, but the ablations
/// (they repeat table rows) and the demo (it has its own command).
fn expand_all(names: &[String]) -> Vec<String> {
    if names.iter().any(|n| n == "all") {
        known_experiments(&workspace::workspace())
            .into_iter()
            .filter(|n| n != "demo" && !n.starts_with("ablation"))
            .collect()
    } else {
        names.to_vec()
    }
}

pub fn run(args: ReproduceArgs) -> Result<()> {
    fer_experiments::run_experiments(
        &expand_all(&args.experiments),
        &args.options.options(),
        &workspace::context(),
    )?;
    Ok(())
}
