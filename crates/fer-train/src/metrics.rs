//! Evaluation metrics of paper 4.4: ACC_total (eq. 17), ACC_average = macro recall (eq. 18),
//! F1 as the paper's eq. 19 (harmonic mean of macro precision and macro recall), macro-F1 (the
//! mean of per-class F1, what scikit-learn's `f1_score(average='macro')` and the reference code
//! compute; named apart because the two differ), the confusion matrix, and NRMSE (eq. 22).
//!
//! Classes averaged over: those that occur in the true or the predicted labels (scikit-learn's
//! default `labels`), with 0 for an undefined precision or recall (`zero_division=0`). A class
//! that occurs nowhere in a test fold does not count, so small folds are not penalised for it.

use serde::{Deserialize, Serialize};

use crate::error::{Result, TrainError};

/// FER metrics of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassificationMetrics {
    /// Eq. 17: fraction of correct predictions.
    pub acc_total: f64,
    /// Eq. 18: macro recall, the paper's primary indicator.
    pub acc_average: f64,
    /// Eq. 20: macro precision.
    pub precision_macro: f64,
    /// Eq. 19: 2 P R / (P + R) of macro precision and macro recall.
    pub f1_eq19: f64,
    /// Mean of per-class F1 (scikit-learn's macro F1).
    pub macro_f1: f64,
    /// Rows = true class, columns = predicted class, over all `num_classes`.
    pub confusion_matrix: Vec<Vec<u64>>,
}

/// Computes the FER metrics from label indices in `0..num_classes`.
pub fn classification_metrics(
    y_true: &[usize],
    y_pred: &[usize],
    num_classes: usize,
) -> Result<ClassificationMetrics> {
    if y_true.len() != y_pred.len() {
        return Err(TrainError::Metric(format!(
            "{} true labels but {} predictions",
            y_true.len(),
            y_pred.len()
        )));
    }
    if y_true.is_empty() {
        return Err(TrainError::Metric("no samples to score".into()));
    }
    let mut cm = vec![vec![0u64; num_classes]; num_classes];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        if t >= num_classes || p >= num_classes {
            return Err(TrainError::Metric(format!(
                "label {} outside 0..{num_classes}",
                t.max(p)
            )));
        }
        cm[t][p] += 1;
    }
    let correct: u64 = (0..num_classes).map(|c| cm[c][c]).sum();
    let n = y_true.len() as f64;
    let (mut sum_p, mut sum_r, mut sum_f1, mut used) = (0.0, 0.0, 0.0, 0usize);
    for c in 0..num_classes {
        let tp = cm[c][c] as f64;
        let support: u64 = cm[c].iter().sum();
        let predicted: u64 = cm.iter().map(|row| row[c]).sum();
        if support == 0 && predicted == 0 {
            continue;
        }
        let precision = if predicted == 0 {
            0.0
        } else {
            tp / predicted as f64
        };
        let recall = if support == 0 {
            0.0
        } else {
            tp / support as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        sum_p += precision;
        sum_r += recall;
        sum_f1 += f1;
        used += 1;
    }
    let k = used as f64;
    let (p, r) = (sum_p / k, sum_r / k);
    Ok(ClassificationMetrics {
        acc_total: correct as f64 / n,
        acc_average: r,
        precision_macro: p,
        f1_eq19: if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        },
        macro_f1: sum_f1 / k,
        confusion_matrix: cm,
    })
}

/// Eq. 22: mean over samples of (mean point-to-point error / inter-ocular distance), the
/// distance between the true eye centres (means of points 36-41 and 42-47).
///
/// `pred` and `truth` hold one `[[x, y]; 68]` per sample.
pub fn nrmse(pred: &[[[f32; 2]; 68]], truth: &[[[f32; 2]; 68]]) -> Result<f64> {
    if pred.len() != truth.len() || pred.is_empty() {
        return Err(TrainError::Metric(format!(
            "NRMSE needs as many predictions as truths and at least one ({} vs {})",
            pred.len(),
            truth.len()
        )));
    }
    let mut total = 0.0f64;
    for (i, (p, t)) in pred.iter().zip(truth).enumerate() {
        let centre = |r: std::ops::Range<usize>| {
            let n = r.len() as f64;
            let (sx, sy) = t[r].iter().fold((0.0f64, 0.0f64), |(sx, sy), q| {
                (sx + q[0] as f64, sy + q[1] as f64)
            });
            (sx / n, sy / n)
        };
        let (l, r) = (centre(36..42), centre(42..48));
        let d = ((l.0 - r.0).powi(2) + (l.1 - r.1).powi(2)).sqrt();
        if d <= 0.0 || !d.is_finite() {
            return Err(TrainError::Metric(format!(
                "sample {i}: the true eye centres coincide, NRMSE is undefined"
            )));
        }
        let err: f64 = p
            .iter()
            .zip(t.iter())
            .map(|(a, b)| {
                let dx = a[0] as f64 - b[0] as f64;
                let dy = a[1] as f64 - b[1] as f64;
                (dx * dx + dy * dy).sqrt()
            })
            .sum::<f64>()
            / 68.0;
        total += err / d;
    }
    Ok(total / pred.len() as f64)
}

// Expected values are pasted exactly as PyTorch / scikit-learn printed them.
#[cfg(test)]
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;

    // scikit-learn 1.9.1:
    // from sklearn.metrics import *
    // y_true = [0,0,0,0,1,1,1,2,2,2,2,2,3,3,4,4,4,4,5,6,6,6,0,1,2,3,5,5,6,4]
    // y_pred = [0,1,0,0,1,2,1,2,2,0,2,3,3,3,4,4,1,4,5,6,0,6,0,1,2,2,5,6,6,3]
    // L = list(range(7))
    // accuracy_score(y_true, y_pred)                                   -> 0.7
    // R = recall_score(..., labels=L, average='macro', zero_division=0)    -> 0.7000000000000001
    // P = precision_score(..., labels=L, average='macro', zero_division=0) -> 0.7404761904761905
    // f1_score(..., labels=L, average='macro', zero_division=0)        -> 0.7045763760049474
    // 2*P*R/(P+R)                                                      -> 0.7196694214876034
    // confusion_matrix(y_true, y_pred, labels=L).tolist() -> [[4,1,0,0,0,0,0],[0,3,1,0,0,0,0],
    //   [1,0,4,1,0,0,0],[0,0,1,2,0,0,0],[0,1,0,1,3,0,0],[0,0,0,0,0,2,1],[1,0,0,0,0,0,3]]
    #[test]
    fn matches_scikit_learn_on_seven_classes() {
        let y_true = [
            0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 4, 4, 4, 4, 5, 6, 6, 6, 0, 1, 2, 3, 5, 5, 6,
            4,
        ];
        let y_pred = [
            0, 1, 0, 0, 1, 2, 1, 2, 2, 0, 2, 3, 3, 3, 4, 4, 1, 4, 5, 6, 0, 6, 0, 1, 2, 2, 5, 6, 6,
            3,
        ];
        let m = classification_metrics(&y_true, &y_pred, 7).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(m.acc_total, 0.7));
        assert!(close(m.acc_average, 0.7000000000000001));
        assert!(close(m.precision_macro, 0.7404761904761905));
        assert!(close(m.macro_f1, 0.7045763760049474));
        assert!(close(m.f1_eq19, 0.7196694214876034));
        assert_eq!(
            m.confusion_matrix,
            vec![
                vec![4, 1, 0, 0, 0, 0, 0],
                vec![0, 3, 1, 0, 0, 0, 0],
                vec![1, 0, 4, 1, 0, 0, 0],
                vec![0, 0, 1, 2, 0, 0, 0],
                vec![0, 1, 0, 1, 3, 0, 0],
                vec![0, 0, 0, 0, 0, 2, 1],
                vec![1, 0, 0, 0, 0, 0, 3],
            ]
        );
    }

    // Absent classes, scikit-learn's default labels (sorted union of y_true and y_pred):
    // y_true = [0,0,1,1,1,2,2]; y_pred = [0,3,1,1,0,2,3]
    // recall_score(y_true, y_pred, average='macro', zero_division=0)    -> 0.41666666666666663
    // precision_score(y_true, y_pred, average='macro', zero_division=0) -> 0.625
    // f1_score(y_true, y_pred, average='macro', zero_division=0)        -> 0.4916666666666667
    // 2*P*R/(P+R) -> 0.5 ; accuracy_score -> 0.5714285714285714
    // confusion_matrix(y_true, y_pred, labels=range(5)).tolist()  (scikit-learn 1.9.1)
    //   -> [[1,0,0,1,0],[1,2,0,0,0],[0,0,1,1,0],[0,0,0,0,0],[0,0,0,0,0]]
    #[test]
    fn absent_classes_follow_scikit_learn_default_labels() {
        let m = classification_metrics(&[0, 0, 1, 1, 1, 2, 2], &[0, 3, 1, 1, 0, 2, 3], 5).unwrap();
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(m.acc_total, 0.5714285714285714));
        assert!(close(m.acc_average, 0.41666666666666663));
        assert!(close(m.precision_macro, 0.625));
        assert!(close(m.macro_f1, 0.4916666666666667));
        assert!(close(m.f1_eq19, 0.5));
        // Rows are true classes, columns predictions: class 3 is only predicted, 4 never seen.
        assert_eq!(
            m.confusion_matrix,
            vec![
                vec![1, 0, 0, 1, 0],
                vec![1, 2, 0, 0, 0],
                vec![0, 0, 1, 1, 0],
                vec![0, 0, 0, 0, 0],
                vec![0, 0, 0, 0, 0],
            ]
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(classification_metrics(&[0, 1], &[0], 2).is_err());
        assert!(classification_metrics(&[0, 5], &[0, 1], 2).is_err());
        assert!(classification_metrics(&[], &[], 2).is_err());
    }

    // numpy 2.4.6; the last line writes tests/fixtures/nrmse_case.json (it regenerates the
    // committed file byte for byte):
    // rng = np.random.default_rng(7)
    // true = rng.uniform(10, 90, size=(3, 68, 2)); pred = true + rng.normal(0, 2.0, size=(3, 68, 2))
    // err = np.linalg.norm(pred - true, axis=2).mean(axis=1)
    // iod = np.linalg.norm(true[:, 36:42].mean(axis=1) - true[:, 42:48].mean(axis=1), axis=1)
    // (err / iod).mean() -> 0.22578729157862965 (float64); 0.22578727 after casting to float32
    // open("nrmse_case.json", "w").write(json.dumps({"shape": [3, 68, 2],
    //     "true": true.ravel().tolist(), "pred": pred.ravel().tolist(),
    //     "nrmse": float((err / iod).mean()), "per_sample": (err / iod).tolist()}))
    #[test]
    fn nrmse_matches_numpy() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/nrmse_case.json")).unwrap();
        let to_samples = |key: &str| -> Vec<[[f32; 2]; 68]> {
            let flat: Vec<f32> = v[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            flat.chunks(136)
                .map(|c| {
                    let mut s = [[0.0f32; 2]; 68];
                    for (j, p) in s.iter_mut().enumerate() {
                        *p = [c[2 * j], c[2 * j + 1]];
                    }
                    s
                })
                .collect()
        };
        let got = nrmse(&to_samples("pred"), &to_samples("true")).unwrap();
        assert!((got - 0.22578727).abs() < 2e-7, "{got}");
    }

    #[test]
    fn nrmse_closed_form() {
        // Eyes 20 px apart, every point off by (3, 4): error 5 px -> NRMSE 0.25.
        let mut t = [[0.0f32; 2]; 68];
        for (i, p) in t.iter_mut().enumerate() {
            *p = [i as f32, 50.0];
        }
        for p in t[36..42].iter_mut() {
            *p = [30.0, 40.0];
        }
        for p in t[42..48].iter_mut() {
            *p = [50.0, 40.0];
        }
        let mut p = t;
        for q in p.iter_mut() {
            q[0] += 3.0;
            q[1] += 4.0;
        }
        let v = nrmse(&[p, t], &[t, t]).unwrap();
        assert!((v - 0.125).abs() < 1e-9, "{v}");
        assert!(nrmse(&[p], &[]).is_err());
    }
}
