//! CSV round trip: write the summary, read the text back, and read it back as a frame.

mod common;

use common::{fer_metrics, fld_metrics, run, TempDir};
use fer_report::{summarise, write_summary_csv, Metric, SummaryRow};
use polars::prelude::{CsvReadOptions, SerReader};

#[test]
fn csv_round_trip() -> anyhow::Result<()> {
    let tmp = TempDir::new("csv");
    let mut df = summarise(&[
        run("synthfer", "base-dcnn-fer", 1, fer_metrics(0.60)),
        run("synthfer", "base-dcnn-fer", 12, fer_metrics(0.62)),
        run("synthfer", "base-dcnn-fer", 123, fer_metrics(0.67)),
        run("synthfer", "base-dcnn-fld", 1, fld_metrics(0.05)),
    ])?;
    let path = tmp.path().join("summary.csv");
    write_summary_csv(&mut df, &path)?;
    assert!(
        !tmp.path().join("summary.csv.tmp").exists(),
        "temp file left behind"
    );

    let text = std::fs::read_to_string(&path)?;
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(
            "dataset,model,n_runs,acc_total_mean,acc_total_std,acc_average_mean,acc_average_std,\
             f1_eq19_mean,f1_eq19_std,macro_f1_mean,macro_f1_std,nrmse_mean,nrmse_std"
        )
    );
    let row: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    assert_eq!(&row[..3], ["synthfer", "base-dcnn-fer", "3"]);
    let mean: f64 = row[3].parse()?;
    assert!(
        (mean - 0.63).abs() < 1e-12,
        "acc_total_mean cell `{}`",
        row[3]
    );
    // Every FER column in its place: means 0.63, 0.62, 0.61, 0.60 (`fer_metrics` shifts each
    // by 0.01) and one sample std, sqrt(0.0013), for all four.
    for (k, want) in [(3, 0.63), (5, 0.62), (7, 0.61), (9, 0.60)] {
        let got: f64 = row[k].parse()?;
        assert!((got - want).abs() < 1e-12, "column {k} cell `{}`", row[k]);
        let std: f64 = row[k + 1].parse()?;
        assert!(
            (std - 0.0013_f64.sqrt()).abs() < 1e-12,
            "column {} cell `{}`",
            k + 1,
            row[k + 1]
        );
    }
    assert_eq!(row[11], "", "null NRMSE must be an empty cell");
    let fld: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    assert_eq!(
        (fld[3], fld[12]),
        ("", ""),
        "FLD row: no accuracy, no std of one run"
    );

    // Read back with polars: the typed view must see the same numbers.
    let back = CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(path.clone()))?
        .finish()?;
    let rows = SummaryRow::from_frame(&back)?;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].n_runs, 3);
    let s = rows[0].get(Metric::AccTotal);
    assert!((s.mean.unwrap_or(0.0) - 0.63).abs() < 1e-12);
    assert!((s.std.unwrap_or(0.0) - 0.0013_f64.sqrt()).abs() < 1e-12);
    assert_eq!(rows[1].get(Metric::Nrmse).mean, Some(0.05));
    assert_eq!(rows[1].get(Metric::AccTotal).mean, None);
    Ok(())
}

#[test]
fn csv_with_an_all_empty_column_reads_back() -> anyhow::Result<()> {
    // Only FER models: every nrmse cell is empty, so polars infers a string column on reading;
    // the typed view must still see nulls there (shown as "-"), not fail.
    let tmp = TempDir::new("csv-empty");
    let mut df = summarise(&[
        run("synthfer", "base-dcnn-fer", 1, fer_metrics(0.60)),
        run("synthfer", "base-dcnn-fer", 12, fer_metrics(0.62)),
    ])?;
    let path = tmp.path().join("summary.csv");
    write_summary_csv(&mut df, &path)?;
    let back = CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(path))?
        .finish()?;
    let rows = SummaryRow::from_frame(&back)?;
    assert_eq!(rows[0].get(Metric::Nrmse).mean, None);
    assert!((rows[0].get(Metric::AccTotal).mean.unwrap_or(0.0) - 0.61).abs() < 1e-12);
    let md = fer_report::summary_table_markdown(&back, None, &common::method_names());
    assert!(md.contains("| BaseDCNN (FER) | 61.00 ± 1.41 |"), "{md}");
    Ok(())
}
