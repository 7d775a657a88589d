//! `RunResult`: one finished training run as the trainer records it in `metrics.json`
//! (ARCHITECTURE.md "Data flow": trainer => run dir => report).
//!
//! One run = one (dataset, model, seed, fold) of the paper's protocol (Section 4.4: five seeds
//! 1, 12, 123, 1234, 12345; 10 subject-exclusive folds on CK+ and Oulu-CASIA). Fields for a
//! task the model lacks (landmarks for BaseDCNN (FER), expressions for BaseDCNN (FLD)) are null
//! or missing, which serde maps to `None`, so "model has no such task" never turns into 0.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::report_error::{ReportError, Result};

/// The metrics of one split (test or validation). All fractions in [0, 1]; NRMSE is a fraction
/// of the inter-ocular distance (the paper prints it ×100).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MetricSet {
    /// Eq. 17.
    #[serde(default)]
    pub acc_total: Option<f64>,
    /// Eq. 18 (macro recall).
    #[serde(default)]
    pub acc_average: Option<f64>,
    /// Eq. 19.
    #[serde(default)]
    pub f1_eq19: Option<f64>,
    /// Mean per-class F1.
    #[serde(default)]
    pub macro_f1: Option<f64>,
    /// Eq. 22.
    #[serde(default)]
    pub nrmse: Option<f64>,
}

/// Where a run's numbers came from (fer-train writes it; the report lists the code versions
/// when the runs of one experiment differ).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunProvenance {
    /// Git commit of the code that finished the run.
    pub commit: String,
    /// Whether that code had uncommitted changes.
    pub dirty: bool,
    /// `cpu` or `cuda:N`.
    pub device: String,
    /// Compute threads of the process.
    pub threads: usize,
}

impl RunProvenance {
    /// `abc123def456` or `abc123def456+dirty`.
    pub fn short(&self) -> String {
        let short: String = self.commit.chars().take(12).collect();
        if self.dirty {
            format!("{short}+dirty")
        } else {
            short
        }
    }
}

/// One run's `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Experiment name (the YAML under `experiments/`).
    pub experiment: String,
    /// Dataset name as in its manifest.
    pub dataset: String,
    /// Model registry name, e.g. `base-dcnn-fer`, `cmcnn`.
    pub model: String,
    /// The experiment's method id (a table row), when it differs from or names the model, e.g.
    /// `cmcnn-beta-1.0-0.0`; absent in runs written before experiments named methods.
    #[serde(default)]
    pub method: Option<String>,
    /// The hyperparameter grid point of the run, when the experiment searched a grid.
    #[serde(default)]
    pub grid_point: Option<String>,
    /// The run's seed.
    pub seed: u64,
    /// Cross-validation fold; `None` for official train/test splits.
    #[serde(default)]
    pub fold: Option<u32>,
    /// The trainer's identifier of the run.
    pub run_id: String,
    /// Epoch whose validation score was best (the checkpoint tested; paper Section 4.4).
    pub best_epoch: u32,
    /// Epochs actually run before early stopping.
    pub epochs_run: u32,
    /// Wall-clock training time.
    pub train_seconds: f64,
    /// Test-split metrics: what the paper's tables report.
    pub test: MetricSet,
    /// Validation-split metrics (used for model selection, never for reporting).
    #[serde(default)]
    pub validation: Option<MetricSet>,
    /// Class names in confusion-matrix order; empty for FLD-only models.
    #[serde(default)]
    pub class_names: Vec<String>,
    /// Test confusion matrix, rows = true class, columns = predicted; `None` for FLD-only models.
    #[serde(default)]
    pub confusion_matrix: Option<Vec<Vec<u64>>>,
    /// Code version, device and threads of the process that trained the run; absent in runs
    /// recorded before provenance was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<RunProvenance>,
    /// Where this result was read from; set by `collect_runs`, not part of the JSON. Kept so
    /// later errors (duplicates, inconsistent metrics) can name the file.
    #[serde(skip)]
    pub source: PathBuf,
}

impl RunResult {
    /// The row this run belongs to: the method id, or the model registry name.
    pub fn method_id(&self) -> &str {
        self.method.as_deref().unwrap_or(&self.model)
    }

    /// Checks what JSON types cannot: metric ranges and the confusion matrix's shape against
    /// `class_names`. Errors name `self.source` and the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |field: String, message: String| ReportError::InvalidField {
            path: self.source.clone(),
            field,
            message,
        };
        for (split, set) in [
            ("test", Some(&self.test)),
            ("validation", self.validation.as_ref()),
        ] {
            let Some(set) = set else { continue };
            for metric in crate::metric::Metric::ALL {
                let Some(v) = metric.get(set) else { continue };
                // Accuracies and F1 are fractions; a value like 61.0 means the trainer wrote
                // percent, which would make every table off by 100x.
                let ok = match metric {
                    crate::metric::Metric::Nrmse => v.is_finite() && v >= 0.0,
                    _ => (0.0..=1.0).contains(&v),
                };
                if !ok {
                    return Err(bad(
                        format!("{split}.{}", metric.key()),
                        format!("value {v} is outside the valid range (fractions, not percent)"),
                    ));
                }
            }
        }
        if let Some(cm) = &self.confusion_matrix {
            if cm.len() != self.class_names.len() {
                return Err(bad(
                    "confusion_matrix".into(),
                    format!(
                        "{} rows but class_names has {} entries",
                        cm.len(),
                        self.class_names.len()
                    ),
                ));
            }
            if let Some((i, row)) = cm.iter().enumerate().find(|(_, r)| r.len() != cm.len()) {
                return Err(bad(
                    format!("confusion_matrix[{i}]"),
                    format!("row has {} entries, expected {}", row.len(), cm.len()),
                ));
            }
        }
        Ok(())
    }
}
