//! `cargo xtask score`: the paper's metrics for any model's predictions.

use anyhow::Result;
use clap::Args;
use std::path::PathBuf;

/// Score a CSV of true and predicted labels (and optionally landmarks) with exactly the paper's
/// definitions (ACC_total, ACC_average, F1 eq. 19, macro-F1, confusion matrix, NRMSE eq. 22);
/// prints JSON. Columns: id,true_label,pred_label[,true_x_0..true_x_67,true_y_0..true_y_67,
/// pred_x_0..pred_x_67,pred_y_0..pred_y_67].
#[derive(Args)]
pub struct ScoreArgs {
    /// The predictions CSV (e.g. a run's predictions.csv).
    #[arg(long)]
    predictions: PathBuf,
    /// The dataset's class names, comma-separated, in the confusion matrix's order. Without
    /// it every label must name an expression (`happy`, `sadness`, `an`, ...).
    #[arg(long, value_delimiter = ',')]
    classes: Option<Vec<String>>,
    /// Drop rows whose label is not a class (counted as `unknown_label_rows`) instead of
    /// refusing the file.
    #[arg(long)]
    ignore_unknown_classes: bool,
}

pub fn run(args: ScoreArgs) -> Result<()> {
    let options = fer_train::ScoreOptions {
        classes: args.classes,
        ignore_unknown_classes: args.ignore_unknown_classes,
    };
    let report = fer_train::score_predictions_csv(&args.predictions, &options)?;
    if report.unknown_label_rows > 0 {
        eprintln!(
            "note: dropped {} row(s) of {} whose label is not a class (--ignore-unknown-classes)",
            report.unknown_label_rows,
            args.predictions.display()
        );
    }
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
