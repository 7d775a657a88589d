//! Renders every fer-report output from made-up runs into a folder, for looking at the charts
//! and tables by eye: `cargo run -p fer-report --release --example demo_report -- <out-dir>`.
//! The numbers are invented (loosely shaped like the paper's Table 3); nothing here is a result.

use std::path::PathBuf;

use fer_report::{
    plot_confusion_matrix, plot_metric_bars, summarise, write_summary_csv, write_table_markdown,
    MethodNames, MetricSet, PaperNumbers, RunResult,
};

fn run(dataset: &str, model: &str, seed: u64, acc: Option<f64>, nrmse: Option<f64>) -> RunResult {
    let jitter = (seed % 7) as f64 * 0.004;
    let fer = |d: f64| acc.map(|a| a + jitter - d);
    RunResult {
        experiment: "demo".into(),
        dataset: dataset.into(),
        model: model.into(),
        method: None,
        grid_point: None,
        seed,
        split: String::new(),
        fold: None,
        run_id: format!("{dataset}-{model}-{seed}"),
        best_epoch: 7,
        epochs_run: 12,
        train_seconds: 100.0,
        test: MetricSet {
            acc_total: fer(0.0),
            acc_average: fer(0.09),
            f1_eq19: fer(0.08),
            macro_f1: fer(0.09),
            nrmse: nrmse.map(|n| n + jitter / 10.0),
        },
        validation: None,
        class_names: Vec::new(),
        confusion_matrix: None,
        provenance: None,
        source: PathBuf::new(),
    }
}

fn main() -> anyhow::Result<()> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "demo-report".into()),
    );
    let models: [(&str, Option<f64>, Option<f64>); 6] = [
        ("base-dcnn-fer", Some(0.8273), None),
        ("base-dcnn-fld", None, Some(0.0373)),
        ("hps", Some(0.8302), Some(0.0388)),
        ("csn", Some(0.8510), Some(0.0407)),
        ("ps-mcnn", Some(0.8467), Some(0.0381)),
        ("cmcnn", Some(0.8522), Some(0.0371)),
    ];
    let mut runs = Vec::new();
    for (dataset, shift) in [("raf-db", 0.0), ("sfew2", 0.48)] {
        for (model, acc, nrmse) in models {
            for seed in [1, 12, 123, 1234, 12345] {
                runs.push(run(dataset, model, seed, acc.map(|a| a - shift), nrmse));
            }
        }
    }
    let mut df = summarise(&runs)?;
    write_summary_csv(&mut df, &out.join("summary.csv"))?;
    // The names tables and charts print come from the model registry.
    let names = MethodNames::new(fer_models::ModelRegistry::with_paper_models().display_names());
    write_table_markdown(
        &df,
        Some(&PaperNumbers::yu_xu_2021_tables_3_4()),
        &names,
        &out.join("table.md"),
    )?;
    plot_metric_bars(&df, "acc_average", &names, &out.join("bars_acc_average"))?;
    plot_metric_bars(&df, "nrmse", &names, &out.join("bars_nrmse"))?;

    // Table 5's CMCNN matrix on RAF-DB (per-mille of a made-up 1000 samples per class).
    let names: Vec<String> = [
        "happiness",
        "neutral",
        "sadness",
        "disgust",
        "fear",
        "surprise",
        "anger",
    ]
    .map(String::from)
    .to_vec();
    let cm: Vec<Vec<u64>> = vec![
        vec![931, 38, 11, 6, 1, 7, 6],
        vec![34, 847, 67, 21, 0, 27, 4],
        vec![34, 81, 838, 27, 3, 7, 10],
        vec![89, 135, 110, 544, 19, 24, 79],
        vec![0, 0, 0, 0, 0, 0, 0],
        vec![27, 51, 27, 7, 29, 841, 18],
        vec![51, 48, 22, 56, 17, 25, 781],
    ];
    let (png, svg) = plot_confusion_matrix(
        &cm,
        &names,
        "raf-db / CMCNN (test), made-up counts",
        &out.join("cm_raf-db_cmcnn"),
    )?;
    println!(
        "wrote {} and {} (and summary.csv, table.md, bars_*) in {}",
        png.display(),
        svg.display(),
        out.display()
    );
    Ok(())
}
