//! `reproduce` on a tiny SynthFER draws every figure kind from real runs (bars, confusion
//! matrices, β curves as Fig. 3, a loss weighting's weights as β, t-SNE as Fig. 2, attention
//! maps as Fig. 4), selects the grid
//! point on validation, and `report` rewrites the same report without training.

use std::path::{Path, PathBuf};
use std::process::Command;

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("xtask-figures-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn xtask(args: &[&str], experiment: &Path, results: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg(args[0])
        .arg(experiment)
        .args(&args[1..])
        .arg("--results")
        .arg(results)
        .output()
        .expect("run xtask")
}

#[test]
fn every_figure_kind_is_drawn_from_real_runs_and_the_grid_is_selected_on_validation() {
    let dir = temp("all");
    let manifest = dir.join("tiny-synth.yaml");
    std::fs::write(
        &manifest,
        "name: tiny-synth\nformat:\n  kind: synthetic\nclasses: [neutral, happiness, sadness, surprise, fear, disgust, anger]\nimage_size: 32\nprotocol:\n  kind: subject_k_fold\n  folds: 3\nsynthetic:\n  num_subjects: 30\n  images_per_subject: 5\n  size: 32\n  seed: 5\n",
    )
    .expect("manifest");
    let experiment = dir.join("figs.yaml");
    std::fs::write(
        &experiment,
        format!(
            "name: figs\ntitle: figures test\nkind: training\ndatasets:\n  - key: tiny\n    manifest: {}\nmethods:\n  - id: base-dcnn-fer\n    grid:\n      optimizer.lr: [0.01, 0.001]\n  - id: cmcnn\n    label: CMCNN (ours)\n  - id: hps-pcgrad\n    model: hps\n    train: {{weighting: {{method: pcgrad}}}}\nseeds: [2]\ntrain:\n  batch_size: 16\n  max_epochs: 1\n  model_config:\n    input_size: 32\n    fer_head: {{hidden: 64, embedding: 16}}\n    fld_head: {{hidden: 64}}\nfigures: [bars, confusion_matrices, mixing_curves, weighting_curves, tsne, attention_maps]\npaper_confusion:\n  tiny:\n    cmcnn:\n      classes: [happiness, anger]\n      percent: [[90.0, 10.0], [5.0, 95.0]]\n",
            manifest.display()
        ),
    )
    .expect("experiment");
    let results = dir.join("results");
    let out = xtask(&["reproduce", "--folds", "1"], &experiment, &results);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = results.join("figs");
    let files = [
        "summary.csv",
        "runs.csv",
        "grid.csv",
        "table.md",
        "bars_acc_average.png",
        "bars_nrmse.svg",
        "confusion_tiny-synth_base-dcnn-fer.png",
        "confusion_tiny-synth_cmcnn.png",
        "mixing_curves_tiny-synth_cmcnn.png",
        "mixing_curves_tiny-synth_cmcnn.svg",
        "weighting_curves_tiny-synth_hps-pcgrad.png",
        "weighting_curves_tiny-synth_hps-pcgrad.svg",
        "tsne_tiny-synth.png",
        "tsne_tiny-synth.svg",
        "attention_tiny-synth_cmcnn.png",
        "attention_tiny-synth_cmcnn.svg",
    ];
    for f in files {
        let p = report.join(f);
        assert!(
            p.metadata().map(|m| m.len() > 0).unwrap_or(false),
            "{f} missing or empty"
        );
    }
    // base-dcnn-fer: two grid points, exactly one selected, and the summary averages only its
    // run; cmcnn and hps-pcgrad have no grid (one point, selected).
    let grid = std::fs::read_to_string(report.join("grid.csv")).expect("grid");
    assert_eq!(grid.lines().count(), 5, "{grid}");
    assert_eq!(grid.matches("base-dcnn-fer").count(), 2, "{grid}");
    assert_eq!(grid.matches(",true").count(), 3, "{grid}");
    let summary = std::fs::read_to_string(report.join("summary.csv")).expect("summary");
    assert!(
        summary.lines().skip(1).all(|l| l.contains(",1,")),
        "one run per method: {summary}"
    );
    let table = std::fs::read_to_string(report.join("table.md")).expect("table");
    assert!(
        table.contains("CMCNN (ours)"),
        "labels from the experiment: {table}"
    );
    assert!(table.contains("Grid points selected"), "{table}");
    assert!(
        table.contains("Confusion matrix of CMCNN (ours) on tiny-synth")
            && table.contains("(90.0) |")
            && table.contains("(95.0) |"),
        "the paper's confusion matrix beside ours: {table}"
    );

    // `report` redraws from the finished runs without training.
    std::fs::remove_file(report.join("tsne_tiny-synth.png")).expect("remove");
    let out = xtask(&["report"], &experiment, &results);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.join("tsne_tiny-synth.png").is_file());
    let again = std::fs::read_to_string(report.join("summary.csv")).expect("summary");
    assert_eq!(again, summary);
    let _ = std::fs::remove_dir_all(&dir);
}
