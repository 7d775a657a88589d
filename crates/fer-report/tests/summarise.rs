//! Tests of `summarise`: hand-computed mean and sample std, nulls, order, and refusals.

mod common;

use common::{fer_metrics, fld_metrics, run};
use fer_report::{summarise, Metric, ReportError, SummaryRow};
use polars::prelude::DataFrame;

fn f64_at(df: &DataFrame, column: &str, row: usize) -> Option<f64> {
    df.column(column)
        .and_then(|c| c.f64().map(|ca| ca.get(row)))
        .unwrap_or_else(|e| panic!("column {column}: {e}"))
}

#[test]
fn mean_and_sample_std_of_three_runs() -> anyhow::Result<()> {
    // acc_total over seeds: 0.60, 0.62, 0.67
    //   mean = (0.60 + 0.62 + 0.67) / 3 = 1.89 / 3 = 0.63
    //   deviations -0.03, -0.01, +0.04; squares 0.0009 + 0.0001 + 0.0016 = 0.0026
    //   sample variance (ddof = 1) = 0.0026 / 2 = 0.0013; std = sqrt(0.0013) = 0.036055512754639...
    // (the population std, ddof = 0, would be sqrt(0.0026 / 3) = 0.02943920288775949: the test
    // tells the two apart.)
    let runs = vec![
        run("synthfer", "base-dcnn-fer", 1, fer_metrics(0.60)),
        run("synthfer", "base-dcnn-fer", 12, fer_metrics(0.62)),
        run("synthfer", "base-dcnn-fer", 123, fer_metrics(0.67)),
    ];
    let df = summarise(&runs)?;
    assert_eq!(df.height(), 1);
    let n = df.column("n_runs")?.u32()?.get(0);
    assert_eq!(n, Some(3));
    let mean = f64_at(&df, "acc_total_mean", 0).unwrap_or(f64::NAN);
    let std = f64_at(&df, "acc_total_std", 0).unwrap_or(f64::NAN);
    assert!((mean - 0.63).abs() < 1e-12, "mean {mean}");
    assert!((std - 0.0013_f64.sqrt()).abs() < 1e-12, "std {std}");
    assert!((std - 0.036_055_512_754_639_9).abs() < 1e-12, "std {std}");
    Ok(())
}

#[test]
fn single_run_has_null_std_and_fer_only_model_has_null_nrmse() -> anyhow::Result<()> {
    let runs = vec![
        run("synthfer", "base-dcnn-fer", 1, fer_metrics(0.5)),
        run("synthfer", "base-dcnn-fld", 1, fld_metrics(0.04)),
        run("synthfer", "base-dcnn-fld", 12, fld_metrics(0.06)),
    ];
    let df = summarise(&runs)?;
    assert_eq!(df.height(), 2);
    // Row 0: FER-only, one run.
    assert_eq!(f64_at(&df, "acc_total_mean", 0), Some(0.5));
    assert_eq!(
        f64_at(&df, "acc_total_std", 0),
        None,
        "std of one run is undefined"
    );
    assert_eq!(
        f64_at(&df, "nrmse_mean", 0),
        None,
        "FER-only model has no NRMSE"
    );
    assert_eq!(f64_at(&df, "nrmse_std", 0), None);
    // Row 1: FLD-only, two runs: mean 0.05, std = sqrt(2 * 0.01^2 / 1) = 0.0141421356...
    assert_eq!(f64_at(&df, "acc_average_mean", 1), None);
    let m = f64_at(&df, "nrmse_mean", 1).unwrap_or(f64::NAN);
    let s = f64_at(&df, "nrmse_std", 1).unwrap_or(f64::NAN);
    assert!(
        (m - 0.05).abs() < 1e-12 && (s - 0.0002_f64.sqrt()).abs() < 1e-12,
        "{m} {s}"
    );

    let expected: Vec<String> = ["dataset", "model", "n_runs"]
        .into_iter()
        .map(String::from)
        .chain(
            Metric::ALL
                .iter()
                .flat_map(|m| [m.mean_column(), m.std_column()]),
        )
        .collect();
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, expected);
    Ok(())
}

#[test]
fn rows_keep_first_seen_dataset_then_model_order() -> anyhow::Result<()> {
    let runs = vec![
        run("raf-db", "cmcnn", 1, fer_metrics(0.8)),
        run("sfew2", "hps", 1, fer_metrics(0.3)),
        run("raf-db", "base-dcnn-fer", 1, fer_metrics(0.7)),
        run("sfew2", "cmcnn", 1, fer_metrics(0.4)),
        run("raf-db", "cmcnn", 12, fer_metrics(0.82)),
    ];
    let rows = SummaryRow::from_frame(&summarise(&runs)?)?;
    let order: Vec<(&str, &str, u32)> = rows
        .iter()
        .map(|r| (r.dataset.as_str(), r.model.as_str(), r.n_runs))
        .collect();
    assert_eq!(
        order,
        [
            ("raf-db", "cmcnn", 2),
            ("raf-db", "base-dcnn-fer", 1),
            ("sfew2", "hps", 1),
            ("sfew2", "cmcnn", 1),
        ]
    );
    Ok(())
}

#[test]
fn duplicates_and_inconsistent_metrics_are_errors() {
    let a = run("synthfer", "cmcnn", 1, fer_metrics(0.5));
    let mut b = a.clone();
    b.source = "copy/metrics.json".into();
    let err = summarise(&[a.clone(), b]).err();
    assert!(
        matches!(err, Some(ReportError::DuplicateRun { .. })),
        "{err:?}"
    );

    let mut c = run("synthfer", "cmcnn", 12, fer_metrics(0.6));
    c.test.nrmse = Some(0.05);
    let msg = summarise(&[a, c])
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        msg.contains("test.nrmse") && msg.contains("1 of 2"),
        "got `{msg}`"
    );
}

#[test]
fn no_runs_gives_an_empty_frame_with_the_columns() -> anyhow::Result<()> {
    let df = summarise(&[])?;
    assert_eq!(df.height(), 0);
    assert_eq!(df.width(), 3 + 2 * Metric::ALL.len());
    Ok(())
}
