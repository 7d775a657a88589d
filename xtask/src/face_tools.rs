//! What the face commands (`prepare`, `annotate`, `detect`, `bench face`) share: loading the
//! detector and the landmark predictor from the model folder, listing an image folder, and a
//! progress bar per pipeline stage.

use anyhow::{Context, Result};
use fer_data::{Expression, Record};
use fer_face::dlib_landmarker::DlibLandmarker;
use fer_face::ert::ShapePredictor;
use fer_face::mtcnn::{Mtcnn, MtcnnConfig};
use fer_face::prepare::PrepareStage;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::face_models;

/// MTCNN from `<models>/mtcnn`, after checking every model file's sha256.
pub fn load_detector(models: &Path) -> Result<Mtcnn> {
    face_models::require_models(models)?;
    let dir = models.join("mtcnn");
    Mtcnn::from_dir(&dir, MtcnnConfig::default(), &candle_core::Device::Cpu)
        .with_context(|| format!("cannot load MTCNN from {}", dir.display()))
}

/// The landmark stage for MTCNN boxes: dlib's 68-point predictor with the box mapping.
pub fn load_landmarker(models: &Path) -> Result<DlibLandmarker> {
    Ok(DlibLandmarker::for_mtcnn(load_shape_predictor(models)?)?)
}

/// dlib's 68-point shape predictor from `<models>/dlib`, as it is (for dlib-style boxes).
pub fn load_shape_predictor(models: &Path) -> Result<ShapePredictor> {
    face_models::require_models(models)?;
    let path = models.join("dlib/shape_predictor_68_face_landmarks.dat");
    ShapePredictor::from_file(&path)
        .with_context(|| format!("cannot load the shape predictor {}", path.display()))
}

/// Image files under `dir` (recursively, sorted), as paths relative to `dir`; an error naming
/// the folder when there are none.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    let files = fer_data::formats::image_files::image_files_below(dir)?;
    if files.is_empty() {
        anyhow::bail!(
            "{}: no image files ({}) in this folder or below",
            dir.display(),
            fer_data::formats::image_files::IMAGE_EXTENSIONS.join(", ")
        );
    }
    Ok(files
        .into_iter()
        .map(|p| p.strip_prefix(dir).map(Path::to_path_buf).unwrap_or(p))
        .collect())
}

/// The images under `dir` as records for the detection and landmark stages: the id is the
/// path relative to `dir`; labels are not used by those stages.
pub fn folder_records(dir: &Path) -> Result<Vec<Record>> {
    Ok(list_images(dir)?
        .iter()
        .map(|rel| Record {
            id: rel.to_string_lossy().replace('\\', "/"),
            path: Some(dir.join(rel)),
            expression: Expression::Neutral,
            subject: String::new(),
            split_hint: None,
            landmarks: None,
        })
        .collect())
}

/// One progress bar per stage of the face pipeline, drawn on stderr.
pub struct StageBars {
    current: Mutex<Option<(PrepareStage, ProgressBar)>>,
}

impl StageBars {
    pub fn new() -> Self {
        Self {
            current: Mutex::new(None),
        }
    }

    /// The callback `FacePipeline::run` takes.
    pub fn update(&self, stage: PrepareStage, done: usize, total: usize) {
        let Ok(mut current) = self.current.lock() else {
            return;
        };
        if current.as_ref().map(|(s, _)| *s) != Some(stage) {
            if let Some((_, bar)) = current.take() {
                bar.finish();
            }
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(&format!(
                    "{:<9} {{bar:40}} {{pos}}/{{len}} [{{elapsed}}, {{per_sec}}, eta {{eta}}]",
                    stage.name()
                ))
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            *current = Some((stage, bar));
        }
        if let Some((_, bar)) = current.as_ref() {
            bar.set_position(done as u64);
        }
    }

    pub fn finish(&self) {
        if let Ok(mut current) = self.current.lock() {
            if let Some((_, bar)) = current.take() {
                bar.finish();
            }
        }
    }
}
