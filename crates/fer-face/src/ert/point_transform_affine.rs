//! dlib's `point_transform_affine` (geometry/point_transforms.h) restricted to what the shape
//! predictor needs: the map from its normalised shape space onto a face box
//! (`impl::unnormalizing_tform`), applied in double precision as dlib does.

use super::dlib_rect::DlibRect;

/// `p -> m p + b` in f64.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PointTransformAffine {
    pub m: [[f64; 2]; 2],
    pub b: [f64; 2],
}

impl PointTransformAffine {
    /// The affine map taking (0,0) to the box's top-left corner, (1,0) to its top-right and
    /// (1,1) to its bottom-right. dlib fits it by least squares through a pseudo-inverse; the
    /// three correspondences determine it exactly, so we write it in closed form:
    /// x -> (right - left) x + left, y -> (bottom - top) y + top. (The corners are inclusive
    /// pixel indices, so a 38-pixel-wide box spans 37 units.)
    pub fn unnormalizing(rect: DlibRect) -> Self {
        Self {
            m: [
                [(rect.right - rect.left) as f64, 0.0],
                [0.0, (rect.bottom - rect.top) as f64],
            ],
            b: [rect.left as f64, rect.top as f64],
        }
    }

    /// `m p + b`, summed in dlib's order (the matrix product first, then the offset).
    #[inline]
    pub fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        [
            (self.m[0][0] * p[0] + self.m[0][1] * p[1]) + self.b[0],
            (self.m[1][0] * p[0] + self.m[1][1] * p[1]) + self.b[1],
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_square_maps_onto_the_box_corners() {
        let t = PointTransformAffine::unnormalizing(DlibRect::new(3, 7, 40, 44));
        assert_eq!(t.apply([0.0, 0.0]), [3.0, 7.0]);
        assert_eq!(t.apply([1.0, 0.0]), [40.0, 7.0]);
        assert_eq!(t.apply([1.0, 1.0]), [40.0, 44.0]);
        assert_eq!(t.apply([0.5, 0.25]), [21.5, 16.25]);
    }
}
