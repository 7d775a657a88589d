//! t-SNE scatter charts (Fig. 2): files are written and decode, bad input is rejected.

mod common;

use common::{class_names, TempDir};
use fer_report::{plot_tsne, plot_tsne_panels, ReportError, TsneChart, TsnePanel};

/// 70 points on seven rings, ten per class.
fn sample() -> (Vec<[f64; 2]>, Vec<usize>) {
    (0..70)
        .map(|i| {
            let class = i % 7;
            let angle = std::f64::consts::TAU * class as f64 / 7.0;
            let jitter = (i / 7) as f64 * 0.1;
            (
                [10.0 * angle.cos() + jitter, 10.0 * angle.sin() - jitter],
                class,
            )
        })
        .unzip()
}

#[test]
fn single_panel_writes_png_and_svg() -> anyhow::Result<()> {
    let tmp = TempDir::new("tsne-one");
    let (points, labels) = sample();
    let title = "CK+ / CMCNN: t-SNE of FER features";
    let (png, svg) = plot_tsne(
        &points,
        &labels,
        &class_names(),
        title,
        &tmp.path().join("tsne.ck"),
    )?;
    assert_eq!(png, tmp.path().join("tsne.ck.png"));
    let bytes = std::fs::read(&png)?;
    assert!(bytes.len() > 1000, "png only {} bytes", bytes.len());
    let img = image::load_from_memory(&bytes)?;
    let chart = TsneChart::new(
        &[TsnePanel {
            title: "",
            points: &points,
            labels: &labels,
        }],
        &class_names(),
        title,
    )?;
    assert_eq!((img.width(), img.height()), chart.size());
    let text = std::fs::read_to_string(&svg)?;
    assert!(text.contains(title));
    for name in class_names() {
        assert!(text.contains(&name), "legend lacks {name}");
    }
    // One dot per point plus one legend dot per class.
    assert_eq!(
        text.matches("<circle").count(),
        points.len() + class_names().len(),
        "one dot per point and per legend entry"
    );
    Ok(())
}

#[test]
fn panels_share_one_figure() -> anyhow::Result<()> {
    let tmp = TempDir::new("tsne-two");
    let (points, labels) = sample();
    let shifted: Vec<[f64; 2]> = points.iter().map(|p| [p[0] * 3.0, p[1] + 5.0]).collect();
    let panels = [
        TsnePanel {
            title: "BaseDCNN",
            points: &points,
            labels: &labels,
        },
        TsnePanel {
            title: "CMCNN",
            points: &shifted,
            labels: &labels,
        },
    ];
    let (png, svg) = plot_tsne_panels(&panels, &class_names(), "RAF-DB", &tmp.path().join("t"))?;
    let img = image::load_from_memory(&std::fs::read(&png)?)?;
    let two = TsneChart::new(&panels, &class_names(), "RAF-DB")?.size();
    let one = TsneChart::new(&panels[..1], &class_names(), "RAF-DB")?.size();
    assert_eq!((img.width(), img.height()), two);
    assert!(two.0 > one.0 + 300, "a second panel widens the figure");
    let text = std::fs::read_to_string(&svg)?;
    assert!(text.contains("RAF-DB") && text.contains("BaseDCNN") && text.contains("CMCNN"));
    Ok(())
}

#[test]
fn rejects_mismatched_labels_and_bad_points() {
    let tmp = TempDir::new("tsne-bad");
    let (points, labels) = sample();
    let names = class_names();
    let stem = tmp.path().join("x");
    let err = plot_tsne(&points, &labels[1..], &names, "t", &stem).err();
    assert!(
        matches!(&err, Some(ReportError::ChartInput { message, .. }) if message.contains("69 labels for 70 points")),
        "{err:?}"
    );
    let mut bad_labels = labels.clone();
    bad_labels[5] = 7;
    let err = plot_tsne(&points, &bad_labels, &names, "t", &stem).err();
    assert!(
        matches!(&err, Some(ReportError::ChartInput { message, .. }) if message.contains("point 5 has label 7")),
        "{err:?}"
    );
    let mut bad_points = points.clone();
    bad_points[3][1] = f64::INFINITY;
    let err = plot_tsne(&bad_points, &labels, &names, "t", &stem).err();
    assert!(
        matches!(&err, Some(ReportError::ChartInput { message, .. }) if message.contains("point 3")),
        "{err:?}"
    );
    let err = plot_tsne(&[], &[], &names, "t", &stem).err();
    assert!(
        matches!(err, Some(ReportError::ChartInput { .. })),
        "{err:?}"
    );
    assert!(!tmp.path().join("x.png").exists());
}
