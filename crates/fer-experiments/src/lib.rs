//! fer-experiments: the paper's tables, figures and ablations as data, and the machinery that
//! runs them (ARCHITECTURE.md "fer-experiments").
//!
//! An experiment is a YAML file (`experiments/<name>.yaml`, an [`ExperimentSpec`]). It becomes
//! a [`RunPlan`] (every training run, with every dataset checked first), the executor trains
//! the plan's runs (resumable, `--jobs` worker processes that read the parent's plan file, a
//! time budget), and the report turns the finished run records into tables, paired
//! comparisons, a reading and charts. Grid points are selected on validation only
//! ([`grid_selection`]). The program that runs experiments passes an [`ExperimentContext`]:
//! the workspace folders, the model registry (with its add-on crates) and the code version.

pub mod campaign_estimate;
pub mod dataset_loading;
pub mod device;
pub mod error;
pub mod experiment_context;
pub mod experiment_figures;
pub mod experiment_reading;
pub mod experiment_report;
pub mod experiment_spec;
pub mod grid_selection;
pub mod inference_timing;
pub mod litter;
pub mod reproduction;
pub mod run_executor;
pub mod run_failure;
pub mod run_lock;
pub mod run_plan;
pub mod slurm;
pub mod workspace;

pub use device::parse_device;
pub use error::{ExperimentError, Result};
pub use experiment_context::ExperimentContext;
pub use experiment_report::{write_report, PlanRecord, PLAN_FILE};
pub use experiment_spec::{known_experiments, ExperimentKind, ExperimentSpec, FigureKind};
pub use reproduction::{run_experiments, Executor, RunOptions};
pub use run_executor::{run_worker, WorkerPlan, WORKER_COMMAND};
pub use run_plan::{FoldSelection, PlanOptions, RunPlan};
pub use slurm::{print_status, run_planned_task, SlurmOptions};
pub use workspace::Workspace;
