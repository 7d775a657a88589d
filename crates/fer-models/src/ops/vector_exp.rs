//! exp(x) over a slice, in place, for the softmaxes of CCAM's channel scores (paper 3.2,
//! eqs. 5-6): four exponentials per element of S (B, C, C) in every training step.
//!
//! Why: the scalar `expf` of libm is a function call per element that the compiler cannot
//! vectorise; in a profile of CMCNN's training step at 48 px it took 3 % of the time, as much
//! again as the softmax loops around it. Here f32 uses a branch-free polynomial (the Cephes
//! `expf` scheme: x = n ln 2 + r with |r| <= ln 2 / 2, a degree-6 polynomial for e^r, and 2^n
//! written into the exponent bits) that the compiler vectorises, with AVX-512 where the CPU
//! has it. The same operations run in the same order on every path, so the AVX-512 and the
//! plain x86-64 results are bit-identical and runs stay reproducible. The relative error is
//! within 2 ulp of the exact value (tested). f64, used by the gradient tests, keeps `exp`.
//!
//! Below ln(2^-126) the result is 0, as the exact value is below f32's normal range; NaN
//! stays NaN, so a diverged run is still caught by the trainer's loss check.

/// Element types whose slices the softmax kernels exponentiate in place.
pub(crate) trait VectorExp: Sized {
    /// v[i] = exp(v[i]) for every element.
    fn exp_in_place(v: &mut [Self]);
}

impl VectorExp for f64 {
    fn exp_in_place(v: &mut [f64]) {
        v.iter_mut().for_each(|x| *x = x.exp());
    }
}

impl VectorExp for f32 {
    fn exp_in_place(v: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU has AVX-512F, checked just above.
                unsafe { exp_avx512(v) };
                return;
            }
        }
        v.iter_mut().for_each(|x| *x = exp_f32(*x));
    }
}

/// The same loop compiled with AVX-512 (16 lanes per instruction).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn exp_avx512(v: &mut [f32]) {
    v.iter_mut().for_each(|x| *x = exp_f32(*x));
}

/// ln(2^-126): below it e^x is not a normal f32.
const MIN_INPUT: f32 = -87.336_55;
/// ln(f32::MAX): above it e^x overflows.
const MAX_INPUT: f32 = 88.722_83;
/// 1.5 · 2^23: adding it rounds a float below 2^22 in magnitude to an integer (to nearest,
/// ties to even) held in the low bits of the sum's mantissa.
const ROUNDING: f32 = 12_582_912.0;

/// e^x for one f32, branch-free so that a loop over it vectorises.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    // Clamp with comparisons (not f32::max/min) so that NaN passes through.
    let xc = if x < MIN_INPUT { MIN_INPUT } else { x };
    let xc = if xc > MAX_INPUT { MAX_INPUT } else { xc };
    // n = round(x / ln 2), read from the mantissa of t = x log2(e) + 1.5 · 2^23.
    let t = xc * std::f32::consts::LOG2_E + ROUNDING;
    let n = t - ROUNDING;
    // r = x - n ln 2, with ln 2 split in two (Cody-Waite) so that n ln 2 is exact.
    let r = xc - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let r2 = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5; // Cephes: 5.0000001201e-1, which is 0.5 in f32
    let er = p * r2 + r + 1.0;
    // 2^n: n + 127 in the exponent field. n = (bits of t) - (bits of 1.5 · 2^23).
    let n_int = t.to_bits().wrapping_sub(ROUNDING.to_bits());
    let two_n = f32::from_bits(n_int.wrapping_add(127) << 23);
    // At MAX_INPUT n is 128, one past f32's exponent range: split 2^n as 2 · 2^(n-1).
    let y = if n > 127.0 {
        er * 2.0 * f32::from_bits(n_int.wrapping_add(126) << 23)
    } else {
        er * two_n
    };
    if x < MIN_INPUT {
        0.0
    } else if x > MAX_INPUT {
        f32::INFINITY
    } else {
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Distance in units in the last place between two positive finite f32.
    fn ulps(a: f32, b: f32) -> u32 {
        a.to_bits().abs_diff(b.to_bits())
    }

    /// Against f64's exp rounded to f32, over the whole range the softmaxes use (x <= 0) and
    /// the positive side: at most 2 ulp apart.
    #[test]
    fn within_two_ulp_of_the_exact_value() {
        let mut xs: Vec<f32> = (0..400_001)
            .map(|i| MIN_INPUT + (MAX_INPUT - MIN_INPUT) * i as f32 / 400_000.0)
            .collect();
        xs.extend([0.0, -0.0, 1e-8, -1e-8, 0.5, -0.5, 1.0, -1.0, -87.0, 88.0]);
        let mut ys = xs.clone();
        f32::exp_in_place(&mut ys);
        let mut worst = 0;
        for (&x, &y) in xs.iter().zip(&ys) {
            let exact = (x as f64).exp() as f32;
            if exact.is_normal() {
                let d = ulps(y, exact);
                assert!(d <= 2, "exp({x}) = {y}, exact {exact}: {d} ulp");
                worst = worst.max(d);
            }
        }
        assert!(worst >= 1, "a polynomial is not exact everywhere");
    }

    /// Out of range: 0 below, infinity above, NaN stays NaN.
    #[test]
    fn limits_and_nan() {
        let mut v = [
            -1e4f32,
            -88.0,
            f32::NEG_INFINITY,
            89.0,
            f32::INFINITY,
            f32::NAN,
        ];
        f32::exp_in_place(&mut v);
        assert_eq!(v[..3], [0.0, 0.0, 0.0]);
        assert_eq!(v[3..5], [f32::INFINITY, f32::INFINITY]);
        assert!(v[5].is_nan());
    }

    /// The vectorised AVX-512 path (when the CPU has it) and the scalar function give the same
    /// bits, so a run is reproducible whichever path it takes.
    #[test]
    fn every_path_gives_the_same_bits() {
        let xs: Vec<f32> = (0..10_007).map(|i| -90.0 + 0.0179 * i as f32).collect();
        let mut ys = xs.clone();
        f32::exp_in_place(&mut ys);
        for (&x, &y) in xs.iter().zip(&ys) {
            assert_eq!(y.to_bits(), exp_f32(x).to_bits(), "exp({x})");
        }
    }
}
