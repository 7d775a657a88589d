//! The SynthFER mean face: a plausible frontal 68-point face in iBUG 300-W order, the starting
//! point of every synthetic face (issue: "procedurally rendered faces with exact 68-point
//! landmarks (iBUG order)"; paper 4.3 takes its FLD labels in the same 68-point markup from
//! OpenFace 2.0).
//!
//! The numbers are derived from the widely used dlib / 300-W mean shape: made exactly
//! left-right symmetric (so that identity, not the template, decides asymmetry), re-expressed in
//! the *canonical face frame* and rounded to 3 decimals. The inner lips are closed (the published
//! mean has a slightly open mouth because it averages open and closed mouths).
//!
//! Canonical face frame (used by identity, expression and pose code): origin at the midpoint of
//! the two eye centres, x to the image's right, y down, unit = the mean inter-ocular distance
//! (IOD, distance between the eye centres). Points with x < 0 are on the image's left.

use super::raster::P2;
use crate::landmarks::NUM_LANDMARKS;

/// Mean 68-point shape in the canonical face frame (see the module docs).
pub(crate) const MEAN_SHAPE: [P2; NUM_LANDMARKS] = [
    // jaw 0-16 (8 = chin)
    [-1.166, 0.013],
    [-1.160, 0.323],
    [-1.130, 0.636],
    [-1.068, 0.944],
    [-0.949, 1.231],
    [-0.764, 1.483],
    [-0.539, 1.697],
    [-0.286, 1.872],
    [0.000, 1.922],
    [0.286, 1.872],
    [0.539, 1.697],
    [0.764, 1.483],
    [0.949, 1.231],
    [1.068, 0.944],
    [1.130, 0.636],
    [1.160, 0.323],
    [1.166, 0.013],
    // brows 17-21 (image left, outer -> inner) and 22-26 (inner -> outer)
    [-0.924, -0.218],
    [-0.778, -0.332],
    [-0.583, -0.362],
    [-0.383, -0.329],
    [-0.192, -0.248],
    [0.192, -0.248],
    [0.383, -0.329],
    [0.583, -0.362],
    [0.778, -0.332],
    [0.924, -0.218],
    // nose bridge 27-30, nostril base 31-35
    [0.000, -0.018],
    [0.000, 0.184],
    [0.000, 0.387],
    [0.000, 0.595],
    [-0.227, 0.725],
    [-0.118, 0.769],
    [0.000, 0.807],
    [0.118, 0.769],
    [0.227, 0.725],
    // image-left eye 36-41 (outer corner, upper lid x2, inner corner, lower lid x2)
    [-0.693, 0.001],
    [-0.572, -0.071],
    [-0.423, -0.068],
    [-0.298, 0.028],
    [-0.435, 0.055],
    [-0.580, 0.054],
    // image-right eye 42-47 (inner corner, upper lid x2, outer corner, lower lid x2)
    [0.298, 0.028],
    [0.423, -0.068],
    [0.572, -0.071],
    [0.693, 0.001],
    [0.580, 0.054],
    [0.435, 0.055],
    // outer lip 48-59 (48 left corner, 51 top centre, 54 right corner, 57 bottom centre)
    [-0.453, 1.091],
    [-0.288, 1.024],
    [-0.120, 0.995],
    [0.000, 1.023],
    [0.120, 0.995],
    [0.288, 1.024],
    [0.453, 1.091],
    [0.295, 1.260],
    [0.131, 1.336],
    [0.000, 1.349],
    [-0.131, 1.336],
    [-0.295, 1.260],
    // inner lip 60-67 (60 left inner corner, 62 upper centre, 64 right, 66 lower centre): closed
    [-0.382, 1.102],
    [-0.123, 1.138],
    [0.000, 1.152],
    [0.123, 1.138],
    [0.382, 1.102],
    [0.123, 1.138],
    [0.000, 1.152],
    [-0.123, 1.138],
];

/// Index ranges of the markup's parts (iBUG 300-W order).
pub(crate) mod parts {
    use std::ops::RangeInclusive;
    pub(crate) const JAW: RangeInclusive<usize> = 0..=16;
    pub(crate) const LEFT_BROW: RangeInclusive<usize> = 17..=21;
    pub(crate) const RIGHT_BROW: RangeInclusive<usize> = 22..=26;
    pub(crate) const NOSE: RangeInclusive<usize> = 27..=35;
    pub(crate) const LEFT_EYE: RangeInclusive<usize> = 36..=41;
    pub(crate) const RIGHT_EYE: RangeInclusive<usize> = 42..=47;
    pub(crate) const MOUTH: RangeInclusive<usize> = 48..=67;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::landmarks::MIRROR_68;
    use std::ops::RangeInclusive;

    #[test]
    fn mean_shape_is_symmetric_with_unit_iod() {
        for (i, p) in MEAN_SHAPE.iter().enumerate() {
            let m = MEAN_SHAPE[MIRROR_68[i]];
            assert!((p[0] + m[0]).abs() < 1e-6, "x of {i}");
            assert!((p[1] - m[1]).abs() < 1e-6, "y of {i}");
        }
        let eye = |r: RangeInclusive<usize>| {
            let n = r.clone().count() as f32;
            let sx: f32 = r.clone().map(|i| MEAN_SHAPE[i][0]).sum();
            let sy: f32 = r.map(|i| MEAN_SHAPE[i][1]).sum();
            [sx / n, sy / n]
        };
        let l = eye(parts::LEFT_EYE);
        let r = eye(parts::RIGHT_EYE);
        assert!(((r[0] - l[0]) - 1.0).abs() < 0.01);
        assert!(l[1].abs() < 0.01);
    }
}
