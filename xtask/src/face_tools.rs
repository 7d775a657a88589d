//! What the face commands (`prepare`, `annotate`, `detect`, `bench face`) share: loading the
//! detector and the landmark predictor from the model folder, listing an image folder, and a
//! progress bar per pipeline stage.

use anyhow::{Context, Result};
use fer_data::face::ert::ShapePredictor;
use fer_data::face::mtcnn::{Mtcnn, MtcnnConfig};
use fer_data::face::prepare::PrepareStage;
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

/// dlib's 68-point shape predictor from `<models>/dlib`.
pub fn load_predictor(models: &Path) -> Result<ShapePredictor> {
    face_models::require_models(models)?;
    let path = models.join("dlib/shape_predictor_68_face_landmarks.dat");
    ShapePredictor::from_file(&path)
        .with_context(|| format!("cannot load the shape predictor {}", path.display()))
}

/// Image files under `dir` (recursively, sorted), as paths relative to `dir`.
pub fn list_images(dir: &Path) -> Result<Vec<PathBuf>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        let entries =
            std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
        for e in entries {
            let path = e?.path();
            if path.is_dir() {
                walk(root, &path, out)?;
            } else if is_image_name(&path) {
                out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out)?;
    out.sort();
    if out.is_empty() {
        anyhow::bail!(
            "{}: no image files (.png, .jpg, .jpeg, .bmp) in this folder or below",
            dir.display()
        );
    }
    Ok(out)
}

fn is_image_name(path: &Path) -> bool {
    path.extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .is_some_and(|e| matches!(e.as_str(), "png" | "jpg" | "jpeg" | "bmp"))
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
