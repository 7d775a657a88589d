//! `summarise`: mean and sample standard deviation of each metric over the runs of one
//! (dataset, model) (paper Section 4.4: "we select five random seeds ... the average
//! performance is reported"; with k-fold protocols the runs are seeds × folds).
//!
//! The statistics are computed here in plain Rust and then put into a polars frame, rather
//! than with polars' group-by: the group-by needs the `lazy` feature (a large compile) and
//! polars' own std would not let us distinguish "metric absent for this model" (null) from
//! "only one run" (also null, but for a different reason) with a clear error in between.

use std::collections::HashMap;

use polars::prelude::{Column, DataFrame};

use crate::metric::Metric;
use crate::report_error::{ReportError, Result};
use crate::run_result::RunResult;

/// One row per (dataset, method), in first-seen order of datasets and, within a dataset, of
/// models. The `model` column holds the method id ([`RunResult::method_id`]: the registry
/// name unless the experiment named a variant). Columns: `dataset`, `model`, `n_runs` (u32), then for every metric `m` in
/// [`Metric::ALL`]: `m_mean` and `m_std` (f64, nullable).
///
/// `m_std` is the sample standard deviation (ddof = 1); it is null for a single run (where it
/// is undefined, not 0). Both are null when the model has no such task (e.g. `nrmse` for an
/// FER-only model). Values stay fractions as in `metrics.json`; tables and charts convert to %.
///
/// Errors when two runs are the same run (same experiment, dataset, model, seed, fold and
/// run_id) or when a metric is reported by some runs of a group and not others.
pub fn summarise(runs: &[RunResult]) -> Result<DataFrame> {
    reject_duplicates(runs)?;

    // Groups in first-seen order: datasets in the order met, models within each dataset in the
    // order met. A flat (dataset, model) first-seen order would interleave datasets when runs
    // arrive as d1/m1, d2/m1, d1/m2; grouping by dataset first keeps each table contiguous.
    let mut datasets: Vec<&str> = Vec::new();
    let mut groups: HashMap<(&str, &str), Vec<&RunResult>> = HashMap::new();
    let mut models_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for run in runs {
        let (d, m) = (run.dataset.as_str(), run.method_id());
        if !models_of.contains_key(d) {
            datasets.push(d);
        }
        let models = models_of.entry(d).or_default();
        if !models.contains(&m) {
            models.push(m);
        }
        groups.entry((d, m)).or_default().push(run);
    }

    let mut col_dataset: Vec<String> = Vec::new();
    let mut col_model: Vec<String> = Vec::new();
    let mut col_n: Vec<u32> = Vec::new();
    let mut col_mean: Vec<Vec<Option<f64>>> = vec![Vec::new(); Metric::ALL.len()];
    let mut col_std: Vec<Vec<Option<f64>>> = vec![Vec::new(); Metric::ALL.len()];

    for d in &datasets {
        for m in models_of.get(d).map(Vec::as_slice).unwrap_or_default() {
            let group = groups.get(&(*d, *m)).map(Vec::as_slice).unwrap_or_default();
            col_dataset.push((*d).to_string());
            col_model.push((*m).to_string());
            col_n.push(u32::try_from(group.len()).unwrap_or(u32::MAX));
            for (k, metric) in Metric::ALL.into_iter().enumerate() {
                let values = metric_values(group, metric)?;
                let (mean, std) = mean_and_sample_std(&values);
                col_mean[k].push(mean);
                col_std[k].push(std);
            }
        }
    }

    let height = col_dataset.len();
    let mut columns = vec![
        Column::new("dataset".into(), col_dataset),
        Column::new("model".into(), col_model),
        Column::new("n_runs".into(), col_n),
    ];
    for (k, metric) in Metric::ALL.into_iter().enumerate() {
        columns.push(Column::new(metric.mean_column().into(), &col_mean[k]));
        columns.push(Column::new(metric.std_column().into(), &col_std[k]));
    }
    DataFrame::new(height, columns).map_err(|source| ReportError::Polars {
        what: "building the summary frame".into(),
        source,
    })
}

/// The metric's test values over a group: empty when no run has it, an error when only some do.
fn metric_values(group: &[&RunResult], metric: Metric) -> Result<Vec<f64>> {
    let values: Vec<f64> = group.iter().filter_map(|r| metric.get(&r.test)).collect();
    if !values.is_empty() && values.len() != group.len() {
        let example = group
            .iter()
            .find(|r| metric.get(&r.test).is_none())
            .map(|r| r.source.clone())
            .unwrap_or_default();
        let first = group.first();
        return Err(ReportError::InconsistentMetric {
            dataset: first.map(|r| r.dataset.clone()).unwrap_or_default(),
            model: first.map(|r| r.model.clone()).unwrap_or_default(),
            metric: metric.key().into(),
            present: values.len(),
            runs: group.len(),
            example,
        });
    }
    Ok(values)
}

/// Mean and sample standard deviation (ddof = 1, as numpy's `std(ddof=1)` and polars' default).
/// `(None, None)` for no values; std `None` for a single value, where ddof = 1 is undefined.
pub(crate) fn mean_and_sample_std(values: &[f64]) -> (Option<f64>, Option<f64>) {
    if values.is_empty() {
        return (None, None);
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (Some(mean), None);
    }
    // Two-pass formula: the one-pass sum-of-squares form loses digits when the values are
    // close together, which is the usual case for accuracies over seeds.
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (Some(mean), Some((ss / (n - 1.0)).sqrt()))
}

fn reject_duplicates(runs: &[RunResult]) -> Result<()> {
    type Key<'a> = (&'a str, &'a str, &'a str, u64, Option<u32>, &'a str);
    let mut seen: HashMap<Key<'_>, &RunResult> = HashMap::new();
    for run in runs {
        let key = (
            run.experiment.as_str(),
            run.dataset.as_str(),
            run.method_id(),
            run.seed,
            run.fold,
            run.run_id.as_str(),
        );
        if let Some(first) = seen.insert(key, run) {
            return Err(ReportError::DuplicateRun {
                run: format!(
                    "{} ({}/{}, seed {}, fold {})",
                    run.run_id,
                    run.dataset,
                    run.model,
                    run.seed,
                    run.fold.map_or_else(|| "-".to_string(), |f| f.to_string())
                ),
                first: first.source.clone(),
                second: run.source.clone(),
            });
        }
    }
    Ok(())
}
