//! Tests of `paired_comparison` against scipy 1.17.1 (numpy 2.4.6, Python 3.11): paired
//! t-test, Wilcoxon signed-rank test with scipy's default settings on each of its paths
//! (exact, normal approximation, permutation), the t 95% CI, wins/ties/losses, the
//! degenerate inputs and the refusals.
//!
//! Every expected number was printed by this Python (`python3 -m pip install scipy numpy`),
//! the harness followed by the `report(...)` call quoted beside each case; the printed lines
//! are, in order, mean(d), std(d, ddof=1), CI low, CI high, t, t p-value, Wilcoxon statistic,
//! Wilcoxon p-value. `path` lists the explicit methods whose p-value equals the default's,
//! showing which one `method='auto'` took.
//!
//! ```text
//! import warnings
//! import numpy as np
//! from scipy import stats
//! warnings.simplefilter("ignore")
//!
//! def report(name, a, b):
//!     a = np.asarray(a, dtype=float)
//!     b = np.asarray(b, dtype=float)
//!     d = a - b
//!     n = len(d)
//!     t = stats.ttest_rel(a, b)
//!     w = stats.wilcoxon(a, b)
//!     ci = stats.t.interval(0.95, n - 1, loc=d.mean(), scale=d.std(ddof=1) / np.sqrt(n))
//!     path = []  # the non-default methods that give the default's p-value
//!     for label, method in [("exact", "exact"), ("approx", "asymptotic"),
//!                           ("permutation", stats.PermutationMethod())]:
//!         try:
//!             if stats.wilcoxon(a, b, method=method).pvalue == w.pvalue:
//!                 path.append(label)
//!         except ValueError:
//!             pass
//!     nz = d[d != 0]
//!     print(name, "zeros", int(np.sum(d == 0)), "tied |d|",
//!           len(nz) - len(np.unique(np.abs(nz))), "path", path)
//!     for v in [d.mean(), d.std(ddof=1), ci[0], ci[1], t.statistic, t.pvalue,
//!               w.statistic, w.pvalue]:
//!         print("   ", repr(float(v)))
//! ```

use fer_report::{
    paired_comparison, PairedComparison, ReportError, WILCOXON_APPROX, WILCOXON_EXACT,
    WILCOXON_PERMUTATION,
};

/// The eight numbers `report` prints, in its order.
struct Scipy {
    mean: f64,
    std: f64,
    ci_low: f64,
    ci_high: f64,
    t: f64,
    t_p: f64,
    w: f64,
    w_p: f64,
}

/// `got` within 1e-9 relative of `want` (1e-12 absolute when `want` is 0); NaN only
/// matches NaN and infinities only themselves.
fn assert_close(case: &str, what: &str, got: f64, want: f64) {
    let ok = if want.is_nan() {
        got.is_nan()
    } else if want.is_infinite() || want == 0.0 {
        got == want || (want == 0.0 && got.abs() <= 1e-12)
    } else {
        (got - want).abs() <= 1e-9 * want.abs()
    };
    assert!(
        ok,
        "{case}: {what} = {got:e}, scipy {want:e} (relative error {:e})",
        ((got - want) / want).abs()
    );
}

fn check(case: &str, got: &PairedComparison, n: usize, want: &Scipy, method: &str) {
    assert_eq!(got.n, n, "{case}: n");
    assert_close(case, "mean_difference", got.mean_difference, want.mean);
    assert_close(case, "std_difference", got.std_difference, want.std);
    assert_close(case, "ci95_low", got.ci95_low, want.ci_low);
    assert_close(case, "ci95_high", got.ci95_high, want.ci_high);
    assert_close(case, "t_statistic", got.t_statistic, want.t);
    assert_close(case, "t_p_value", got.t_p_value, want.t_p);
    // Sums of (half-)ranks: exact.
    assert_eq!(got.wilcoxon_statistic, want.w, "{case}: wilcoxon_statistic");
    assert_close(case, "wilcoxon_p_value", got.wilcoxon_p_value, want.w_p);
    assert_eq!(got.wilcoxon_method, method, "{case}: wilcoxon_method");
}

/// `(offset + (i * step) % modulus) / 10000` for i in 0..n, the same doubles as numpy's
/// `np.array([offset + (i * step) % modulus for i in range(n)]) / 10000`.
fn ten_thousandths(n: usize, offset: usize, step: usize, modulus: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (offset + (i * step) % modulus) as f64 / 10000.0)
        .collect()
}

const N10_A: [f64; 10] = [
    0.712, 0.698, 0.731, 0.705, 0.689, 0.723, 0.717, 0.701, 0.694, 0.728,
];
const N10_B: [f64; 10] = [
    0.701, 0.702, 0.715, 0.699, 0.690, 0.709, 0.712, 0.688, 0.697, 0.716,
];

#[test]
fn n10_without_ties_uses_the_exact_distribution() -> anyhow::Result<()> {
    // report("n10_exact",
    //        [0.712, 0.698, 0.731, 0.705, 0.689, 0.723, 0.717, 0.701, 0.694, 0.728],
    //        [0.701, 0.702, 0.715, 0.699, 0.690, 0.709, 0.712, 0.688, 0.697, 0.716])
    // n10_exact zeros 0 tied |d| 0 path ['exact', 'permutation']
    let want = Scipy {
        mean: 0.006900000000000006,
        std: 0.00743041796341977,
        ci_low: 0.0015845991956191918,
        ci_high: 0.01221540080438082,
        t: 2.9365395005477652,
        t_p: 0.016579754181470292,
        w: 6.0,
        w_p: 0.02734375,
    };
    let got = paired_comparison(&N10_A, &N10_B, 0.0)?;
    check("n10_exact", &got, 10, &want, WILCOXON_EXACT);
    assert_eq!((got.wins, got.ties, got.losses), (7, 0, 3));
    Ok(())
}

#[test]
fn three_seeds_by_ten_folds_without_ties_uses_the_exact_distribution() -> anyhow::Result<()> {
    // report("n30_exact",
    //        np.array([7000 + (i * 37) % 101 for i in range(30)]) / 10000,
    //        np.array([6990 + (i * 53) % 97 for i in range(30)]) / 10000)
    // n30_exact zeros 0 tied |d| 0 path ['exact']
    let want = Scipy {
        mean: 0.0014100000000000002,
        std: 0.0037525485592667905,
        ci_low: 8.775339487014384e-06,
        ci_high: 0.002811224660512986,
        t: 2.0580381409726023,
        t_p: 0.04867322659538788,
        w: 145.0,
        w_p: 0.07324407435953617,
    };
    let a = ten_thousandths(30, 7000, 37, 101);
    let b = ten_thousandths(30, 6990, 53, 97);
    let got = paired_comparison(&a, &b, 0.0)?;
    check("n30_exact", &got, 30, &want, WILCOXON_EXACT);
    assert_eq!(got.wins + got.ties + got.losses, 30);
    Ok(())
}

#[test]
fn fifty_pairs_are_exact_and_fifty_one_are_approximated() -> anyhow::Result<()> {
    // report("n50_exact",
    //        np.array([7000 + (i * 37) % 103 for i in range(50)]) / 10000,
    //        np.array([6995 + (i * 53) % 97 for i in range(50)]) / 10000)
    // n50_exact zeros 0 tied |d| 0 path ['exact']
    let want50 = Scipy {
        mean: 0.0009279999999999999,
        std: 0.004475103008733491,
        ci_low: -0.0003438102031015378,
        ci_high: 0.0021998102031015377,
        t: 1.466323996700195,
        t_p: 0.14894870254723305,
        w: 504.0,
        w_p: 0.20103473802823935,
    };
    let a = ten_thousandths(50, 7000, 37, 103);
    let b = ten_thousandths(50, 6995, 53, 97);
    check(
        "n50_exact",
        &paired_comparison(&a, &b, 0.0)?,
        50,
        &want50,
        WILCOXON_EXACT,
    );

    // report("n51_approx",
    //        np.array([7000 + (i * 37) % 103 for i in range(51)]) / 10000,
    //        np.array([6995 + (i * 53) % 97 for i in range(51)]) / 10000)
    // n51_approx zeros 0 tied |d| 0 path ['approx']
    let want51 = Scipy {
        mean: 0.0010529411764705877,
        std: 0.004519086320980228,
        ci_low: -0.00021807233282909147,
        ci_high: 0.0023239546857702666,
        t: 1.663943442797385,
        t_p: 0.10237965201437713,
        w: 505.0,
        w_p: 0.13860450428488436,
    };
    let a = ten_thousandths(51, 7000, 37, 103);
    let b = ten_thousandths(51, 6995, 53, 97);
    check(
        "n51_approx",
        &paired_comparison(&a, &b, 0.0)?,
        51,
        &want51,
        WILCOXON_APPROX,
    );
    Ok(())
}

#[test]
fn ties_and_a_zero_difference_use_the_tie_corrected_normal_approximation() -> anyhow::Result<()> {
    // Correctly classified test images per fold; d = a - b =
    // [3, -1, 4, 3, 0, 5, -2, 2, 3, -1, 6, 2, -4, 1, 3, 2, 5, -3, 1, 4].
    // report("n20_ties_zero_approx",
    //        [812, 805, 799, 820, 811, 803, 808, 815, 800, 806,
    //         809, 813, 798, 817, 804, 810, 807, 802, 816, 801],
    //        [809, 806, 795, 817, 811, 798, 810, 813, 797, 807,
    //         803, 811, 802, 816, 801, 808, 802, 805, 815, 797])
    // n20_ties_zero_approx zeros 1 tied |d| 13 path ['approx']
    let want = Scipy {
        mean: 1.65,
        std: 2.7582412397834433,
        ci_low: 0.3591033633998084,
        ci_high: 2.9408966366001916,
        t: 2.6752643022365414,
        t_p: 0.014965970611600222,
        w: 37.5,
        w_p: 0.020096723217232028,
    };
    let a = [
        812.0, 805.0, 799.0, 820.0, 811.0, 803.0, 808.0, 815.0, 800.0, 806.0, 809.0, 813.0, 798.0,
        817.0, 804.0, 810.0, 807.0, 802.0, 816.0, 801.0,
    ];
    let b = [
        809.0, 806.0, 795.0, 817.0, 811.0, 798.0, 810.0, 813.0, 797.0, 807.0, 803.0, 811.0, 802.0,
        816.0, 801.0, 808.0, 802.0, 805.0, 815.0, 797.0,
    ];
    let got = paired_comparison(&a, &b, 0.0)?;
    check("n20_ties_zero_approx", &got, 20, &want, WILCOXON_APPROX);
    assert_eq!((got.wins, got.ties, got.losses), (14, 1, 5));
    // |d| <= 1 are ties: -1, 0, -1, 1, 1.
    let tolerant = paired_comparison(&a, &b, 1.0)?;
    assert_eq!((tolerant.wins, tolerant.ties, tolerant.losses), (12, 5, 3));
    // The tolerance changes the tally only, not the tests.
    assert_eq!(tolerant.wilcoxon_p_value, got.wilcoxon_p_value);
    assert_eq!(tolerant.t_p_value, got.t_p_value);
    Ok(())
}

#[test]
fn n60_uses_the_normal_approximation() -> anyhow::Result<()> {
    // report("n60_approx",
    //        np.array([7000 + (i * 37) % 101 for i in range(60)]) / 10000,
    //        np.array([6990 + (i * 53) % 97 for i in range(60)]) / 10000)
    // n60_approx zeros 1 tied |d| 16 path ['approx']
    let want = Scipy {
        mean: 0.0014066666666666691,
        std: 0.003800663040578922,
        ci_low: 0.0004248512936007669,
        ci_high: 0.0023884820397325713,
        t: 2.866866394362213,
        t_p: 0.005739249921959825,
        w: 558.0,
        w_p: 0.013574557801962964,
    };
    let a = ten_thousandths(60, 7000, 37, 101);
    let b = ten_thousandths(60, 6990, 53, 97);
    check(
        "n60_approx",
        &paired_comparison(&a, &b, 0.0)?,
        60,
        &want,
        WILCOXON_APPROX,
    );
    Ok(())
}

#[test]
fn small_samples_with_ties_or_zeros_use_scipys_permutation_test() -> anyhow::Result<()> {
    // d = [2, 0, 1, -1, 3, 2, 1, 4]: a zero and tied |d| (1, 1, 1 and 2, 2).
    // report("n8_ties_zero_permutation",
    //        [10, 12, 9, 14, 11, 13, 10, 12],
    //        [8, 12, 8, 15, 8, 11, 9, 8])
    // n8_ties_zero_permutation zeros 1 tied |d| 3 path ['permutation']
    let want = Scipy {
        mean: 1.5,
        std: 1.6035674514745464,
        ci_low: 0.15938406132284255,
        ci_high: 2.8406159386771574,
        t: 2.6457513110645907,
        t_p: 0.03314550026377369,
        w: 2.0,
        w_p: 0.0625,
    };
    let a = [10.0, 12.0, 9.0, 14.0, 11.0, 13.0, 10.0, 12.0];
    let b = [8.0, 12.0, 8.0, 15.0, 8.0, 11.0, 9.0, 8.0];
    let got = paired_comparison(&a, &b, 0.0)?;
    check(
        "n8_ties_zero_permutation",
        &got,
        8,
        &want,
        WILCOXON_PERMUTATION,
    );
    assert_eq!((got.wins, got.ties, got.losses), (6, 1, 1));
    Ok(())
}

#[test]
fn the_permutation_limit_counts_pairs_before_zeros_are_dropped() -> anyhow::Result<()> {
    // 13 pairs, one zero difference: permutation test (12 non-zero, no ties, so it equals the
    // exact distribution of 12 ranks).
    // report("n13_zero_permutation",
    //        [100 + i for i in range(13)],
    //        [100 + i - d for i, d in enumerate([0, 3, -1, 4, 6, -2, 5, 7, 8, -9, 10, 11, 12])])
    // n13_zero_permutation zeros 1 tied |d| 0 path ['exact', 'permutation']
    let want13 = Scipy {
        mean: 4.153846153846154,
        std: 5.956035508151288,
        ci_low: 0.5546499179131046,
        ci_high: 7.753042389779203,
        t: 2.5145762273552856,
        t_p: 0.02717853211219367,
        w: 12.0,
        w_p: 0.0341796875,
    };
    // 14 pairs, one zero difference: 13 non-zero would still be "<= 13", but scipy counts the
    // 14 pairs and falls back to the normal approximation.
    // report("n14_zero_approx",
    //        [100 + i for i in range(14)],
    //        [100 + i - d for i, d in enumerate([0, 3, -1, 4, 6, -2, 5, 7, 8, -9, 10, 11, 12, 13])])
    // n14_zero_approx zeros 1 tied |d| 0 path ['approx']
    let want14 = Scipy {
        mean: 4.785714285714286,
        std: 6.191539779018207,
        ci_low: 1.2108256491664342,
        ci_high: 8.360602922262137,
        t: 2.8920920881125096,
        t_p: 0.012597677326810984,
        w: 12.0,
        w_p: 0.01922343909754908,
    };
    let d = [
        0.0, 3.0, -1.0, 4.0, 6.0, -2.0, 5.0, 7.0, 8.0, -9.0, 10.0, 11.0, 12.0, 13.0,
    ];
    for (n, want, method) in [
        (13, &want13, WILCOXON_PERMUTATION),
        (14, &want14, WILCOXON_APPROX),
    ] {
        let a: Vec<f64> = (0..n).map(|i| 100.0 + i as f64).collect();
        let b: Vec<f64> = (0..n).map(|i| 100.0 + i as f64 - d[i]).collect();
        let case = format!("n{n}_zero");
        check(&case, &paired_comparison(&a, &b, 0.0)?, n, want, method);
    }
    Ok(())
}

#[test]
fn tiny_exact_p_value_is_the_exact_dyadic_fraction() -> anyhow::Result<()> {
    // All 20 differences positive: p = 2 / 2^20 exactly.
    // report("n20_all_positive", np.arange(1, 21), np.zeros(20))
    // n20_all_positive zeros 0 tied |d| 0 path ['exact']
    let want = Scipy {
        mean: 10.5,
        std: 5.916079783099616,
        ci_low: 7.731189431979746,
        ci_high: 13.268810568020253,
        t: 7.937253933193771,
        t_p: 1.8835121243843494e-07,
        w: 0.0,
        w_p: 1.9073486328125e-06,
    };
    let a: Vec<f64> = (1..=20).map(f64::from).collect();
    let b = vec![0.0; 20];
    let got = paired_comparison(&a, &b, 0.0)?;
    check("n20_all_positive", &got, 20, &want, WILCOXON_EXACT);
    assert_eq!(got.wilcoxon_p_value, 2.0 / 1_048_576.0);
    assert_eq!((got.wins, got.ties, got.losses), (20, 0, 0));
    Ok(())
}

#[test]
fn swapping_the_methods_mirrors_the_result() -> anyhow::Result<()> {
    let a = ten_thousandths(30, 7000, 37, 101);
    let b = ten_thousandths(30, 6990, 53, 97);
    let ab = paired_comparison(&a, &b, 0.0)?;
    let ba = paired_comparison(&b, &a, 0.0)?;
    assert_close("swap", "mean", ba.mean_difference, -ab.mean_difference);
    assert_close("swap", "std", ba.std_difference, ab.std_difference);
    assert_close("swap", "ci low", ba.ci95_low, -ab.ci95_high);
    assert_close("swap", "ci high", ba.ci95_high, -ab.ci95_low);
    assert_close("swap", "t", ba.t_statistic, -ab.t_statistic);
    assert_close("swap", "t p", ba.t_p_value, ab.t_p_value);
    // W+ and W- trade places; min(W+, W-) and the two-sided p stay.
    assert_eq!(ba.wilcoxon_statistic, ab.wilcoxon_statistic);
    assert_eq!(ba.wilcoxon_p_value, ab.wilcoxon_p_value);
    assert_eq!((ba.wins, ba.ties, ba.losses), (ab.losses, ab.ties, ab.wins));
    Ok(())
}

#[test]
fn tie_tolerance_moves_small_differences_into_ties() -> anyhow::Result<()> {
    // d ≈ [0.011, -0.004, 0.016, 0.006, -0.001, 0.014, 0.005, 0.013, -0.003, 0.012]
    let exact = paired_comparison(&N10_A, &N10_B, 0.0)?;
    assert_eq!((exact.wins, exact.ties, exact.losses), (7, 0, 3));
    let loose = paired_comparison(&N10_A, &N10_B, 0.0045)?;
    assert_eq!((loose.wins, loose.ties, loose.losses), (7, 3, 0));
    let looser = paired_comparison(&N10_A, &N10_B, 0.0055)?;
    assert_eq!((looser.wins, looser.ties, looser.losses), (6, 4, 0));
    Ok(())
}

#[test]
fn one_pair_has_nan_spread_ci_and_t() -> anyhow::Result<()> {
    // report("n1", [2.0], [1.0])
    // n1 zeros 0 tied |d| 0 path ['exact']
    //     1.0  nan  nan  nan  nan  nan  0.0  1.0
    let want = Scipy {
        mean: 1.0,
        std: f64::NAN,
        ci_low: f64::NAN,
        ci_high: f64::NAN,
        t: f64::NAN,
        t_p: f64::NAN,
        w: 0.0,
        w_p: 1.0,
    };
    let got = paired_comparison(&[2.0], &[1.0], 0.0)?;
    check("n1", &got, 1, &want, WILCOXON_EXACT);
    assert_eq!((got.wins, got.ties, got.losses), (1, 0, 0));
    Ok(())
}

#[test]
fn equal_nonzero_differences_give_infinite_t() -> anyhow::Result<()> {
    // report("constant", [2.0, 3.0, 4.0], [1.0, 2.0, 3.0])
    // constant zeros 0 tied |d| 2 path ['exact', 'permutation']
    //     1.0  0.0  nan  nan  inf  0.0  0.0  0.25
    // scipy's t.interval answers NaN for scale = 0; we report the degenerate [1, 1].
    let want = Scipy {
        mean: 1.0,
        std: 0.0,
        ci_low: 1.0,
        ci_high: 1.0,
        t: f64::INFINITY,
        t_p: 0.0,
        w: 0.0,
        w_p: 0.25,
    };
    let got = paired_comparison(&[2.0, 3.0, 4.0], &[1.0, 2.0, 3.0], 0.0)?;
    check("constant", &got, 3, &want, WILCOXON_PERMUTATION);
    Ok(())
}

#[test]
fn all_zero_differences_give_nan_p_values() -> anyhow::Result<()> {
    // report("all_zero", [1.0, 2.0, 3.0, 4.0, 5.0], [1.0, 2.0, 3.0, 4.0, 5.0])
    // all_zero zeros 5 tied |d| 0 path ['exact', 'permutation']
    //     0.0  0.0  nan  nan  nan  nan  0.0  1.0
    // Deliberate differences, documented in the module: CI [0, 0] rather than NaN (scipy's
    // t.interval refuses scale = 0), and Wilcoxon p NaN rather than scipy's 1.0 (its
    // permutation distribution has the single value 0 for n <= 13; for n > 13 scipy answers
    // NaN too).
    let want = Scipy {
        mean: 0.0,
        std: 0.0,
        ci_low: 0.0,
        ci_high: 0.0,
        t: f64::NAN,
        t_p: f64::NAN,
        w: 0.0,
        w_p: f64::NAN,
    };
    let x = [1.0, 2.0, 3.0, 4.0, 5.0];
    let got = paired_comparison(&x, &x, 0.0)?;
    check("all_zero", &got, 5, &want, WILCOXON_PERMUTATION);
    assert_eq!((got.wins, got.ties, got.losses), (0, 5, 0));

    let long: Vec<f64> = (0..20).map(f64::from).collect();
    let got = paired_comparison(&long, &long, 0.0)?;
    assert!(got.t_p_value.is_nan() && got.wilcoxon_p_value.is_nan());
    assert_eq!(got.wilcoxon_method, WILCOXON_APPROX);
    Ok(())
}

/// The message of a `PairedInput` refusal, naming its field.
fn refusal(a: &[f64], b: &[f64], tolerance: f64) -> (String, String) {
    match paired_comparison(a, b, tolerance) {
        Err(ReportError::PairedInput { field, message }) => (field, message),
        other => panic!("expected a PairedInput refusal, got {other:?}"),
    }
}

#[test]
fn refuses_bad_input_with_a_message_naming_the_fault() {
    let (field, message) = refusal(&[1.0, 2.0, 3.0], &[1.0, 2.0], 0.0);
    assert_eq!(field, "a, b");
    assert!(message.contains("a has 3 values but b has 2"), "{message}");

    let (_, message) = refusal(&[], &[], 0.0);
    assert!(message.contains("empty"), "{message}");

    let (field, message) = refusal(&[1.0, 2.0, f64::NAN], &[1.0, 2.0, 3.0], 0.0);
    assert_eq!(field, "a");
    assert!(message.contains("a[2] is NaN"), "{message}");

    let (field, message) = refusal(&[1.0, 2.0], &[1.0, f64::INFINITY], 0.0);
    assert_eq!(field, "b");
    assert!(message.contains("b[1] is inf"), "{message}");

    let (field, message) = refusal(&[f64::MAX], &[-f64::MAX], 0.0);
    assert_eq!(field, "a, b");
    assert!(message.contains("a[0] - b[0]"), "{message}");

    for tolerance in [-0.1, f64::NAN, f64::INFINITY] {
        let (field, message) = refusal(&[1.0], &[1.0], tolerance);
        assert_eq!(field, "tie_tolerance");
        assert!(message.contains("finite and >= 0"), "{message}");
    }

    // The Display form carries the message.
    let shown = paired_comparison(&[1.0], &[], 0.0)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        shown.contains("paired comparison, `a, b`: a has 1 values but b has 0"),
        "{shown}"
    );
}
