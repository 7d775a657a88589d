//! Shared fixtures for fer-report's integration tests: a self-deleting temporary folder and a
//! `metrics.json` builder following the trainer's schema.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use fer_report::{MetricSet, RunResult};
use serde_json::{json, Value};

/// A fresh folder under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "fer-report-{tag}-{}-{n}-{nanos}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        Self(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn class_names() -> Vec<String> {
    [
        "neutral",
        "happiness",
        "sadness",
        "surprise",
        "fear",
        "disgust",
        "anger",
    ]
    .map(String::from)
    .to_vec()
}

/// A metrics.json value; `fer` and `fld` say which tasks the model has.
pub fn metrics_json(
    dataset: &str,
    model: &str,
    seed: u64,
    acc_total: f64,
    fer: bool,
    fld: bool,
) -> Value {
    let m = |v: f64| if fer { json!(v) } else { Value::Null };
    let nrmse = if fld {
        json!(0.05 + seed as f64 * 1e-4)
    } else {
        Value::Null
    };
    let cm: Value = if fer {
        json!((0..7)
            .map(|i| (0..7)
                .map(|j| if i == j { 8 } else { 1 })
                .collect::<Vec<u64>>())
            .collect::<Vec<_>>())
    } else {
        Value::Null
    };
    json!({
        "experiment": "demo", "dataset": dataset, "model": model, "seed": seed, "fold": 0,
        "run_id": format!("{dataset}-{model}-{seed}"),
        "best_epoch": 7, "epochs_run": 12, "train_seconds": 123.4,
        "test": { "acc_total": m(acc_total), "acc_average": m(acc_total - 0.03),
                  "f1_eq19": m(acc_total - 0.02), "macro_f1": m(acc_total - 0.04), "nrmse": nrmse },
        "validation": { "acc_total": m(acc_total + 0.02), "acc_average": m(acc_total),
                        "f1_eq19": m(acc_total), "macro_f1": m(acc_total), "nrmse": nrmse },
        "class_names": if fer { json!(class_names()) } else { json!([]) },
        "confusion_matrix": cm
    })
}

/// Writes `value` as `<dir>/metrics.json` (and `DONE` when `done`).
pub fn write_run(dir: &Path, value: &Value, done: bool) {
    std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    let text = serde_json::to_string_pretty(value).unwrap_or_else(|e| panic!("serialise: {e}"));
    std::fs::write(dir.join("metrics.json"), text).unwrap_or_else(|e| panic!("write: {e}"));
    if done {
        std::fs::write(dir.join("DONE"), "").unwrap_or_else(|e| panic!("write DONE: {e}"));
    }
}

/// An in-memory run (no files).
pub fn run(dataset: &str, model: &str, seed: u64, test: MetricSet) -> RunResult {
    RunResult {
        experiment: "demo".into(),
        dataset: dataset.into(),
        model: model.into(),
        method: None,
        grid_point: None,
        seed,
        split: String::new(),
        fold: Some(0),
        run_id: format!("{dataset}-{model}-{seed}"),
        best_epoch: 1,
        epochs_run: 2,
        train_seconds: 1.0,
        test,
        validation: None,
        class_names: Vec::new(),
        confusion_matrix: None,
        provenance: None,
        source: PathBuf::from(format!("runs/{dataset}/{model}/{seed}/metrics.json")),
    }
}

/// Metric set with the FER metrics derived from `acc` and no NRMSE: ACC_total = acc,
/// ACC_average = acc - 0.01, F1 (eq. 19) = acc - 0.02, macro-F1 = acc - 0.03, so that a
/// summary, CSV or table that swaps two metric columns fails (the shift leaves each std as
/// ACC_total's).
pub fn fer_metrics(acc: f64) -> MetricSet {
    MetricSet {
        acc_total: Some(acc),
        acc_average: Some(acc - 0.01),
        f1_eq19: Some(acc - 0.02),
        macro_f1: Some(acc - 0.03),
        nrmse: None,
    }
}

/// Metric set of an FLD-only model.
pub fn fld_metrics(nrmse: f64) -> MetricSet {
    MetricSet {
        nrmse: Some(nrmse),
        ..MetricSet::default()
    }
}

/// The display names tables and charts print: the model registry's, as in the workspace.
#[allow(dead_code)]
pub fn method_names() -> fer_report::MethodNames {
    fer_report::MethodNames::new(fer_models::ModelRegistry::with_paper_models().display_names())
}
