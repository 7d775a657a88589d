//! The Slurm executor (ARCHITECTURE.md "fer-experiments", README "Running on a cluster"):
//! `reproduce`/`ablation --executor slurm` writes the plan once, one array task per unfinished
//! run, submits the arrays and a report job that waits for them, and returns. A task is
//! "run plan entry i" ([`run_planned_task`]): our runs resume from their last epoch and skip
//! finished work, so requeueing a task is enough to survive preemption and time limits.
//!
//! Layers, one file each: the user's resource options ([`SlurmOptions`]), the batch scripts
//! ([`batch_script`]), splitting arrays at the cluster's MaxArraySize ([`array_split`]), the
//! Slurm commands and their output ([`slurm_cli`]), the record of what was submitted
//! ([`SweepLedger`]), the warning signal ([`stop_signal`]), a task ([`planned_task`]), the
//! submission ([`sweep_submission`]) and `status` ([`sweep_status`]).

pub mod array_split;
pub mod batch_script;
pub mod planned_task;
pub mod slurm_cli;
pub mod slurm_options;
pub mod stop_signal;
pub mod sweep_ledger;
pub mod sweep_status;
pub mod sweep_submission;

pub use planned_task::run_planned_task;
pub use slurm_options::SlurmOptions;
pub use sweep_ledger::SweepLedger;
pub use sweep_status::{print_status, sweep_status};
pub use sweep_submission::submit_sweep;

/// The folder of an experiment's Slurm files: results/<experiment>/slurm/.
pub const SLURM_DIR: &str = "slurm";

/// The subcommand that runs one plan entry: `<program> run-planned --tasks F --index I`.
pub const RUN_PLANNED_COMMAND: &str = "run-planned";
