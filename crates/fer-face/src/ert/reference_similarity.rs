//! The similarity transform from the predictor's reference (initial) shape to the current
//! shape estimate (dlib's `impl::find_tform_between_shapes`, i.e. `find_similarity_transform`,
//! Umeyama 1991). Kazemi and Sullivan (section 2.3.1) index feature pixels relative to the
//! mean shape; at each cascade level this transform carries the stored pixel offsets onto the
//! current shape, which makes the features invariant to the face's scale and rotation.
//!
//! Only the linear part (scale times rotation) is used: the offsets are added to anchor
//! landmarks of the current shape, so the translation drops out.

/// The reference shape's fixed statistics, computed once at load time exactly as dlib computes
/// them on every call (double precision, same summation order).
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceSimilarity {
    /// Reference points minus their mean, as f64.
    centred: Vec<[f64; 2]>,
    /// Mean squared distance of the reference points from their mean (Umeyama's sigma^2).
    sigma: f64,
}

impl ReferenceSimilarity {
    /// `reference` holds x0, y0, x1, y1, ... as dlib's `matrix<float,0,1>` shapes do.
    pub fn new(reference: &[f32]) -> Self {
        let points = as_points(reference);
        let n = points.len() as f64;
        let mut mean = [0.0f64; 2];
        for p in &points {
            mean[0] += f64::from(p[0]);
            mean[1] += f64::from(p[1]);
        }
        mean[0] /= n;
        mean[1] /= n;
        let centred: Vec<[f64; 2]> = points
            .iter()
            .map(|p| [f64::from(p[0]) - mean[0], f64::from(p[1]) - mean[1]])
            .collect();
        let mut sigma = 0.0;
        for d in &centred {
            sigma += d[0] * d[0] + d[1] * d[1];
        }
        sigma /= n;
        Self { centred, sigma }
    }

    /// The 2x2 matrix `c R` of the least-squares similarity mapping the reference shape onto
    /// `current`, rounded to f32 as dlib's `matrix_cast<float>` does.
    ///
    /// dlib finds it from an SVD of the cross-covariance C (to x from). In two dimensions the
    /// optimum has a closed form: with a = C00 + C11 and b = C10 - C01, the rotation is
    /// (a, b) / |(a, b)| and the scale |(a, b)| / sigma in every case (dlib's reflection
    /// handling, det C < 0, yields d0 - d1 = |(a, b)| too), so c R = [[a, -b], [b, a]] / sigma.
    /// It agrees with the SVD route to within rounding of the last double bit, far below the
    /// f32 the result is rounded to.
    pub fn linear_part_to(&self, current: &[f32]) -> [[f32; 2]; 2] {
        let n = self.centred.len();
        if n == 1 {
            // dlib uses the identity when the shape has a single landmark.
            return [[1.0, 0.0], [0.0, 1.0]];
        }
        let nf = n as f64;
        let mut mean = [0.0f64; 2];
        for p in current.chunks_exact(2) {
            mean[0] += f64::from(p[0]);
            mean[1] += f64::from(p[1]);
        }
        mean[0] /= nf;
        mean[1] /= nf;
        // cov(r, c) = mean over points of (to - mean_to)[r] * (from - mean_from)[c].
        let mut cov = [[0.0f64; 2]; 2];
        for (p, f) in current.chunks_exact(2).zip(&self.centred) {
            let t = [f64::from(p[0]) - mean[0], f64::from(p[1]) - mean[1]];
            cov[0][0] += t[0] * f[0];
            cov[0][1] += t[0] * f[1];
            cov[1][0] += t[1] * f[0];
            cov[1][1] += t[1] * f[1];
        }
        for row in &mut cov {
            for v in row {
                *v /= nf;
            }
        }
        let a = cov[0][0] + cov[1][1];
        let b = cov[1][0] - cov[0][1];
        if self.sigma == 0.0 {
            // dlib keeps c = 1 for a degenerate reference: only the rotation remains.
            let len = (a * a + b * b).sqrt();
            if len == 0.0 {
                return [[1.0, 0.0], [0.0, 1.0]];
            }
            let (cos, sin) = ((a / len) as f32, (b / len) as f32);
            return [[cos, -sin], [sin, cos]];
        }
        let (a, b) = ((a / self.sigma) as f32, (b / self.sigma) as f32);
        [[a, -b], [b, a]]
    }
}

fn as_points(shape: &[f32]) -> Vec<[f32; 2]> {
    shape.chunks_exact(2).map(|p| [p[0], p[1]]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_a_known_scale_and_rotation() {
        let reference = [0.0f32, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        // Rotate by 30 degrees, scale by 2, shift by (5, -3).
        let (s, c) = (30f32.to_radians().sin(), 30f32.to_radians().cos());
        let current: Vec<f32> = reference
            .chunks_exact(2)
            .flat_map(|p| {
                [
                    2.0 * (c * p[0] - s * p[1]) + 5.0,
                    2.0 * (s * p[0] + c * p[1]) - 3.0,
                ]
            })
            .collect();
        let m = ReferenceSimilarity::new(&reference).linear_part_to(&current);
        let expected = [[2.0 * c, -2.0 * s], [2.0 * s, 2.0 * c]];
        for r in 0..2 {
            for col in 0..2 {
                assert!((m[r][col] - expected[r][col]).abs() < 1e-5, "{m:?}");
            }
        }
    }

    #[test]
    fn a_mirrored_shape_gets_the_best_rotation_not_a_reflection() {
        // The target is the reference mirrored in x: the best similarity without reflection
        // has a = C00 + C11 = 0 here, so the fitted scale is 0, as dlib's SVD route gives.
        let reference = [0.0f32, 0.0, 2.0, 0.0, 0.0, 2.0, 2.0, 2.0];
        let mirrored = [0.0f32, 0.0, -2.0, 0.0, 0.0, 2.0, -2.0, 2.0];
        let m = ReferenceSimilarity::new(&reference).linear_part_to(&mirrored);
        assert_eq!(m, [[0.0, -0.0], [0.0, 0.0]]);
    }
}
