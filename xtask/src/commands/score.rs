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
}

pub fn run(args: ScoreArgs) -> Result<()> {
    let report = fer_train::score_predictions_csv(&args.predictions)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
