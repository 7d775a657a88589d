//! `RunComparison`: two methods of one experiment compared on the runs they share, paired by
//! (dataset, seed, fold), with [`paired_comparison()`] statistics; and `comparisons.csv`.
//!
//! The paper (Yu & Xu 2021, Tables 3-4, 11-13) reports means only. A difference between two
//! methods trained on the same folds with the same seed is far less noisy than the difference
//! of their means, so every comparison here pairs runs: method A's run on (seed, fold) against
//! method B's run on the same (seed, fold). Runs without a partner are left out and counted.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::metric::Metric;
use crate::paired_comparison::{paired_comparison, PairedComparison};
use crate::report_error::{ReportError, Result};
use crate::run_result::RunResult;

/// One comparison to make: `a - b` on `metric`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComparisonSpec {
    pub a: String,
    pub b: String,
    pub metric: Metric,
}

/// The outcome of one comparison on one dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct RunComparison {
    pub dataset: String,
    pub a: String,
    pub b: String,
    pub metric: Metric,
    /// (seed, fold, value of A, value of B) of every pair, sorted by seed then fold; values
    /// are fractions as in metrics.json.
    pub pairs: Vec<(u64, Option<u32>, f64, f64)>,
    /// Runs of A or B that had no partner.
    pub unpaired: usize,
    /// The statistics, once there is at least one pair.
    pub stats: Option<PairedComparison>,
}

impl RunComparison {
    /// The differences `a - b` in percentage points (×100, as the paper prints metrics).
    pub fn differences_percent(&self) -> Vec<f64> {
        self.pairs
            .iter()
            .map(|(_, _, a, b)| (a - b) * 100.0)
            .collect()
    }
}

/// Pairs of identical values count as ties in wins/ties/losses (metrics are ratios of small
/// counts: equal accuracies are exactly equal).
const TIE_TOLERANCE: f64 = 1e-12;

/// Makes every comparison on every dataset where both methods have runs with the metric.
/// Errors when one method has two runs on the same (dataset, seed, fold): the caller must pass
/// the runs of one selected grid point per method.
pub fn compare_runs(runs: &[RunResult], specs: &[ComparisonSpec]) -> Result<Vec<RunComparison>> {
    // (dataset, method) -> (seed, fold) -> run
    type Key = (u64, Option<u32>);
    let mut by_method: BTreeMap<(String, String), BTreeMap<Key, &RunResult>> = BTreeMap::new();
    let mut datasets: Vec<String> = Vec::new();
    for r in runs {
        if !datasets.contains(&r.dataset) {
            datasets.push(r.dataset.clone());
        }
        let slot = by_method
            .entry((r.dataset.clone(), r.method_id().to_string()))
            .or_default();
        if let Some(first) = slot.insert((r.seed, r.fold), r) {
            return Err(ReportError::DuplicateRun {
                run: format!(
                    "{}/{} seed {} fold {:?}",
                    r.dataset,
                    r.method_id(),
                    r.seed,
                    r.fold
                ),
                first: first.source.clone(),
                second: r.source.clone(),
            });
        }
    }
    let mut out = Vec::new();
    for dataset in &datasets {
        for spec in specs {
            let (Some(a), Some(b)) = (
                by_method.get(&(dataset.clone(), spec.a.clone())),
                by_method.get(&(dataset.clone(), spec.b.clone())),
            ) else {
                continue;
            };
            let value = |r: &RunResult| spec.metric.get(&r.test);
            let mut pairs = Vec::new();
            let mut unpaired = 0;
            for (key, ra) in a {
                match (b.get(key), value(ra)) {
                    (Some(rb), Some(va)) => match value(rb) {
                        Some(vb) => pairs.push((key.0, key.1, va, vb)),
                        None => unpaired += 1,
                    },
                    _ => unpaired += 1,
                }
            }
            unpaired += b.keys().filter(|k| !a.contains_key(k)).count();
            if pairs.is_empty() {
                continue;
            }
            let (va, vb): (Vec<f64>, Vec<f64>) = pairs.iter().map(|p| (p.2, p.3)).unzip();
            let stats = paired_comparison(&va, &vb, TIE_TOLERANCE)?;
            out.push(RunComparison {
                dataset: dataset.clone(),
                a: spec.a.clone(),
                b: spec.b.clone(),
                metric: spec.metric,
                pairs,
                unpaired,
                stats: Some(stats),
            });
        }
    }
    Ok(out)
}

/// `x` with 6 decimals, empty when not finite (NaN p-values of all-zero differences).
fn num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.6}")
    } else {
        String::new()
    }
}

/// `comparisons.csv`: one row per comparison, differences in percentage points.
pub fn comparisons_csv(rows: &[RunComparison]) -> String {
    let mut out = String::from(
        "dataset,a,b,metric,pairs,unpaired,mean_a,mean_b,mean_difference_pp,ci95_low_pp,ci95_high_pp,t_statistic,t_p_value,wilcoxon_statistic,wilcoxon_p_value,wilcoxon_method,wins,ties,losses\n",
    );
    for r in rows {
        let Some(s) = &r.stats else { continue };
        let n = r.pairs.len().max(1) as f64;
        let mean_a = r.pairs.iter().map(|p| p.2).sum::<f64>() / n * 100.0;
        let mean_b = r.pairs.iter().map(|p| p.3).sum::<f64>() / n * 100.0;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            r.dataset,
            r.a,
            r.b,
            r.metric.key(),
            s.n,
            r.unpaired,
            num(mean_a),
            num(mean_b),
            num(s.mean_difference * 100.0),
            num(s.ci95_low * 100.0),
            num(s.ci95_high * 100.0),
            num(s.t_statistic),
            num(s.t_p_value),
            num(s.wilcoxon_statistic),
            num(s.wilcoxon_p_value),
            s.wilcoxon_method,
            s.wins,
            s.ties,
            s.losses
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run_result::MetricSet;

    fn run(method: &str, seed: u64, fold: u32, acc: f64) -> RunResult {
        RunResult {
            experiment: "e".into(),
            dataset: "d".into(),
            model: method.into(),
            method: None,
            grid_point: None,
            seed,
            split: String::new(),
            fold: Some(fold),
            run_id: format!("{method}{seed}{fold}"),
            best_epoch: 1,
            epochs_run: 1,
            train_seconds: 1.0,
            test: MetricSet {
                acc_average: Some(acc),
                ..MetricSet::default()
            },
            validation: None,
            class_names: vec![],
            confusion_matrix: None,
            provenance: None,
            source: std::path::PathBuf::from(format!("{method}/{seed}/{fold}")),
        }
    }

    #[test]
    fn runs_pair_by_seed_and_fold_and_strays_are_counted() {
        let runs = vec![
            run("a", 1, 0, 0.9),
            run("a", 1, 1, 0.8),
            run("a", 1, 2, 0.7),
            run("b", 1, 1, 0.6),
            run("b", 1, 0, 0.8),
            run("b", 12, 0, 0.5),
        ];
        let spec = ComparisonSpec {
            a: "a".into(),
            b: "b".into(),
            metric: Metric::AccAverage,
        };
        let rows = compare_runs(&runs, std::slice::from_ref(&spec)).unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            r.pairs,
            vec![(1, Some(0), 0.9, 0.8), (1, Some(1), 0.8, 0.6)]
        );
        assert_eq!(r.unpaired, 2);
        let d = r.differences_percent();
        assert!((d[0] - 10.0).abs() < 1e-9 && (d[1] - 20.0).abs() < 1e-9);
        let s = r.stats.unwrap();
        assert_eq!((s.wins, s.ties, s.losses), (2, 0, 0));
        // By hand: the pairs are (0.9, 0.8) and (0.8, 0.6), so mean A 0.85, mean B 0.70 and
        // mean difference 0.15 (the CSV's 85, 70, 15 in %).
        assert!((s.mean_difference - 0.15).abs() < 1e-12);
        let csv = comparisons_csv(&rows);
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .starts_with("d,a,b,acc_average,2,2,85.000000,70.000000,15.000000,"),
            "{csv}"
        );

        let dup = vec![
            run("a", 1, 0, 0.9),
            run("a", 1, 0, 0.8),
            run("b", 1, 0, 0.8),
        ];
        let err = compare_runs(&dup, &[spec]).unwrap_err().to_string();
        assert!(err.contains("duplicate run d/a seed 1"), "{err}");
    }
}
