//! Every face of every photo, for inference (`cargo xtask predict`): the face pipeline of
//! paper 4.3 without a dataset around it. MTCNN finds the faces, dlib's predictor labels 68
//! points on each, and a `FaceAlignment` brings each face to the model's input. Unlike
//! `prepare`, which keeps the most probable face of a dataset image, a photo may show several
//! people, so every detected face is kept, most probable first. A photo that does not decode
//! is an outcome (its reason), never an error of the whole call.

use rayon::prelude::*;

use crate::align::{AlignedFace, FaceAlignment};
use crate::error::Result;
use crate::prepare::face_pipeline::{ImageLoader, PrepareProgress, StageResult};
use crate::prepare::PrepareStage;
use crate::{FaceDetection, FaceDetector, LandmarkPredictor};
use fer_data::{Landmarks68, Record};

/// One face of a photo.
#[derive(Debug, Clone)]
pub struct PhotoFace {
    pub detection: FaceDetection,
    /// The 68 points in the photo's pixels.
    pub landmarks: Landmarks68,
    /// The face at the model's input size; `transform` maps photo pixels into it.
    pub aligned: AlignedFace,
}

/// What one photo gave: its faces (none when the detector found none), or why it could not
/// be used (it does not decode).
pub type PhotoOutcome = StageResult<Vec<PhotoFace>>;

/// Detects, labels and aligns every face of `records`' images, `batch_size` images per
/// detector call. A face whose landmarks or alignment fail is left out with a note in its
/// photo's list of problems (the second value), so the rest of the photo still counts.
pub fn faces_in_photos(
    detector: &dyn FaceDetector,
    predictor: &dyn LandmarkPredictor,
    records: &[Record],
    load: ImageLoader,
    alignment: &FaceAlignment,
    batch_size: usize,
    progress: PrepareProgress,
) -> Result<Vec<(PhotoOutcome, Vec<String>)>> {
    let mut out = Vec::with_capacity(records.len());
    for chunk in records.chunks(batch_size.max(1)) {
        let decoded: Vec<StageResult<image::DynamicImage>> = chunk
            .par_iter()
            .map(|r| load(r).map_err(|e| format!("decode: {e}")))
            .collect();
        let rgb: Vec<image::RgbImage> = decoded
            .iter()
            .filter_map(|d| d.as_ref().ok().map(|i| i.to_rgb8()))
            .collect();
        let mut found = detector.detect_batch(&rgb)?.into_iter();
        let per_image: Vec<(StageResult<image::GrayImage>, Vec<FaceDetection>)> = decoded
            .into_iter()
            .map(|d| match d {
                Ok(img) => {
                    let mut faces = found.next().unwrap_or_default();
                    faces.sort_by(|a, b| b.score.total_cmp(&a.score));
                    (Ok(img.into_luma8()), faces)
                }
                Err(reason) => (Err(reason), Vec::new()),
            })
            .collect();
        let located: Vec<(PhotoOutcome, Vec<String>)> = per_image
            .par_iter()
            .map(|(gray, detections)| {
                let gray = match gray {
                    Ok(g) => g,
                    Err(reason) => return (Err(reason.clone()), Vec::new()),
                };
                let faces: Vec<(&image::GrayImage, crate::FaceBox)> =
                    detections.iter().map(|d| (gray, d.bbox)).collect();
                let points = predictor.predict_landmarks_batch(&faces);
                let mut kept = Vec::new();
                let mut problems = Vec::new();
                for (k, (d, p)) in detections.iter().zip(points).enumerate() {
                    let landmarks = match p {
                        Ok(l) => l,
                        Err(e) => {
                            problems.push(format!("face {k}: landmarks: {e}"));
                            continue;
                        }
                    };
                    match alignment.align(gray, &d.bbox, &landmarks) {
                        Ok(aligned) => kept.push(PhotoFace {
                            detection: *d,
                            landmarks,
                            aligned,
                        }),
                        Err(e) => problems.push(format!("face {k}: align: {e}")),
                    }
                }
                (Ok(kept), problems)
            })
            .collect();
        out.extend(located);
        progress(PrepareStage::Detect, out.len(), records.len());
    }
    Ok(out)
}
