//! `cargo xtask status <experiment>`: where every planned run of an experiment stands
//! (fer-experiments' `slurm::sweep_status`), for Slurm sweeps and local runs alike.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

use crate::workspace;

/// Show, per dataset and method, the runs done, running, queued, failed and not submitted,
/// from the run records, the run locks and (for a Slurm sweep) `squeue`; then, for each failed
/// run, the tail of its log and the command that resubmits it.
#[derive(Args)]
pub struct StatusArgs {
    /// Experiment name (see experiments/) or a path to an experiment YAML.
    experiment: String,
    /// The tag given to `reproduce --tag` (`quick` for `--quick` runs).
    #[arg(long)]
    tag: Option<String>,
    /// Results folder (default: results/ of the workspace).
    #[arg(long)]
    results: Option<PathBuf>,
}

pub fn run(args: StatusArgs) -> Result<()> {
    let ctx = workspace::context();
    let (_, results, output) =
        workspace::experiment_output(&ctx, &args.experiment, args.tag.as_deref(), args.results)?;
    let out_dir = results.join(&output);
    if !out_dir.join(fer_experiments::PLAN_FILE).is_file() {
        anyhow::bail!(
            "{} has no plan.json: nothing of {output} was run or submitted yet (cargo xtask reproduce {} [--executor slurm])",
            out_dir.display(),
            args.experiment
        );
    }
    fer_experiments::print_status(&results, &out_dir)?;
    Ok(())
}
