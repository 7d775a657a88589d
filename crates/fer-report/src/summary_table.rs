//! `summary_table_markdown` / `write_table_markdown`: the summary laid out like the paper's
//! Tables 3 and 4 (one row per method; ACC_total, ACC_average, F1, NRMSE in %), one table per
//! dataset, optionally with the published value and our difference in every cell.
//!
//! The paper prints both datasets of a table side by side; we print one table per dataset
//! instead, because with "ours (paper P, Δ d)" cells a side-by-side layout becomes too wide to
//! read in a terminal or on GitHub. macro-F1 (not in the paper) is an extra column and `n` says
//! how many runs each mean is over, so a reader can judge the ± values.

use std::path::Path;

use polars::prelude::DataFrame;

use crate::atomic_write::write_atomic;
use crate::method_names::MethodNames;
use crate::metric::Metric;
use crate::paper_numbers::PaperNumbers;
use crate::report_error::Result;
use crate::summary_row::{MetricStats, SummaryRow};

/// Markdown tables (one per dataset, datasets and methods in the frame's order).
///
/// Cells are "mean ± std" in % with 2 decimals (NRMSE also ×100, as the paper prints it); "-"
/// where the model has no such task; just "mean" when the std is undefined (one run). With
/// `paper`, a cell with a published value reads `ours (paper P, Δ d)`, d = ours − paper in
/// percentage points, computed from the rounded numbers shown so the three always agree.
///
/// A frame that is not a summary (missing `dataset`/`model`/`n_runs`) yields a one-line
/// Markdown note saying so; use [`write_table_markdown`] to get that as an error instead.
pub fn summary_table_markdown(
    df: &DataFrame,
    paper: Option<&PaperNumbers>,
    names: &MethodNames,
) -> String {
    match SummaryRow::from_frame(df) {
        Ok(rows) => render(&rows, paper, names),
        Err(e) => format!("> cannot build the results table: {e}\n"),
    }
}

/// Writes [`summary_table_markdown`] to `path` atomically; errors if `df` is not a summary.
pub fn write_table_markdown(
    df: &DataFrame,
    paper: Option<&PaperNumbers>,
    names: &MethodNames,
    path: &Path,
) -> Result<()> {
    let rows = SummaryRow::from_frame(df)?;
    write_atomic(path, render(&rows, paper, names).as_bytes())
}

fn render(rows: &[SummaryRow], paper: Option<&PaperNumbers>, names: &MethodNames) -> String {
    let mut out = String::new();
    out.push_str(
        "Test-split results in %: mean ± sample standard deviation over `n` runs \
         (seeds × folds). NRMSE ×100, lower is better; \"-\": the model has no such task.\n",
    );
    if paper.is_some() {
        out.push_str("Cells with a published value read: ours (paper P, Δ ours − P).\n");
    }
    let mut datasets: Vec<&str> = Vec::new();
    for r in rows {
        if !datasets.contains(&r.dataset.as_str()) {
            datasets.push(&r.dataset);
        }
    }
    for dataset in datasets {
        out.push_str(&format!("\n### {}\n\n| Method |", escape(dataset)));
        for m in Metric::ALL {
            out.push_str(&format!(" {} |", m.header()));
        }
        out.push_str(" n |\n|:--|");
        for _ in Metric::ALL {
            out.push_str("--:|");
        }
        out.push_str("--:|\n");
        for r in rows.iter().filter(|r| r.dataset == dataset) {
            out.push_str(&format!("| {} |", escape(names.get(&r.model))));
            for m in Metric::ALL {
                let published = paper.and_then(|p| p.get(&r.dataset, &r.model, m));
                out.push_str(&format!(" {} |", cell(r.get(m), published)));
            }
            out.push_str(&format!(" {} |\n", r.n_runs));
        }
    }
    out
}

/// One table cell; `stats` are fractions, `published` is already in %.
fn cell(stats: MetricStats, published: Option<f64>) -> String {
    let ours = stats.mean.map(|m| round2(m * 100.0));
    let mut text = match (ours, stats.std) {
        (None, _) => "-".to_string(),
        (Some(m), None) => format!("{m:.2}"),
        (Some(m), Some(s)) => format!("{m:.2} ± {:.2}", s * 100.0),
    };
    match (ours, published) {
        (Some(m), Some(p)) => {
            let d = round2(m - p);
            // Avoid printing "-0.00" for an exact match.
            let d = if d == 0.0 { 0.0 } else { d };
            text.push_str(&format!(" (paper {p:.2}, Δ {d:+.2})"));
        }
        (None, Some(p)) => text.push_str(&format!(" (paper {p:.2})")),
        _ => {}
    }
    text
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Table cells cannot contain a bare `|`.
fn escape(s: &str) -> String {
    s.replace('|', "\\|")
}
