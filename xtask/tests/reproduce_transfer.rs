//! A transfer experiment (paper 5.3, Table 9) through `cargo xtask reproduce`: train on one
//! dataset, test on all of another over the shared classes, with the paper's number for the
//! pair beside ours.

use std::path::{Path, PathBuf};
use std::process::Command;

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("xtask-transfer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn synth_manifest(dir: &Path, name: &str, seed: u64) -> PathBuf {
    let path = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &path,
        format!("name: {name}\nformat:\n  kind: synthetic\nclasses: [neutral, happiness, sadness, surprise, fear, disgust, anger]\nimage_size: 32\nprotocol:\n  kind: subject_k_fold\n  folds: 3\nsynthetic:\n  num_subjects: 20\n  images_per_subject: 5\n  size: 32\n  seed: {seed}\n"),
    )
    .expect("manifest");
    path
}

#[test]
fn a_transfer_pair_trains_on_the_source_and_tests_on_the_whole_target() {
    let dir = temp("pair");
    let (a, b) = (
        synth_manifest(&dir, "synth-a", 1),
        synth_manifest(&dir, "synth-b", 2),
    );
    let experiment = dir.join("transfer.yaml");
    std::fs::write(
        &experiment,
        format!(
            "name: transfer\ntitle: transfer test\nkind: training\ndatasets:\n  - key: lab\n    manifest: {}\n  - key: wild\n    manifest: {}\nclasses: [happiness, surprise, anger]\ntransfer_pairs:\n  - {{train: lab, test: wild}}\nmethods:\n  - id: base-dcnn-fer\nseeds: [4]\ntrain:\n  batch_size: 16\n  max_epochs: 1\n  model_config:\n    input_size: 32\n    fer_head: {{hidden: 64, embedding: 16}}\nfigures: [bars, confusion_matrices]\npaper_results:\n  \"lab->wild\":\n    base-dcnn-fer: {{acc_average: 40.0}}\n",
            a.display(),
            b.display()
        ),
    )
    .expect("experiment");
    let results = dir.join("results");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("reproduce")
        .arg(&experiment)
        .arg("--results")
        .arg(&results)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let runs = std::fs::read_to_string(results.join("transfer/runs.csv")).expect("runs");
    assert_eq!(runs.lines().count(), 2, "{runs}");
    assert!(runs.contains("synth-a->synth-b,base-dcnn-fer"), "{runs}");
    // The run's test split is every target face of the 3 shared classes, nothing else.
    let run_dir = runs
        .lines()
        .nth(1)
        .and_then(|l| l.rsplit(',').next())
        .expect("run_dir column");
    let predictions =
        std::fs::read_to_string(results.join(run_dir).join("predictions.csv")).expect("preds");
    let rows: Vec<&str> = predictions.lines().skip(1).collect();
    assert!(!rows.is_empty());
    assert!(
        rows.iter().all(|r| r.starts_with("synth-b/")),
        "{predictions}"
    );
    let metrics: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(results.join(run_dir).join("metrics.json")).expect("metrics"),
    )
    .expect("json");
    let cm = metrics["confusion_matrix"].as_array().expect("cm");
    assert_eq!(cm.len(), 3, "three shared classes");
    let tested: u64 = cm
        .iter()
        .flat_map(|r| r.as_array().expect("row").iter())
        .map(|v| v.as_u64().expect("count"))
        .sum();
    assert_eq!(tested as usize, rows.len());
    let table = std::fs::read_to_string(results.join("transfer/table.md")).expect("table");
    assert!(table.contains("paper 40.00"), "{table}");
    let _ = std::fs::remove_dir_all(&dir);
}
