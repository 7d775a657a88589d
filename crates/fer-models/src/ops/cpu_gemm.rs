//! The one GEMM entry point of the CPU kernels (`fused_conv2d`, `fused_linear`): the gemm
//! crate that candle itself uses for matmul on the CPU, called with explicit strides so that
//! transposed operands are read in place instead of being copied.

use candle_core::WithDType;

/// dst (m x n, contiguous, row stride n) = [dst +] lhs (m x k) · rhs (k x n), each operand
/// given as (slice, row stride, column stride).
pub(crate) fn gemm_into<T: WithDType>(
    (m, n, k): (usize, usize, usize),
    dst: &mut [T],
    accumulate: bool,
    lhs: (&[T], isize, isize),
    rhs: (&[T], isize, isize),
    par: gemm::Parallelism,
) {
    assert!(dst.len() >= m * n, "gemm: destination too small");
    // SAFETY: the callers pass slices holding m x k and k x n elements at these strides
    // (checked against their geometry); `dst` is a distinct &mut holding m x n elements, so
    // it aliases neither operand; T is f32 or f64, both supported by gemm.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.0.as_ptr(),
            lhs.2,
            lhs.1,
            rhs.0.as_ptr(),
            rhs.2,
            rhs.1,
            T::one(),
            T::one(),
            false,
            false,
            false,
            par,
        );
    }
}
