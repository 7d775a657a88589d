//! The one GEMM entry point of the CPU kernels (`fused_conv2d`, `fused_linear`): the gemm
//! crate that candle itself uses for matmul on the CPU, called with explicit strides so that
//! transposed operands are read in place instead of being copied; or, for f32 under
//! `--precision bf16`, our bf16 GEMM (`bf16_gemm`).

use candle_core::{DType, WithDType};

use crate::ops::bf16_gemm::bf16_gemm_into;
use crate::ops::matmul_precision::Precision;

/// dst (m x n, contiguous, row stride n) = [dst +] lhs (m x k) · rhs (k x n), each operand
/// given as (slice, row stride, column stride). `precision` applies to f32 only: f64 (the
/// gradient tests) is always multiplied in f64.
pub(crate) fn gemm_into<T: WithDType>(
    (m, n, k): (usize, usize, usize),
    dst: &mut [T],
    accumulate: bool,
    lhs: (&[T], isize, isize),
    rhs: (&[T], isize, isize),
    par: gemm::Parallelism,
    precision: Precision,
) {
    assert!(dst.len() >= m * n, "gemm: destination too small");
    if precision == Precision::Bf16 && T::DTYPE == DType::F32 {
        let threads = match par {
            gemm::Parallelism::None => 1,
            gemm::Parallelism::Rayon(t) => t,
        };
        let f32s = |s: &[T]| {
            // SAFETY: T is f32 (checked through its DType), so the slice is a slice of f32.
            unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<f32>(), s.len()) }
        };
        // SAFETY: as above, for the distinct &mut destination.
        let dst =
            unsafe { std::slice::from_raw_parts_mut(dst.as_mut_ptr().cast::<f32>(), dst.len()) };
        let stride = |s: isize| usize::try_from(s).expect("gemm: negative stride");
        bf16_gemm_into(
            (m, n, k),
            dst,
            accumulate,
            (f32s(lhs.0), stride(lhs.1), stride(lhs.2)),
            (f32s(rhs.0), stride(rhs.1), stride(rhs.2)),
            threads,
        );
        return;
    }
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
