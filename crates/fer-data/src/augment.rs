//! Training-time augmentation of the reference implementation (paper 4.3 and its code):
//! random rotation in [-10, 10] degrees and horizontal flip, each with p = 0.5, applied to the
//! image and its landmarks together, on the training split only.
//!
//! Where we differ from the reference code on purpose (ARCHITECTURE.md "Conventions"): the flip
//! maps x -> (W - 1) - x and permutes the landmark indices with the 68-point mirror table (the
//! reference maps x -> 100 - x and keeps the indices, so its "left eye" label lands on the right
//! eye); the rotation turns about ((W - 1) / 2, (H - 1) / 2), the true pixel-index centre.

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::gray_f32::{centre, GrayF32};
use crate::Landmarks68;

/// Probabilities and range of the two augmentations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AugmentConfig {
    pub flip_prob: f32,
    pub rotate_prob: f32,
    pub max_rotation_deg: f32,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        Self::paper()
    }
}

impl AugmentConfig {
    /// The reference implementation's settings: flip p = 0.5, rotation p = 0.5 within ±10°.
    pub fn paper() -> Self {
        Self {
            flip_prob: 0.5,
            rotate_prob: 0.5,
            max_rotation_deg: 10.0,
        }
    }

    /// No augmentation (evaluation).
    pub fn none() -> Self {
        Self {
            flip_prob: 0.0,
            rotate_prob: 0.0,
            max_rotation_deg: 0.0,
        }
    }
}

/// The 2x3 matrix that moves a point with the content under [`GrayF32::rotated`].
/// With y pointing down, a counter-clockwise turn on screen by θ is
/// x' = c + cosθ (x - cx) + sinθ (y - cy), y' = cy - sinθ (x - cx) + cosθ (y - cy).
pub fn rotation_matrix(degrees: f32, width: usize, height: usize) -> [[f32; 3]; 2] {
    let (cx, cy) = centre(width, height);
    let t = degrees.to_radians();
    let (c, s) = (t.cos(), t.sin());
    [[c, s, cx - c * cx - s * cy], [-s, c, cy + s * cx - c * cy]]
}

/// Applies the paper's augmentation to one image and its landmarks with the caller's RNG:
/// rotation first, then flip, as the reference code.
pub fn augment<R: Rng>(
    image: &GrayF32,
    landmarks: Option<&Landmarks68>,
    cfg: &AugmentConfig,
    rng: &mut R,
) -> (GrayF32, Option<Landmarks68>) {
    let mut img = image.clone();
    let mut lms = landmarks.copied();
    // Draw both random numbers unconditionally so the stream does not depend on outcomes.
    let (u_rot, angle_u, u_flip): (f32, f32, f32) = (rng.gen(), rng.gen(), rng.gen());
    if u_rot < cfg.rotate_prob && cfg.max_rotation_deg > 0.0 {
        let degrees = cfg.max_rotation_deg * (2.0 * angle_u - 1.0);
        img = img.rotated(degrees);
        let m = rotation_matrix(degrees, img.width, img.height);
        lms = lms.map(|l| l.transformed(&m));
    }
    if u_flip < cfg.flip_prob {
        img = img.flipped_horizontally();
        lms = lms.map(|l| l.flipped_horizontally(img.width));
    }
    (img, lms)
}

/// The network's input scaling of the reference implementation: v / 127.5 - 1, into [-1, 1].
pub fn normalise(pixels: &[f32]) -> Vec<f32> {
    pixels.iter().map(|&v| v / 127.5 - 1.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn blank(w: usize, h: usize) -> GrayF32 {
        GrayF32 {
            width: w,
            height: h,
            pixels: vec![0.0; w * h],
        }
    }

    fn brightest(img: &GrayF32) -> (f32, f32) {
        // Intensity-weighted centroid of the pixels above half the maximum.
        let max = img.pixels.iter().cloned().fold(0.0f32, f32::max);
        let (mut sx, mut sy, mut sw) = (0.0, 0.0, 0.0);
        for (i, &v) in img.pixels.iter().enumerate() {
            if v > max * 0.5 {
                sx += (i % img.width) as f32 * v;
                sy += (i / img.width) as f32 * v;
                sw += v;
            }
        }
        (sx / sw, sy / sw)
    }

    fn landmarks_with_point(x: f32, y: f32) -> Landmarks68 {
        let mut pts = [[20.0f32, 20.0]; 68];
        pts[30] = [x, y];
        Landmarks68::new(pts)
    }

    #[test]
    fn rotation_moves_landmarks_with_the_pixels() {
        for &deg in &[10.0f32, -10.0, 7.5, -3.0, 45.0] {
            let mut img = blank(48, 40);
            // A 2x2 dot whose centre is at (33.5, 10.5).
            for (x, y) in [(33, 10), (34, 10), (33, 11), (34, 11)] {
                img.pixels[y * 48 + x] = 255.0;
            }
            let rotated = img.rotated(deg);
            let (fx, fy) = brightest(&rotated);
            let m = rotation_matrix(deg, 48, 40);
            let moved = landmarks_with_point(33.5, 10.5).transformed(&m).points[30];
            assert!(
                (moved[0] - fx).abs() < 0.35 && (moved[1] - fy).abs() < 0.35,
                "{deg} deg: landmark {moved:?}, dot found at ({fx}, {fy})"
            );
        }
    }

    #[test]
    fn positive_angle_turns_counter_clockwise_on_screen() {
        // A point right of the centre moves up (smaller y) for a positive angle.
        let m = rotation_matrix(90.0, 11, 11);
        let p = landmarks_with_point(10.0, 5.0).transformed(&m).points[30];
        assert!(
            (p[0] - 5.0).abs() < 1e-4 && (p[1] - 0.0).abs() < 1e-4,
            "{p:?}"
        );
    }

    #[test]
    fn flip_twice_is_identity_and_swaps_eyes() {
        let mut pts = [[0.0f32; 2]; 68];
        for (i, p) in pts.iter_mut().enumerate() {
            *p = [(i as f32 * 1.7) % 47.0, (i as f32 * 0.9) % 47.0];
        }
        let l = Landmarks68::new(pts);
        let once = l.flipped_horizontally(48);
        let twice = once.flipped_horizontally(48);
        for (a, b) in twice.points.iter().zip(l.points.iter()) {
            assert!((a[0] - b[0]).abs() < 1e-5 && a[1] == b[1], "{a:?} vs {b:?}");
        }
        let (le, re) = (l.left_eye_centre(), l.right_eye_centre());
        let (le2, re2) = (once.left_eye_centre(), once.right_eye_centre());
        assert!((le2[0] - (47.0 - re[0])).abs() < 1e-4 && (le2[1] - re[1]).abs() < 1e-4);
        assert!((re2[0] - (47.0 - le[0])).abs() < 1e-4 && (re2[1] - le[1]).abs() < 1e-4);

        let mut img = blank(5, 2);
        img.pixels[1] = 9.0;
        let f = img.flipped_horizontally();
        assert_eq!(f.pixels[3], 9.0);
        assert_eq!(f.flipped_horizontally(), img);
    }

    #[test]
    fn flip_moves_landmarks_with_the_pixels() {
        let mut img = blank(48, 48);
        img.pixels[12 * 48 + 5] = 255.0;
        let mut pts = [[0.0f32; 2]; 68];
        pts[36] = [5.0, 12.0];
        let lms = Landmarks68::new(pts);
        let cfg = AugmentConfig {
            flip_prob: 1.0,
            rotate_prob: 0.0,
            max_rotation_deg: 10.0,
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let (out, l) = augment(&img, Some(&lms), &cfg, &mut rng);
        let l = l.unwrap();
        // Point 36 (left outer eye corner) becomes point 45 after the flip.
        assert_eq!(l.points[45], [42.0, 12.0]);
        assert_eq!(out.pixels[12 * 48 + 42], 255.0);
    }

    #[test]
    fn augmentation_is_deterministic_for_a_seed() {
        let img = GrayF32 {
            width: 8,
            height: 8,
            pixels: (0..64).map(|v| v as f32).collect(),
        };
        let run = |seed| {
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            (0..10)
                .map(|_| augment(&img, None, &AugmentConfig::paper(), &mut rng).0)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(3), run(3));
        assert_ne!(run(3), run(4));
    }

    #[test]
    fn normalise_maps_to_minus_one_one() {
        assert_eq!(normalise(&[0.0, 127.5, 255.0]), vec![-1.0, 0.0, 1.0]);
    }
}
