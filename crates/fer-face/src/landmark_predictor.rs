//! The landmark stage of the face pipeline as a trait: 68 points inside a face box. dlib's
//! shape predictor implements it; tests use fakes.

use crate::error::Result;
use fer_data::Landmarks68;

use super::FaceBox;

/// Predicts 68 landmarks in a grayscale image, given the face box the detector found.
pub trait LandmarkPredictor: Sync {
    fn predict_landmarks(&self, image: &image::GrayImage, face: &FaceBox) -> Result<Landmarks68>;

    /// Several faces at once, one result per face, equal to `predict_landmarks` on each.
    /// Predictors that gain from batching (dlib's keeps its trees in cache) override it.
    fn predict_landmarks_batch(
        &self,
        faces: &[(&image::GrayImage, FaceBox)],
    ) -> Vec<Result<Landmarks68>> {
        faces
            .iter()
            .map(|(image, face)| self.predict_landmarks(image, face))
            .collect()
    }
}
