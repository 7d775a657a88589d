//! `xtask worker --plan <file>` (hidden): one worker process of `reproduce --jobs N`. It trains
//! the runs of the plan file its parent wrote (fer-experiments' `WorkerPlan`), claiming them
//! one by one, so every worker trains exactly the configs the parent planned.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

use crate::workspace;

/// A worker of `reproduce --jobs N` (started by the runner, not by users).
#[derive(Args)]
pub struct WorkerArgs {
    /// The plan file the parent wrote (`worker-plan.json` in its claims folder).
    #[arg(long)]
    plan: PathBuf,
}

pub fn run(args: WorkerArgs) -> Result<()> {
    fer_experiments::run_worker(&args.plan, &workspace::context())?;
    Ok(())
}
