//! `CpuIsa`: the instruction-set level the CPU kernels compute with on this processor,
//! detected at run time (the build targets plain x86-64 and dispatches).
//!
//! Why it is recorded: it fixes the order of the floating-point sums. The gemm crate (every
//! convolution and large linear layer) runs its AVX-512 kernels on x86-64-v4 and its AVX2
//! kernels on x86-64-v3, with different register tiles and so different k blocking, and the
//! fully connected heads take `small_batch_gemm` only with AVX-512. The same seed on the same
//! thread count therefore gives bit-identical runs on processors of one level, and runs that
//! differ within f32 rounding (which training then amplifies) across levels. fer-train writes
//! [`CpuIsa::name`] into every CPU run's record.

/// The levels that change which kernels run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuIsa {
    /// x86-64-v4: AVX-512 F, BW, CD, DQ and VL (the gemm crate's `V4`, our AVX-512 kernels).
    X86_64V4,
    /// x86-64-v3: AVX2 and FMA without the full AVX-512 set (the gemm crate's `V3`).
    X86_64V3,
    /// Anything else (older x86-64, other architectures): the generic paths.
    Baseline,
}

impl CpuIsa {
    /// The level of this processor.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx512f")
                && has!("avx512bw")
                && has!("avx512cd")
                && has!("avx512dq")
                && has!("avx512vl")
                && has!("avx2")
                && has!("fma")
            {
                return Self::X86_64V4;
            }
            if has!("avx2") && has!("fma") && has!("avx") {
                return Self::X86_64V3;
            }
        }
        Self::Baseline
    }

    /// `x86-64-v4`, `x86-64-v3` or `baseline` (the name records and reports print).
    pub fn name(self) -> &'static str {
        match self {
            Self::X86_64V4 => "x86-64-v4",
            Self::X86_64V3 => "x86-64-v3",
            Self::Baseline => "baseline",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::small_batch_gemm::SmallBatchGemm;

    #[test]
    fn the_fully_connected_kernel_runs_exactly_on_v4() {
        // The recorded level must name the path the heads take: the small-batch kernel runs
        // (returns true) on x86-64-v4 and nowhere else.
        let isa = CpuIsa::detect();
        let (m, k, n) = (2, 3, 2);
        let x = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        let w = [1.0f32, 0.0, 1.0, 0.0, 1.0, 0.0];
        let mut y = [0.0f32; 4];
        let ran = f32::small_batch_gemm(&x, &w, &mut y, (m, k, n), false);
        assert_eq!(ran, isa == CpuIsa::X86_64V4, "{}", isa.name());
        if ran {
            assert_eq!(y, [4.0, 2.0, 10.0, 5.0]);
        }
        assert!(["x86-64-v4", "x86-64-v3", "baseline"].contains(&isa.name()));
    }
}
