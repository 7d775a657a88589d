//! Identity + expression -> 68 landmarks, plus everything else the renderer draws around them
//! (issue: "exact 68-point landmarks (iBUG order)"; the expression lives in the geometry).
//!
//! [`face_landmarks`] gives the canonical 68 points of one image (subject's neutral face moved
//! by the image's action units). [`FaceShape::build`] then derives every drawn shape (head
//! outline, hair, brows, lids, irises, lips, wrinkles, ...) from those 68 points, still in the
//! canonical frame, so that the pose later moves landmarks and drawing with one and the same
//! function: the landmarks are exactly where the features are drawn.

use super::expression_model::{apply_activations, enforce_anatomy, Activations};
use super::identity::{HairStyle, SubjectIdentity};
use super::raster::{add, catmull_rom, ellipse, lerp, mean, scale, sub, SoftBlob, P2};
use crate::landmarks::NUM_LANDMARKS;

/// The canonical 68 landmarks of one image: the subject's neutral face moved by `act`.
pub(crate) fn face_landmarks(id: &SubjectIdentity, act: &Activations) -> [P2; NUM_LANDMARKS] {
    let mut s = id.neutral;
    apply_activations(&mut s, act);
    enforce_anatomy(&mut s);
    s
}

/// Samples per Catmull-Rom segment for facial curves.
const PER_SEG: usize = 4;

fn pts(lm: &[P2; NUM_LANDMARKS], idx: &[usize]) -> Vec<P2> {
    idx.iter().map(|&i| lm[i]).collect()
}

/// Concatenates curves that share end points (dropping the duplicated joints).
fn join(curves: &[Vec<P2>]) -> Vec<P2> {
    let mut out: Vec<P2> = Vec::new();
    for c in curves {
        let skip = usize::from(!out.is_empty());
        out.extend(c.iter().skip(skip));
    }
    // The last point of a closed outline repeats the first one.
    if out.len() > 2 && out.first() == out.last() {
        out.pop();
    }
    out
}

/// Every drawn shape of one face, in one coordinate frame (canonical before posing, pixels after).
#[derive(Debug, Clone)]
pub(crate) struct FaceShape {
    pub landmarks: [P2; NUM_LANDMARKS],
    pub head: Vec<P2>,
    pub ears: [Vec<P2>; 2],
    pub inner_ears: [SoftBlob; 2],
    pub neck: Vec<P2>,
    pub shoulders: Vec<P2>,
    pub hair_front: Vec<P2>,
    pub hair_back: Vec<P2>,
    pub beard: Vec<P2>,
    pub face_light: SoftBlob,
    pub sockets: [SoftBlob; 2],
    pub cheeks: [SoftBlob; 2],
    pub brows: [Vec<P2>; 2],
    pub eyes: [Vec<P2>; 2],
    pub upper_lids: [Vec<P2>; 2],
    pub lower_lids: [Vec<P2>; 2],
    pub creases: [Vec<P2>; 2],
    pub irises: [Vec<P2>; 2],
    pub pupils: [Vec<P2>; 2],
    pub nostrils: [Vec<P2>; 2],
    pub nose_wings: [Vec<P2>; 2],
    pub nose_sides: [Vec<P2>; 2],
    pub nose_tip: SoftBlob,
    pub under_nose: SoftBlob,
    pub nasolabial: [Vec<P2>; 2],
    pub forehead_lines: Vec<Vec<P2>>,
    pub glabella_lines: [Vec<P2>; 2],
    pub bridge_lines: Vec<Vec<P2>>,
    pub upper_lip: Vec<P2>,
    pub lower_lip: Vec<P2>,
    pub mouth_inner: Vec<P2>,
    pub lip_line: Vec<P2>,
    pub teeth: Vec<P2>,
    pub chin_shadow: SoftBlob,
    pub glasses: [Vec<P2>; 2],
    pub glasses_bridge: Vec<P2>,
}

impl FaceShape {
    /// Derives all shapes from the canonical landmarks `lm`; `gaze` moves the irises
    /// (fractions of the eye half-width / half-height).
    pub(crate) fn build(lm: &[P2; NUM_LANDMARKS], id: &SubjectIdentity, gaze: P2) -> Self {
        let look = &id.look;
        let cr = |idx: &[usize]| catmull_rom(&pts(lm, idx), PER_SEG);

        // Head: jaw line + skull arc over the top.
        let jaw: Vec<usize> = (0..=16).collect();
        let jaw_curve = cr(&jaw);
        let brow_top = (17..=26).map(|i| lm[i][1]).fold(f32::INFINITY, f32::min);
        let cx = 0.5 * (lm[0][0] + lm[16][0]);
        let cy = 0.5 * (lm[0][1] + lm[16][1]);
        let a = 0.5 * (lm[16][0] - lm[0][0]) * 1.01;
        let top = brow_top - id.shape.cranium;
        let b = cy - top;
        let arc = |ea: f32, eb: f32, t0: f32, t1: f32, n: usize| -> Vec<P2> {
            (0..=n)
                .map(|k| {
                    let t = t0 + (t1 - t0) * k as f32 / n as f32;
                    [cx + ea * t.cos(), cy - eb * t.sin()]
                })
                .collect()
        };
        let pi = std::f32::consts::PI;
        let mut head = jaw_curve.clone();
        head.extend(arc(a, b, 0.0, pi, 24).into_iter().skip(1));
        let head = join(&[head]);

        // Ears beside the jaw's upper part.
        let ear = |side: f32, anchor: P2| -> (Vec<P2>, SoftBlob) {
            let c = [anchor[0] + side * 0.06, anchor[1] + 0.32];
            let (sx, sy) = (0.14 * look.ear_size, 0.3 * look.ear_size);
            (
                ellipse(c, [sx, 0.0], [0.0, sy], 20),
                SoftBlob::new([c[0] + side * 0.02, c[1]], sx * 0.55, sy * 0.6),
            )
        };
        let (ear_l, inner_l) = ear(-1.0, lm[0]);
        let (ear_r, inner_r) = ear(1.0, lm[16]);

        let neck = vec![
            [cx - 0.55, 1.0],
            [cx + 0.55, 1.0],
            [cx + 0.62, 3.2],
            [cx - 0.62, 3.2],
        ];
        let shoulders = vec![
            [cx - 0.6, 2.05],
            [cx + 0.6, 2.05],
            [cx + 3.0, 2.6],
            [cx + 3.0, 3.4],
            [cx - 3.0, 3.4],
            [cx - 3.0, 2.6],
        ];

        // Hair: a cap between the (voluminous) skull outline and the hairline.
        let v = look.hair_volume;
        let (hairline_top, side_drop, wavy) = match look.hair_style {
            HairStyle::Fringe => (brow_top - 0.22, 0.25, true),
            HairStyle::Buzz => (brow_top - look.hairline - 0.1, 0.0, false),
            _ => (brow_top - look.hairline, 0.2, false),
        };
        let outer_ext = match look.hair_style {
            HairStyle::Long => 0.45,
            HairStyle::Buzz => 0.05,
            _ => 0.3,
        };
        let mut hair_front = arc(a + v, b + v, -outer_ext, pi + outer_ext, 32);
        let temple_y = cy - 0.25 + side_drop;
        let a_h = a * 0.96;
        let n_h = 24;
        for k in 0..=n_h {
            let t = pi - pi * k as f32 / n_h as f32;
            let s = t.sin().max(0.0).powf(0.6);
            let mut y = temple_y - (temple_y - hairline_top) * s;
            if wavy {
                y += 0.05 * (t * 9.0).sin() * s;
            }
            hair_front.push([cx + a_h * t.cos(), y]);
        }
        let hair_back = if look.hair_style == HairStyle::Long {
            let mut h = arc(a + v + 0.05, b + v + 0.05, 0.0, pi, 24);
            h.push([cx - a - v - 0.3, 2.3]);
            h.push([cx + a + v + 0.3, 2.3]);
            h
        } else {
            Vec::new()
        };

        // Beard: lower jaw plus the upper-lip area, following the mouth.
        let mut beard = cr(&[3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
        beard.extend([
            add(lm[54], [0.3, -0.15]),
            [lm[35][0] + 0.05, lm[33][1] + 0.07],
            [lm[31][0] - 0.05, lm[33][1] + 0.07],
            add(lm[48], [-0.3, -0.15]),
        ]);

        // Brows: tapered bands along the landmark curve, thicker at the inner end.
        let brow = |idx: &[usize], inner_first: bool| -> Vec<P2> {
            let c = cr(idx);
            let n = c.len();
            let mut upper = Vec::with_capacity(n);
            let mut lower = Vec::with_capacity(n);
            for (i, &p) in c.iter().enumerate() {
                let a = c[i.saturating_sub(1)];
                let b = c[(i + 1).min(n - 1)];
                let t = sub(b, a);
                let l = (t[0] * t[0] + t[1] * t[1]).sqrt().max(1e-6);
                let up = [t[1] / l, -t[0] / l];
                let s = i as f32 / (n - 1) as f32;
                let inner = if inner_first { 1.0 - s } else { s };
                let th = look.brow_thickness * (0.45 + 0.55 * inner.sqrt());
                upper.push(add(p, scale(up, 0.35 * th)));
                lower.push(sub(p, scale(up, 0.65 * th)));
            }
            upper.extend(lower.into_iter().rev());
            upper
        };
        let brows = [
            brow(&[17, 18, 19, 20, 21], false),
            brow(&[22, 23, 24, 25, 26], true),
        ];

        // Eyes.
        let eye_parts = |up: [usize; 4], low: [usize; 4]| {
            let u = cr(&up);
            let l = cr(&low);
            let outline = join(&[u.clone(), l.clone()]);
            (outline, u, l)
        };
        let (eye_l, up_l, low_l) = eye_parts([36, 37, 38, 39], [39, 40, 41, 36]);
        let (eye_r, up_r, low_r) = eye_parts([42, 43, 44, 45], [45, 46, 47, 42]);
        let iris_pupil = |range: std::ops::RangeInclusive<usize>, a: usize, b: usize| {
            let c = mean(&lm[range]);
            let half_w = 0.5 * (lm[b][0] - lm[a][0]).abs();
            let centre = add(c, [gaze[0] * half_w * 0.45, gaze[1] * half_w * 0.12]);
            let r = 0.48 * half_w;
            (
                ellipse(centre, [r, 0.0], [0.0, r], 20),
                ellipse(centre, [r * 0.42, 0.0], [0.0, r * 0.42], 12),
                c,
                half_w,
            )
        };
        let (iris_l, pupil_l, ec_l, hw_l) = iris_pupil(36..=41, 36, 39);
        let (iris_r, pupil_r, ec_r, hw_r) = iris_pupil(42..=47, 42, 45);
        let crease = |upper: &[P2], brow_lm: usize| -> Vec<P2> {
            let n = upper.len();
            let lift = (0.35 * (upper[n / 2][1] - lm[brow_lm][1])).clamp(0.03, 0.12);
            upper[n / 6..n - n / 6]
                .iter()
                .map(|p| [p[0], p[1] - lift])
                .collect()
        };
        let creases = [crease(&up_l, 19), crease(&up_r, 24)];
        let socket = |c: P2, hw: f32| SoftBlob::new([c[0], c[1] - 0.06], hw * 2.1, 0.3);
        let glasses_ring =
            |c: P2, hw: f32| ellipse([c[0], c[1] + 0.03], [hw * 1.9, 0.0], [0.0, 0.28], 28);

        // Nose.
        let nostril = |a: usize, b: usize, side: f32| {
            let c = add(lerp(lm[a], lm[b], 0.55), [0.0, -0.03]);
            ellipse(c, [0.065, side * 0.012], [0.0, 0.03], 14)
        };
        let wing = |i: usize, side: f32| {
            catmull_rom(
                &[
                    add(lm[i], [side * 0.01, 0.0]),
                    add(lm[i], [side * 0.06, -0.08]),
                    add(lm[i], [side * 0.02, -0.17]),
                ],
                PER_SEG,
            )
        };
        let nose_side = |side: f32| {
            catmull_rom(
                &[
                    add(lm[27], [side * 0.13, 0.06]),
                    add(lm[28], [side * 0.11, 0.0]),
                    add(lm[29], [side * 0.12, 0.0]),
                    add(lm[30], [side * 0.13, -0.04]),
                ],
                PER_SEG,
            )
        };
        let nasolabial = |side: f32, nose_i: usize, corner_i: usize| {
            catmull_rom(
                &[
                    add(lm[nose_i], [side * 0.1, -0.06]),
                    add(lm[nose_i], [side * 0.2, 0.08]),
                    add(lm[corner_i], [side * 0.1, -0.04]),
                    add(lm[corner_i], [side * 0.12, 0.1]),
                ],
                PER_SEG,
            )
        };

        // Wrinkle lines (drawn with expression-dependent strength).
        let forehead_lines = (0..3)
            .map(|k| {
                let y = brow_top - 0.17 - 0.12 * k as f32;
                let half = 0.45 - 0.05 * k as f32;
                catmull_rom(
                    &[
                        [-half, y + 0.05],
                        [-half * 0.45, y],
                        [0.0, y - 0.01],
                        [half * 0.45, y],
                        [half, y + 0.05],
                    ],
                    PER_SEG,
                )
            })
            .collect();
        let glabella = |i: usize, side: f32| {
            vec![
                add(lm[i], [side * 0.06, -0.06]),
                add(lm[i], [side * 0.05, 0.05]),
                add(lm[i], [side * 0.07, 0.15]),
            ]
        };
        let bridge_lines = (0..2)
            .map(|k| {
                let y = lm[27][1] + 0.07 + 0.07 * k as f32;
                catmull_rom(&[[-0.12, y + 0.02], [0.0, y], [0.12, y + 0.02]], PER_SEG)
            })
            .collect();

        // Mouth.
        let outer_up = cr(&[48, 49, 50, 51, 52, 53, 54]);
        let outer_low = cr(&[54, 55, 56, 57, 58, 59, 48]);
        let inner_up = cr(&[60, 61, 62, 63, 64]);
        let inner_low = cr(&[64, 65, 66, 67, 60]);
        let inner_up_rev: Vec<P2> = inner_up.iter().rev().copied().collect();
        let inner_low_rev: Vec<P2> = inner_low.iter().rev().copied().collect();
        let mut upper_lip = outer_up.clone();
        upper_lip.extend(inner_up_rev.iter().copied());
        let mut lower_lip = outer_low.clone();
        lower_lip.extend(inner_low_rev.iter().copied());
        let mouth_inner = join(&[inner_up.clone(), inner_low.clone()]);
        let mouth_w = (lm[64][0] - lm[60][0]).abs();
        let tooth_h = 0.085 * (mouth_w / 0.76).clamp(0.7, 1.3);
        let mut teeth = inner_up.clone();
        teeth.extend(inner_up_rev.iter().map(|p| [p[0], p[1] + tooth_h]));

        let bridge_y = 0.5 * (ec_l[1] + ec_r[1]) - 0.06;
        Self {
            landmarks: *lm,
            head,
            ears: [ear_l, ear_r],
            inner_ears: [inner_l, inner_r],
            neck,
            shoulders,
            hair_front,
            hair_back,
            beard,
            face_light: SoftBlob::new([cx, 0.55], 1.25, 1.55),
            sockets: [socket(ec_l, hw_l), socket(ec_r, hw_r)],
            cheeks: [
                SoftBlob::new(add(lm[41], [-0.12, 0.42]), 0.3, 0.22),
                SoftBlob::new(add(lm[46], [0.12, 0.42]), 0.3, 0.22),
            ],
            brows,
            eyes: [eye_l, eye_r],
            upper_lids: [up_l.clone(), up_r.clone()],
            lower_lids: [low_l, low_r],
            creases,
            irises: [iris_l, iris_r],
            pupils: [pupil_l, pupil_r],
            nostrils: [nostril(31, 32, 1.0), nostril(35, 34, -1.0)],
            nose_wings: [wing(31, -1.0), wing(35, 1.0)],
            nose_sides: [nose_side(-1.0), nose_side(1.0)],
            nose_tip: SoftBlob::new(add(lm[30], [0.0, 0.03]), 0.1, 0.07),
            under_nose: SoftBlob::new(add(lm[33], [0.0, 0.07]), 0.17, 0.05),
            nasolabial: [nasolabial(-1.0, 31, 48), nasolabial(1.0, 35, 54)],
            forehead_lines,
            glabella_lines: [glabella(21, 1.0), glabella(22, -1.0)],
            bridge_lines,
            upper_lip,
            lower_lip,
            mouth_inner,
            lip_line: inner_up,
            teeth,
            chin_shadow: SoftBlob::new(add(lm[57], [0.0, 0.1]), 0.24, 0.06),
            glasses: [glasses_ring(ec_l, hw_l), glasses_ring(ec_r, hw_r)],
            glasses_bridge: vec![
                [ec_l[0] + hw_l * 1.9, ec_l[1] - 0.02],
                [cx, bridge_y],
                [ec_r[0] - hw_r * 1.9, ec_r[1] - 0.02],
            ],
        }
    }

    /// The same shapes moved point by point by `f` (the pose).
    pub(crate) fn map(&self, f: &impl Fn(P2) -> P2) -> Self {
        let v = |c: &[P2]| -> Vec<P2> { c.iter().map(|&p| f(p)).collect() };
        let v2 = |c: &[Vec<P2>; 2]| -> [Vec<P2>; 2] { [v(&c[0]), v(&c[1])] };
        let b2 = |c: &[SoftBlob; 2]| -> [SoftBlob; 2] { [c[0].map(f), c[1].map(f)] };
        let mut landmarks = self.landmarks;
        for p in &mut landmarks {
            *p = f(*p);
        }
        Self {
            landmarks,
            head: v(&self.head),
            ears: v2(&self.ears),
            inner_ears: b2(&self.inner_ears),
            neck: v(&self.neck),
            shoulders: v(&self.shoulders),
            hair_front: v(&self.hair_front),
            hair_back: v(&self.hair_back),
            beard: v(&self.beard),
            face_light: self.face_light.map(f),
            sockets: b2(&self.sockets),
            cheeks: b2(&self.cheeks),
            brows: v2(&self.brows),
            eyes: v2(&self.eyes),
            upper_lids: v2(&self.upper_lids),
            lower_lids: v2(&self.lower_lids),
            creases: v2(&self.creases),
            irises: v2(&self.irises),
            pupils: v2(&self.pupils),
            nostrils: v2(&self.nostrils),
            nose_wings: v2(&self.nose_wings),
            nose_sides: v2(&self.nose_sides),
            nose_tip: self.nose_tip.map(f),
            under_nose: self.under_nose.map(f),
            nasolabial: v2(&self.nasolabial),
            forehead_lines: self.forehead_lines.iter().map(|l| v(l)).collect(),
            glabella_lines: v2(&self.glabella_lines),
            bridge_lines: self.bridge_lines.iter().map(|l| v(l)).collect(),
            upper_lip: v(&self.upper_lip),
            lower_lip: v(&self.lower_lip),
            mouth_inner: v(&self.mouth_inner),
            lip_line: v(&self.lip_line),
            teeth: v(&self.teeth),
            chin_shadow: self.chin_shadow.map(f),
            glasses: v2(&self.glasses),
            glasses_bridge: v(&self.glasses_bridge),
        }
    }
}
