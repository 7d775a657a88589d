//! Landmarks + identity -> pixels: the SynthFER painter (issue: "procedurally rendered grayscale
//! faces ... illumination gradient, blur, noise and occasional occluders").
//!
//! Draws a posed [`FaceShape`] back to front (background, hair behind the head, neck, ears,
//! shaded face, wrinkles, beard, hair, brows, eyes, nose, mouth, glasses, occluder), then applies
//! the image-level degradations (illumination gradient, contrast/gamma, blur, sensor noise).
//! Wrinkles (forehead, frown lines, nose bridge, nasolabial folds) get stronger with the action
//! units that cause them, as in real faces, but stay faint: the geometry carries the expression.

use image::GrayImage;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::expression_model::{ActionUnit, Activations};
use super::face_geometry::FaceShape;
use super::identity::Appearance;
use super::raster::{ellipse, Canvas, Coverage, P2};
use super::rng_util::{normal, uniform};
use super::synth_fer_config::SynthFerConfig;

/// An occluding object, in the canonical face frame (posed with the face).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Occluder {
    pub shape: Vec<P2>,
    pub tone: f32,
}

/// Per-image photographic conditions.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ImageConditions {
    pub background: f32,
    pub bg_gradient: P2,
    /// Iris offset (fractions of the eye half-size).
    pub gaze: P2,
    /// Unit direction the light comes from (in the image plane) and its strength.
    pub light_dir: P2,
    pub light_amp: f32,
    pub contrast: f32,
    pub brightness: f32,
    pub gamma: f32,
    /// Gaussian blur sigma in pixels (0 = sharp).
    pub blur_sigma: f32,
    pub noise_std: f32,
    pub teeth_visible: bool,
    pub occluder: Option<Occluder>,
}

impl ImageConditions {
    pub(crate) fn sample(cfg: &SynthFerConfig, look: &Appearance, rng: &mut ChaCha8Rng) -> Self {
        let angle = uniform(rng, 0.0, std::f32::consts::TAU);
        let size = cfg.size as f32;
        let blur_sigma = if rng.gen_bool(f64::from(cfg.blur_prob)) {
            uniform(rng, 0.3, 0.85) * size / 48.0
        } else {
            0.0
        };
        let noise_std = cfg.noise_std * uniform(rng, 0.3, 1.0);
        let occluder = if rng.gen_bool(f64::from(cfg.occluder_prob)) {
            Some(sample_occluder(look, rng))
        } else {
            None
        };
        Self {
            background: uniform(rng, 0.08, 0.92),
            bg_gradient: [uniform(rng, -0.25, 0.25), uniform(rng, -0.25, 0.25)],
            gaze: [uniform(rng, -1.0, 1.0), uniform(rng, -1.0, 1.0)],
            light_dir: [angle.cos(), angle.sin()],
            light_amp: uniform(rng, 0.0, 0.35),
            contrast: uniform(rng, 0.75, 1.2),
            brightness: uniform(rng, -0.08, 0.08),
            gamma: uniform(rng, 0.8, 1.25),
            blur_sigma,
            noise_std,
            teeth_visible: rng.gen_bool(0.7),
            occluder,
        }
    }
}

/// A bar, a patch entering from the side, or a hand-like blob over part of the face.
fn sample_occluder(look: &Appearance, rng: &mut ChaCha8Rng) -> Occluder {
    match rng.gen_range(0..3) {
        0 => {
            // Rotated bar (an object held in front of the face).
            let c = [uniform(rng, -0.7, 0.7), uniform(rng, -0.2, 1.8)];
            let (hw, hh) = (uniform(rng, 0.35, 0.85), uniform(rng, 0.1, 0.28));
            let (s, co) = uniform(rng, -0.7, 0.7).sin_cos();
            let corners = [[-hw, -hh], [hw, -hh], [hw, hh], [-hw, hh]]
                .map(|[x, y]| [c[0] + co * x - s * y, c[1] + s * x + co * y]);
            Occluder {
                shape: corners.to_vec(),
                tone: uniform(rng, 0.05, 0.95),
            }
        }
        1 => {
            // Vertical patch from the image border (a strand of hair, a microphone, a door).
            let side = if rng.gen_bool(0.5) { -1.0 } else { 1.0 };
            let x_in = side * uniform(rng, 0.55, 1.0);
            let x_out = side * 2.5;
            let (y0, y1) = (uniform(rng, -2.0, 0.5), uniform(rng, 1.2, 3.0));
            Occluder {
                shape: vec![
                    [x_in, y0],
                    [x_out, y0],
                    [x_out, y1],
                    [x_in + side * 0.1, y1],
                ],
                tone: uniform(rng, 0.05, 0.95),
            }
        }
        _ => {
            // Hand-like blob over the mouth, chin or a cheek.
            let c = [uniform(rng, -0.8, 0.8), uniform(rng, 0.9, 2.1)];
            let (ax, ay) = (uniform(rng, 0.3, 0.55), uniform(rng, 0.25, 0.4));
            let (s, co) = uniform(rng, -0.6, 0.6).sin_cos();
            Occluder {
                shape: ellipse(c, [ax * co, ax * s], [-ay * s, ay * co], 24),
                tone: (look.skin + uniform(rng, -0.1, 0.1)).clamp(0.0, 1.0),
            }
        }
    }
}

/// Paints one posed face. `face` is in pixel-index coordinates, `occluder` already posed,
/// `ppu` = pixels per canonical unit (inter-ocular distance).
#[allow(clippy::too_many_arguments)] // one call site; grouping these would only add a struct
pub(crate) fn render(
    face: &FaceShape,
    look: &Appearance,
    act: &Activations,
    cond: &ImageConditions,
    occluder: Option<&[P2]>,
    ppu: f32,
    size: usize,
    rng: &mut ChaCha8Rng,
) -> GrayImage {
    use ActionUnit::*;
    let mut c = Canvas::new(size);
    let n = size as f32;
    let skin = look.skin;

    // Background with a soft gradient.
    let (bg, g) = (cond.background, cond.bg_gradient);
    c.paint_all(|x, y| bg + g[0] * (x / n - 0.5) + g[1] * (y / n - 0.5));

    // Clothes and neck, hair behind the head, ears.
    c.fill(&face.shoulders, look.clothes, 1.0);
    if !face.hair_back.is_empty() {
        let hair = look.hair;
        c.fill_with(&face.hair_back, |x, y| {
            (
                hair * (0.85 + 0.08 * ((x * 0.9 + y * 0.25) / ppu * 9.0).sin()),
                1.0,
            )
        });
    }
    c.fill(&face.neck, skin * 0.78, 1.0);
    for (ear, inner) in face.ears.iter().zip(&face.inner_ears) {
        c.fill(ear, skin * 0.9, 1.0);
        c.soft_blob(inner, skin * 0.65, 0.5);
    }

    // Face with a soft 3-D shading (brighter in the middle, darker towards the outline).
    let light = face.face_light;
    c.fill_with(&face.head, |x, y| {
        let [u, v] = light.local([x, y]);
        let r2 = (u * u + v * v).min(1.6);
        (skin * (1.06 - 0.2 * r2), 1.0)
    });
    for s in &face.sockets {
        c.soft_blob(s, skin * 0.72, 0.45);
    }
    let smile = act.get(LipCornerPull);
    for ch in &face.cheeks {
        c.soft_blob(ch, (skin * 1.12).min(1.0), 0.15 + 0.25 * smile.min(1.0));
    }
    c.soft_blob(&face.chin_shadow, skin * 0.75, 0.35);
    c.soft_blob(&face.under_nose, skin * 0.7, 0.45);
    c.soft_blob(&face.nose_tip, (skin * 1.15).min(1.0), 0.35);

    // Wrinkles and folds, with expression-dependent strength.
    let line_tone = skin * 0.55;
    let w = |units: f32| units * ppu;
    let forehead = ((act.get(InnerBrowRaise) + act.get(OuterBrowRaise)) * 0.5 - 0.3).max(0.0);
    for l in &face.forehead_lines {
        c.stroke(
            l,
            |t| w(0.025) * (0.3 + (std::f32::consts::PI * t).sin()),
            line_tone,
            (0.5 * forehead).min(0.45),
        );
    }
    let frown = (act.get(BrowLower) - 0.3).max(0.0);
    for l in &face.glabella_lines {
        c.stroke(l, |_| w(0.025), line_tone, (0.6 * frown).min(0.5));
    }
    let wrinkle = (act.get(NoseWrinkle) - 0.2).max(0.0);
    for l in &face.bridge_lines {
        c.stroke(l, |_| w(0.022), line_tone, (0.7 * wrinkle).min(0.5));
    }
    let fold =
        0.12 + (0.45 * smile + 0.3 * act.get(NoseWrinkle) + 0.25 * act.get(UpperLipRaise)).min(0.5);
    for l in &face.nasolabial {
        c.stroke(
            l,
            |t| w(0.035) * (0.3 + (std::f32::consts::PI * t).sin()),
            skin * 0.6,
            fold,
        );
    }
    // Nose: shadow on the side away from the light, nostrils, wings.
    let (shade, lit) = if cond.light_dir[0] > 0.0 {
        (0, 1)
    } else {
        (1, 0)
    };
    c.stroke(
        &face.nose_sides[shade],
        |t| w(0.07) * (0.4 + 0.6 * t),
        skin * 0.62,
        0.35,
    );
    c.stroke(
        &face.nose_sides[lit],
        |t| w(0.05) * (0.4 + 0.6 * t),
        skin * 0.7,
        0.15,
    );
    for wing in &face.nose_wings {
        c.stroke(wing, |t| w(0.03) * (1.0 - 0.6 * t), skin * 0.55, 0.55);
    }
    for nos in &face.nostrils {
        c.fill(nos, skin * 0.25, 0.85);
    }

    // Beard, then hair on top of the forehead.
    if look.beard > 0.0 {
        c.fill(&face.beard, look.hair * 0.8, look.beard);
    }
    let hair = look.hair;
    let hair_alpha = if matches!(look.hair_style, super::identity::HairStyle::Buzz) {
        0.6
    } else {
        1.0
    };
    c.fill_with(&face.hair_front, |x, y| {
        (
            hair * (0.88 + 0.08 * ((x * 0.8 + y * 0.3) / ppu * 11.0).sin()),
            hair_alpha,
        )
    });

    // Brows.
    for b in &face.brows {
        c.fill(b, look.brow_tone, 0.92);
    }

    // Eyes: sclera, iris and pupil clipped by the lids, lash line, crease, lower lid.
    for k in 0..2 {
        let eye = Coverage::of_contours(&[&face.eyes[k]], size);
        c.blend(&eye, |_, _| (look.sclera * 0.75 + skin * 0.25, 1.0));
        let mut iris = Coverage::of_contours(&[&face.irises[k]], size);
        iris.intersect(&eye);
        c.blend(&iris, |_, _| (look.iris_tone, 1.0));
        let mut pupil = Coverage::of_contours(&[&face.pupils[k]], size);
        pupil.intersect(&eye);
        c.blend(&pupil, |_, _| (0.04, 1.0));
        // Lashes are thicker towards the outer corner (36 starts the left lid, 45 ends the right).
        let lash: fn(f32) -> f32 = if k == 0 {
            |t| 0.4 + 0.6 * (1.0 - t)
        } else {
            |t| 0.4 + 0.6 * t
        };
        c.stroke(&face.upper_lids[k], |t| w(0.05) * lash(t), 0.08, 0.9);
        c.stroke(
            &face.creases[k],
            |t| w(0.03) * (std::f32::consts::PI * t).sin(),
            skin * 0.55,
            0.45,
        );
        c.stroke(&face.lower_lids[k], |_| w(0.018), skin * 0.5, 0.4);
    }

    // Mouth: lips, dark open interior with teeth, lip line.
    c.fill(&face.upper_lip, look.lip_tone * 0.9, 1.0);
    c.fill(&face.lower_lip, (look.lip_tone * 1.06).min(1.0), 1.0);
    let inner = Coverage::of_contours(&[&face.mouth_inner], size);
    if inner.area() > 0.05 {
        c.blend(&inner, |_, _| (0.1, 1.0));
        if cond.teeth_visible {
            let mut teeth = Coverage::of_contours(&[&face.teeth], size);
            teeth.intersect(&inner);
            c.blend(&teeth, |_, _| (0.82, 1.0));
        }
    }
    c.stroke(
        &face.lip_line,
        |t| w(0.03) * (0.5 + 0.5 * (std::f32::consts::PI * t).sin()),
        look.lip_tone * 0.4,
        0.85,
    );

    // Glasses.
    if look.glasses {
        for ring in &face.glasses {
            c.fill(ring, 0.9, 0.08);
            c.stroke_ring(ring, w(0.035), look.glasses_tone, 0.95);
        }
        c.stroke(&face.glasses_bridge, |_| w(0.03), look.glasses_tone, 0.95);
    }

    // Occluder.
    if let (Some(shape), Some(occ)) = (occluder, cond.occluder.as_ref()) {
        let tone = occ.tone;
        c.fill_with(shape, |x, y| (tone + 0.04 * ((x + y) / n * 6.0).sin(), 1.0));
    }

    // Illumination gradient, contrast, gamma.
    let (ld, amp) = (cond.light_dir, cond.light_amp);
    let (contrast, brightness, gamma) = (cond.contrast, cond.brightness, cond.gamma);
    let half = 0.5 * n;
    c.map_all(|x, y, v| {
        let lit = 1.0 + amp * (ld[0] * (x - half) + ld[1] * (y - half)) / half;
        let v = v * lit;
        let v = ((v - 0.5) * contrast + 0.5 + brightness).clamp(0.0, 1.0);
        v.powf(gamma)
    });
    c.gaussian_blur(cond.blur_sigma);
    if cond.noise_std > 0.0 {
        for v in &mut c.px {
            *v += normal(rng) * cond.noise_std;
        }
    }
    c.to_gray()
}
