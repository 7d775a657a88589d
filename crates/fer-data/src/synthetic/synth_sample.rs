//! One SynthFER image with its labels (issue: "one of 7 expressions ... exact 68-point
//! landmarks"; the FER label and the FLD label of paper 3.1).

use image::GrayImage;

use crate::expression::Expression;
use crate::landmarks::Landmarks68;

/// One generated image with its expression, intensity, subject and exact landmarks.
#[derive(Debug, Clone)]
pub struct SynthSample {
    /// Unique image id, `s<subject>_<image>`, e.g. `s0042_07`.
    pub id: String,
    /// Subject id, e.g. `s0042`; all images of one synthetic person share it.
    pub subject: String,
    pub expression: Expression,
    /// Expression intensity the image was drawn with (0 for neutral).
    pub intensity: f32,
    /// `size` x `size` grayscale image.
    pub image: GrayImage,
    /// The 68 points exactly as drawn, in this image's pixel-index coordinates.
    pub landmarks: Landmarks68,
}

/// Subject id of subject index `s`.
pub(crate) fn subject_id(s: usize) -> String {
    format!("s{s:04}")
}

/// Image id of image `i` of subject `s`.
pub(crate) fn image_id(s: usize, i: usize) -> String {
    format!("s{s:04}_{i:02}")
}
