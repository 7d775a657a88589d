//! `reading.md`: what an experiment's paired statistics say about each claim it tests (the
//! experiment's `claims`: the paper's, or for experiments beyond it, such as the weighting
//! comparison, the literature's). Written by rule, so it says only what the statistics
//! support: a comparison supports the claim when the 95% confidence interval of the mean
//! paired difference lies wholly on the claimed side of zero, contradicts it when the interval
//! lies wholly on the other side, and cannot tell otherwise. The p-values are printed beside,
//! with Holm's adjustment over a claim's comparisons where it has several (a claim's family:
//! eight weighting methods against one tuned λ are eight chances of a false "supports").

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
    let label = |id: &str| crate::experiment_report::method_label(spec, names, id);
    // The claim's comparisons with statistics, in the claim's order: one family for Holm.
    let mut found = Vec::new();
    for (a, b) in claim.compare.pairs() {
        for c in comparisons
            .iter()
            .filter(|c| c.a == a && c.b == b && c.metric == metric)
        {
            if let Some(s) = &c.stats {
                found.push((c, s));
            }
        }
    }
    let holm =
        fer_report::holm_adjusted(&found.iter().map(|(_, s)| s.t_p_value).collect::<Vec<_>>());
    let tested = holm.iter().filter(|p| !p.is_nan()).count();
    let mut verdicts = Vec::new();
    for ((c, s), holm_p) in found.iter().zip(&holm) {
        let v = verdict(s.ci95_low, s.ci95_high, claim.expect);
        verdicts.push((v, *c, *s, *holm_p));
        let paper_diff = match paper(&c.dataset, &c.a, &c.b, metric) {
            Some(d) => format!("; the paper: {d:+.2}"),
            None => String::new(),
        };
        // Holm's p only where the claim has a family of tests to correct for.
        let holm_note = if tested > 1 {
            format!(" (Holm {})", format_p(*holm_p))
        } else {
            String::new()
        };
        let _ = writeln!(
            md,
            "- {} − {} on {}, {}: {:+.2} pp (95 % CI {}; n = {} pairs; paired t p = {}{holm_note}, Wilcoxon p = {} ({}); wins/ties/losses {}/{}/{}){paper_diff}. **{}**.",
            label(&c.a),
            label(&c.b),
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
    let count = |w: Verdict| verdicts.iter().filter(|(v, ..)| *v == w).count();
    // A comparison is named by both sides: a claim may vary either (CMCNN against each other
    // method, or each weighting method against one λ).
    let name = |c: &RunComparison| format!("{} − {} on {}", label(&c.a), label(&c.b), c.dataset);
    let plural = |n: usize, one: &'static str, many: &'static str| if n == 1 { one } else { many };
    let mut summary = if verdicts.is_empty() {
        "No finished paired runs test this claim yet.".to_string()
    } else if count(Verdict::Supports) == verdicts.len() {
        "Our runs **support** this claim in every comparison.".to_string()
    } else if count(Verdict::Contradicts) == verdicts.len() {
        "Our runs **contradict** this claim in every comparison.".to_string()
    } else if count(Verdict::CannotTell) == verdicts.len() {
        let undefined = verdicts.iter().any(|(_, _, s, _)| !s.ci95_low.is_finite());
        format!(
            "Our runs **cannot tell** at this number of pairs: every confidence interval includes zero{}.",
            if undefined { " or, with one pair, is undefined" } else { "" }
        )
    } else {
        let (s, c) = (count(Verdict::Supports), count(Verdict::Contradicts));
        format!(
            "Mixed, of {} comparisons: {s} {} the claim, {c} {} it, {} cannot tell.",
            verdicts.len(),
            plural(s, "supports", "support"),
            plural(c, "contradicts", "contradict"),
            count(Verdict::CannotTell)
        )
    };
    // Which comparisons decided, by name and size, so that the summary answers "which, and
    // by how much" without reading every line.
    for (which, words) in [
        (Verdict::Supports, "Supporting"),
        (Verdict::Contradicts, "Contradicting"),
    ] {
        let named: Vec<String> = verdicts
            .iter()
            .filter(|(v, ..)| *v == which)
            .map(|(_, c, s, _)| {
                format!(
                    "{} ({:+.2} pp, 95 % CI {})",
                    name(c),
                    s.mean_difference * 100.0,
                    format_ci(s.ci95_low, s.ci95_high)
                )
            })
            .collect();
        if !named.is_empty() && named.len() < verdicts.len() {
            let _ = write!(summary, " {words}: {}.", named.join("; "));
        }
    }
    let decided = count(Verdict::Supports) + count(Verdict::Contradicts);
    if tested > 1 && decided > 0 {
        let kept: Vec<String> = verdicts
            .iter()
            .filter(|(v, _, _, h)| *v != Verdict::CannotTell && *h < 0.05)
            .map(|(v, c, ..)| format!("{} ({})", name(c), v.words()))
            .collect();
        let untested = verdicts.len() - tested;
        let untested_note = if untested > 0 {
            format!(
                " ({untested} {} no t-test: one pair, or no difference)",
                plural(untested, "comparison has", "comparisons have")
            )
        } else {
            String::new()
        };
        let _ = write!(
            summary,
            " With Holm's correction for the {tested} tests of this claim{untested_note}, paired-t p < 0.05 remains for {} of {decided} decided {}{}.",
            if kept.is_empty() { "none".to_string() } else { kept.len().to_string() },
            plural(decided, "comparison", "comparisons"),
            if kept.is_empty() { String::new() } else { format!(": {}", kept.join("; ")) }
        );
    }
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
        "# Reading of {}: its claims against our runs\n\n",
        spec.name
    );
    md.push_str(
        "Written by `cargo xtask report` from comparisons.csv, by one rule: a comparison of A − B (runs paired by seed and fold, test split) *supports* a claim when the Student-t 95 % confidence interval of the mean paired difference lies wholly on the side of zero the claim predicts, *contradicts* it when the interval lies wholly on the other side, and *cannot tell* otherwise. Differences are in percentage points (pp); NRMSE is ×100 as in the paper, lower is better. p-values are two-sided. The rule's intervals are not corrected for the number of comparisons (an interval excludes zero exactly when the paired-t p < 0.05), so where a claim is tested by several comparisons each line also gives Holm's adjusted p over that claim's tests, and the claim's summary says which decided comparisons keep p < 0.05 after it. An interval that barely excludes zero among many comparisons is weak evidence.",
    );
    // The paper's numbers are printed beside ours only where they exist; a stand-in dataset
    // (CK+48 for the paper's CK+) makes them a comparison of signs.
    if spec.datasets.iter().any(|d| !d.stand_ins.is_empty()) {
        md.push_str(
            " Where a stand-in dataset ran, the paper's differences come from other data: compare signs, not sizes.",
        );
    }
    md.push_str("\n\n");
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

    /// A comparison of `a` against `b` on CK+48 whose paired differences are `d`.
    fn comparison_with(a: &str, b: &str, d: &[f64]) -> RunComparison {
        let bv = vec![0.8; d.len()];
        let av: Vec<f64> = d.iter().map(|x| 0.8 + x).collect();
        RunComparison {
            dataset: "ckplus48".into(),
            a: a.into(),
            b: b.into(),
            metric: Metric::AccAverage,
            pairs: (0..d.len())
                .map(|i| (1, Some(i as u32), av[i], bv[i]))
                .collect(),
            unpaired: 0,
            stats: Some(fer_report::paired_comparison(&av, &bv, 0.0).unwrap()),
        }
    }

    fn comparison(a: &str, d: &[f64]) -> RunComparison {
        comparison_with(a, "hps", d)
    }

    fn spec(name: &str) -> ExperimentSpec {
        let path = format!(
            "{}/../../experiments/{name}.yaml",
            env!("CARGO_MANIFEST_DIR")
        );
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// The reading.md of the named experiment over `comparisons`, without the paper's numbers.
    fn reading(name: &str, comparisons: &[RunComparison]) -> String {
        reading_markdown(
            &spec(name),
            &MethodNames::default(),
            comparisons,
            &|_, _, _, _| None,
            None,
        )
        .unwrap()
    }

    #[test]
    fn a_claim_that_varies_b_names_both_sides_and_each_direction() {
        // Table 4's "CMCNN is the best of the multi-task methods": CMCNN against three others.
        // Against HPS a clear gain, against CSN a loss only the uncorrected interval decides
        // (t p 0.0279, Holm 0.056), against PS-MCNN nothing.
        let comparisons = [
            comparison_with(
                "cmcnn",
                "hps",
                &[
                    0.05, 0.06, 0.04, 0.055, 0.045, 0.05, 0.065, 0.035, 0.05, 0.06,
                ],
            ),
            comparison_with(
                "cmcnn",
                "csn",
                &[
                    -0.02, -0.01, -0.03, 0.005, -0.015, 0.0, -0.025, 0.01, -0.02, -0.005,
                ],
            ),
            comparison_with(
                "cmcnn",
                "ps-mcnn",
                &[
                    0.01, -0.02, 0.03, -0.01, 0.0, 0.02, -0.03, 0.01, 0.005, -0.015,
                ],
            ),
        ];
        let md = reading("table4", &comparisons);
        let best = md
            .split("## ")
            .find(|s| s.starts_with("CMCNN is the best"))
            .unwrap();
        assert!(
            best.contains(
                "Mixed, of 3 comparisons: 1 supports the claim, 1 contradicts it, 1 cannot tell."
            ),
            "{best}"
        );
        assert!(
            best.contains("Supporting: cmcnn − hps on ckplus48 (+5.10 pp"),
            "{best}"
        );
        assert!(
            best.contains("Contradicting: cmcnn − csn on ckplus48 (-1.10 pp"),
            "{best}"
        );
        assert!(
            best.contains("With Holm's correction for the 3 tests of this claim, paired-t p < 0.05 remains for 1 of 2 decided comparisons: cmcnn − hps on ckplus48 (supports)."),
            "{best}"
        );
        // Table 4 runs CK+48 as the paper's CK+.
        assert!(md.contains("compare signs, not sizes"), "{md}");
    }

    #[test]
    fn one_pair_everywhere_reads_as_undefined_not_as_zero() {
        let md = reading(
            "weighting",
            &[
                comparison("hps-uncertainty", &[0.03]),
                comparison("hps-dwa", &[-0.01]),
            ],
        );
        assert!(
            md.contains("every confidence interval includes zero or, with one pair, is undefined."),
            "{md}"
        );
        // Neither has a t-test: no Holm note on the lines.
        assert!(!md.contains("(Holm"), "{md}");
    }

    #[test]
    fn a_claim_with_several_tests_names_its_deciders_and_corrects_for_them() {
        // Against HPS's tuned λ: one clear gain (t p 3.4e-8), one that only the uncorrected
        // interval decides (t p 0.0279: Holm 0.0559 over three tests), one null (p 1.0) and
        // one comparison of a single pair (no t-test, so not one of the three).
        // scipy 1.17 (the paired t of (0.8 + d_i, 0.8) is the one-sample t of d):
        //   from scipy import stats
        //   u = [0.05, 0.06, 0.04, 0.055, 0.045, 0.05, 0.065, 0.035, 0.05, 0.06]
        //   d = [0.02, 0.01, 0.03, -0.005, 0.015, 0.0, 0.025, -0.01, 0.02, 0.005]
        //   r = [0.01, -0.02, 0.03, -0.01, 0.0, 0.02, -0.03, 0.01, 0.005, -0.015]
        //   p = [stats.ttest_rel([0.8 + x for x in s], [0.8] * len(s)).pvalue for s in (u, d, r)]
        //   # [3.394686079066004e-08, 0.027944869412697037, 1.0]
        //   order = sorted(range(3), key=lambda i: p[i]); holm = [0.0] * 3; run = 0.0
        //   for k, i in enumerate(order):  # Holm: sorted p_(k) (m - k), running maximum
        //       run = max(run, min(1.0, p[i] * (3 - k))); holm[i] = run
        //   # holm = [1.0184058237198011e-07, 0.055889738825394074, 1.0]
        let comparisons = [
            comparison(
                "hps-uncertainty",
                &[
                    0.05, 0.06, 0.04, 0.055, 0.045, 0.05, 0.065, 0.035, 0.05, 0.06,
                ],
            ),
            comparison(
                "hps-dwa",
                &[
                    0.02, 0.01, 0.03, -0.005, 0.015, 0.0, 0.025, -0.01, 0.02, 0.005,
                ],
            ),
            comparison(
                "hps-rlw",
                &[
                    0.01, -0.02, 0.03, -0.01, 0.0, 0.02, -0.03, 0.01, 0.005, -0.015,
                ],
            ),
            comparison("hps-gradnorm", &[0.03]),
        ];
        let dwa = comparisons[1].stats.unwrap();
        assert!(
            (dwa.t_p_value - 0.027944869412697013).abs() < 1e-9,
            "scipy.stats.ttest_rel, above: {}",
            dwa.t_p_value
        );
        let md = reading("weighting", &comparisons);
        let hps = md
            .split("## ")
            .find(|s| s.starts_with("A weighting method improves HPS"))
            .unwrap();
        assert!(hps.contains("paired t p = 0.028 (Holm 0.056)"), "{hps}");
        assert!(hps.contains("paired t p = 3.4e-8 (Holm 1.0e-7)"), "{hps}");
        assert!(hps.contains("paired t p = n/a (Holm n/a)"), "{hps}");
        assert!(
            hps.contains(
                "Mixed, of 4 comparisons: 2 support the claim, 0 contradict it, 2 cannot tell."
            ),
            "{hps}"
        );
        assert!(
            hps.contains(
                "Supporting: HPS, Uncertainty (Kendall 2018) − HPS, fixed λ (tuned) on ckplus48 (+5.10 pp, 95 % CI"
            ),
            "{hps}"
        );
        assert!(
            hps.contains("HPS, DWA (Liu 2019) − HPS, fixed λ (tuned) on ckplus48 (+1.10 pp"),
            "{hps}"
        );
        assert!(
            hps.contains("With Holm's correction for the 3 tests of this claim (1 comparison has no t-test: one pair, or no difference), paired-t p < 0.05 remains for 1 of 2 decided comparisons: HPS, Uncertainty (Kendall 2018) − HPS, fixed λ (tuned) on ckplus48 (supports)."),
            "{hps}"
        );
        // CMCNN's claim has no comparison here; CK+48 is no stand-in in this experiment.
        assert!(md.contains("No finished paired runs test this claim yet."));
        assert!(!md.contains("stand-in"), "{md}");
    }

    #[test]
    fn an_interval_one_pair_cannot_give_reads_not_available() {
        assert_eq!(format_ci(-0.0449, 0.0519), "-4.49 to +5.19");
        assert_eq!(format_ci(f64::NAN, f64::NAN), "n/a");
    }
}
