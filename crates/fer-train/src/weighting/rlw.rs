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
