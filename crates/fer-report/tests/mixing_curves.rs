//! Mixing curves (Fig. 3): `steps.csv` parsing, best-step lookup and the small-multiples chart.

mod common;

use std::fmt::Write as _;
use std::path::Path;

use common::TempDir;
use fer_report::{
    plot_mixing_curves, read_mixing_curves, MixingCurves, MixingCurvesChart, ReportError,
};

/// A CMCNN-like `steps.csv`: 6 Co-ATT units, 3 epochs of 4 steps. β1 of unit u rises by
/// 0.01·(u+1) per step from 0.5 and β2 = 1 - β1; α's stay at 0.5 except unit 0's α1.
fn cmcnn_steps_csv() -> String {
    let mut text = String::from("step,epoch,lr,loss_total,loss_fer,loss_fld");
    for u in 0..6 {
        for k in ["alpha1", "alpha2", "beta1", "beta2"] {
            let _ = write!(text, ",co_att.{u}.{k}");
        }
    }
    text.push('\n');
    for step in 1..=12u64 {
        let epoch = (step - 1) / 4 + 1;
        let _ = write!(text, "{step},{epoch},0.01,1.5,1.2,0.3");
        for u in 0..6 {
            let beta1 = 0.5 + 0.01 * (u + 1) as f64 * step as f64;
            let alpha1 = if u == 0 {
                0.5 - 0.001 * step as f64
            } else {
                0.5
            };
            let _ = write!(text, ",{alpha1:.6},0.500000,{beta1:.6},{:.6}", 1.0 - beta1);
        }
        text.push('\n');
    }
    text
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

#[test]
fn reads_co_att_columns_in_file_order() -> anyhow::Result<()> {
    let tmp = TempDir::new("steps");
    let curves = read_mixing_curves(&write(tmp.path(), "steps.csv", &cmcnn_steps_csv()))?;
    assert_eq!(curves.steps, (1..=12).collect::<Vec<u64>>());
    assert_eq!(curves.epochs[..5], [1, 1, 1, 1, 2]);
    assert_eq!(curves.series.len(), 24, "6 units x 4 parameters");
    assert_eq!(curves.series[0].0, "co_att.0.alpha1");
    assert_eq!(curves.series[23].0, "co_att.5.beta2");
    assert_eq!(
        curves.units(),
        (0..6).map(|u| format!("co_att.{u}")).collect::<Vec<_>>()
    );
    assert_eq!(curves.kinds(), ["alpha1", "alpha2", "beta1", "beta2"]);
    let beta1 = curves
        .series("co_att.2.beta1")
        .ok_or_else(|| anyhow::anyhow!("co_att.2.beta1 missing"))?;
    assert!(
        (beta1[9] - (0.5 + 0.03 * 10.0)).abs() < 1e-9,
        "{}",
        beta1[9]
    );
    // Losses and lr are not mixing parameters.
    assert!(curves.series("lr").is_none() && curves.series("loss_fld").is_none());
    Ok(())
}

#[test]
fn last_step_of_epoch_marks_the_best_model() -> anyhow::Result<()> {
    let tmp = TempDir::new("steps-best");
    let curves = read_mixing_curves(&write(tmp.path(), "steps.csv", &cmcnn_steps_csv()))?;
    assert_eq!(curves.last_step_of_epoch(1), Some(4));
    assert_eq!(curves.last_step_of_epoch(2), Some(8));
    assert_eq!(curves.last_step_of_epoch(3), Some(12));
    assert_eq!(curves.last_step_of_epoch(4), None);
    assert_eq!(curves.last_step_of_epoch(0), None);
    Ok(())
}

#[test]
fn reads_cross_stitch_columns_and_models_without_mixing() -> anyhow::Result<()> {
    let tmp = TempDir::new("steps-csn");
    let csn = "step,epoch,lr,loss_total,loss_fer,loss_fld,cross_stitch.conv0.ee,\
               cross_stitch.conv0.el,cross_stitch.conv0.le,cross_stitch.conv0.ll,other.x\r\n\
               1,1,0.01,2.0,1.5,0.5,0.9,0.1,0.1,0.9,7\r\n\
               \r\n\
               2,1,0.01,1.9,1.4,0.5,0.89,0.11,NaN,0.9,7\r\n";
    let curves = read_mixing_curves(&write(tmp.path(), "csn.csv", csn))?;
    assert_eq!(curves.steps, [1, 2]);
    assert_eq!(
        curves
            .series
            .iter()
            .map(|s| s.0.as_str())
            .collect::<Vec<_>>(),
        [
            "cross_stitch.conv0.ee",
            "cross_stitch.conv0.el",
            "cross_stitch.conv0.le",
            "cross_stitch.conv0.ll"
        ],
        "`other.x` is not a mixing column"
    );
    assert!(curves
        .series("cross_stitch.conv0.le")
        .is_some_and(|v| v[1].is_nan()));
    assert_eq!(curves.units(), ["cross_stitch.conv0"]);

    let base = "step,epoch,lr,loss_total,loss_fer,loss_fld\n1,1,0.01,2.0,2.0,0.0\n";
    let curves = read_mixing_curves(&write(tmp.path(), "base.csv", base))?;
    assert_eq!(curves.steps, [1]);
    assert!(curves.series.is_empty());
    Ok(())
}

#[test]
fn malformed_lines_name_file_and_line() {
    let tmp = TempDir::new("steps-bad");
    let cases = [
        (
            "step,epoch,lr,loss_total,loss_fer,loss_fld,co_att.0.beta1\n1,1,0.01,1,1,1,0.5\n\
             2,1,0.01,1,1,1,abc\n",
            3,
            "co_att.0.beta1",
        ),
        (
            "step,epoch,lr,loss_total,loss_fer,loss_fld,co_att.0.beta1\n1,1,0.01,1,1,1\n",
            2,
            "6 fields",
        ),
        (
            "step,epoch,lr,loss_total,loss_fer,loss_fld,co_att.0.beta1\n-1,1,0.01,1,1,1,0.5\n",
            2,
            "`step`",
        ),
        (
            "epoch,lr,loss_fld,co_att.0.beta1\n1,0.1,1,0.5\n",
            1,
            "`step`",
        ),
        ("", 1, "empty"),
    ];
    for (k, (text, line, needle)) in cases.into_iter().enumerate() {
        let path = write(tmp.path(), &format!("bad{k}.csv"), text);
        let err = read_mixing_curves(&path).err();
        match &err {
            Some(ReportError::MalformedCsv {
                path: p,
                line: l,
                message,
            }) => {
                assert_eq!(p, &path, "case {k}");
                assert_eq!(*l, line, "case {k}: {message}");
                assert!(message.contains(needle), "case {k}: {message}");
                let shown = err.as_ref().map(|e| e.to_string()).unwrap_or_default();
                assert!(
                    shown.contains(&format!("bad{k}.csv:{line}")),
                    "case {k}: {shown}"
                );
            }
            other => panic!("case {k}: expected MalformedCsv, got {other:?}"),
        }
    }
    let err = read_mixing_curves(&tmp.path().join("missing.csv")).err();
    assert!(matches!(err, Some(ReportError::Io { .. })), "{err:?}");
}

#[test]
fn chart_writes_png_and_svg_with_one_panel_per_unit() -> anyhow::Result<()> {
    let tmp = TempDir::new("mixing-chart");
    let curves = read_mixing_curves(&write(tmp.path(), "steps.csv", &cmcnn_steps_csv()))?;
    let best = curves.last_step_of_epoch(2);
    let title = "synthfer / cmcnn: beta over steps";
    let chart = MixingCurvesChart::new(&curves, &["beta1", "beta2"], best, title)?;
    // Eq. 23's mean over the six units first (the paper's Fig. 3), then one panel per unit.
    let mean = "mean of the 6 units (eq. 23, the paper's Fig. 3)";
    assert_eq!(chart.units().len(), 7);
    assert_eq!(chart.units()[0], mean);
    // Unit 5's β1 spans 0.56..1.22 and β2 -0.22..0.44: the fitted range covers both and is
    // not the whole 0..1 (or wider) default.
    let (lo, hi) = chart
        .y_range("co_att.5")
        .ok_or_else(|| anyhow::anyhow!("no co_att.5 panel"))?;
    assert!(lo < -0.22 && lo > -0.4, "low {lo}");
    assert!(hi > 1.22 && hi < 1.4, "high {hi}");
    // Unit 0's β's move by 0.01 per step only: its range is fitted tightly too.
    let (lo0, hi0) = chart
        .y_range("co_att.0")
        .ok_or_else(|| anyhow::anyhow!("no co_att.0 panel"))?;
    assert!(lo0 > 0.3 && hi0 < 0.7, "{lo0}..{hi0}");

    let (png, svg) = plot_mixing_curves(
        &curves,
        &["beta1", "beta2"],
        best,
        title,
        &tmp.path().join("plots/beta.synthfer"),
    )?;
    assert_eq!(png, tmp.path().join("plots/beta.synthfer.png"));
    let bytes = std::fs::read(&png)?;
    assert!(bytes.len() > 1000, "png only {} bytes", bytes.len());
    let img = image::load_from_memory(&bytes)?;
    assert_eq!((img.width(), img.height()), chart.size());
    assert!(chart.size().0 >= 3 * 400, "three panels per row");
    let text = std::fs::read_to_string(&svg)?;
    assert!(text.contains("<svg") && text.contains("synthfer / cmcnn: beta over steps"));
    for u in 0..6 {
        assert!(
            text.contains(&format!("co_att.{u}")),
            "panel co_att.{u} missing"
        );
    }
    assert!(text.contains("beta1") && text.contains("beta2"));
    assert!(
        !text.contains("alpha1"),
        "only the selected kinds are drawn"
    );
    assert!(text.contains("best on validation (step 8)"));
    assert!(!text.contains("NaN"));
    assert!(!tmp.path().join("plots/beta.synthfer.png.tmp").exists());
    Ok(())
}

/// The first panel is eq. 23: β of unit u at step s is 0.5 + 0.01 (u + 1) s in
/// `cmcnn_steps_csv`, so their mean over u = 0..5 is 0.5 + 0.035 s and β2's is 0.5 − 0.035 s.
/// A step where one unit's value is NaN is left out of the mean; cross-stitch units get no
/// mean panel.
#[test]
fn the_first_panel_is_the_mean_over_the_co_attention_units() -> anyhow::Result<()> {
    let tmp = TempDir::new("mixing-mean");
    let mut curves = read_mixing_curves(&write(tmp.path(), "steps.csv", &cmcnn_steps_csv()))?;
    let chart = MixingCurvesChart::new(&curves, &["beta1", "beta2"], None, "t")?;
    let mean = "mean of the 6 units (eq. 23, the paper's Fig. 3)";
    for (kind, sign) in [("beta1", 1.0), ("beta2", -1.0)] {
        let points = chart
            .points(mean, kind)
            .ok_or_else(|| anyhow::anyhow!("no mean line of {kind}"))?;
        assert_eq!(points.len(), 12, "{kind}");
        for &(step, value) in points {
            let want = 0.5 + sign * 0.035 * step;
            assert!(
                (value - want).abs() < 1e-9,
                "{kind} step {step}: {value} vs {want}"
            );
        }
    }
    // A unit's NaN at step 3 removes step 3 from the mean, not from the other units.
    for (name, values) in &mut curves.series {
        if name == "co_att.4.beta1" {
            values[2] = f64::NAN;
        }
    }
    let chart = MixingCurvesChart::new(&curves, &["beta1"], None, "t")?;
    let steps: Vec<f64> = chart
        .points(mean, "beta1")
        .ok_or_else(|| anyhow::anyhow!("no mean line"))?
        .iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(steps.len(), 11);
    assert!(!steps.contains(&3.0));
    assert_eq!(chart.points("co_att.0", "beta1").map(<[_]>::len), Some(12));

    let cross_stitch = MixingCurves {
        steps: vec![1, 2],
        epochs: vec![1, 1],
        series: vec![
            ("cross_stitch.fc1.ee".into(), vec![0.9, 0.8]),
            ("cross_stitch.fc2.ee".into(), vec![0.9, 0.7]),
        ],
    };
    let chart = MixingCurvesChart::new(&cross_stitch, &[], None, "t")?;
    assert_eq!(chart.units(), ["cross_stitch.fc1", "cross_stitch.fc2"]);
    Ok(())
}

#[test]
fn chart_rejects_unknown_kinds_and_empty_curves() {
    let tmp = TempDir::new("mixing-bad");
    let curves = MixingCurves {
        steps: vec![1, 2],
        epochs: vec![1, 1],
        series: vec![("co_att.0.beta1".into(), vec![0.5, 0.6])],
    };
    let err = plot_mixing_curves(&curves, &["beta"], None, "t", &tmp.path().join("x")).err();
    assert!(
        matches!(&err, Some(ReportError::ChartInput { message, .. })
            if message.contains("`beta`") && message.contains("beta1")),
        "{err:?}"
    );
    let ragged = MixingCurves {
        series: vec![("co_att.0.beta1".into(), vec![0.5])],
        ..curves.clone()
    };
    let err = plot_mixing_curves(&ragged, &[], None, "t", &tmp.path().join("x")).err();
    assert!(
        matches!(&err, Some(ReportError::ChartInput { message, .. }) if message.contains("1 values for 2 steps")),
        "{err:?}"
    );
    let no_mixing = MixingCurves {
        series: Vec::new(),
        ..curves
    };
    let err = plot_mixing_curves(&no_mixing, &[], None, "t", &tmp.path().join("x")).err();
    assert!(
        matches!(err, Some(ReportError::ChartInput { .. })),
        "{err:?}"
    );
    assert!(!tmp.path().join("x.png").exists());
}
