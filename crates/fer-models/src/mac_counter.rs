//! Counts multiply-accumulates (MACs) of a forward pass, for `cargo xtask models`, beside the
//! time costs of paper Table 10 (5.5; the paper gives no model sizes).
//!
//! Why a counter instead of per-model formulas: every convolution goes through `GemmConv2d`,
//! every fully connected layer through `layers::Linear`, and the few explicit matrix products
//! (the co-attention similarity) call `add` themselves, so one forward pass with counting on
//! gives the total of any model, including add-on crates, without a formula to keep in sync.
//! Element-wise work (batch norm, activations, pooling) is not counted, as is usual for MACs.

use std::cell::Cell;

thread_local! {
    static COUNT: Cell<Option<u64>> = const { Cell::new(None) };
}

/// Adds `macs` to the running count of this thread, when counting is on.
pub fn add(macs: u64) {
    COUNT.with(|c| {
        if let Some(n) = c.get() {
            c.set(Some(n + macs));
        }
    });
}

/// Runs `f` with counting on and returns its result and the MACs it performed on this thread.
pub fn count<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let previous = COUNT.with(|c| c.replace(Some(0)));
    let out = f();
    let n = COUNT.with(|c| c.replace(previous)).unwrap_or(0);
    if let Some(p) = previous {
        COUNT.with(|c| c.set(Some(p + n)));
    }
    (out, n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_only_inside_and_nests() {
        add(5); // counting off: ignored
        let ((), outer) = count(|| {
            add(2);
            let ((), inner) = count(|| add(3));
            assert_eq!(inner, 3);
        });
        assert_eq!(outer, 5);
    }
}
