//! Chart tests: files are written (non-empty, real PNG/SVG), bad input is rejected.

mod common;

use common::{class_names, fer_metrics, fld_metrics, run, TempDir};
use fer_report::{
    plot_confusion_matrix, plot_metric_bars, summarise, ConfusionMatrixChart, ReportError,
};

fn sample_cm() -> Vec<Vec<u64>> {
    vec![
        vec![50, 2, 3, 0, 1, 0, 4],
        vec![1, 90, 0, 2, 0, 1, 0],
        vec![5, 1, 40, 0, 2, 1, 3],
        vec![0, 2, 0, 70, 5, 0, 1],
        vec![0, 0, 0, 0, 0, 0, 0], // no fear samples in this split
        vec![3, 1, 4, 0, 1, 20, 6],
        vec![2, 0, 3, 1, 1, 4, 35],
    ]
}

#[test]
fn confusion_chart_writes_png_and_svg() -> anyhow::Result<()> {
    let tmp = TempDir::new("cm");
    let (png, svg) = plot_confusion_matrix(
        &sample_cm(),
        &class_names(),
        "synthfer / cmcnn (test)",
        &tmp.path().join("plots/cm.synthfer"),
    )?;
    assert_eq!(png, tmp.path().join("plots/cm.synthfer.png"));
    let png_bytes = std::fs::read(&png)?;
    assert!(png_bytes.len() > 1000, "png only {} bytes", png_bytes.len());
    assert_eq!(&png_bytes[..8], b"\x89PNG\r\n\x1a\n");
    let svg_text = std::fs::read_to_string(&svg)?;
    assert!(svg_text.contains("<svg") && svg_text.contains("happiness"));
    // Row 1: 90 of 94 happiness samples => 95.7 % written in its cell.
    assert!(
        svg_text.contains("95.7"),
        "cell percentage missing from SVG"
    );
    assert!(!svg_text.contains("NaN"));
    assert!(!tmp.path().join("plots/cm.synthfer.png.tmp").exists());
    Ok(())
}

#[test]
fn confusion_rows_are_normalised_and_empty_rows_are_zero() -> anyhow::Result<()> {
    let chart = ConfusionMatrixChart::new(&sample_cm(), &class_names(), "t")?;
    for (i, row) in chart.percent().iter().enumerate() {
        let sum: f64 = row.iter().sum();
        if i == 4 {
            assert!(
                row.iter().all(|v| *v == 0.0),
                "empty row must be zeros, got {row:?}"
            );
        } else {
            assert!((sum - 100.0).abs() < 1e-9, "row {i} sums to {sum}");
        }
    }
    Ok(())
}

#[test]
fn confusion_chart_rejects_bad_shapes() {
    let tmp = TempDir::new("cm-bad");
    let mut not_square = sample_cm();
    not_square[3].pop();
    let err = plot_confusion_matrix(&not_square, &class_names(), "t", &tmp.path().join("x")).err();
    assert!(
        matches!(&err, Some(ReportError::ConfusionMatrix { message, .. }) if message.contains("not square")),
        "{err:?}"
    );
    let err = plot_confusion_matrix(
        &sample_cm(),
        &class_names()[..6],
        "t",
        &tmp.path().join("x"),
    )
    .err();
    assert!(
        matches!(&err, Some(ReportError::ConfusionMatrix { message, .. }) if message.contains("6 class names")),
        "{err:?}"
    );
    assert!(!tmp.path().join("x.png").exists());
}

#[test]
fn metric_bars_write_png_and_svg() -> anyhow::Result<()> {
    let tmp = TempDir::new("bars");
    let df = summarise(&[
        run("raf-db", "base-dcnn-fer", 1, fer_metrics(0.72)),
        run("raf-db", "base-dcnn-fer", 12, fer_metrics(0.74)),
        run("raf-db", "cmcnn", 1, fer_metrics(0.76)),
        run("raf-db", "cmcnn", 12, fer_metrics(0.78)),
        run("raf-db", "base-dcnn-fld", 1, fld_metrics(0.04)),
        run("sfew2", "base-dcnn-fer", 1, fer_metrics(0.30)),
        run("sfew2", "cmcnn", 1, fer_metrics(0.35)),
    ])?;
    let (png, svg) = plot_metric_bars(
        &df,
        "acc_average",
        &common::method_names(),
        &tmp.path().join("bars"),
    )?;
    assert!(std::fs::metadata(&png)?.len() > 1000);
    let svg_text = std::fs::read_to_string(&svg)?;
    assert!(svg_text.contains("CMCNN") && svg_text.contains("sfew2"));
    // The FLD-only model has no accuracy and must not appear in the legend.
    assert!(!svg_text.contains("BaseDCNN (FLD)"));

    let err = plot_metric_bars(
        &df,
        "accuracy",
        &common::method_names(),
        &tmp.path().join("bad"),
    )
    .err();
    assert!(
        matches!(err, Some(ReportError::UnknownMetric { .. })),
        "{err:?}"
    );
    Ok(())
}
