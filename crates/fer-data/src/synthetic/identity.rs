//! Per-subject identity of SynthFER (issue: "per-subject identity (face shape and proportions,
//! skin tone, hair)"; several images per subject so subject-exclusive folds work).
//!
//! Identity shape changes are deliberately of the same size as expression changes (brow height
//! and slant, eye opening, mouth width and lip thickness, lower-face proportions), so that a
//! classifier has to look at *how* the face differs from that person's face, not just at
//! absolute positions: the reason landmarks and subject-independent features matter.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::expression_model::ExpressionStyle;
use super::mean_face::{parts, MEAN_SHAPE};
use super::raster::{mean, P2};
use super::rng_util::{normal, uniform};
use crate::landmarks::NUM_LANDMARKS;

/// Face-shape parameters of a subject, in canonical-frame units (inter-ocular distances).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ShapeParams {
    /// Vertical scale of nose, mouth and jaw relative to the eye line.
    pub lower_face: f32,
    /// Horizontal scale of the jaw line.
    pub jaw_width: f32,
    /// Extra horizontal scale of the lower jaw (pointed vs. square chin).
    pub chin_taper: f32,
    /// Vertical offset of the chin.
    pub chin_length: f32,
    /// Each eye moves outward by this much.
    pub eye_spacing: f32,
    pub eye_size: f32,
    /// Vertical scale of the eye opening.
    pub eye_open: f32,
    /// Rotation of each eye (radians, positive = outer corner up).
    pub eye_tilt: f32,
    pub eye_height: f32,
    pub brow_height: f32,
    pub brow_arch: f32,
    /// Positive = inner ends lower than outer ends (a permanently "stern" look).
    pub brow_slant: f32,
    pub brow_length: f32,
    pub brow_spacing: f32,
    pub nose_length: f32,
    pub nose_width: f32,
    pub mouth_width: f32,
    pub mouth_y: f32,
    pub upper_lip: f32,
    pub lower_lip: f32,
    /// Small fixed per-point asymmetry.
    pub asymmetry: [P2; NUM_LANDMARKS],
    /// Height of the skull above the brows.
    pub cranium: f32,
}

impl ShapeParams {
    fn sample(rng: &mut ChaCha8Rng) -> Self {
        let mut asymmetry = [[0.0; 2]; NUM_LANDMARKS];
        for a in &mut asymmetry {
            *a = [normal(rng) * 0.012, normal(rng) * 0.012];
        }
        Self {
            lower_face: uniform(rng, 0.93, 1.07),
            jaw_width: uniform(rng, 0.93, 1.07),
            chin_taper: uniform(rng, 0.9, 1.1),
            chin_length: uniform(rng, -0.06, 0.06),
            eye_spacing: uniform(rng, -0.025, 0.025),
            eye_size: uniform(rng, 0.85, 1.15),
            eye_open: uniform(rng, 0.75, 1.3),
            eye_tilt: uniform(rng, -0.1, 0.12),
            eye_height: uniform(rng, -0.03, 0.03),
            brow_height: uniform(rng, -0.05, 0.05),
            brow_arch: uniform(rng, 0.0, 0.06),
            brow_slant: uniform(rng, -0.035, 0.035),
            brow_length: uniform(rng, 0.88, 1.1),
            brow_spacing: uniform(rng, -0.04, 0.04),
            nose_length: uniform(rng, -0.06, 0.06),
            nose_width: uniform(rng, 0.85, 1.2),
            mouth_width: uniform(rng, 0.88, 1.14),
            mouth_y: uniform(rng, -0.04, 0.04),
            upper_lip: uniform(rng, 0.7, 1.4),
            lower_lip: uniform(rng, 0.7, 1.3),
            asymmetry,
            cranium: uniform(rng, 1.25, 1.5),
        }
    }

    /// The subject's neutral face: the mean shape deformed by these parameters.
    pub(crate) fn neutral_shape(&self) -> [P2; NUM_LANDMARKS] {
        let mut s = MEAN_SHAPE;
        // Lower face proportions (relative to the eye line y = 0).
        for p in s[parts::NOSE].iter_mut().skip(1) {
            p[1] *= self.lower_face;
        }
        for p in &mut s[parts::MOUTH] {
            p[1] *= self.lower_face;
        }
        for p in &mut s[parts::JAW] {
            if p[1] > 0.0 {
                p[1] *= self.lower_face;
            }
        }
        // Jaw width and chin.
        for p in &mut s[parts::JAW] {
            let low = (p[1] / 1.9).clamp(0.0, 1.0);
            p[0] *= self.jaw_width * (1.0 + (self.chin_taper - 1.0) * low);
        }
        for (i, p) in s.iter_mut().enumerate().take(11).skip(6) {
            let w = 1.0 - (i as f32 - 8.0).abs() / 3.0;
            p[1] += self.chin_length * w;
        }
        // Eyes: spacing, size, opening, tilt, height (left eye; right eye mirrored).
        for (range, side) in [(parts::LEFT_EYE, -1.0f32), (parts::RIGHT_EYE, 1.0)] {
            let c = mean(&s[range.clone()]);
            let (sin, cos) = (self.eye_tilt * -side).sin_cos();
            for p in &mut s[range] {
                let d = [
                    (p[0] - c[0]) * self.eye_size,
                    (p[1] - c[1]) * self.eye_size * self.eye_open,
                ];
                let r = [d[0] * cos - d[1] * sin, d[0] * sin + d[1] * cos];
                *p = [
                    c[0] + side * self.eye_spacing + r[0],
                    c[1] + self.eye_height + r[1],
                ];
            }
        }
        // Brows: height, arch, slant, length, spacing.
        for (range, side) in [(parts::LEFT_BROW, -1.0f32), (parts::RIGHT_BROW, 1.0)] {
            let c = mean(&s[range.clone()]);
            for p in &mut s[range] {
                // 0 at the inner end, 1 at the outer end.
                let outer = ((p[0].abs() - 0.19) / 0.73).clamp(0.0, 1.0);
                let arch = 1.0 - (2.0 * outer - 1.0).powi(2);
                p[0] = c[0] + (p[0] - c[0]) * self.brow_length + side * self.brow_spacing;
                p[1] += self.brow_height - self.brow_arch * arch
                    + self.brow_slant * (1.0 - 2.0 * outer) * 0.5;
            }
        }
        // Nose length and width.
        for (i, p) in s.iter_mut().enumerate().take(36).skip(29) {
            let w = if i == 29 { 0.5 } else { 1.0 };
            p[1] += self.nose_length * w;
        }
        for p in &mut s[31..=35] {
            p[0] *= self.nose_width;
        }
        // Mouth width, height, lip thickness (about the closed lip line).
        let line_y = s[62][1];
        for p in &mut s[parts::MOUTH] {
            p[0] *= self.mouth_width;
        }
        for (i, p) in s.iter_mut().enumerate().skip(48) {
            let dy = p[1] - line_y;
            let k = if dy < 0.0 {
                self.upper_lip
            } else {
                self.lower_lip
            };
            // Only the lip bodies thicken; corners and the inner lip line stay put.
            let y = if (49..=53).contains(&i) || (55..=59).contains(&i) {
                dy * k
            } else {
                dy
            };
            p[1] = line_y + y + self.mouth_y + self.nose_length * 0.5;
        }
        // Asymmetry (the only non-mirrored part).
        for (p, a) in s.iter_mut().zip(&self.asymmetry) {
            p[0] += a[0];
            p[1] += a[1];
        }
        s
    }
}

/// Hair styles (drawn as polygons around the head outline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HairStyle {
    Short,
    Long,
    Fringe,
    Buzz,
}

/// Per-subject appearance (grey levels in 0..1).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Appearance {
    pub skin: f32,
    pub hair: f32,
    pub hair_style: HairStyle,
    /// Hairline height above the brows (canonical units).
    pub hairline: f32,
    /// How far the hair stands out of the skull outline.
    pub hair_volume: f32,
    pub brow_tone: f32,
    /// Brow thickness (canonical units).
    pub brow_thickness: f32,
    pub lip_tone: f32,
    pub iris_tone: f32,
    pub sclera: f32,
    /// Beard / stubble opacity (0 = none).
    pub beard: f32,
    pub glasses: bool,
    pub glasses_tone: f32,
    pub ear_size: f32,
    pub clothes: f32,
}

impl Appearance {
    fn sample(rng: &mut ChaCha8Rng, glasses_prob: f32) -> Self {
        let skin = uniform(rng, 0.40, 0.84);
        let mut hair = if rng.gen_bool(0.12) {
            uniform(rng, 0.65, 0.92) // grey or blond
        } else {
            uniform(rng, 0.04, 0.45)
        };
        if (hair - skin).abs() < 0.15 {
            hair = (skin - 0.28).max(0.03);
        }
        let hair_style = match rng.gen_range(0..10) {
            0..=3 => HairStyle::Short,
            4..=6 => HairStyle::Long,
            7..=8 => HairStyle::Fringe,
            _ => HairStyle::Buzz,
        };
        let dark = hair.min(skin * 0.55);
        Self {
            skin,
            hair,
            hair_style,
            hairline: uniform(rng, 0.4, 0.9),
            hair_volume: uniform(rng, 0.04, 0.3),
            brow_tone: dark + (skin - dark) * uniform(rng, 0.0, 0.35),
            brow_thickness: uniform(rng, 0.07, 0.14),
            lip_tone: skin * uniform(rng, 0.62, 0.85),
            iris_tone: uniform(rng, 0.08, 0.45),
            sclera: uniform(rng, 0.8, 0.95),
            beard: if rng.gen_bool(0.12) {
                uniform(rng, 0.2, 0.65)
            } else {
                0.0
            },
            glasses: rng.gen_bool(f64::from(glasses_prob.clamp(0.0, 1.0))),
            glasses_tone: uniform(rng, 0.02, 0.35),
            ear_size: uniform(rng, 0.85, 1.15),
            clothes: uniform(rng, 0.05, 0.95),
        }
    }
}

/// Everything fixed about one synthetic person.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SubjectIdentity {
    pub shape: ShapeParams,
    pub neutral: [P2; NUM_LANDMARKS],
    pub look: Appearance,
    pub style: ExpressionStyle,
}

impl SubjectIdentity {
    pub(crate) fn sample(rng: &mut ChaCha8Rng, glasses_prob: f32) -> Self {
        let shape = ShapeParams::sample(rng);
        let neutral = shape.neutral_shape();
        let look = Appearance::sample(rng, glasses_prob);
        let style = ExpressionStyle::sample(rng);
        Self {
            shape,
            neutral,
            look,
            style,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rng_util::stream_rng;
    use super::*;
    use crate::landmarks::MIRROR_68;

    /// Largest deviation from left-right symmetry.
    fn max_asymmetry(s: &[P2; NUM_LANDMARKS]) -> f32 {
        s.iter()
            .enumerate()
            .map(|(i, p)| {
                let m = s[MIRROR_68[i]];
                (p[0] + m[0]).abs().max((p[1] - m[1]).abs())
            })
            .fold(0.0, f32::max)
    }

    #[test]
    fn identities_differ_but_stay_face_like() {
        let a = SubjectIdentity::sample(&mut stream_rng(5, 0, None), 0.1);
        let b = SubjectIdentity::sample(&mut stream_rng(5, 1, None), 0.1);
        assert_ne!(a, b);
        for id in [&a, &b] {
            let s = id.neutral;
            // Ordering of features from top to bottom survives the deformation.
            assert!(s[19][1] < s[37][1] && s[37][1] < s[41][1]);
            assert!(s[41][1] < s[33][1] && s[33][1] < s[51][1]);
            assert!(s[51][1] < s[62][1] && s[62][1] < s[66][1] + 0.05 && s[66][1] < s[57][1]);
            assert!(s[57][1] < s[8][1]);
            assert!(s[36][0] < s[39][0] && s[39][0] < s[42][0] && s[42][0] < s[45][0]);
            let mut sym = id.shape.clone();
            sym.asymmetry = [[0.0; 2]; NUM_LANDMARKS];
            assert!(max_asymmetry(&sym.neutral_shape()) < 1e-4);
        }
    }
}
