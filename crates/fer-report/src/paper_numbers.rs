//! `PaperNumbers`: published results to print beside ours (ARCHITECTURE.md "fer-report": "with the
//! paper's numbers beside ours and the difference").
//!
//! Values are stored in percent exactly as printed in the paper (NRMSE included, which the
//! paper also prints ×100). `yu_xu_2021_tables_3_4` transcribes Tables 3 and 4 of Yu & Xu
//! 2021; the keys must match the dataset names of the manifests and the model registry names.

use std::collections::HashMap;

use crate::metric::Metric;

/// Map (dataset, model, metric) -> value in %.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PaperNumbers {
    values: HashMap<(String, String, Metric), f64>,
}

impl PaperNumbers {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or replaces) one published value, in percent.
    pub fn insert(&mut self, dataset: &str, model: &str, metric: Metric, percent: f64) {
        self.values
            .insert((dataset.to_string(), model.to_string(), metric), percent);
    }

    /// The published value, in percent.
    pub fn get(&self, dataset: &str, model: &str, metric: Metric) -> Option<f64> {
        self.values
            .get(&(dataset.to_string(), model.to_string(), metric))
            .copied()
    }

    /// Number of stored values.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when no value is stored.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Tables 3 and 4 of the paper (ACC_total, ACC_average, F1 (eq. 19), NRMSE), keyed by
    /// datasets `raf-db`, `sfew2`, `ck+`, `oulu-casia` and models `base-dcnn-fer`,
    /// `base-dcnn-fld`, `hps`, `csn`, `ps-mcnn`, `cmcnn`. The paper's "-" cells (task absent)
    /// are simply not inserted.
    pub fn yu_xu_2021_tables_3_4() -> Self {
        // (model, [acc_total, acc_average, f1, nrmse]) per dataset; NaN marks the paper's "-".
        const N: f64 = f64::NAN;
        type Rows = [(&'static str, [f64; 4]); 6];
        let tables: [(&str, Rows); 4] = [
            (
                "raf-db",
                [
                    ("base-dcnn-fer", [82.73, 73.19, 74.83, N]),
                    ("base-dcnn-fld", [N, N, N, 3.73]),
                    ("hps", [83.02, 73.78, 75.21, 3.88]),
                    ("csn", [85.10, 75.49, 77.50, 4.07]),
                    ("ps-mcnn", [84.67, 76.31, 77.12, 3.81]),
                    ("cmcnn", [85.22, 77.03, 77.97, 3.71]),
                ],
            ),
            (
                "sfew2",
                [
                    ("base-dcnn-fer", [32.98, 30.81, 29.82, N]),
                    ("base-dcnn-fld", [N, N, N, 22.3]),
                    ("hps", [35.32, 32.74, 32.33, 40.36]),
                    ("csn", [34.03, 30.91, 30.34, 35.03]),
                    ("ps-mcnn", [35.32, 32.00, 30.92, 49.79]),
                    ("cmcnn", [37.95, 34.95, 34.39, 27.81]),
                ],
            ),
            (
                "ck+",
                [
                    ("base-dcnn-fer", [92.75, 94.10, 93.64, N]),
                    ("base-dcnn-fld", [N, N, N, 6.37]),
                    ("hps", [94.31, 93.05, 92.21, 29.35]),
                    ("csn", [95.59, 94.37, 93.74, 23.82]),
                    ("ps-mcnn", [96.16, 94.92, 94.42, 48.73]),
                    ("cmcnn", [96.71, 96.02, 95.48, 14.87]),
                ],
            ),
            (
                "oulu-casia",
                [
                    ("base-dcnn-fer", [83.46, 83.46, 83.46, N]),
                    ("base-dcnn-fld", [N, N, N, 3.32]),
                    ("hps", [80.74, 80.74, 80.64, 10.12]),
                    ("csn", [83.54, 83.54, 83.46, 9.61]),
                    ("ps-mcnn", [83.49, 83.49, 83.41, 8.19]),
                    ("cmcnn", [85.04, 85.04, 85.35, 4.64]),
                ],
            ),
        ];
        let metrics = [
            Metric::AccTotal,
            Metric::AccAverage,
            Metric::F1Eq19,
            Metric::Nrmse,
        ];
        let mut out = Self::new();
        for (dataset, rows) in tables {
            for (model, values) in rows {
                for (metric, v) in metrics.into_iter().zip(values) {
                    if !v.is_nan() {
                        out.insert(dataset, model, metric, v);
                    }
                }
            }
        }
        out
    }
}
