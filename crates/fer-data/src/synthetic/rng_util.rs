//! Random streams of SynthFER (issue: "deterministic for a seed ... regardless of thread count").
//!
//! Every subject and every image gets its own ChaCha8 stream, selected from the master seed by
//! ChaCha's 64-bit stream number: stream (subject << 32) for the subject's identity, stream
//! (subject << 32) | (image + 1) for one image. No generator is ever shared between threads,
//! so the output does not depend on how rayon schedules the work.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The stream of subject `subject` (image = None) or of one of its images.
/// `subject` and `image + 1` must fit in 32 bits; `SynthFerConfig::validate` guarantees it.
pub(crate) fn stream_rng(seed: u64, subject: usize, image: Option<usize>) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let image_part = image.map_or(0, |i| (i as u64 + 1) & 0xffff_ffff);
    rng.set_stream(((subject as u64) << 32) | image_part);
    rng
}

/// Uniform sample in [lo, hi) (or `lo` when the range is empty).
pub(crate) fn uniform(rng: &mut ChaCha8Rng, lo: f32, hi: f32) -> f32 {
    if hi > lo {
        rng.gen_range(lo..hi)
    } else {
        lo
    }
}

/// Standard normal sample (Box-Muller; `rand_distr` is not a dependency of fer-data).
pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f32 {
    // 1 - u is in (0, 1], so the logarithm is finite.
    let u1: f32 = 1.0 - rng.gen::<f32>();
    let u2: f32 = rng.gen::<f32>();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_distinct_and_reproducible() {
        let a: u64 = stream_rng(1, 3, Some(4)).gen();
        let b: u64 = stream_rng(1, 3, Some(4)).gen();
        let c: u64 = stream_rng(1, 3, Some(5)).gen();
        let d: u64 = stream_rng(1, 3, None).gen();
        let e: u64 = stream_rng(2, 3, Some(4)).gen();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_ne!(a, e);
    }

    #[test]
    fn normal_has_unit_variance() {
        let mut rng = stream_rng(9, 0, None);
        let xs: Vec<f32> = (0..20000).map(|_| normal(&mut rng)).collect();
        let m = xs.iter().sum::<f32>() / xs.len() as f32;
        let v = xs.iter().map(|x| (x - m) * (x - m)).sum::<f32>() / xs.len() as f32;
        assert!(m.abs() < 0.03 && (v - 1.0).abs() < 0.05, "mean {m} var {v}");
    }
}
