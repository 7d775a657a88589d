//! `rlw`: Random Loss Weighting (Lin, Ye, Xu, Shi & Zhang, "Reasonable effectiveness of random
//! weighting: a litmus test for multi-task learning", TMLR 2022): each update draws
//! w = softmax(z), z ~ N(0, I), as LibMTL's `RLW`. The draws come from our own generator,
//! seeded by the run's seed and the update's index, so a run is reproducible and a resumed run
//! draws what the uninterrupted one drew.

use crate::error::Result;
use crate::weighting::scalar_adam::softmax;
use crate::weighting::task_weighting::{StepInput, StepWeights, TaskWeighting, WeightingEntry};

pub const ENTRY: WeightingEntry = WeightingEntry {
    name: "rlw",
    summary: "Random Loss Weighting: softmax of standard normal draws at every update (Lin et al., TMLR 2022)",
    needs_gradients: false,
    needs_losses_after_update: false,
    constant: false,
    params: &[],
    build: |_, cfg| Ok(Box::new(Rlw::new(cfg.seed))),
};

#[derive(Debug, Clone)]
pub struct Rlw {
    seed: u64,
}

/// splitmix64: a well-mixed 64-bit value from a counter.
fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rlw {
    pub fn new(seed: u64) -> Self {
        Self { seed }
    }

    /// Two standard normal draws for update `step` (Box-Muller on two uniforms in (0, 1]).
    pub fn normals(&self, step: usize) -> [f64; 2] {
        let base = splitmix64(self.seed ^ 0x524C_5700_0000_0000) ^ (step as u64);
        let uniform = |k: u64| {
            ((splitmix64(base.wrapping_mul(2).wrapping_add(k)) >> 11) as f64 + 1.0)
                / (1u64 << 53) as f64
        };
        let (u1, u2) = (uniform(0), uniform(1));
        let r = (-2.0 * u1.ln()).sqrt();
        let a = 2.0 * std::f64::consts::PI * u2;
        [r * a.cos(), r * a.sin()]
    }
}

impl TaskWeighting for Rlw {
    fn weights(&mut self, step: &StepInput) -> Result<StepWeights> {
        let s = softmax(&self.normals(step.global_step));
        Ok(StepWeights::of_losses([s[0], s[1]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The draws and weights of three updates against a Python version of the generator
    /// (float64; Python 3.11's math module, which like Rust calls the platform's libm):
    ///
    /// ```python
    /// import math
    /// M = (1 << 64) - 1
    /// def splitmix64(z):
    ///     z = (z + 0x9E3779B97F4A7C15) & M
    ///     z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    ///     z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    ///     return z ^ (z >> 31)
    /// def normals(seed, step):
    ///     base = splitmix64(seed ^ 0x524C570000000000) ^ step
    ///     u = [((splitmix64((base * 2 + k) & M) >> 11) + 1) / 2.0**53 for k in (0, 1)]
    ///     r = math.sqrt(-2.0 * math.log(u[0]))
    ///     a = 2.0 * math.pi * u[1]
    ///     return [r * math.cos(a), r * math.sin(a)]
    /// def softmax(z):
    ///     m = max(z); e = [math.exp(x - m) for x in z]; s = sum(e)
    ///     return [x / s for x in e]
    /// for seed, step in [(7, 0), (7, 5), (1, 431)]:
    ///     z = normals(seed, step)
    ///     print(seed, step, repr(z), repr(softmax(z)))
    /// ```
    #[test]
    fn draws_and_weights_equal_a_python_version_of_the_generator() {
        let cases: [(u64, usize, [f64; 2], [f64; 2]); 3] = [
            (
                7,
                0,
                [-0.4227402300299425, -1.3560468729315884],
                [0.7177456498591654, 0.2822543501408345],
            ),
            (
                7,
                5,
                [-0.30718629765138084, 0.9094900979031545],
                [0.2285218720376123, 0.7714781279623876],
            ),
            (
                1,
                431,
                [-0.19567895046233935, 1.5272961268415075],
                [0.15148835168197491, 0.8485116483180252],
            ),
        ];
        for (seed, step, z, w) in cases {
            let mut rlw = Rlw::new(seed);
            let ours_z = rlw.normals(step);
            let ours_w = rlw
                .weights(&StepInput {
                    losses: [1.0, 1.0],
                    gram: None,
                    global_step: step,
                    epoch: 0,
                    lr: 0.01,
                })
                .unwrap();
            for k in 0..2 {
                // A few ulps: ln, cos and sin may round differently across libms.
                assert!(
                    (ours_z[k] - z[k]).abs() < 1e-14,
                    "{seed} {step}: {ours_z:?}"
                );
                assert!(
                    (ours_w.shared[k] - w[k]).abs() < 1e-14,
                    "{seed} {step}: {:?}",
                    ours_w.shared
                );
            }
            assert_eq!(ours_w.shared, ours_w.specific);
        }
    }

    #[test]
    fn draws_are_standard_normal_and_reproducible() {
        let r = Rlw::new(7);
        let n = 20_000;
        let draws: Vec<f64> = (0..n).flat_map(|s| r.normals(s)).collect();
        let mean = draws.iter().sum::<f64>() / draws.len() as f64;
        let var = draws.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / draws.len() as f64;
        // 40,000 draws: the standard error of the mean is 0.005, of the variance about 0.007.
        assert!(
            mean.abs() < 0.02 && (var - 1.0).abs() < 0.03,
            "{mean} {var}"
        );
        assert_eq!(r.normals(123), Rlw::new(7).normals(123));
        assert_ne!(r.normals(123), Rlw::new(8).normals(123));
        let w = Rlw::new(7)
            .weights(&StepInput {
                losses: [1.0, 1.0],
                gram: None,
                global_step: 5,
                epoch: 0,
                lr: 0.01,
            })
            .unwrap();
        assert!((w.shared[0] + w.shared[1] - 1.0).abs() < 1e-15 && w.shared == w.specific);
    }
}
