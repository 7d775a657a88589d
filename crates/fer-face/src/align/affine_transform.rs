//! A 2-D affine transform [a b c; d e f] in pixel-index coordinates, built from three point
//! pairs exactly as OpenCV's `getAffineTransform` (which the reference implementation calls):
//! the unique affine map that sends three source points onto three destination points.

use crate::error::{FaceError, Result};

/// x' = a x + b y + c, y' = d x + e y + f; rows `[[a, b, c], [d, e, f]]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AffineTransform {
    pub m: [[f64; 3]; 2],
}

impl AffineTransform {
    pub const IDENTITY: AffineTransform = AffineTransform {
        m: [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],
    };

    /// The affine map sending `src[i]` to `dst[i]` for i = 0, 1, 2. Fails when the source
    /// points are (nearly) collinear, as for a degenerate landmark set, where no unique map exists.
    pub fn from_three_points(src: [[f64; 2]; 3], dst: [[f64; 2]; 3]) -> Result<Self> {
        // Solve [x y 1] * [a d; b e; c f] = [x' y'] for the three rows by Cramer's rule.
        let det = src[0][0] * (src[1][1] - src[2][1]) - src[0][1] * (src[1][0] - src[2][0])
            + (src[1][0] * src[2][1] - src[2][0] * src[1][1]);
        let scale = (0..3)
            .flat_map(|i| src[i].iter().map(|v| v.abs()))
            .fold(1.0f64, f64::max);
        if det.abs() <= 1e-9 * scale * scale {
            return Err(FaceError::Config(format!(
                "alignment points {src:?} are collinear: no affine transform maps them onto the template"
            )));
        }
        let solve = |k: usize| -> [f64; 3] {
            let (v0, v1, v2) = (dst[0][k], dst[1][k], dst[2][k]);
            let a = (v0 * (src[1][1] - src[2][1]) - src[0][1] * (v1 - v2)
                + (v1 * src[2][1] - v2 * src[1][1]))
                / det;
            let b = (src[0][0] * (v1 - v2) - v0 * (src[1][0] - src[2][0])
                + (src[1][0] * v2 - src[2][0] * v1))
                / det;
            let c = (src[0][0] * (src[1][1] * v2 - src[2][1] * v1)
                - src[0][1] * (src[1][0] * v2 - src[2][0] * v1)
                + v0 * (src[1][0] * src[2][1] - src[2][0] * src[1][1]))
                / det;
            [a, b, c]
        };
        Ok(Self {
            m: [solve(0), solve(1)],
        })
    }

    /// Applies the transform to one point.
    pub fn apply(&self, p: [f64; 2]) -> [f64; 2] {
        let m = &self.m;
        [
            m[0][0] * p[0] + m[0][1] * p[1] + m[0][2],
            m[1][0] * p[0] + m[1][1] * p[1] + m[1][2],
        ]
    }

    /// The inverse map (None when the linear part is singular).
    pub fn inverse(&self) -> Option<AffineTransform> {
        let [[a, b, c], [d, e, f]] = self.m;
        let det = a * e - b * d;
        if det.abs() < 1e-12 {
            return None;
        }
        let (ia, ib, id, ie) = (e / det, -b / det, -d / det, a / det);
        Some(AffineTransform {
            m: [[ia, ib, -(ia * c + ib * f)], [id, ie, -(id * c + ie * f)]],
        })
    }

    /// `self` after `first`: p -> self(first(p)).
    pub fn after(&self, first: &AffineTransform) -> AffineTransform {
        let [[a, b, c], [d, e, f]] = self.m;
        let [[p, q, r], [s, t, u]] = first.m;
        AffineTransform {
            m: [
                [a * p + b * s, a * q + b * t, a * r + b * u + c],
                [d * p + e * s, d * q + e * t, d * r + e * u + f],
            ],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_three_points_and_matches_opencv() -> Result<()> {
        // Expected matrix from OpenCV 5.0.0 (opencv-python-headless):
        //   import numpy as np, cv2
        //   src = np.float32([[20.5, 30.25], [70.0, 28.0], [46.0, 80.5]])
        //   dst = np.float32([[30.0, 40.0], [70.0, 40.0], [50.0, 80.0]])
        //   print(cv2.getAffineTransform(src, dst))
        let src = [[20.5, 30.25], [70.0, 28.0], [46.0, 80.5]];
        let dst = [[30.0, 40.0], [70.0, 40.0], [50.0, 80.0]];
        let t = AffineTransform::from_three_points(src, dst)?;
        for i in 0..3 {
            let p = t.apply(src[i]);
            assert!((p[0] - dst[i][0]).abs() < 1e-9 && (p[1] - dst[i][1]).abs() < 1e-9);
        }
        let expected = [
            [8.07544945e-01, -1.17889773e-02, 1.38019452e+01],
            [3.53669319e-02, 7.78072502e-01, 1.57382847e+01],
        ];
        for r in 0..2 {
            for c in 0..3 {
                assert!(
                    (t.m[r][c] - expected[r][c]).abs() < 1e-5,
                    "{:?} vs {:?}",
                    t.m,
                    expected
                );
            }
        }
        let back = t
            .inverse()
            .ok_or_else(|| FaceError::Config("singular".into()))?;
        let p = back.apply(t.apply([3.0, 4.0]));
        assert!((p[0] - 3.0).abs() < 1e-9 && (p[1] - 4.0).abs() < 1e-9);
        let id = back.after(&t);
        assert!((id.m[0][0] - 1.0).abs() < 1e-12 && id.m[0][2].abs() < 1e-9);
        Ok(())
    }

    #[test]
    fn collinear_points_are_an_error() {
        let src = [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]];
        let dst = [[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]];
        let err = AffineTransform::from_three_points(src, dst).unwrap_err();
        assert!(err.to_string().contains("collinear"));
    }
}
