//! The landmark stage of the face pipeline as a trait: 68 points inside a face box. dlib's
//! shape predictor implements it; tests use fakes.

use crate::error::Result;
use crate::Landmarks68;

use super::FaceBox;

/// Predicts 68 landmarks in a grayscale image, given the face box the detector found.
pub trait LandmarkPredictor: Sync {
    fn predict_landmarks(&self, image: &image::GrayImage, face: &FaceBox) -> Result<Landmarks68>;
}
