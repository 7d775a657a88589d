//! `RunRecord`: one finished run as `metrics.json` holds it: what ran (experiment, dataset,
//! model, method, grid point, seed, split), the selected checkpoint's epoch, the test metrics
//! the paper's tables report (eqs. 17-22), the validation metrics it was selected by (paper
//! 4.4), the test confusion matrix, and where the numbers came from (code version, device,
//! threads). Fields for a task the model lacks (landmarks for BaseDCNN (FER), expressions for
//! BaseDCNN (FLD)) are null, which reads as `None`, so "no such task" never turns into 0.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The metrics of one split; fractions in [0, 1], NRMSE a fraction of the inter-ocular
/// distance (the paper prints all of them x100).
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
    /// Mean per-class F1 (what scikit-learn calls macro F1).
    #[serde(default)]
    pub macro_f1: Option<f64>,
    /// Eq. 22.
    #[serde(default)]
    pub nrmse: Option<f64>,
}

impl MetricSet {
    /// The score a checkpoint or a grid point is selected by on validation (higher is
    /// better): ACC_average for models with a FER head, -NRMSE for FLD-only models (paper
    /// 4.4 selects on validation; the metric is ours to name).
    pub fn selection_score(&self) -> Option<f64> {
        self.acc_average.or(self.nrmse.map(|n| -n))
    }

    /// Every metric with its key, in the order above.
    pub fn entries(&self) -> [(&'static str, Option<f64>); 5] {
        [
            ("acc_total", self.acc_total),
            ("acc_average", self.acc_average),
            ("f1_eq19", self.f1_eq19),
            ("macro_f1", self.macro_f1),
            ("nrmse", self.nrmse),
        ]
    }
}

/// Where a run's numbers came from. Kept beside the metrics, never in config.yaml, so it does
/// not change the run id. The thread count and the CPU's instruction-set level matter: the CPU
/// kernels split their sums by thread and order them by the level's kernels, and seeded runs
/// repeat bit for bit only on the same count and level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunProvenance {
    /// Git commit of the code that finished the run, `unknown` without a repository.
    pub commit: String,
    /// Whether that code had uncommitted changes.
    pub dirty: bool,
    /// `cpu` or `cuda:N`.
    pub device: String,
    /// Compute threads of the process.
    pub threads: usize,
    /// A CPU run's processor and the instruction-set level its kernels ran at, e.g.
    /// `AMD EPYC, x86-64-v3`. Absent for GPU runs and in records written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
}

impl RunProvenance {
    /// `abc123def456` or `abc123def456+dirty`: the short form tables print.
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
pub struct RunRecord {
    /// Experiment name (the YAML under `experiments/`).
    pub experiment: String,
    /// Dataset name as in its manifest.
    pub dataset: String,
    /// Model registry name, e.g. `base-dcnn-fer`, `cmcnn`.
    pub model: String,
    /// The experiment's method id (a table row) when it names a variant of the model, e.g.
    /// `cmcnn-beta-1.0-0.0`; absent in runs written before experiments named methods.
    #[serde(default)]
    pub method: Option<String>,
    /// The hyperparameter grid point of the run, when the experiment searched a grid.
    #[serde(default)]
    pub grid_point: Option<String>,
    /// The run's seed.
    pub seed: u64,
    /// Name of the split within the protocol (`fold-3`, `holdout`, `official`).
    #[serde(default)]
    pub split: String,
    /// Fold number of a k-fold split (`fold-3` -> 3); the trainer writes 0 for other splits.
    #[serde(default)]
    pub fold: Option<u32>,
    /// The run id (the hash of config.yaml, the run directory's name).
    pub run_id: String,
    /// 1-based epoch of the selected checkpoint (best validation score, paper 4.4).
    pub best_epoch: usize,
    /// Epochs run before early stopping.
    pub epochs_run: usize,
    /// Training time over all sessions of the run, in seconds.
    pub train_seconds: f64,
    /// Test-split metrics: what the paper's tables report.
    pub test: MetricSet,
    /// Validation-split metrics (used for selection, never reported as results).
    #[serde(default)]
    pub validation: Option<MetricSet>,
    /// Class names in confusion-matrix order; empty for FLD-only models.
    #[serde(default)]
    pub class_names: Vec<String>,
    /// Test confusion matrix (rows true, columns predicted); `None` for FLD-only models.
    #[serde(default)]
    pub confusion_matrix: Option<Vec<Vec<u64>>>,
    /// Code version, device and threads of the process that finished the run; absent in
    /// records written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<RunProvenance>,
    /// Where the record was read from; not part of the JSON. Kept so that later errors can
    /// name the file.
    #[serde(skip)]
    pub source: PathBuf,
}

/// What is wrong with a record's values: the field and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordProblem {
    pub field: String,
    pub message: String,
}

impl RunRecord {
    /// The row this run belongs to: the method id, or the model registry name.
    pub fn method_id(&self) -> &str {
        self.method.as_deref().unwrap_or(&self.model)
    }

    /// The validation score the run is selected by (higher is better): ACC_average, or
    /// -NRMSE for FLD-only models (the trainer's checkpoint rule, paper 4.4).
    pub fn validation_score(&self) -> Option<f64> {
        self.validation.as_ref()?.selection_score()
    }

    /// Checks what JSON types cannot: metric ranges (fractions, not percent; NRMSE finite and
    /// non-negative) and the confusion matrix's shape against `class_names`.
    pub fn check_values(&self) -> std::result::Result<(), RecordProblem> {
        let bad = |field: String, message: String| Err(RecordProblem { field, message });
        for (split, set) in [
            ("test", Some(&self.test)),
            ("validation", self.validation.as_ref()),
        ] {
            let Some(set) = set else { continue };
            for (key, value) in set.entries() {
                let Some(v) = value else { continue };
                let ok = if key == "nrmse" {
                    v.is_finite() && v >= 0.0
                } else {
                    (0.0..=1.0).contains(&v)
                };
                if !ok {
                    return bad(
                        format!("{split}.{key}"),
                        format!("value {v} is outside the valid range (fractions, not percent)"),
                    );
                }
            }
        }
        if let Some(cm) = &self.confusion_matrix {
            if cm.len() != self.class_names.len() {
                return bad(
                    "confusion_matrix".into(),
                    format!(
                        "{} rows but class_names has {} entries",
                        cm.len(),
                        self.class_names.len()
                    ),
                );
            }
            if let Some((i, row)) = cm.iter().enumerate().find(|(_, r)| r.len() != cm.len()) {
                return bad(
                    format!("confusion_matrix[{i}]"),
                    format!("row has {} entries, expected {}", row.len(), cm.len()),
                );
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A metrics.json as the trainer wrote it before this crate existed (fold a number, no
    /// provenance): it reads, and writes back byte for byte.
    const OLD: &str = r#"{
  "experiment": "table4",
  "dataset": "ckplus48",
  "model": "hps",
  "method": "hps",
  "grid_point": "fld_loss_weight=0.2",
  "seed": 1,
  "split": "fold-0",
  "fold": 0,
  "run_id": "60ed9957eb18",
  "best_epoch": 10,
  "epochs_run": 18,
  "train_seconds": 312.7,
  "test": {
    "acc_total": 0.9,
    "acc_average": 0.87,
    "f1_eq19": 0.9,
    "macro_f1": 0.88,
    "nrmse": 0.09
  },
  "validation": {
    "acc_total": 0.95,
    "acc_average": 0.9,
    "f1_eq19": 0.93,
    "macro_f1": 0.92,
    "nrmse": 0.08
  },
  "class_names": [
    "a",
    "b"
  ],
  "confusion_matrix": [
    [
      1,
      0
    ],
    [
      0,
      1
    ]
  ]
}"#;

    #[test]
    fn old_records_read_and_write_back_unchanged() {
        let r: RunRecord = serde_json::from_str(OLD).unwrap();
        assert_eq!(r.fold, Some(0));
        assert_eq!(r.method_id(), "hps");
        assert_eq!(r.validation_score(), Some(0.9));
        assert_eq!(serde_json::to_string_pretty(&r).unwrap(), OLD);
        assert!(r.check_values().is_ok());
    }

    #[test]
    fn percent_values_and_ragged_matrices_are_named() {
        let mut r: RunRecord = serde_json::from_str(OLD).unwrap();
        r.test.acc_total = Some(90.0);
        assert_eq!(r.check_values().unwrap_err().field, "test.acc_total");
        r.test.acc_total = Some(0.9);
        r.confusion_matrix = Some(vec![vec![1, 0], vec![1]]);
        assert_eq!(r.check_values().unwrap_err().field, "confusion_matrix[1]");
        // FLD-only runs are selected by -NRMSE.
        r.validation = Some(MetricSet {
            nrmse: Some(0.2),
            ..MetricSet::default()
        });
        assert_eq!(r.validation_score(), Some(-0.2));
    }
}
