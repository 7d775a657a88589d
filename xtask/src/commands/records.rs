//! `cargo xtask records <experiment>`: the files of an experiment's finished run records, one
//! path a line, for committing them (`| xargs git add -f`): config.yaml, metrics.json,
//! history.csv, predictions.csv and DONE of every finished run its plan.json lists, and
//! steps.csv where a figure of the experiment needs the mixing weights (Fig. 3). Never weights,
//! optimiser state or resume progress. A run whose record is not whole, or whose config.yaml
//! does not hash to its folder's run id, is named on stderr and left out. Runs the plan shares
//! with another experiment (`same_runs_as`) are that experiment's records, and left out too.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

use fer_experiments::{ExperimentSpec, PlanRecord, PLAN_FILE};

use crate::workspace;

/// The size the committed records of one experiment are kept under.
const RECORDS_LIMIT_MB: f64 = 25.0;

/// Print the record files of an experiment's finished runs (for `| xargs git add -f`).
#[derive(Args)]
pub struct RecordsArgs {
    /// Experiment name (see experiments/) or a path to an experiment YAML.
    experiment: String,
    /// The tag given to `reproduce --tag`.
    #[arg(long)]
    tag: Option<String>,
    /// Results folder (default: results/ of the workspace).
    #[arg(long)]
    results: Option<PathBuf>,
}

pub fn run(args: RecordsArgs) -> anyhow::Result<()> {
    let (spec, results, output) = workspace::experiment_output(
        &workspace::context(),
        &args.experiment,
        args.tag.as_deref(),
        args.results,
    )?;
    let files = record_files(&spec, &results, &output)?;
    let mut bytes = 0u64;
    for path in &files {
        println!("{}", path.display());
        bytes += std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    }
    let mb = bytes as f64 / 1e6;
    eprintln!("{} files, {mb:.1} MB", files.len());
    if mb > RECORDS_LIMIT_MB {
        eprintln!(
            "warning: the records of {output} exceed {RECORDS_LIMIT_MB} MB, the size a committed experiment is kept under"
        );
    }
    Ok(())
}

/// The record files of the finished runs of `results/<output>/plan.json`.
pub fn record_files(
    spec: &ExperimentSpec,
    results: &std::path::Path,
    output: &str,
) -> Result<Vec<PathBuf>> {
    let out_dir = results.join(output);
    let plan = PlanRecord::read(&out_dir)?;
    let steps = spec.figures.iter().any(|f| f.reads_steps());
    let mut files = vec![out_dir.join(PLAN_FILE)];
    let mut seen = std::collections::BTreeSet::new();
    let mut shared = 0;
    for rel in &plan.run_dirs {
        if !seen.insert(rel.clone()) {
            continue;
        }
        // A run shared with another experiment (`same_runs_as`) is that experiment's record.
        if !plan.is_own(rel) {
            shared += 1;
            continue;
        }
        let dir = results.join(rel);
        if !dir.join(fer_train::DONE_MARKER).is_file() {
            continue;
        }
        if let Err(problem) = fer_train::check_record_files(&dir) {
            eprintln!("{}: {problem}; left out", dir.display());
            continue;
        }
        for name in fer_train::RECORD_FILES {
            files.push(dir.join(name));
        }
        if steps && dir.join("steps.csv").is_file() {
            files.push(dir.join("steps.csv"));
        }
    }
    if shared > 0 {
        eprintln!(
            "{shared} planned runs are other experiments' (same_runs_as): `cargo xtask records` of those experiments lists them"
        );
    }
    Ok(files)
}
