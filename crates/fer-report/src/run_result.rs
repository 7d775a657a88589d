//! `RunResult`: one finished training run as the trainer records it in `metrics.json`
//! (ARCHITECTURE.md "Data flow": trainer => run dir => report).
//!
//! One run = one (dataset, model, seed, fold) of the paper's protocol (Section 4.4: five seeds
//! 1, 12, 123, 1234, 12345; 10 subject-exclusive folds on CK+ and Oulu-CASIA). Fields for a
//! task the model lacks (landmarks for BaseDCNN (FER), expressions for BaseDCNN (FLD)) are null
//! or missing, which serde maps to `None`, so "model has no such task" never turns into 0.

use crate::report_error::{ReportError, Result};

/// One run's `metrics.json`: fer-runs' record, the type the trainer writes.
pub use fer_runs::{MetricSet, RunProvenance, RunRecord as RunResult};

/// Checks what JSON types cannot (metric ranges, the confusion matrix's shape); the error
/// names the run's file and the field.
pub fn validate_run(run: &RunResult) -> Result<()> {
    run.check_values().map_err(|p| ReportError::InvalidField {
        path: run.source.clone(),
        field: p.field,
        message: p.message,
    })
}
