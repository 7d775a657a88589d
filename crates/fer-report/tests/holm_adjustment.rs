//! Holm's adjustment against statsmodels 0.15.0 (numpy 2.4.6, Python 3.11). The expected
//! values were printed by this Python (`python3 -m pip install statsmodels`):
//!
//! ```text
//! import numpy as np
//! from statsmodels.stats.multitest import multipletests
//!
//! def holm(p):
//!     # statsmodels counts a NaN in m; ours leaves it out (as R's p.adjust): adjust the
//!     # finite ones, keep NaN in place
//!     p = np.asarray(p, dtype=float)
//!     out = np.full(len(p), np.nan)
//!     ok = ~np.isnan(p)
//!     out[ok] = multipletests(p[ok], method="holm")[1]
//!     return [repr(float(x)) for x in out]
//!
//! print(holm([0.001, 0.012, 0.02, 0.0049, 0.3, 0.04]))
//! print(holm([0.01, 0.04, 0.04, 0.03, 0.5, 0.0]))
//! print(holm([0.108, float("nan"), 0.0123, 0.2]))
//! print(holm([0.2]))
//! ```

use fer_report::holm_adjusted;

fn assert_close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        if w.is_nan() {
            assert!(g.is_nan(), "{got:?} vs {want:?}");
        } else {
            assert!((g - w).abs() <= 1e-12, "{got:?} vs {want:?}");
        }
    }
}

#[test]
fn step_down_with_the_running_maximum() {
    // Unsorted input, sorted: 0.001 × 6, 0.0049 × 5, 0.012 × 4, 0.02 × 3, 0.04 × 2, 0.3 × 1,
    // each already above the one before.
    assert_close(
        &holm_adjusted(&[0.001, 0.012, 0.02, 0.0049, 0.3, 0.04]),
        &[0.006, 0.048, 0.06, 0.0245, 0.3, 0.08],
    );
}

#[test]
fn ties_share_a_value_and_nothing_exceeds_one() {
    // 0.03 × 4 = 0.12 carries over the tied 0.04s (× 3, × 2) by the running maximum.
    assert_close(
        &holm_adjusted(&[0.01, 0.04, 0.04, 0.03, 0.5, 0.0]),
        &[0.05, 0.12, 0.12, 0.12, 0.5, 0.0],
    );
    assert!(holm_adjusted(&[0.6, 0.7, 0.9]).iter().all(|p| *p == 1.0));
}

#[test]
fn an_undefined_p_value_is_no_test() {
    // Three tests, not four: 0.0123 × 3, then max(0.108 × 2, ·) twice.
    assert_close(
        &holm_adjusted(&[0.108, f64::NAN, 0.0123, 0.2]),
        &[0.216, f64::NAN, 0.0369, 0.216],
    );
    assert_close(&holm_adjusted(&[0.2]), &[0.2]);
    assert!(holm_adjusted(&[]).is_empty());
}
