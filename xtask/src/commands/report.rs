//! `cargo xtask report <experiment>`: rewrites an experiment's report from its finished runs.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

use fer_experiments::{parse_device, write_report};

use crate::workspace;

/// Rewrite results/<experiment>/summary.csv, runs.csv, grid.csv, table.md and the charts from
/// the runs the last `reproduce` of that experiment planned (results/<experiment>/plan.json),
/// without training anything. Unfinished runs are left out and the table says how many.
#[derive(Args)]
pub struct ReportArgs {
    /// Experiment name (see experiments/) or a path to an experiment YAML.
    experiment: String,
    /// The tag given to `reproduce --tag` (`quick` for `--quick` runs).
    #[arg(long)]
    tag: Option<String>,
    /// Results folder (default: results/ of the workspace).
    #[arg(long)]
    results: Option<PathBuf>,
    /// Device for figures that run a model (t-SNE, attention maps): cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
}

pub fn run(args: ReportArgs) -> Result<()> {
    let ctx = workspace::context();
    let (spec, results, output) =
        workspace::experiment_output(&ctx, &args.experiment, args.tag.as_deref(), args.results)?;
    let device = parse_device(&args.device)?;
    for w in write_report(&spec, &results, &output, &device, &ctx)? {
        println!("  {}", w.display());
    }
    Ok(())
}
