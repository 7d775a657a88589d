//! 68-point facial landmarks in the iBUG 300-W / OpenFace order (the FLD labels of paper 3.1;
//! the paper takes them from OpenFace 2.0, 4.3).
//!
//! Coordinates are in pixel-index space of the image they belong to: the centre of the
//! top-left pixel is (0, 0), as in dlib and OpenFace. A horizontal flip therefore maps
//! x -> (W - 1) - x, and it must also permute the point indices (the left eye becomes the
//! right eye); the reference implementation forgets the permutation, we do not.

use serde::{Deserialize, Serialize};

/// Number of landmarks of the iBUG 300-W markup.
pub const NUM_LANDMARKS: usize = 68;

/// Index permutation of the 68-point markup under a horizontal flip:
/// after flipping the image, point `i` of the new face is point `MIRROR_68[i]` of the old one.
pub const MIRROR_68: [usize; NUM_LANDMARKS] = {
    let mut m = [0usize; NUM_LANDMARKS];
    let mut i = 0;
    while i < NUM_LANDMARKS {
        m[i] = mirror_index(i);
        i += 1;
    }
    m
};

/// Mirror partner of one landmark index in the 68-point markup.
const fn mirror_index(i: usize) -> usize {
    match i {
        // jaw 0..=16 is symmetric about 8
        0..=16 => 16 - i,
        // brows: 17..=21 (right of image-left face) <-> 26..=22
        17..=26 => 43 - i,
        // nose bridge 27..=30 lies on the midline
        27..=30 => i,
        // nostrils 31..=35 symmetric about 33
        31..=35 => 66 - i,
        // eyes: 36 39 37 38 41 40 <-> 45 42 44 43 46 47
        36 => 45,
        37 => 44,
        38 => 43,
        39 => 42,
        40 => 47,
        41 => 46,
        42 => 39,
        43 => 38,
        44 => 37,
        45 => 36,
        46 => 41,
        47 => 40,
        // outer lip 48..=54 symmetric about 51; 55..=59 symmetric about 57
        48..=54 => 102 - i,
        55..=59 => 114 - i,
        // inner lip 60..=64 symmetric about 62; 65..=67 symmetric about 66
        60..=64 => 124 - i,
        65..=67 => 132 - i,
        _ => i,
    }
}

/// 68 (x, y) points in pixel-index coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Landmarks68 {
    #[serde(with = "points_serde")]
    pub points: [[f32; 2]; NUM_LANDMARKS],
}

impl Landmarks68 {
    pub fn new(points: [[f32; 2]; NUM_LANDMARKS]) -> Self {
        Self { points }
    }

    /// Builds landmarks from the column layout of our CSV files: x_0..x_67 then y_0..y_67.
    pub fn from_xs_ys(xs: &[f32], ys: &[f32]) -> Option<Self> {
        if xs.len() != NUM_LANDMARKS || ys.len() != NUM_LANDMARKS {
            return None;
        }
        let mut points = [[0.0f32; 2]; NUM_LANDMARKS];
        for (i, p) in points.iter_mut().enumerate() {
            *p = [xs[i], ys[i]];
        }
        Some(Self { points })
    }

    /// Mean of a range of points.
    fn mean_of(&self, range: std::ops::Range<usize>) -> [f32; 2] {
        let n = range.len() as f32;
        let (mut sx, mut sy) = (0.0, 0.0);
        for p in &self.points[range] {
            sx += p[0];
            sy += p[1];
        }
        [sx / n, sy / n]
    }

    /// Centre of the eye on the image's left (points 36-41; the subject's right eye).
    pub fn left_eye_centre(&self) -> [f32; 2] {
        self.mean_of(36..42)
    }

    /// Centre of the eye on the image's right (points 42-47; the subject's left eye).
    pub fn right_eye_centre(&self) -> [f32; 2] {
        self.mean_of(42..48)
    }

    /// Centre of the mouth (points 48-67).
    pub fn mouth_centre(&self) -> [f32; 2] {
        self.mean_of(48..68)
    }

    /// Distance between the two eye centres: the normaliser of NRMSE (paper eq. 22).
    pub fn inter_ocular_distance(&self) -> f32 {
        let l = self.left_eye_centre();
        let r = self.right_eye_centre();
        ((l[0] - r[0]).powi(2) + (l[1] - r[1]).powi(2)).sqrt()
    }

    /// The landmarks of the horizontally flipped image of width `width`:
    /// x -> (W - 1) - x and the indices permuted by [`MIRROR_68`].
    pub fn flipped_horizontally(&self, width: usize) -> Self {
        let w1 = width as f32 - 1.0;
        let mut points = [[0.0f32; 2]; NUM_LANDMARKS];
        for (i, p) in points.iter_mut().enumerate() {
            let src = self.points[MIRROR_68[i]];
            *p = [w1 - src[0], src[1]];
        }
        Self { points }
    }

    /// Applies a 2x3 affine matrix `[[a, b, c], [d, e, f]]` to every point.
    pub fn transformed(&self, m: &[[f32; 3]; 2]) -> Self {
        let mut points = self.points;
        for p in points.iter_mut() {
            let (x, y) = (p[0], p[1]);
            *p = [
                m[0][0] * x + m[0][1] * y + m[0][2],
                m[1][0] * x + m[1][1] * y + m[1][2],
            ];
        }
        Self { points }
    }

    /// Multiplies every coordinate by `s` (e.g. to move between image sizes with
    /// pixel-index coordinates: use `(new - 1) / (old - 1)` or `new / old` as appropriate).
    pub fn scaled(&self, s: f32) -> Self {
        let mut points = self.points;
        for p in points.iter_mut() {
            p[0] *= s;
            p[1] *= s;
        }
        Self { points }
    }

    /// Flat `[x0, y0, x1, y1, ...]`, the memory layout of a (68, 2) tensor.
    pub fn to_flat(&self) -> [f32; NUM_LANDMARKS * 2] {
        let mut out = [0.0f32; NUM_LANDMARKS * 2];
        for (i, p) in self.points.iter().enumerate() {
            out[2 * i] = p[0];
            out[2 * i + 1] = p[1];
        }
        out
    }
}

mod points_serde {
    use super::NUM_LANDMARKS;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(
        points: &[[f32; 2]; NUM_LANDMARKS],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        points.as_slice().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<[[f32; 2]; NUM_LANDMARKS], D::Error> {
        let v: Vec<[f32; 2]> = Vec::deserialize(d)?;
        let n = v.len();
        v.try_into().map_err(|_| {
            serde::de::Error::custom(format!("expected {NUM_LANDMARKS} landmarks, found {n}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirror_is_an_involution_and_fixes_the_midline() {
        for i in 0..NUM_LANDMARKS {
            assert_eq!(MIRROR_68[MIRROR_68[i]], i, "index {i}");
        }
        for i in [8, 27, 28, 29, 30, 33, 51, 57, 62, 66] {
            assert_eq!(MIRROR_68[i], i);
        }
        assert_eq!(MIRROR_68[36], 45);
        assert_eq!(MIRROR_68[48], 54);
        assert_eq!(MIRROR_68[17], 26);
    }
}
