//! `FaceAlignment`: how a face found in a photo is brought to a model's input, for inference.
//! A model trained on a prepared cache saw faces warped onto that cache's alignment template
//! (paper 4.3, three-point affine), and new faces must be warped onto the same template. A
//! model trained on pre-cropped faces that never went through our alignment (CK+48, FER2013)
//! has no template; its faces are framed as its dataset frames them: where the detector's box
//! sits, on average, in the dataset's images (the same calibration as `FallbackBox`), the crop
//! is laid around the box found in the photo. Without the dataset to calibrate on, the crop is
//! the detector's box itself, resized to the input, and said so wherever it is used.

use super::{warp_face, AffineTransform, AlignedFace, AlignmentTemplate};
use crate::error::Result;
use crate::fallback_box::FallbackBox;
use crate::FaceBox;
use fer_data::Landmarks68;

/// The alignment of inference faces.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaceAlignment {
    /// Warp the eye and mouth centres onto a template (a prepared cache's).
    Template(AlignmentTemplate),
    /// The detected box, resized to `size` x `size` (no rotation).
    BoxCrop { size: u32 },
    /// The crop that holds the detected box where `frame` says the detector's box sits in the
    /// training images (fractions of the image), resized to `size` x `size` (no rotation).
    DatasetFraming { size: u32, frame: FallbackBox },
}

impl FaceAlignment {
    /// Side of the aligned faces.
    pub fn size(&self) -> u32 {
        match self {
            FaceAlignment::Template(t) => t.size,
            FaceAlignment::BoxCrop { size } | FaceAlignment::DatasetFraming { size, .. } => *size,
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
            FaceAlignment::DatasetFraming { frame, .. } => {
                FaceAlignment::DatasetFraming { size, frame }
            }
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
            FaceAlignment::DatasetFraming { size, frame } => format!(
                "the dataset's framing around the detector's box (box at {:.3},{:.3}-{:.3},{:.3} of the image, mean of {} training images), resized to {size} px",
                frame.left, frame.top, frame.right, frame.bottom, frame.calibrated_on
            ),
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
            FaceAlignment::BoxCrop { size } => box_crop(image, face, landmarks, *size),
            FaceAlignment::DatasetFraming { size, frame } => {
                box_crop(image, &framed(face, frame), landmarks, *size)
            }
        }
    }
}

/// The crop around `face` in which `face` takes the place `frame` gives it: a box at
/// fractions (l, t, r, b) of a crop of width w has its left edge at crop.left + l w, so
/// w = box width / (r - l) and crop.left = box.left - l w (and so for the height).
pub fn framed(face: &FaceBox, frame: &FallbackBox) -> FaceBox {
    let w = face.width() / (frame.right - frame.left);
    let h = face.height() / (frame.bottom - frame.top);
    let left = face.left - frame.left * w;
    let top = face.top - frame.top * h;
    FaceBox::new(left, top, left + w, top + h)
}

/// `crop`'s outer edges onto the outer pixel edges of a `size` x `size` output, in pixel-
/// index coordinates (a pixel's centre is its index).
fn box_crop(
    image: &image::GrayImage,
    crop: &FaceBox,
    landmarks: &Landmarks68,
    size: u32,
) -> Result<AlignedFace> {
    let (l, t, r, b) = (
        crop.left as f64,
        crop.top as f64,
        crop.right as f64,
        crop.bottom as f64,
    );
    let edge = size as f64 - 0.5;
    let transform = AffineTransform::from_three_points(
        [[l, t], [r, t], [l, b]],
        [[-0.5, -0.5], [edge, -0.5], [-0.5, edge]],
    )?;
    warp_face(image, landmarks, transform, size)
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
    fn the_dataset_framing_puts_the_box_where_the_training_images_have_it() {
        // In the training images the box spans 10 %-90 % of the width and 0 %-100 % of the
        // height; a box of 40 x 50 px found at (100, 200) gets a 50 x 50 crop from 95 to 145.
        let frame = FallbackBox {
            left: 0.1,
            top: 0.0,
            right: 0.9,
            bottom: 1.0,
            calibrated_on: 5,
        };
        let c = framed(&FaceBox::new(100.0, 200.0, 140.0, 250.0), &frame);
        assert!(
            (c.left - 95.0).abs() < 1e-4 && (c.right - 145.0).abs() < 1e-4,
            "{c:?}"
        );
        assert!(
            (c.top - 200.0).abs() < 1e-4 && (c.bottom - 250.0).abs() < 1e-4,
            "{c:?}"
        );
        // The identity frame is the box crop.
        let id = FallbackBox {
            left: 0.0,
            top: 0.0,
            right: 1.0,
            bottom: 1.0,
            calibrated_on: 1,
        };
        let b = FaceBox::new(3.0, 4.0, 30.0, 40.0);
        assert_eq!(framed(&b, &id), b);
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
