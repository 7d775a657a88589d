//! Evaluation of a model on one split: losses, the paper's metrics (4.4) and per-sample
//! predictions, in inference mode (batch norm uses its running statistics). Each batch is
//! decoded by `inference::decode_outputs`, as `cargo xtask predict` decodes it.

use fer_data::{BatchLoader, FaceDataset};
use fer_models::MultiTaskModel;

use crate::error::Result;
use crate::inference::decode_outputs;
use crate::losses::{cross_entropy, wing_loss, WingLossConfig};
use crate::metrics::{classification_metrics, nrmse, ClassificationMetrics};

/// One sample's prediction, as written to `predictions.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub id: String,
    pub true_label: usize,
    pub pred_label: Option<usize>,
    pub true_landmarks: Option<[[f32; 2]; 68]>,
    pub pred_landmarks: Option<[[f32; 2]; 68]>,
}

/// The metrics the paper reports, for one split; `None` for a task the model lacks (the
/// run record's type).
pub use fer_runs::MetricSet;

/// Everything an evaluation produces.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub fer: Option<ClassificationMetrics>,
    pub nrmse: Option<f64>,
    pub loss_fer: Option<f64>,
    pub loss_fld: Option<f64>,
    pub predictions: Vec<Prediction>,
}

impl Evaluation {
    pub fn metric_set(&self) -> MetricSet {
        MetricSet {
            acc_total: self.fer.as_ref().map(|m| m.acc_total),
            acc_average: self.fer.as_ref().map(|m| m.acc_average),
            f1_eq19: self.fer.as_ref().map(|m| m.f1_eq19),
            macro_f1: self.fer.as_ref().map(|m| m.macro_f1),
            nrmse: self.nrmse,
        }
    }
}

/// Runs the model over every batch of `loader` without augmentation.
pub fn evaluate(
    model: &dyn MultiTaskModel,
    loader: &BatchLoader<'_>,
    data: &FaceDataset,
    wing: &WingLossConfig,
) -> Result<Evaluation> {
    let tasks = model.tasks();
    let mut predictions = Vec::with_capacity(loader.len_samples());
    let (mut sum_fer, mut sum_fld, mut n_batches) = (0.0, 0.0, 0usize);
    for batch in loader.epoch(0) {
        let batch = batch?;
        let out = model.forward_t(&batch.images, false)?;
        let decoded = decode_outputs(&out, false)?;
        if let Some(logits) = &out.expression_logits {
            sum_fer += cross_entropy(logits, &batch.labels)?.to_scalar::<f32>()? as f64;
        }
        if let Some(lm) = &out.landmarks {
            sum_fld += wing_loss(lm, &batch.landmarks, Some(&batch.landmark_mask), wing)?
                .to_scalar::<f32>()? as f64;
        }
        n_batches += 1;
        for (k, &i) in batch.indices.iter().enumerate() {
            let s = &data.samples[i];
            predictions.push(Prediction {
                id: s.id.clone(),
                true_label: s.label,
                pred_label: decoded.pred_labels.as_ref().map(|p| p[k]),
                true_landmarks: s.landmarks.map(|l| l.points),
                pred_landmarks: decoded.landmarks.as_ref().map(|p| p[k]),
            });
        }
    }
    let fer = if tasks.has_fer() {
        let y_true: Vec<usize> = predictions.iter().map(|p| p.true_label).collect();
        let y_pred: Vec<usize> = predictions
            .iter()
            .map(|p| p.pred_label.unwrap_or(usize::MAX))
            .collect();
        Some(classification_metrics(
            &y_true,
            &y_pred,
            data.classes.len(),
        )?)
    } else {
        None
    };
    let nrmse_value = if tasks.has_fld() {
        let (p, t): (Vec<_>, Vec<_>) = predictions
            .iter()
            .filter_map(|q| Some((q.pred_landmarks?, q.true_landmarks?)))
            .unzip();
        if p.is_empty() {
            None
        } else {
            Some(nrmse(&p, &t)?)
        }
    } else {
        None
    };
    let n = n_batches.max(1) as f64;
    Ok(Evaluation {
        fer,
        nrmse: nrmse_value,
        loss_fer: tasks.has_fer().then_some(sum_fer / n),
        loss_fld: tasks.has_fld().then_some(sum_fld / n),
        predictions,
    })
}
