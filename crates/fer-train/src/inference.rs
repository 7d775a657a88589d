//! Inference with a trained model: what one evaluation batch's outputs say about each face
//! (the predicted class, the class probabilities, the 68 points). `evaluate` (test-split
//! metrics during training) and `predict_dataset` (`cargo xtask predict`) both decode a
//! batch here, so a face gets the same prediction on either path.

use candle_core::{DType, Device, Tensor};

use fer_data::{BatchLoader, FaceDataset, LoaderConfig};
use fer_models::{MultiTaskModel, TaskOutputs};

use crate::error::Result;

/// What the model says about the faces of one batch, in batch order; `None` for a task the
/// model lacks.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodedBatch {
    /// argmax of the logits (the paper's prediction, 4.4).
    pub pred_labels: Option<Vec<usize>>,
    /// Softmax of the logits, one row per face (only when asked for).
    pub probabilities: Option<Vec<Vec<f32>>>,
    /// The FLD head's points, in the input image's pixel coordinates.
    pub landmarks: Option<Vec<[[f32; 2]; 68]>>,
}

/// One face's prediction by `predict_dataset`.
#[derive(Debug, Clone, PartialEq)]
pub struct FacePrediction {
    /// The sample's id in the dataset.
    pub id: String,
    pub pred_label: Option<usize>,
    pub probabilities: Option<Vec<f32>>,
    pub landmarks: Option<[[f32; 2]; 68]>,
}

/// (B, 68, 2) or (B, 136) points into one array per face (x then y of each point).
fn to_points(t: &Tensor) -> Result<Vec<[[f32; 2]; 68]>> {
    let flat: Vec<Vec<f32>> = t.to_dtype(DType::F32)?.flatten_from(1)?.to_vec2()?;
    Ok(flat
        .into_iter()
        .map(|row| {
            let mut p = [[0.0f32; 2]; 68];
            for (j, q) in p.iter_mut().enumerate() {
                *q = [row[2 * j], row[2 * j + 1]];
            }
            p
        })
        .collect())
}

/// Softmax of one row of logits, in f64 (then f32) so that a large logit does not overflow.
fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)) as f64;
    let exps: Vec<f64> = logits.iter().map(|&v| (v as f64 - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| (e / sum) as f32).collect()
}

/// Decodes a forward pass's outputs. The predicted class is the argmax of the logits (not of
/// the rounded probabilities), as evaluation has always taken it.
pub fn decode_outputs(out: &TaskOutputs, with_probabilities: bool) -> Result<DecodedBatch> {
    let (pred_labels, probabilities) = match &out.expression_logits {
        Some(logits) => {
            let labels: Vec<u32> = logits.argmax(1)?.to_vec1()?;
            let probs = if with_probabilities {
                let rows: Vec<Vec<f32>> = logits.to_dtype(DType::F32)?.to_vec2()?;
                Some(rows.iter().map(|r| softmax(r)).collect())
            } else {
                None
            };
            (
                Some(labels.into_iter().map(|l| l as usize).collect()),
                probs,
            )
        }
        None => (None, None),
    };
    let landmarks = out.landmarks.as_ref().map(to_points).transpose()?;
    Ok(DecodedBatch {
        pred_labels,
        probabilities,
        landmarks,
    })
}

/// Every face of `data` through the model in inference mode (batch norm on its running
/// statistics), `batch_size` at a time, through the same evaluation loader as a test split.
/// `progress(done, total)` is called after each batch.
pub fn predict_dataset(
    model: &dyn MultiTaskModel,
    data: &FaceDataset,
    batch_size: usize,
    device: &Device,
    progress: &dyn Fn(usize, usize),
) -> Result<Vec<FacePrediction>> {
    let indices: Vec<usize> = (0..data.samples.len()).collect();
    let loader = BatchLoader::new(data, indices, LoaderConfig::eval(batch_size), device)?;
    let total = loader.len_samples();
    let mut out = Vec::with_capacity(total);
    for batch in loader.epoch(0) {
        let batch = batch?;
        let decoded = decode_outputs(&model.forward_t(&batch.images, false)?, true)?;
        for (k, &i) in batch.indices.iter().enumerate() {
            out.push(FacePrediction {
                id: data.samples[i].id.clone(),
                pred_label: decoded.pred_labels.as_ref().map(|p| p[k]),
                probabilities: decoded.probabilities.as_ref().map(|p| p[k].clone()),
                landmarks: decoded.landmarks.as_ref().map(|p| p[k]),
            });
        }
        progress(out.len(), total);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_is_stable_and_sums_to_one() {
        // scipy.special.softmax([1000, 999, 0]) = [0.7310585786, 0.2689414214, 0.0]
        let p = softmax(&[1000.0, 999.0, 0.0]);
        assert!((p[0] - 0.731_058_6).abs() < 1e-6, "{p:?}");
        assert!((p[1] - 0.268_941_4).abs() < 1e-6, "{p:?}");
        assert_eq!(p[2], 0.0);
    }
}
