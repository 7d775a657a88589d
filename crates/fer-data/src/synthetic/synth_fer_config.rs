//! Settings of SynthFER, the embedded default dataset (issue: "deterministic for a seed, any size
//! (48 and 100 px), 3,000 images"; the two sizes match the paper's 100x100 inputs (4.3) and the
//! 48x48 of FER2013 and CK+48, which the paper does not use).
//!
//! Every random choice of the generator is bounded by one of these numbers, so an experiment's
//! YAML can record exactly which SynthFER it used.

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};

/// Everything that decides a SynthFER dataset; the same value always gives the same images.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SynthFerConfig {
    /// Number of synthetic people (identities); folds must keep subjects apart.
    pub num_subjects: usize,
    /// Images per person; expressions are assigned as evenly as possible within a subject.
    pub images_per_subject: usize,
    /// Side of the square output images in pixels.
    pub size: u32,
    /// Master seed; every subject and image draws from its own stream of it.
    pub seed: u64,
    /// Expression intensity range, e.g. (0.25, 1.0): 0 is a neutral face, 1 a full expression.
    /// Low values give weak, near-neutral expressions (as in the wild).
    pub intensity_range: (f32, f32),
    /// In-plane head rotation is uniform in +-this many degrees.
    pub max_rotation_deg: f32,
    /// Face scale is uniform in 1 +- this fraction.
    pub scale_jitter: f32,
    /// Face shift is uniform in +- this fraction of the image size, per axis (then limited so
    /// that all 68 landmarks stay inside the image).
    pub shift_jitter: f32,
    /// Yaw-like squeeze: sine of the largest head turn about the vertical axis (0.15 ~ 9 deg).
    pub yaw_squeeze: f32,
    /// Largest standard deviation of the additive Gaussian pixel noise (pixel range 0..1); each
    /// image draws its own level in 30..100 % of this.
    pub noise_std: f32,
    /// Probability that an image is blurred (Gaussian, random width).
    pub blur_prob: f32,
    /// Probability that an image has an occluder (bar, patch or hand-like blob) over the face.
    pub occluder_prob: f32,
    /// Probability that a subject wears glasses (thin frames; a per-subject attribute).
    pub glasses_prob: f32,
}

impl Default for SynthFerConfig {
    /// The paper-sized dataset: 300 subjects x 10 images at 100 px.
    fn default() -> Self {
        Self {
            num_subjects: 300,
            images_per_subject: 10,
            size: 100,
            seed: 2021,
            intensity_range: (0.25, 1.0),
            max_rotation_deg: 12.0,
            scale_jitter: 0.10,
            shift_jitter: 0.04,
            yaw_squeeze: 0.15,
            noise_std: 0.035,
            blur_prob: 0.3,
            occluder_prob: 0.1,
            glasses_prob: 0.08,
        }
    }
}

impl SynthFerConfig {
    /// The quick demo dataset: 300 subjects x 10 images = 3,000 images at 48 px.
    pub fn demo() -> Self {
        Self {
            size: 48,
            ..Self::default()
        }
    }

    /// The paper-sized dataset (100x100 inputs as in paper 4.3): 3,000 images at 100 px.
    pub fn paper_size() -> Self {
        Self::default()
    }

    /// Total number of images this configuration generates.
    pub fn num_images(&self) -> usize {
        self.num_subjects.saturating_mul(self.images_per_subject)
    }

    /// Checks every setting and says which one is wrong and why.
    pub fn validate(&self) -> Result<()> {
        let bad = |msg: String| Err(DataError::Config(format!("SynthFER: {msg}")));
        if self.num_subjects == 0 {
            return bad("num_subjects must be at least 1".into());
        }
        if self.num_subjects > u32::MAX as usize {
            return bad(format!(
                "num_subjects = {} is more than {} (each subject needs its own random stream)",
                self.num_subjects,
                u32::MAX
            ));
        }
        if self.images_per_subject == 0 {
            return bad("images_per_subject must be at least 1".into());
        }
        if self.images_per_subject >= u32::MAX as usize {
            return bad(format!(
                "images_per_subject = {} is too large (at most {})",
                self.images_per_subject,
                u32::MAX - 1
            ));
        }
        if self.size == 0 {
            return bad("size must be positive (e.g. 48 or 100 px)".into());
        }
        if !(16..=1024).contains(&self.size) {
            return bad(format!(
                "size = {} px is outside 16..=1024 (a face needs at least 16 px)",
                self.size
            ));
        }
        let (lo, hi) = self.intensity_range;
        if !lo.is_finite() || !hi.is_finite() || lo < 0.0 || hi > 1.5 || lo > hi {
            return bad(format!(
                "intensity_range = ({lo}, {hi}) must satisfy 0 <= low <= high <= 1.5"
            ));
        }
        let in_range = |name: &str, v: f32, lo: f32, hi: f32| -> Result<()> {
            if v.is_finite() && (lo..=hi).contains(&v) {
                Ok(())
            } else {
                bad(format!("{name} = {v} must lie in [{lo}, {hi}]"))
            }
        };
        in_range("max_rotation_deg", self.max_rotation_deg, 0.0, 45.0)?;
        in_range("scale_jitter", self.scale_jitter, 0.0, 0.4)?;
        in_range("shift_jitter", self.shift_jitter, 0.0, 0.25)?;
        in_range("yaw_squeeze", self.yaw_squeeze, 0.0, 0.5)?;
        in_range("noise_std", self.noise_std, 0.0, 0.5)?;
        in_range("blur_prob", self.blur_prob, 0.0, 1.0)?;
        in_range("occluder_prob", self.occluder_prob, 0.0, 1.0)?;
        in_range("glasses_prob", self.glasses_prob, 0.0, 1.0)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(cfg: &SynthFerConfig) -> String {
        match cfg.validate() {
            Err(DataError::Config(m)) => m,
            other => panic!("expected a Config error, got {other:?}"),
        }
    }

    #[test]
    fn presets_are_valid() {
        assert!(SynthFerConfig::default().validate().is_ok());
        assert!(SynthFerConfig::paper_size().validate().is_ok());
        let demo = SynthFerConfig::demo();
        assert!(demo.validate().is_ok());
        assert_eq!(demo.size, 48);
        assert_eq!(demo.num_images(), 3000);
        assert_eq!(SynthFerConfig::paper_size().size, 100);
    }

    #[test]
    fn validate_names_the_bad_setting() {
        let ok = SynthFerConfig::default();
        let m = message(&SynthFerConfig {
            size: 0,
            ..ok.clone()
        });
        assert!(m.contains("size"), "{m}");
        let m = message(&SynthFerConfig {
            num_subjects: 0,
            ..ok.clone()
        });
        assert!(m.contains("num_subjects"), "{m}");
        let m = message(&SynthFerConfig {
            images_per_subject: 0,
            ..ok.clone()
        });
        assert!(m.contains("images_per_subject"), "{m}");
        let m = message(&SynthFerConfig {
            intensity_range: (0.9, 0.2),
            ..ok.clone()
        });
        assert!(m.contains("intensity_range"), "{m}");
        let m = message(&SynthFerConfig {
            intensity_range: (f32::NAN, 0.2),
            ..ok.clone()
        });
        assert!(m.contains("intensity_range"), "{m}");
        let m = message(&SynthFerConfig {
            blur_prob: 1.5,
            ..ok.clone()
        });
        assert!(m.contains("blur_prob"), "{m}");
        let m = message(&SynthFerConfig {
            max_rotation_deg: -1.0,
            ..ok
        });
        assert!(m.contains("max_rotation_deg"), "{m}");
    }

    #[test]
    fn missing_yaml_fields_take_defaults() {
        let cfg: SynthFerConfig = serde_yaml::from_str("size: 48\nseed: 7\n").unwrap_or_default();
        assert_eq!(cfg.size, 48);
        assert_eq!(cfg.seed, 7);
        assert_eq!(cfg.images_per_subject, 10);
    }
}
