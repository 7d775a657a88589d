//! The settings of the MTCNN cascade (Zhang et al. 2016): the smallest face searched for, the
//! scale-pyramid factor and the three stages' face-probability thresholds, with facenet-pytorch
//! 2.6.0's `MTCNN()` defaults, plus how many images / crops go through a network at once (which
//! changes speed and memory, not results).

use crate::{FaceError, Result};

/// Settings of [`super::Mtcnn`].
#[derive(Debug, Clone, PartialEq)]
pub struct MtcnnConfig {
    /// Smallest face side, in pixels, the scale pyramid searches for: the first pyramid level
    /// scales the image by 12 / min_face_size so that such a face fills P-Net's 12x12 window.
    pub min_face_size: f32,
    /// Face-probability thresholds of P-Net (kept when >=), R-Net and O-Net (kept when >).
    pub thresholds: [f32; 3],
    /// Ratio between successive pyramid scales.
    pub factor: f32,
    /// Image pixels (width x height, summed over the images) whose pyramid levels go through
    /// P-Net in one forward pass: same-size images are batched up to this budget (at least
    /// one image per pass). Bounds memory; results do not depend on it.
    pub pixels_per_forward: usize,
    /// R-Net / O-Net crops per forward pass (facenet-pytorch uses 512). Bounds memory;
    /// results do not depend on it.
    pub crops_per_forward: usize,
}

impl MtcnnConfig {
    /// facenet-pytorch 2.6.0's `MTCNN()` defaults: min_face_size 20, thresholds
    /// [0.6, 0.7, 0.7], factor 0.709 (the settings of the reference outputs).
    pub fn facenet_pytorch() -> MtcnnConfig {
        MtcnnConfig {
            min_face_size: 20.0,
            thresholds: [0.6, 0.7, 0.7],
            factor: 0.709,
            // 455 images of 48x48; about 40 MB of P-Net im2col buffers.
            pixels_per_forward: 1 << 20,
            // About 65 MB for O-Net's largest im2col buffer.
            crops_per_forward: 128,
        }
    }

    /// Rejects settings for which the pyramid would not end or nothing could pass.
    pub fn validate(&self) -> Result<()> {
        if !(self.min_face_size.is_finite() && self.min_face_size > 0.0) {
            return Err(FaceError::Config(format!(
                "mtcnn min_face_size must be > 0, got {}",
                self.min_face_size
            )));
        }
        if !(self.factor > 0.0 && self.factor < 1.0) {
            return Err(FaceError::Config(format!(
                "mtcnn factor must lie in (0, 1) for the pyramid to end, got {}",
                self.factor
            )));
        }
        if let Some(t) = self.thresholds.iter().find(|t| !(0.0..=1.0).contains(*t)) {
            return Err(FaceError::Config(format!(
                "mtcnn thresholds are probabilities in [0, 1], got {t}"
            )));
        }
        if self.pixels_per_forward == 0 || self.crops_per_forward == 0 {
            return Err(FaceError::Config(
                "mtcnn pixels_per_forward and crops_per_forward must be > 0".into(),
            ));
        }
        Ok(())
    }
}

impl Default for MtcnnConfig {
    fn default() -> Self {
        MtcnnConfig::facenet_pytorch()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_facenet_pytorch_and_valid() {
        let c = MtcnnConfig::default();
        assert_eq!(c.min_face_size, 20.0);
        assert_eq!(c.thresholds, [0.6, 0.7, 0.7]);
        assert_eq!(c.factor, 0.709);
        assert!(c.validate().is_ok());
        let bad = MtcnnConfig {
            factor: 1.0,
            ..MtcnnConfig::default()
        };
        assert!(bad.validate().is_err());
    }
}
