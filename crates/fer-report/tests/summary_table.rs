//! Tests of the paper-style Markdown table.

mod common;

use common::{fer_metrics, fld_metrics, run, TempDir};
use fer_report::{summarise, summary_table_markdown, write_table_markdown, Metric, PaperNumbers};

fn frame() -> anyhow::Result<polars::prelude::DataFrame> {
    // Same 3-run case as the summarise test: ACC_total mean 63.00 %, sample std 3.61 %
    // (3.6055...); the other FER metrics are 1, 2 and 3 points lower (`fer_metrics`).
    Ok(summarise(&[
        run("raf-db", "base-dcnn-fer", 1, fer_metrics(0.60)),
        run("raf-db", "base-dcnn-fer", 12, fer_metrics(0.62)),
        run("raf-db", "base-dcnn-fer", 123, fer_metrics(0.67)),
        run("raf-db", "base-dcnn-fld", 1, fld_metrics(0.0373)),
    ])?)
}

#[test]
fn markdown_has_the_expected_rows() -> anyhow::Result<()> {
    let md = summary_table_markdown(&frame()?, None, &common::method_names());
    assert!(md.contains("### raf-db"), "{md}");
    assert!(
        md.contains("| Method | ACC_total | ACC_average | F1 (eq. 19) | macro-F1 | NRMSE | n |"),
        "{md}"
    );
    assert!(
        md.contains(
            "| BaseDCNN (FER) | 63.00 ± 3.61 | 62.00 ± 3.61 | 61.00 ± 3.61 | 60.00 ± 3.61 | - | 3 |"
        ),
        "{md}"
    );
    // NRMSE ×100 as in the paper; one run => no ± part.
    assert!(
        md.contains("| BaseDCNN (FLD) | - | - | - | - | 3.73 | 1 |"),
        "{md}"
    );
    assert!(md.contains('±'));
    Ok(())
}

#[test]
fn markdown_with_paper_numbers_shows_paper_and_delta() -> anyhow::Result<()> {
    let mut paper = PaperNumbers::new();
    paper.insert("raf-db", "base-dcnn-fer", Metric::AccTotal, 82.73);
    paper.insert("raf-db", "base-dcnn-fld", Metric::Nrmse, 3.73);
    let md = summary_table_markdown(&frame()?, Some(&paper), &common::method_names());
    assert!(
        md.contains("| 63.00 ± 3.61 (paper 82.73, Δ -19.73) |"),
        "{md}"
    );
    assert!(md.contains("| 3.73 (paper 3.73, Δ +0.00) |"), "{md}");

    let preset = PaperNumbers::yu_xu_2021_tables_3_4();
    assert_eq!(
        preset.get("raf-db", "cmcnn", Metric::AccAverage),
        Some(77.03)
    );
    assert_eq!(preset.get("raf-db", "base-dcnn-fer", Metric::Nrmse), None);
    // 4 datasets x (3 for BaseDCNN (FER) + 1 for BaseDCNN (FLD) + 4 methods x 4) = 4 x 20.
    assert_eq!(preset.len(), 80);
    Ok(())
}

#[test]
fn write_table_markdown_is_atomic_and_rejects_non_summaries() -> anyhow::Result<()> {
    let tmp = TempDir::new("md");
    let path = tmp.path().join("sub/table.md");
    write_table_markdown(&frame()?, None, &common::method_names(), &path)?;
    let text = std::fs::read_to_string(&path)?;
    assert!(text.contains("BaseDCNN (FER)"));
    assert!(!tmp.path().join("sub/table.md.tmp").exists());

    let not_summary = polars::prelude::DataFrame::empty();
    let err = write_table_markdown(
        &not_summary,
        None,
        &common::method_names(),
        &tmp.path().join("x.md"),
    )
    .err();
    assert!(
        err.map(|e| e.to_string())
            .unwrap_or_default()
            .contains("`dataset`"),
        "error should name the missing column"
    );
    Ok(())
}
