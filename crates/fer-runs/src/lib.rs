//! fer-runs: the run record, the one type that crosses from training to reporting
//! (ARCHITECTURE.md "Run record"). The trainer (fer-train) writes a finished run's
//! `metrics.json` as a [`RunRecord`] and the report (fer-report) reads it back as the same
//! type; both name the run's files through [`run_files`] and write them with the same
//! [`write_atomic`].

mod error;
pub mod fault_injection;
mod run_files;
mod run_record;
mod safe_name;

pub use error::{Result, RunsError};
pub use run_files::{run_id, write_atomic, CONFIG_FILE, DONE_FILE, METRICS_FILE};
pub use run_record::{MetricSet, RecordProblem, RunProvenance, RunRecord};
pub use safe_name::{is_safe_name, SAFE_NAME_RULE};
