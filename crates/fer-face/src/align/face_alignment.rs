//! `FaceAlignment`: how a face found in a photo is brought to a model's input, for inference.
//! A model trained on a prepared cache saw faces warped onto that cache's alignment template
//! (paper 4.3, three-point affine), and new faces must be warped onto the same template. A
//! model trained on pre-cropped faces that never went through our alignment (CK+48, FER2013,
//! SynthFER) has no template; its faces are then the detector's box, resized to the input:
//! the nearest thing to how such datasets were cropped, and said so wherever it is used.

use super::{warp_face, AffineTransform, AlignedFace, AlignmentTemplate};
use crate::error::Result;
use crate::FaceBox;
use fer_data::Landmarks68;

/// The alignment of inference faces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaceAlignment {
    /// Warp the eye and mouth centres onto a template (a prepared cache's).
    Template(AlignmentTemplate),
    /// The detected box, resized to `size` x `size` (no rotation).
    BoxCrop { size: u32 },
}

impl FaceAlignment {
    /// Side of the aligned faces.
    pub fn size(&self) -> u32 {
        match self {
            FaceAlignment::Template(t) => t.size,
            FaceAlignment::BoxCrop { size } => *size,
        }
    }

    /// The same alignment producing `size` x `size` faces: a template's points are scaled
    /// with the image (pixel centres, as `rescale_landmarks` moves landmarks).
    pub fn at_size(self, size: u32) -> Self {
        match self {
            FaceAlignment::Template(t) if t.size != size => {
                let s = size as f64 / t.size as f64;
                FaceAlignment::Template(AlignmentTemplate {
                    size,
                    points: t.points.map(|p| p.map(|v| (v + 0.5) * s - 0.5)),
                })
            }
            FaceAlignment::Template(t) => FaceAlignment::Template(t),
            FaceAlignment::BoxCrop { .. } => FaceAlignment::BoxCrop { size },
        }
    }

    /// One line for a log: which alignment and where its points land.
    pub fn describe(&self) -> String {
        match self {
            FaceAlignment::Template(t) => format!(
                "three-point template at {} px (left eye {:.1},{:.1}; right eye {:.1},{:.1}; mouth {:.1},{:.1})",
                t.size,
                t.points[0][0],
                t.points[0][1],
                t.points[1][0],
                t.points[1][1],
                t.points[2][0],
                t.points[2][1]
            ),
            FaceAlignment::BoxCrop { size } => {
                format!("the detector's box resized to {size} px (no template)")
            }
        }
    }

    /// Aligns one face of `image` given its box and its 68 landmarks (in `image`'s pixels).
    pub fn align(
        &self,
        image: &image::GrayImage,
        face: &FaceBox,
        landmarks: &Landmarks68,
    ) -> Result<AlignedFace> {
        match self {
            FaceAlignment::Template(t) => super::align_face(image, landmarks, t),
            FaceAlignment::BoxCrop { size } => {
                // The box's outer edges onto the outer pixel edges of the output, in pixel-
                // index coordinates (a pixel's centre is its index).
                let (l, t, r, b) = (
                    face.left as f64,
                    face.top as f64,
                    face.right as f64,
                    face.bottom as f64,
                );
                let edge = *size as f64 - 0.5;
                let transform = AffineTransform::from_three_points(
                    [[l, t], [r, t], [l, b]],
                    [[-0.5, -0.5], [edge, -0.5], [-0.5, edge]],
                )?;
                warp_face(image, landmarks, transform, *size)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_crop_maps_the_box_onto_the_output() -> Result<()> {
        let image = image::GrayImage::from_fn(64, 48, |x, y| image::Luma([(x * 3 + y) as u8]));
        let face = FaceBox::new(10.0, 8.0, 42.0, 40.0);
        let points = Landmarks68::new([[26.0, 24.0]; 68]);
        let a = FaceAlignment::BoxCrop { size: 16 }.align(&image, &face, &points)?;
        assert_eq!(a.image.dimensions(), (16, 16));
        // The box centre lands on the output's centre, its corners on the outer edges.
        assert_eq!(a.landmarks.points[0], [7.5, 7.5]);
        let corner = a.transform.apply([10.0, 8.0]);
        assert!((corner[0] + 0.5).abs() < 1e-9 && (corner[1] + 0.5).abs() < 1e-9);
        // Mapping back through the inverse recovers the photo's coordinates.
        let back = a.transform.inverse().map(|i| i.apply([7.5, 7.5]));
        assert_eq!(back, Some([26.0, 24.0]));
        Ok(())
    }

    #[test]
    fn a_template_scales_with_the_output() {
        let t = AlignmentTemplate {
            size: 100,
            points: [[29.5, 39.5], [69.5, 39.5], [49.5, 79.5]],
        };
        let FaceAlignment::Template(s) = FaceAlignment::Template(t).at_size(50) else {
            panic!("still a template");
        };
        assert_eq!(s.size, 50);
        assert_eq!(s.points, [[14.5, 19.5], [34.5, 19.5], [24.5, 39.5]]);
    }
}
