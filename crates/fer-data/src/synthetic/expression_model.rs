//! How SynthFER puts an expression into the landmark geometry (issue: "the expression lives in
//! the landmark geometry (mouth corners, mouth opening, lip shape, brow height and slant, eye
//! opening, nose wrinkle) at a random intensity").
//!
//! Expressions are built from a small set of action-unit-like displacement fields (loosely after
//! FACS: AU1 inner brow raise, AU2 outer brow raise, AU4 brow lower, AU5 upper lid raise, AU6/7
//! lid tighten, AU9 nose wrinkle, AU10 upper lip raise, AU12 lip corner pull, AU15 lip corner
//! depress, AU17 chin raise, AU20 lip stretch, AU24 lip press, AU25 lips part, AU26 jaw drop,
//! AU22-like funnel). Each expression is a recipe of activations (the EMFACS prototypes,
//! simplified), scaled by the image's intensity and by the subject's personal expressiveness,
//! plus the subject's resting face and a little per-image jitter, so that weak expressions look
//! near-neutral and some people's neutral looks a bit sad or angry, as in real data.
//!
//! Displacements are in canonical-frame units (inter-ocular distances, y down) and are listed
//! for the image-left half and the midline only; the image-right partner of each point gets the
//! mirrored displacement.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::raster::P2;
use super::rng_util::{normal, uniform};
use crate::expression::Expression;
use crate::landmarks::{MIRROR_68, NUM_LANDMARKS};

/// The action units of the model (indices into [`Activations`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ActionUnit {
    InnerBrowRaise,
    OuterBrowRaise,
    BrowLower,
    UpperLidRaise,
    LidTighten,
    LidDroop,
    NoseWrinkle,
    UpperLipRaise,
    LipCornerPull,
    LipCornerDepress,
    ChinRaise,
    LipStretch,
    LipPress,
    LipsPart,
    JawDrop,
    LipFunnel,
}

/// Number of action units.
pub(crate) const NUM_ACTION_UNITS: usize = 16;

/// All action units in index order.
pub(crate) const ALL_ACTION_UNITS: [ActionUnit; NUM_ACTION_UNITS] = [
    ActionUnit::InnerBrowRaise,
    ActionUnit::OuterBrowRaise,
    ActionUnit::BrowLower,
    ActionUnit::UpperLidRaise,
    ActionUnit::LidTighten,
    ActionUnit::LidDroop,
    ActionUnit::NoseWrinkle,
    ActionUnit::UpperLipRaise,
    ActionUnit::LipCornerPull,
    ActionUnit::LipCornerDepress,
    ActionUnit::ChinRaise,
    ActionUnit::LipStretch,
    ActionUnit::LipPress,
    ActionUnit::LipsPart,
    ActionUnit::JawDrop,
    ActionUnit::LipFunnel,
];

impl ActionUnit {
    /// Displacement at activation 1: (landmark index, dx, dy) for image-left and midline points.
    fn field(self) -> &'static [(usize, f32, f32)] {
        use ActionUnit::*;
        match self {
            InnerBrowRaise => &[
                (21, 0.015, -0.14),
                (20, 0.01, -0.11),
                (19, 0.0, -0.06),
                (18, 0.0, -0.02),
            ],
            OuterBrowRaise => &[
                (17, 0.0, -0.13),
                (18, 0.0, -0.13),
                (19, 0.0, -0.10),
                (20, 0.0, -0.06),
                (21, 0.0, -0.02),
            ],
            BrowLower => &[
                (21, 0.07, 0.11),
                (20, 0.05, 0.09),
                (19, 0.03, 0.065),
                (18, 0.015, 0.045),
                (17, 0.01, 0.03),
                (37, 0.0, 0.015),
                (38, 0.0, 0.02),
            ],
            UpperLidRaise => &[
                (37, 0.0, -0.075),
                (38, 0.0, -0.075),
                (36, 0.0, -0.01),
                (39, 0.0, -0.005),
                (40, 0.0, 0.015),
                (41, 0.0, 0.015),
            ],
            LidTighten => &[
                (40, 0.0, -0.045),
                (41, 0.0, -0.045),
                (37, 0.0, 0.025),
                (38, 0.0, 0.025),
                (36, 0.0, -0.005),
            ],
            LidDroop => &[(37, 0.0, 0.04), (38, 0.0, 0.04)],
            NoseWrinkle => &[
                (31, -0.02, -0.075),
                (32, -0.01, -0.07),
                (33, 0.0, -0.065),
                (30, 0.0, -0.045),
                (29, 0.0, -0.02),
                (28, 0.0, -0.01),
                (40, 0.0, -0.015),
                (41, 0.0, -0.015),
                (49, 0.0, -0.03),
                (50, 0.0, -0.035),
                (51, 0.0, -0.035),
            ],
            UpperLipRaise => &[
                (50, 0.0, -0.10),
                (51, 0.0, -0.09),
                (49, -0.005, -0.085),
                (48, -0.005, -0.02),
                (61, 0.0, -0.085),
                (62, 0.0, -0.085),
                (60, 0.0, -0.025),
            ],
            LipCornerPull => &[
                (48, -0.12, -0.14),
                (60, -0.10, -0.125),
                (49, -0.05, -0.06),
                (59, -0.05, -0.08),
                (61, -0.04, -0.05),
                (67, -0.04, -0.06),
                (50, -0.015, -0.015),
                (58, -0.02, -0.03),
                (57, 0.0, -0.01),
            ],
            LipCornerDepress => &[
                (48, 0.01, 0.11),
                (60, 0.01, 0.095),
                (49, 0.0, 0.04),
                (59, 0.0, 0.05),
                (61, 0.0, 0.03),
                (67, 0.0, 0.035),
                (58, 0.0, 0.01),
            ],
            ChinRaise => &[
                (57, 0.0, -0.06),
                (58, 0.0, -0.055),
                (59, 0.0, -0.04),
                (66, 0.0, -0.02),
                (67, 0.0, -0.02),
                (8, 0.0, -0.03),
                (7, 0.0, -0.025),
                (6, 0.0, -0.015),
                (50, 0.0, -0.015),
                (51, 0.0, -0.02),
            ],
            LipStretch => &[
                (48, -0.13, 0.02),
                (60, -0.12, 0.015),
                (49, -0.06, 0.01),
                (59, -0.06, 0.0),
                (61, -0.05, 0.005),
                (67, -0.05, 0.0),
                (50, -0.02, 0.015),
                (58, -0.02, -0.02),
                (51, 0.0, 0.015),
                (57, 0.0, -0.03),
                (5, -0.015, 0.0),
                (6, -0.01, 0.0),
            ],
            LipPress => &[
                (50, 0.0, 0.04),
                (51, 0.0, 0.045),
                (49, 0.0, 0.03),
                (57, 0.0, -0.08),
                (58, 0.0, -0.07),
                (59, 0.0, -0.045),
                (48, 0.03, 0.0),
                (60, 0.03, 0.0),
                (61, 0.01, 0.0),
                (67, 0.01, 0.0),
            ],
            LipsPart => &[
                (66, 0.0, 0.09),
                (67, 0.0, 0.075),
                (57, 0.0, 0.07),
                (58, 0.0, 0.06),
                (59, 0.0, 0.035),
                (62, 0.0, -0.02),
                (61, 0.0, -0.015),
            ],
            JawDrop => &[
                (66, 0.0, 0.38),
                (67, 0.0, 0.33),
                (57, 0.0, 0.38),
                (58, 0.0, 0.34),
                (59, 0.0, 0.21),
                (60, 0.02, 0.1),
                (48, 0.02, 0.08),
                (62, 0.0, -0.02),
                (61, 0.0, -0.015),
                (8, 0.0, 0.36),
                (7, 0.0, 0.34),
                (6, 0.01, 0.29),
                (5, 0.02, 0.21),
                (4, 0.02, 0.12),
                (3, 0.01, 0.05),
                (2, 0.0, 0.015),
            ],
            LipFunnel => &[
                (48, 0.07, 0.02),
                (60, 0.08, 0.03),
                (49, 0.04, 0.0),
                (59, 0.04, 0.0),
                (61, 0.04, -0.02),
                (67, 0.04, 0.02),
                (50, 0.01, -0.01),
                (58, 0.01, 0.01),
            ],
        }
    }
}

/// Activation of every action unit (0 = relaxed, about 1 = a full prototypical movement).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Activations(pub [f32; NUM_ACTION_UNITS]);

impl Activations {
    pub(crate) fn zero() -> Self {
        Self([0.0; NUM_ACTION_UNITS])
    }

    pub(crate) fn get(&self, au: ActionUnit) -> f32 {
        self.0[au as usize]
    }

    fn set(&mut self, au: ActionUnit, v: f32) {
        self.0[au as usize] = v;
    }
}

/// A subject's personal way of expressing: per-unit gain and resting activation.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ExpressionStyle {
    /// Multiplies the recipe activation (0.7..1.3: some people are more expressive).
    pub gain: [f32; NUM_ACTION_UNITS],
    /// Added always (resting face: a slightly sad mouth, a frowning brow, ...).
    pub rest: [f32; NUM_ACTION_UNITS],
}

impl ExpressionStyle {
    pub(crate) fn sample(rng: &mut ChaCha8Rng) -> Self {
        let mut gain = [1.0; NUM_ACTION_UNITS];
        for g in &mut gain {
            *g = uniform(rng, 0.7, 1.3);
        }
        let mut rest = [0.0; NUM_ACTION_UNITS];
        use ActionUnit::*;
        for au in [
            InnerBrowRaise,
            BrowLower,
            UpperLidRaise,
            LidTighten,
            LidDroop,
            LipCornerPull,
            LipCornerDepress,
            LipsPart,
            LipPress,
            ChinRaise,
        ] {
            // Half-normal: most resting faces are close to relaxed, a few are not.
            rest[au as usize] = (normal(rng) * 0.1).abs();
        }
        Self { gain, rest }
    }
}

/// The recipe of an expression at full intensity; `rng` picks among the prototype's variants
/// (closed or open smile, pressed or bared anger, ...).
fn recipe(expression: Expression, rng: &mut ChaCha8Rng) -> Activations {
    use ActionUnit::*;
    let mut a = Activations::zero();
    match expression {
        Expression::Neutral | Expression::Contempt => {}
        Expression::Happiness => {
            a.set(LipCornerPull, 1.0);
            a.set(LidTighten, 0.55);
            a.set(UpperLipRaise, 0.15);
            if rng.gen_bool(0.5) {
                a.set(LipsPart, uniform(rng, 0.4, 1.3));
                a.set(JawDrop, uniform(rng, 0.0, 0.3));
            }
        }
        Expression::Sadness => {
            a.set(InnerBrowRaise, 1.0);
            a.set(BrowLower, 0.35);
            a.set(LipCornerDepress, 1.0);
            a.set(ChinRaise, 0.7);
            a.set(LidDroop, 0.5);
        }
        Expression::Surprise => {
            a.set(InnerBrowRaise, 1.0);
            a.set(OuterBrowRaise, 1.0);
            a.set(UpperLidRaise, 1.0);
            a.set(JawDrop, uniform(rng, 0.55, 1.0));
            a.set(LipFunnel, uniform(rng, 0.2, 0.8));
            a.set(LipsPart, 0.5);
        }
        Expression::Fear => {
            a.set(InnerBrowRaise, 1.0);
            a.set(OuterBrowRaise, 0.5);
            a.set(BrowLower, 0.6);
            a.set(UpperLidRaise, 1.0);
            a.set(LipStretch, 1.0);
            a.set(LipsPart, uniform(rng, 0.4, 1.0));
            a.set(JawDrop, uniform(rng, 0.0, 0.35));
        }
        Expression::Disgust => {
            a.set(NoseWrinkle, 1.0);
            a.set(UpperLipRaise, 1.0);
            a.set(BrowLower, 0.55);
            a.set(LidTighten, 0.5);
            a.set(LipCornerDepress, 0.35);
            a.set(ChinRaise, 0.4);
        }
        Expression::Anger => {
            a.set(BrowLower, 1.2);
            a.set(LidTighten, 0.7);
            a.set(UpperLidRaise, 0.35);
            if rng.gen_bool(0.75) {
                a.set(LipPress, 1.0);
                a.set(ChinRaise, 0.3);
            } else {
                a.set(UpperLipRaise, 0.6);
                a.set(LipsPart, 0.7);
                a.set(LipStretch, 0.3);
            }
        }
    }
    a
}

/// Activations of one image: recipe x intensity x subject gain + subject's resting face +
/// per-image jitter.
pub(crate) fn sample_activations(
    expression: Expression,
    intensity: f32,
    style: &ExpressionStyle,
    rng: &mut ChaCha8Rng,
) -> Activations {
    let r = recipe(expression, rng);
    let mut out = Activations::zero();
    for au in ALL_ACTION_UNITS {
        let k = au as usize;
        let v = r.0[k] * intensity * style.gain[k] + style.rest[k] + normal(rng) * 0.05;
        out.0[k] = v.clamp(0.0, 1.6);
    }
    out
}

/// Overall strength of the displacement fields: sets how far a full expression moves the
/// landmarks relative to identity differences (tuned with the geometry-classifier test).
const FIELD_GAIN: f32 = 1.3;

/// Moves the landmarks by the activated displacement fields.
pub(crate) fn apply_activations(shape: &mut [P2; NUM_LANDMARKS], act: &Activations) {
    for au in ALL_ACTION_UNITS {
        let a = act.get(au) * FIELD_GAIN;
        if a == 0.0 {
            continue;
        }
        for &(i, dx, dy) in au.field() {
            shape[i][0] += dx * a;
            shape[i][1] += dy * a;
            let m = MIRROR_68[i];
            if m != i {
                shape[m][0] -= dx * a;
                shape[m][1] += dy * a;
            }
        }
    }
}

/// Keeps the moved shape anatomically possible: lids do not cross, inner lips do not cross
/// (a closed mouth has coinciding inner lips), outer lips stay outside the inner lips, and
/// the chin stays below the lower lip.
pub(crate) fn enforce_anatomy(shape: &mut [P2; NUM_LANDMARKS]) {
    // Eyes: lower lid at least a sliver below the upper lid.
    for (up, low) in [(37, 41), (38, 40), (43, 47), (44, 46)] {
        let min_gap = 0.02;
        if shape[low][1] - shape[up][1] < min_gap {
            let mid = 0.5 * (shape[low][1] + shape[up][1]);
            shape[up][1] = mid - 0.5 * min_gap;
            shape[low][1] = mid + 0.5 * min_gap;
        }
    }
    // Inner lips: 61-67, 62-66, 63-65 close onto their mean instead of crossing.
    for (up, low) in [(61, 67), (62, 66), (63, 65)] {
        if shape[low][1] < shape[up][1] {
            let mid = 0.5 * (shape[low][1] + shape[up][1]);
            shape[up][1] = mid;
            shape[low][1] = mid;
        }
    }
    // Outer lips keep a minimum thickness outside the inner lips.
    for (outer, inner, min_t) in [(50, 61, 0.035), (51, 62, 0.035), (52, 63, 0.035)] {
        if shape[inner][1] - shape[outer][1] < min_t {
            shape[outer][1] = shape[inner][1] - min_t;
        }
    }
    for (outer, inner, min_t) in [(58, 67, 0.05), (57, 66, 0.06), (56, 65, 0.05)] {
        if shape[outer][1] - shape[inner][1] < min_t {
            shape[outer][1] = shape[inner][1] + min_t;
        }
    }
    // Chin below the lower lip.
    if shape[8][1] < shape[57][1] + 0.25 {
        shape[8][1] = shape[57][1] + 0.25;
    }
}

#[cfg(test)]
mod tests {
    use super::super::mean_face::MEAN_SHAPE;
    use super::*;
    use rand::SeedableRng;

    fn expressed(e: Expression) -> [P2; NUM_LANDMARKS] {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let style = ExpressionStyle {
            gain: [1.0; NUM_ACTION_UNITS],
            rest: [0.0; NUM_ACTION_UNITS],
        };
        let act = sample_activations(e, 1.0, &style, &mut rng);
        let mut s = MEAN_SHAPE;
        apply_activations(&mut s, &act);
        enforce_anatomy(&mut s);
        s
    }

    #[test]
    fn prototypes_move_the_right_features() {
        let n = MEAN_SHAPE;
        let h = expressed(Expression::Happiness);
        assert!(h[48][1] < n[48][1] - 0.08, "smile corners go up");
        assert!(h[54][0] > n[54][0] + 0.06, "smile corners go out");
        let s = expressed(Expression::Sadness);
        assert!(s[48][1] > n[48][1] + 0.06, "sad corners go down");
        assert!(s[21][1] < n[21][1] - 0.05, "sad inner brows go up");
        let su = expressed(Expression::Surprise);
        assert!(su[66][1] - su[62][1] > 0.25, "surprise opens the mouth");
        assert!(su[24][1] < n[24][1] - 0.1, "surprise raises the brows");
        assert!(su[37][1] < n[37][1] - 0.04, "surprise widens the eyes");
        let a = expressed(Expression::Anger);
        assert!(a[21][1] > n[21][1] + 0.05, "anger lowers the inner brows");
        assert!(a[21][0] > n[21][0] + 0.03, "anger pulls the brows together");
        let d = expressed(Expression::Disgust);
        assert!(d[33][1] < n[33][1] - 0.04, "disgust raises the nostrils");
        let f = expressed(Expression::Fear);
        assert!(f[54][0] > n[54][0] + 0.08, "fear stretches the lips");
        // Symmetric fields keep the shape symmetric.
        for (i, p) in h.iter().enumerate() {
            let m = h[MIRROR_68[i]];
            assert!((p[0] + m[0]).abs() < 1e-5 && (p[1] - m[1]).abs() < 1e-5);
        }
    }
}
