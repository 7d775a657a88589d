//! `reading.md`: what an experiment's paired statistics say about each of the paper's claims
//! it tests (the experiment's `claims`). Written by rule, so it says only what the statistics
//! support: a comparison supports the claim when the 95% confidence interval of the mean
//! paired difference lies wholly on the claimed side of zero, contradicts it when the interval
//! lies wholly on the other side, and cannot tell otherwise. The p-values are printed beside,
//! uncorrected for the number of comparisons (said in the file).

use std::fmt::Write as _;

use fer_report::{MethodNames, Metric, RunComparison};

use crate::experiment_spec::{ClaimSpec, Expectation, ExperimentSpec};

/// What one comparison says of a claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Supports,
    Contradicts,
    CannotTell,
}

impl Verdict {
    fn words(self) -> &'static str {
        match self {
            Self::Supports => "supports",
            Self::Contradicts => "contradicts",
            Self::CannotTell => "cannot tell",
        }
    }
}

/// The verdict of a CI `[low, high]` of `a - b` on a claim that expects `expect`.
pub fn verdict(low: f64, high: f64, expect: Expectation) -> Verdict {
    if !(low.is_finite() && high.is_finite()) {
        return Verdict::CannotTell;
    }
    let (above, below) = (low > 0.0, high < 0.0);
    match (expect, above, below) {
        (Expectation::Higher, true, _) | (Expectation::Lower, _, true) => Verdict::Supports,
        (Expectation::Higher, _, true) | (Expectation::Lower, true, _) => Verdict::Contradicts,
        _ => Verdict::CannotTell,
    }
}

/// A p-value as the tables print it: 3 decimals, scientific below 0.001, `n/a` when undefined.
pub fn format_p(v: f64) -> String {
    if !v.is_finite() {
        "n/a".into()
    } else if v < 0.001 {
        format!("{v:.1e}")
    } else {
        format!("{v:.3}")
    }
}

/// A 95 % confidence interval of a difference in percentage points, `+0.12 to +3.40`; `n/a`
/// when undefined (a single pair has no spread to estimate).
pub fn format_ci(low: f64, high: f64) -> String {
    if low.is_finite() && high.is_finite() {
        format!("{:+.2} to {:+.2}", low * 100.0, high * 100.0)
    } else {
        "n/a".into()
    }
}

/// The reading of one claim over the comparisons found for it.
fn claim_section(
    spec: &ExperimentSpec,
    names: &MethodNames,
    claim: &ClaimSpec,
    comparisons: &[RunComparison],
    paper: &dyn Fn(&str, &str, &str, Metric) -> Option<f64>,
) -> String {
    let mut md = format!("## {}\n\n", claim.claim);
    let Ok(metric) = claim.compare.metric.parse::<Metric>() else {
        return md;
    };
    let mut verdicts = Vec::new();
    for (a, b) in claim.compare.pairs() {
        for c in comparisons
            .iter()
            .filter(|c| c.a == a && c.b == b && c.metric == metric)
        {
            let Some(s) = &c.stats else { continue };
            let v = verdict(s.ci95_low, s.ci95_high, claim.expect);
            verdicts.push(v);
            let label = |id: &str| crate::experiment_report::method_label(spec, names, id);
            let paper_diff = match (paper(&c.dataset, &a, &b, metric), s.n) {
                (Some(d), _) => format!("; the paper: {d:+.2}"),
                _ => String::new(),
            };
            let _ = writeln!(
                md,
                "- {} − {} on {}, {}: {:+.2} pp (95 % CI {}; n = {} pairs; paired t p = {}, Wilcoxon p = {} ({}); wins/ties/losses {}/{}/{}){paper_diff}. **{}**.",
                label(&a),
                label(&b),
                c.dataset,
                metric.header(),
                s.mean_difference * 100.0,
                format_ci(s.ci95_low, s.ci95_high),
                s.n,
                format_p(s.t_p_value),
                format_p(s.wilcoxon_p_value),
                s.wilcoxon_method,
                s.wins,
                s.ties,
                s.losses,
                v.words()
            );
        }
    }
    let summary = if verdicts.is_empty() {
        "No finished paired runs test this claim yet.".to_string()
    } else if verdicts.iter().all(|v| *v == Verdict::Supports) {
        "Our runs **support** this claim in every comparison.".to_string()
    } else if verdicts.iter().all(|v| *v == Verdict::Contradicts) {
        "Our runs **contradict** this claim in every comparison.".to_string()
    } else if verdicts.iter().all(|v| *v == Verdict::CannotTell) {
        "Our runs **cannot tell** at this number of pairs: every confidence interval includes zero."
            .to_string()
    } else {
        let count = |w: Verdict| verdicts.iter().filter(|v| **v == w).count();
        format!(
            "Mixed: {} comparisons support the claim, {} contradict it, {} cannot tell.",
            count(Verdict::Supports),
            count(Verdict::Contradicts),
            count(Verdict::CannotTell)
        )
    };
    let _ = writeln!(md, "\n{summary}\n");
    md
}

/// The whole reading.md of an experiment; `None` when it tests no claim.
pub fn reading_markdown(
    spec: &ExperimentSpec,
    names: &MethodNames,
    comparisons: &[RunComparison],
    paper: &dyn Fn(&str, &str, &str, Metric) -> Option<f64>,
    partial: Option<String>,
) -> Option<String> {
    if spec.claims.is_empty() {
        return None;
    }
    let mut md = format!(
        "# Reading of {}: the paper's claims against our runs\n\n",
        spec.name
    );
    md.push_str(
        "Written by `cargo xtask report` from comparisons.csv, by one rule: a comparison of A − B (runs paired by seed and fold, test split) *supports* a claim when the Student-t 95 % confidence interval of the mean paired difference lies wholly on the side of zero the claim predicts, *contradicts* it when the interval lies wholly on the other side, and *cannot tell* otherwise. Differences are in percentage points (pp); NRMSE is ×100 as in the paper, lower is better. p-values are two-sided and not corrected for the number of comparisons; an interval that barely excludes zero among many comparisons is weak evidence. Where a stand-in dataset ran, the paper's differences come from other data: compare signs, not sizes.\n\n",
    );
    if let Some(p) = partial {
        let _ = writeln!(md, "**Partial**: {p}\n");
    }
    for claim in &spec.claims {
        md.push_str(&claim_section(spec, names, claim, comparisons, paper));
    }
    Some(md)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_interval_decides_the_verdict() {
        use Expectation::*;
        assert_eq!(verdict(0.1, 0.5, Higher), Verdict::Supports);
        assert_eq!(verdict(-0.5, -0.1, Higher), Verdict::Contradicts);
        assert_eq!(verdict(-0.1, 0.5, Higher), Verdict::CannotTell);
        assert_eq!(verdict(-0.5, -0.1, Lower), Verdict::Supports);
        assert_eq!(verdict(0.1, 0.5, Lower), Verdict::Contradicts);
        assert_eq!(verdict(0.0, 0.5, Higher), Verdict::CannotTell);
        assert_eq!(verdict(f64::NAN, f64::NAN, Higher), Verdict::CannotTell);
    }

    #[test]
    fn an_interval_one_pair_cannot_give_reads_not_available() {
        assert_eq!(format_ci(-0.0449, 0.0519), "-4.49 to +5.19");
        assert_eq!(format_ci(f64::NAN, f64::NAN), "n/a");
    }
}
