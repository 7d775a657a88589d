//! `holm_adjusted`: Holm's step-down adjustment of a family of p-values (Holm 1979, "A simple
//! sequentially rejective multiple test procedure"), for the readings that test one claim with
//! several comparisons (e.g. eight weighting methods against the same tuned fixed λ). Not in
//! the paper, whose tables give no tests at all; ours, so that one of many intervals excluding
//! zero by chance is not read as a finding.
//!
//! With the `m` p-values sorted ascending, `p_(1) <= ... <= p_(m)`, the adjusted value of the
//! i-th is `max_{j <= i} min(1, (m - j + 1) p_(j))`; rejecting where it is below α controls
//! the family-wise error rate at α under any dependence between the tests. This is what
//! `statsmodels.stats.multitest.multipletests(p, method="holm")[1]` returns (tested against it
//! in `tests/holm_adjustment.rs`).
//!
//! An undefined p-value (NaN: a comparison with one pair has no t-test) is no test: it stays
//! NaN and is not counted in `m`.

/// Holm-adjusted p-values, in the order given.
pub fn holm_adjusted(p: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| !p[i].is_nan()).collect();
    // A stable sort: equal p-values end with equal adjusted values whatever their order
    // (the running maximum carries the first one's over the next).
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let m = order.len();
    let mut out = vec![f64::NAN; p.len()];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        let scaled = ((m - rank) as f64 * p[i]).min(1.0);
        running = running.max(scaled);
        out[i] = running;
    }
    out
}
