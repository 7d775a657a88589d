//! `SummaryRow`: a typed view of one row of the frame built by `summarise`, shared by the
//! Markdown table (paper Tables 3/4) and the bar charts.
//!
//! Reading the frame once into plain structs keeps the column-name and dtype checks in one
//! place. Numeric columns are cast to f64 first, so a frame read back from `summary.csv`
//! (where polars infers i64 for `n_runs` and may infer a string for an all-empty column) is
//! accepted as well as the one `summarise` returns.

use polars::prelude::{DataFrame, DataType};

use crate::metric::Metric;
use crate::report_error::{ReportError, Result};

/// Mean and sample std of one metric, as fractions (None = absent / undefined).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MetricStats {
    /// Mean over runs.
    pub mean: Option<f64>,
    /// Sample standard deviation over runs.
    pub std: Option<f64>,
}

/// One (dataset, model) row of the summary.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    /// Dataset name.
    pub dataset: String,
    /// Model registry name.
    pub model: String,
    /// Number of runs averaged.
    pub n_runs: u32,
    /// Statistics per metric, indexed like [`Metric::ALL`].
    pub stats: [MetricStats; 5],
}

impl SummaryRow {
    /// The statistics of `metric`.
    pub fn get(&self, metric: Metric) -> MetricStats {
        let k = Metric::ALL.iter().position(|m| *m == metric).unwrap_or(0);
        self.stats[k]
    }

    /// Reads every row of a summary frame. `dataset`, `model` and `n_runs` are required;
    /// a missing metric column reads as null (the metric is shown as "-").
    pub fn from_frame(df: &DataFrame) -> Result<Vec<SummaryRow>> {
        let datasets = string_column(df, "dataset")?;
        let models = string_column(df, "model")?;
        let n_runs = float_column(df, "n_runs")?.ok_or_else(|| ReportError::Column {
            column: "n_runs".into(),
            message: "missing".into(),
        })?;
        let mut per_metric = Vec::with_capacity(Metric::ALL.len());
        for metric in Metric::ALL {
            per_metric.push((
                float_column(df, &metric.mean_column())?,
                float_column(df, &metric.std_column())?,
            ));
        }
        let mut rows = Vec::with_capacity(df.height());
        for i in 0..df.height() {
            let mut stats = [MetricStats::default(); 5];
            for (k, (means, stds)) in per_metric.iter().enumerate() {
                let at = |col: &Option<Vec<Option<f64>>>| {
                    col.as_ref()
                        .and_then(|c| c.get(i).copied().flatten())
                        .filter(|v| v.is_finite())
                };
                stats[k] = MetricStats {
                    mean: at(means),
                    std: at(stds),
                };
            }
            let n = n_runs.get(i).copied().flatten().unwrap_or(0.0);
            rows.push(SummaryRow {
                dataset: datasets.get(i).cloned().unwrap_or_default(),
                model: models.get(i).cloned().unwrap_or_default(),
                n_runs: if n.is_finite() && n >= 0.0 {
                    n as u32
                } else {
                    0
                },
                stats,
            });
        }
        Ok(rows)
    }
}

fn string_column(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    let col = df.column(name).map_err(|e| ReportError::Column {
        column: name.into(),
        message: e.to_string(),
    })?;
    let ca = col.str().map_err(|e| ReportError::Column {
        column: name.into(),
        message: e.to_string(),
    })?;
    Ok(ca
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect())
}

/// The column as f64 values; `Ok(None)` when the frame has no such column.
fn float_column(df: &DataFrame, name: &str) -> Result<Option<Vec<Option<f64>>>> {
    let Ok(col) = df.column(name) else {
        return Ok(None);
    };
    // A column that is null in every row is read back from CSV as a string column of nulls;
    // casting it to f64 gives the nulls we want. Non-numeric text becomes null too, which is
    // why a real string is reported rather than silently shown as "-".
    let nulls_before = col.null_count();
    let cast = col
        .cast(&DataType::Float64)
        .map_err(|e| ReportError::Column {
            column: name.into(),
            message: e.to_string(),
        })?;
    if cast.null_count() != nulls_before {
        return Err(ReportError::Column {
            column: name.into(),
            message: format!("expected numbers, found dtype {}", col.dtype()),
        });
    }
    let ca = cast.f64().map_err(|e| ReportError::Column {
        column: name.into(),
        message: e.to_string(),
    })?;
    Ok(Some(ca.iter().collect()))
}
