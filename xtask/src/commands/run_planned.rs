//! `cargo xtask run-planned --tasks <file> --index <i>`: one task of a Slurm sweep runs entry
//! `i` of the tasks file its submission wrote (fer-experiments' `slurm::planned_task`).

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

use crate::workspace;

/// Run one planned run of a Slurm sweep: entry INDEX of the tasks file (the array scripts
/// under results/<experiment>/slurm/ call it with $SLURM_ARRAY_TASK_ID). Also useful by hand
/// to rerun one task outside Slurm.
#[derive(Args)]
pub struct RunPlannedArgs {
    /// A tasks file written by `reproduce --executor slurm` (results/<exp>/slurm/tasks-*.json).
    #[arg(long)]
    tasks: PathBuf,
    /// The entry to run (0-based; the array task id).
    #[arg(long, allow_hyphen_values = true)]
    index: String,
}

pub fn run(args: RunPlannedArgs) -> Result<()> {
    fer_experiments::run_planned_task(&args.tasks, &args.index, &workspace::context())?;
    Ok(())
}
