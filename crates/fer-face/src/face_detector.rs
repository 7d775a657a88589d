//! The detection stage of the face pipeline as a trait, so that `prepare` can run MTCNN, a
//! fake detector in tests, or any detector a user adds.

use crate::error::Result;

use super::FaceDetection;

/// Finds faces in RGB images.
pub trait FaceDetector: Sync {
    /// For each image, its faces, most probable first (empty when none was found).
    fn detect_batch(&self, images: &[image::RgbImage]) -> Result<Vec<Vec<FaceDetection>>>;
}

impl FaceDetector for super::mtcnn::Mtcnn {
    fn detect_batch(&self, images: &[image::RgbImage]) -> Result<Vec<Vec<FaceDetection>>> {
        super::mtcnn::Mtcnn::detect_batch(self, images)
    }
}
