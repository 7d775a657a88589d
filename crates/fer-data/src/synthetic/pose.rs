//! Per-image head pose of SynthFER (issue: "per-image pose (in-plane rotation up to +-12 deg,
//! scale +-10 %, shift, a little yaw-like squeeze)").
//!
//! The pose maps the canonical face frame to pixel-index coordinates of the output image. A yaw
//! turn is approximated on a cylinder-plus-nose depth map (x' = x cos + z sin), which squeezes
//! the face horizontally and slides the midline (nose, mouth) towards the turned side as a real
//! head turn does; then a similarity transform (rotation, scale, shift) places the face. The
//! shift is limited so that all 68 landmarks stay inside the image.

use rand_chacha::ChaCha8Rng;

use super::raster::P2;
use super::rng_util::uniform;
use super::synth_fer_config::SynthFerConfig;
use crate::landmarks::NUM_LANDMARKS;

/// Inter-ocular distance as a fraction of the image size at scale 1 (an aligned FER crop:
/// eyes ~30 % of the width apart).
const IOD_FRACTION: f32 = 0.30;
/// Height of the eye line as a fraction of the image size at scale 1.
const EYE_LINE: f32 = 0.31;
/// Canonical point that lands on the image centre at zero shift.
const ANCHOR: P2 = [0.0, (0.5 - EYE_LINE) / IOD_FRACTION];
/// Radius of the depth cylinder (canonical units) and the depth of the yaw axis.
const HEAD_RADIUS: f32 = 1.3;
const YAW_AXIS_DEPTH: f32 = 0.8;

/// Depth (towards the camera) of a canonical point: a vertical cylinder plus the nose ridge.
fn depth(p: P2) -> f32 {
    let [x, y] = p;
    let cyl = (HEAD_RADIUS * HEAD_RADIUS - x * x).max(0.0).sqrt();
    let along = if y < 0.85 {
        ((y + 0.1) / 0.95).clamp(0.0, 1.0)
    } else {
        (-((y - 0.85) / 0.12).powi(2)).exp()
    };
    let nose = 0.35 * (-(x / 0.2).powi(2)).exp() * along;
    cyl + nose
}

/// Where and how one face is placed in its image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pose {
    cos: f32,
    sin: f32,
    /// Pixels per canonical unit.
    pub px_per_unit: f32,
    /// Pixel position of [`ANCHOR`].
    centre: P2,
    yaw_sin: f32,
    yaw_cos: f32,
}

impl Pose {
    /// Draws a pose within the configured ranges, then limits the shift so that every
    /// landmark of `landmarks` (canonical) lies inside the image.
    pub(crate) fn sample(
        cfg: &SynthFerConfig,
        landmarks: &[P2; NUM_LANDMARKS],
        rng: &mut ChaCha8Rng,
    ) -> Self {
        let size = cfg.size as f32;
        let rot = uniform(rng, -cfg.max_rotation_deg, cfg.max_rotation_deg).to_radians();
        let s = 1.0 + uniform(rng, -cfg.scale_jitter, cfg.scale_jitter);
        let yaw = uniform(rng, -cfg.yaw_squeeze, cfg.yaw_squeeze);
        let shift = cfg.shift_jitter * size;
        let want = [uniform(rng, -shift, shift), uniform(rng, -shift, shift)];
        let mid = 0.5 * (size - 1.0);
        let mut pose = Self {
            cos: rot.cos(),
            sin: rot.sin(),
            px_per_unit: IOD_FRACTION * size * s,
            centre: [mid, mid],
            yaw_sin: yaw,
            yaw_cos: (1.0 - yaw * yaw).max(0.0).sqrt(),
        };
        // Allowed shift keeps every landmark in [margin, size - 1 - margin].
        let margin = 0.5;
        let (mut lo, mut hi) = ([f32::INFINITY; 2], [f32::NEG_INFINITY; 2]);
        for p in landmarks {
            let q = pose.apply(*p);
            for k in 0..2 {
                lo[k] = lo[k].min(q[k]);
                hi[k] = hi[k].max(q[k]);
            }
        }
        for k in 0..2 {
            let min_shift = margin - lo[k];
            let max_shift = size - 1.0 - margin - hi[k];
            let d = if min_shift <= max_shift {
                want[k].clamp(min_shift, max_shift)
            } else {
                0.5 * (min_shift + max_shift)
            };
            pose.centre[k] += d;
        }
        pose
    }

    /// Canonical point -> pixel-index coordinates.
    pub(crate) fn apply(&self, p: P2) -> P2 {
        let x = p[0] * self.yaw_cos + (depth(p) - YAW_AXIS_DEPTH) * self.yaw_sin - ANCHOR[0];
        let y = p[1] - ANCHOR[1];
        let s = self.px_per_unit;
        [
            self.centre[0] + s * (self.cos * x - self.sin * y),
            self.centre[1] + s * (self.sin * x + self.cos * y),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::super::mean_face::MEAN_SHAPE;
    use super::super::rng_util::stream_rng;
    use super::*;

    #[test]
    fn identity_pose_puts_the_eyes_where_intended() {
        let cfg = SynthFerConfig {
            max_rotation_deg: 0.0,
            scale_jitter: 0.0,
            shift_jitter: 0.0,
            yaw_squeeze: 0.0,
            ..SynthFerConfig::default()
        };
        let pose = Pose::sample(&cfg, &MEAN_SHAPE, &mut stream_rng(0, 0, Some(0)));
        let l = pose.apply([-0.5, 0.0]);
        let r = pose.apply([0.5, 0.0]);
        assert!(((r[0] - l[0]) - 30.0).abs() < 1e-3);
        assert!((l[1] - (0.31 * 100.0 - 0.5)).abs() < 1e-3);
        assert!(((l[0] + r[0]) * 0.5 - 49.5).abs() < 1e-3);
    }

    #[test]
    fn extreme_poses_keep_landmarks_inside() {
        let cfg = SynthFerConfig {
            max_rotation_deg: 12.0,
            scale_jitter: 0.1,
            shift_jitter: 0.25,
            yaw_squeeze: 0.3,
            size: 48,
            ..SynthFerConfig::default()
        };
        for i in 0..200 {
            let pose = Pose::sample(&cfg, &MEAN_SHAPE, &mut stream_rng(1, 0, Some(i)));
            for p in MEAN_SHAPE {
                let q = pose.apply(p);
                assert!(
                    q[0] >= 0.0 && q[0] <= 47.0 && q[1] >= 0.0 && q[1] <= 47.0,
                    "{q:?}"
                );
            }
        }
    }
}
