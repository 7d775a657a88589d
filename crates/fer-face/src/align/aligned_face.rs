//! One aligned face: the image warped so that its three alignment points land on the
//! template, and its 68 landmarks moved by the same matrix (paper 4.3).

use super::{warp_affine_gray, AffineTransform, AlignmentPoints, AlignmentTemplate};
use crate::error::Result;
use fer_data::Landmarks68;

/// The output of `align_face`.
#[derive(Debug, Clone)]
pub struct AlignedFace {
    pub image: image::GrayImage,
    pub landmarks: Landmarks68,
    /// Source image coordinates -> aligned image coordinates.
    pub transform: AffineTransform,
}

/// Aligns one face given its landmarks in `image`'s coordinates.
pub fn align_face(
    image: &image::GrayImage,
    landmarks: &Landmarks68,
    template: &AlignmentTemplate,
) -> Result<AlignedFace> {
    let src = AlignmentPoints::from_landmarks(landmarks);
    let transform = AffineTransform::from_three_points(src.0, template.points)?;
    warp_face(image, landmarks, transform, template.size)
}

/// Warps `image` by `transform` into a `size` x `size` face and moves the landmarks with it.
pub fn warp_face(
    image: &image::GrayImage,
    landmarks: &Landmarks68,
    transform: AffineTransform,
    size: u32,
) -> Result<AlignedFace> {
    let aligned = warp_affine_gray(image, &transform, size, size)?;
    let m = transform.m.map(|row| row.map(|v| v as f32));
    Ok(AlignedFace {
        image: aligned,
        landmarks: landmarks.transformed(&m),
        transform,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::align::AlignmentTemplate;

    #[test]
    fn alignment_points_land_on_the_template() -> Result<()> {
        // A face whose landmarks are a scaled, rotated, shifted copy of a canonical layout.
        let mut points = [[0.0f32; 2]; 68];
        for (i, p) in points.iter_mut().enumerate() {
            let (x, y) = ((i % 9) as f32 * 4.0, (i / 9) as f32 * 5.0);
            *p = [0.8 * x - 0.3 * y + 7.0, 0.3 * x + 0.8 * y + 2.0];
        }
        let landmarks = Landmarks68::new(points);
        let template = AlignmentTemplate {
            size: 40,
            points: [[12.0, 14.0], [28.0, 14.0], [20.0, 30.0]],
        };
        let image = image::GrayImage::from_fn(48, 48, |x, y| image::Luma([((x + y) * 2) as u8]));
        let aligned = align_face(&image, &landmarks, &template)?;
        assert_eq!(aligned.image.dimensions(), (40, 40));
        let moved = AlignmentPoints::from_landmarks(&aligned.landmarks);
        for (p, t) in moved.0.iter().zip(template.points.iter()) {
            assert!(
                (p[0] - t[0]).abs() < 1e-3 && (p[1] - t[1]).abs() < 1e-3,
                "{p:?} vs {t:?}"
            );
        }
        Ok(())
    }
}
