//! fer-report: turns finished training runs into the paper's result tables and figures
//! (Yu & Xu 2021, "Co-attentive multi-task CNN for facial expression recognition").
//!
//! Pipeline position (ARCHITECTURE.md "Data flow"): trainer run directories => **report** =>
//! `summary.csv`, `table.md`, charts.
//!
//! - [`collect_runs`]: every `metrics.json` under a results folder whose run wrote `DONE`.
//! - [`summarise`]: polars frame, one row per (dataset, model), mean and sample std over runs
//!   (seeds × folds, paper Section 4.4), for ACC_total, ACC_average, F1 (eq. 19), macro-F1 and
//!   NRMSE (eqs. 17-22).
//! - [`write_summary_csv`], [`summary_table_markdown`] / [`write_table_markdown`]: the CSV and
//!   a Markdown table laid out like Tables 3/4, optionally with the published numbers
//!   ([`PaperNumbers`]) and our difference beside each value.
//! - [`plot_confusion_matrix`]: row-normalised confusion matrix heat map (Tables 5-8).
//! - [`plot_metric_bars`]: grouped bars per dataset and method with error bars.
//! - [`read_mixing_curves`] / [`plot_mixing_curves`]: the α/β mixing parameters of the Co-ATT
//!   units (or cross-stitch weights) over training steps from a run's `steps.csv`, one panel
//!   per unit, best-validation step marked by a green dotted line (Fig. 3).
//! - [`tsne`] / [`joint_probabilities`]: exact t-SNE of FER embeddings, scikit-learn's
//!   settings; [`plot_tsne`] / [`plot_tsne_panels`]: the scatter plots of Fig. 2.
//! - [`AttentionFace`] / [`plot_attention_maps`]: faces beside their jet-coloured attention
//!   overlays in a grid (Fig. 4).
//! - [`paired_comparison()`]: paired t-test, Wilcoxon signed-rank test (scipy's defaults),
//!   95% CI of the mean difference and wins/ties/losses of two methods over the same
//!   (seed, fold) pairs; ours, not in the paper. [`compare_runs`] pairs the runs of two
//!   methods and [`comparisons_csv`] writes them; [`plot_paired_differences`] draws every
//!   pair's difference with the mean and its 95% CI. [`holm_adjusted`]: Holm's correction of
//!   a family of p-values (a claim tested by several comparisons).
//!
//! Every file is written to `<name>.tmp` and renamed into place; charts come as PNG and SVG
//! and use the embedded DejaVu Sans font, so they look the same on every machine.

mod atomic_write;
mod attention_face;
mod attention_map_chart;
mod category_colour;
mod chart_font;
mod collect_runs;
mod confusion_matrix_chart;
mod figure;
mod holm_adjustment;
mod method_names;
mod metric;
mod metric_bars_chart;
mod mixing_curves;
mod mixing_curves_chart;
mod paired_comparison;
mod paired_differences_chart;
mod paper_numbers;
mod prediction_sheet;
mod raster_image;
mod report_error;
mod run_comparison;
mod run_result;
mod summarise;
mod summary_csv;
mod summary_row;
mod summary_table;
mod tsne;
mod tsne_chart;

pub use attention_face::AttentionFace;
pub use attention_map_chart::{plot_attention_maps, AttentionMapChart};
pub use collect_runs::{collect_runs, read_run, DONE_FILE, METRICS_FILE};
pub use confusion_matrix_chart::{plot_confusion_matrix, ConfusionMatrixChart};
pub use holm_adjustment::holm_adjusted;
pub use method_names::MethodNames;
pub use metric::Metric;
pub use metric_bars_chart::{plot_metric_bars, MetricBarsChart};
pub use mixing_curves::{read_mixing_curves, read_step_series, MixingCurves};
pub use mixing_curves_chart::{plot_mixing_curves, MixingCurvesChart};
pub use paired_comparison::{
    paired_comparison, PairedComparison, WILCOXON_APPROX, WILCOXON_EXACT, WILCOXON_PERMUTATION,
};
pub use paired_differences_chart::{plot_paired_differences, PairedDifferencesChart};
pub use paper_numbers::PaperNumbers;
pub use prediction_sheet::{plot_prediction_sheet, PredictionSheet, SheetFace};
pub use report_error::{ReportError, Result};
pub use run_comparison::{compare_runs, comparisons_csv, ComparisonSpec, RunComparison};
pub use run_result::{MetricSet, RunProvenance, RunResult};
pub use summarise::summarise;
pub use summary_csv::write_summary_csv;
pub use summary_row::{MetricStats, SummaryRow};
pub use summary_table::{summary_table_markdown, write_table_markdown};
pub use tsne::{joint_probabilities, tsne, TsneConfig};
pub use tsne_chart::{plot_tsne, plot_tsne_panels, TsneChart, TsnePanel};
