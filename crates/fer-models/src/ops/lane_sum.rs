//! Sums of a row with independent partial sums, for the CPU kernels' reductions (batch-norm
//! statistics and gradients, the convolution's bias gradient, the gradients of the attention
//! maps and mixing weights).
//!
//! Why: the compiler may not reorder the additions into one float accumulator, so a plain
//! `fold` runs one add after the other at the adder's latency. A fixed array of `LANES`
//! accumulators is turned into SIMD code; the order of the additions depends on the row's
//! length alone, so the results are the same on every run.

use candle_core::WithDType;

/// Independent partial sums per row.
pub(crate) const LANES: usize = 16;

/// Σ f(x_i) over one row, in T with `LANES` partial sums, returned in f64.
pub(crate) fn row_sum<T: WithDType>(row: &[T], f: impl Fn(T) -> T) -> f64 {
    let mut acc = [T::zero(); LANES];
    let chunks = row.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += f(v);
        }
    }
    for (a, &v) in acc.iter_mut().zip(tail) {
        *a += f(v);
    }
    acc.iter().map(|v| v.to_f64()).sum()
}

/// Σ x_i y_i over two rows of one length, in T with `LANES` partial sums, returned in f64.
pub(crate) fn row_dot<T: WithDType>(x: &[T], y: &[T]) -> f64 {
    debug_assert_eq!(x.len(), y.len());
    let mut acc = [T::zero(); LANES];
    let (xs, ys) = (x.chunks_exact(LANES), y.chunks_exact(LANES));
    let (x_tail, y_tail) = (xs.remainder(), ys.remainder());
    for (xc, yc) in xs.zip(ys) {
        for ((a, &u), &v) in acc.iter_mut().zip(xc).zip(yc) {
            *a += u * v;
        }
    }
    for ((a, &u), &v) in acc.iter_mut().zip(x_tail).zip(y_tail) {
        *a += u * v;
    }
    acc.iter().map(|v| v.to_f64()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_rows_of_every_length_exactly_for_integers() {
        for n in [0usize, 1, 15, 16, 17, 100] {
            let row: Vec<f32> = (0..n).map(|i| i as f32).collect();
            let want = (n * n.saturating_sub(1) / 2) as f64;
            assert_eq!(row_sum(&row, |v| v), want, "length {n}");
            let squares: f64 = (0..n).map(|i| (i * i) as f64).sum();
            assert_eq!(row_sum(&row, |v| v * v), squares, "squares, length {n}");
        }
    }

    #[test]
    fn dot_products_of_every_length_exactly_for_integers() {
        for n in [0usize, 1, 15, 16, 17, 100] {
            let x: Vec<f32> = (0..n).map(|i| i as f32).collect();
            let y: Vec<f32> = (0..n).map(|i| (i % 7) as f32 - 3.0).collect();
            let want: f64 = (0..n).map(|i| (i as f64) * ((i % 7) as f64 - 3.0)).sum();
            assert_eq!(row_dot(&x, &y), want, "length {n}");
        }
    }
}
