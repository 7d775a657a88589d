//! The face pipeline over a dataset (paper 4.3): detect each face, calibrate the fallback box
//! for pre-cropped faces the detector misses, predict 68 landmarks, take the alignment
//! template as the mean of the training faces' eye and mouth centres, align every face and
//! write the prepared cache. Each stage is a public function so it can run and be tested alone;
//! `FacePipeline::run` chains them. Unusable images are recorded as failures and never end the run.

use rayon::prelude::*;
use std::path::{Path, PathBuf};

use super::cache_contact_sheet::write_cache_contact_sheet;
use super::{PrepareConfig, PrepareFailure, PrepareReport, PreparedSample, PREPARED_SAMPLES_CSV};
use crate::align::{align_face, AlignmentPoints, AlignmentTemplate};
use crate::error::{FaceError, Result};
use crate::fallback_box::FallbackBox;
use crate::prepare::prepare_config::LandmarkSource;
use crate::{FaceBox, FaceDetection, FaceDetector, LandmarkPredictor};
use fer_data::{DatasetFormat, Landmarks68, Manifest, Record, SplitHint};

/// The stages that report progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrepareStage {
    Detect,
    Landmarks,
    Align,
}

impl PrepareStage {
    pub fn name(self) -> &'static str {
        match self {
            PrepareStage::Detect => "detect",
            PrepareStage::Landmarks => "landmarks",
            PrepareStage::Align => "align",
        }
    }
}

/// Progress callback: (stage, items finished in this stage so far, items in this stage).
pub type PrepareProgress<'a> = &'a (dyn Fn(PrepareStage, usize, usize) + Sync);

/// Decodes a record's image (a file, a CSV row, ...).
pub type ImageLoader<'a> = &'a (dyn Fn(&Record) -> fer_data::Result<image::DynamicImage> + Sync);

/// What the detection stage found in one image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DetectedImage {
    pub width: u32,
    pub height: u32,
    /// The most probable face, if any.
    pub detection: Option<FaceDetection>,
    /// How many faces the detector found.
    pub faces: usize,
}

/// A face with its landmarks in the source image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LocatedFace {
    pub face: FaceBox,
    pub fallback: bool,
    pub score: Option<f32>,
    pub landmarks: Landmarks68,
    pub from_dataset: bool,
}

/// One stage's outcome per record: a value or the reason it was dropped.
pub type StageResult<T> = std::result::Result<T, String>;

/// The detector, the landmark predictor and the settings.
pub struct FacePipeline<'a> {
    pub detector: &'a dyn FaceDetector,
    pub predictor: &'a dyn LandmarkPredictor,
    pub config: PrepareConfig,
}

/// Detection stage: the most probable face of every record's image, in batches.
pub fn detect_faces(
    detector: &dyn FaceDetector,
    records: &[Record],
    load: ImageLoader,
    batch_size: usize,
    progress: PrepareProgress,
) -> Result<Vec<StageResult<DetectedImage>>> {
    let mut out = Vec::with_capacity(records.len());
    for chunk in records.chunks(batch_size.max(1)) {
        let decoded: Vec<StageResult<image::RgbImage>> = chunk
            .par_iter()
            .map(|r| {
                load(r)
                    .map(|img| img.into_rgb8())
                    .map_err(|e| format!("decode: {e}"))
            })
            .collect();
        let images: Vec<image::RgbImage> = decoded
            .iter()
            .filter_map(|d| d.as_ref().ok().cloned())
            .collect();
        let mut found = detector.detect_batch(&images)?.into_iter();
        for d in decoded {
            out.push(match d {
                Ok(img) => {
                    let faces = found.next().ok_or_else(|| {
                        FaceError::Config("the detector returned fewer results than images".into())
                    })?;
                    Ok(DetectedImage {
                        width: img.width(),
                        height: img.height(),
                        detection: faces.first().copied(),
                        faces: faces.len(),
                    })
                }
                Err(reason) => Err(reason),
            });
        }
        progress(PrepareStage::Detect, out.len(), records.len());
    }
    Ok(out)
}

/// The fallback box calibrated on the images where a face was found.
pub fn calibrate_fallback(detected: &[StageResult<DetectedImage>]) -> FallbackBox {
    let boxes: Vec<(FaceBox, u32, u32)> = detected
        .iter()
        .filter_map(|d| d.as_ref().ok())
        .filter_map(|d| d.detection.map(|f| (f.bbox, d.width, d.height)))
        .collect();
    FallbackBox::calibrate(&boxes)
}

/// Faces per landmark-predictor call: enough for dlib's predictor to reuse each cascade level's
/// leaves from cache across faces, small enough to spread over the threads.
const LANDMARK_BATCH: usize = 64;

/// Landmark stage: each face's box (detected or fallback) and its 68 points in the source image.
pub fn locate_landmarks(
    predictor: &dyn LandmarkPredictor,
    records: &[Record],
    detected: &[StageResult<DetectedImage>],
    fallback: Option<&FallbackBox>,
    source: LandmarkSource,
    load: ImageLoader,
    progress: PrepareProgress,
) -> Vec<StageResult<LocatedFace>> {
    let done = std::sync::atomic::AtomicUsize::new(0);
    let total = records.len();
    let chunks: Vec<Vec<StageResult<LocatedFace>>> = records
        .par_chunks(LANDMARK_BATCH)
        .zip(detected.par_chunks(LANDMARK_BATCH))
        .map(|(records, detected)| {
            let located = locate_chunk(predictor, records, detected, fallback, source, load);
            let n =
                done.fetch_add(records.len(), std::sync::atomic::Ordering::Relaxed) + records.len();
            progress(PrepareStage::Landmarks, n, total);
            located
        })
        .collect();
    chunks.into_iter().flatten().collect()
}

/// The landmark stage on one chunk of records: boxes first, then one batched prediction for
/// the faces whose landmarks do not come from the dataset.
fn locate_chunk(
    predictor: &dyn LandmarkPredictor,
    records: &[Record],
    detected: &[StageResult<DetectedImage>],
    fallback: Option<&FallbackBox>,
    source: LandmarkSource,
    load: ImageLoader,
) -> Vec<StageResult<LocatedFace>> {
    // The box of each face, or why it has none.
    let boxes: Vec<StageResult<(FaceBox, bool, Option<f32>)>> = detected
        .iter()
        .map(|det| {
            let det = det.as_ref().map_err(Clone::clone)?;
            match (det.detection, fallback) {
                (Some(d), _) => Ok((d.bbox, false, Some(d.score))),
                (None, Some(f)) => Ok((f.in_image(det.width, det.height), true, None)),
                (None, None) => Err("detect: no face found".to_string()),
            }
        })
        .collect();
    let mut out: Vec<StageResult<LocatedFace>> = Vec::with_capacity(records.len());
    // Faces the predictor must see: (index in chunk, grey image, box).
    let mut pending: Vec<(usize, image::GrayImage, FaceBox)> = Vec::new();
    for (i, (record, b)) in records.iter().zip(&boxes).enumerate() {
        let result = match b {
            Err(reason) => Err(reason.clone()),
            Ok((face, is_fallback, score)) => {
                let dataset_points = match source {
                    LandmarkSource::DatasetElsePredict => record.landmarks,
                    LandmarkSource::Predict => None,
                };
                match dataset_points {
                    Some(landmarks) => Ok(LocatedFace {
                        face: *face,
                        fallback: *is_fallback,
                        score: *score,
                        landmarks,
                        from_dataset: true,
                    }),
                    None => match load(record) {
                        Ok(img) => {
                            pending.push((i, img.into_luma8(), *face));
                            // Filled in below, after the batched prediction.
                            Err(String::new())
                        }
                        Err(e) => Err(format!("decode: {e}")),
                    },
                }
            }
        };
        out.push(result);
    }
    let faces: Vec<(&image::GrayImage, FaceBox)> =
        pending.iter().map(|(_, img, face)| (img, *face)).collect();
    let predicted = predictor.predict_landmarks_batch(&faces);
    for ((i, _, face), result) in pending.iter().zip(predicted) {
        let (_, is_fallback, score) = match &boxes[*i] {
            Ok(b) => *b,
            Err(_) => continue,
        };
        out[*i] = result
            .map(|landmarks| LocatedFace {
                face: *face,
                fallback: is_fallback,
                score,
                landmarks,
                from_dataset: false,
            })
            .map_err(|e| format!("landmarks: {e}"));
    }
    out
}

/// The alignment template: mean box-normalised eye and mouth centres of the faces not in the
/// test split (the training set of the reference implementation; for k-fold protocols every
/// face trains in some fold, and the template uses no label).
pub fn alignment_template(
    records: &[Record],
    located: &[StageResult<LocatedFace>],
    size: u32,
) -> Result<AlignmentTemplate> {
    let points: Vec<[[f64; 2]; 3]> = records
        .iter()
        .zip(located)
        .filter(|(r, _)| r.split_hint != Some(SplitHint::Test))
        .filter_map(|(_, l)| l.as_ref().ok())
        .map(|l| {
            AlignmentTemplate::normalised_points(
                &AlignmentPoints::from_landmarks(&l.landmarks),
                &l.face,
                size,
            )
        })
        .collect();
    AlignmentTemplate::mean_of(&points, size)
}

/// Where a record's aligned PNG goes, relative to the cache: `images/<id>` with its image
/// extension replaced by .png (ids without one, such as FER2013 CSV rows `fer2013.csv:12`,
/// get .png appended, and `:` becomes `_`). Ids that would escape the cache are refused.
pub fn aligned_image_name(record: &Record) -> StageResult<String> {
    let id = Path::new(&record.id);
    if id.is_absolute()
        || id
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
    {
        return Err(format!(
            "record id '{}' is not a plain relative path",
            record.id
        ));
    }
    let base = if fer_data::formats::image_files::is_image_file(id) {
        id.with_extension("png").to_string_lossy().to_string()
    } else {
        format!("{}.png", record.id)
    };
    let name = format!("images/{}", base.replace(':', "_"));
    PreparedSample::check_text_field(&name, "image name")?;
    Ok(name)
}

/// Alignment stage: warps each located face onto the template and writes its PNG under `dir`.
pub fn align_and_write(
    records: &[Record],
    located: &[StageResult<LocatedFace>],
    template: &AlignmentTemplate,
    load: ImageLoader,
    dir: &Path,
    progress: PrepareProgress,
) -> Vec<StageResult<PreparedSample>> {
    let done = std::sync::atomic::AtomicUsize::new(0);
    records
        .par_iter()
        .zip(located.par_iter())
        .map(|(record, loc)| {
            let loc = loc.as_ref().map_err(Clone::clone)?;
            let name = aligned_image_name(record)?;
            PreparedSample::check_text_field(&record.subject, "subject")?;
            let gray = load(record)
                .map_err(|e| format!("decode: {e}"))?
                .into_luma8();
            let aligned =
                align_face(&gray, &loc.landmarks, template).map_err(|e| format!("align: {e}"))?;
            let path = dir.join(&name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| format!("write: {}: {e}", parent.display()))?;
            }
            aligned
                .image
                .save(&path)
                .map_err(|e| format!("write: {}: {e}", path.display()))?;
            let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            if n.is_multiple_of(256) || n == records.len() {
                progress(PrepareStage::Align, n, records.len());
            }
            Ok(PreparedSample {
                image: name,
                expression: record.expression,
                subject: record.subject.clone(),
                split: record.split_hint,
                source: record.id.clone(),
                fallback: loc.fallback,
                score: loc.score,
                face: loc.face,
                landmarks: aligned.landmarks,
            })
        })
        .collect()
}

impl FacePipeline<'_> {
    /// Runs every stage over `records` and writes the prepared cache to `out_dir` (replacing
    /// an older cache only once the new one is complete: it is built in a sibling folder and
    /// renamed into place). Returns the report, also saved as `prepare.json`.
    pub fn run(
        &self,
        manifest: &Manifest,
        records: &[Record],
        load: ImageLoader,
        out_dir: &Path,
        progress: PrepareProgress,
    ) -> Result<PrepareReport> {
        let start = std::time::Instant::now();
        let staging = sibling(out_dir, "partial")?;
        if staging.exists() {
            std::fs::remove_dir_all(&staging).map_err(|e| FaceError::io(&staging, e))?;
        }
        std::fs::create_dir_all(&staging).map_err(|e| FaceError::io(&staging, e))?;

        let detected = detect_faces(
            self.detector,
            records,
            load,
            self.config.batch_size,
            progress,
        )?;
        let fallback = calibrate_fallback(&detected);
        let located = locate_landmarks(
            self.predictor,
            records,
            &detected,
            self.config.fallback_for_missed_faces.then_some(&fallback),
            self.config.landmark_source,
            load,
            progress,
        );
        let template = alignment_template(records, &located, self.config.size)?;
        let aligned = align_and_write(records, &located, &template, load, &staging, progress);

        let mut samples = Vec::new();
        let mut failures = Vec::new();
        for (record, result) in records.iter().zip(aligned) {
            match result {
                Ok(s) => samples.push(s),
                Err(reason) => failures.push(PrepareFailure {
                    id: record.id.clone(),
                    path: record.path.as_ref().map(|p| p.display().to_string()),
                    reason,
                }),
            }
        }
        let report = PrepareReport {
            dataset: manifest.name.clone(),
            config: self.config.clone(),
            imported: records.len(),
            detected: detected
                .iter()
                .filter(|d| {
                    matches!(
                        d,
                        Ok(DetectedImage {
                            detection: Some(_),
                            ..
                        })
                    )
                })
                .count(),
            fallbacks: samples.iter().filter(|s| s.fallback).count(),
            dataset_landmarks: located
                .iter()
                .filter(|l| {
                    matches!(
                        l,
                        Ok(LocatedFace {
                            from_dataset: true,
                            ..
                        })
                    )
                })
                .count(),
            written: samples.len(),
            failures,
            fallback_box: fallback,
            template: Some(template),
            seconds: start.elapsed().as_secs_f64(),
        };
        write_cache_files(manifest, &samples, &report, &staging, out_dir)?;
        if !samples.is_empty() {
            // Seed 1: the same faces every time the same cache is prepared.
            write_cache_contact_sheet(
                &samples,
                &staging,
                16,
                1,
                &staging.join("contact_sheet.png"),
            )?;
        }
        replace_dir(&staging, out_dir)?;
        Ok(report)
    }
}

/// `<out_dir>.<suffix>` beside the cache.
fn sibling(out_dir: &Path, suffix: &str) -> Result<PathBuf> {
    let name = out_dir.file_name().ok_or_else(|| {
        FaceError::Config(format!(
            "prepare output {} has no folder name",
            out_dir.display()
        ))
    })?;
    Ok(out_dir.with_file_name(format!("{}.{suffix}", name.to_string_lossy())))
}

/// samples.csv, failures.csv, prepare.json and manifest.yaml into the staging folder. The
/// manifest names the final folder, where the cache will be once renamed.
fn write_cache_files(
    manifest: &Manifest,
    samples: &[PreparedSample],
    report: &PrepareReport,
    staging: &Path,
    out_dir: &Path,
) -> Result<()> {
    PreparedSample::write_csv(samples, &staging.join(PREPARED_SAMPLES_CSV))?;
    let failures_path = staging.join("failures.csv");
    let mut text = String::from("id,path,reason\n");
    for f in &report.failures {
        let clean = |s: &str| s.replace([',', '\n', '\r'], ";");
        text.push_str(&format!(
            "{},{},{}\n",
            clean(&f.id),
            clean(f.path.as_deref().unwrap_or("")),
            clean(&f.reason)
        ));
    }
    std::fs::write(&failures_path, text).map_err(|e| FaceError::io(&failures_path, e))?;
    let json_path = staging.join("prepare.json");
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| FaceError::Config(format!("prepare.json: {e}")))?;
    std::fs::write(&json_path, json).map_err(|e| FaceError::io(&json_path, e))?;

    let absolute = std::path::absolute(out_dir).map_err(|e| FaceError::io(out_dir, e))?;
    let prepared = Manifest {
        name: format!("{}-prepared", manifest.name),
        description: format!(
            "{} after the face pipeline (cargo xtask prepare {}): {}x{} aligned faces with 68 landmarks",
            manifest.name, manifest.name, report.config.size, report.config.size
        ),
        format: DatasetFormat::Prepared,
        root: Some(absolute),
        root_env: None,
        obtain: format!("run `cargo xtask prepare {}`", manifest.name),
        landmarks_csv: None,
        subject_regex: None,
        image_size: report.config.size,
        expected_count: Some(samples.len()),
        source: None,
        // The pipeline's landmarks, mapped into the aligned crop, reach beyond it where the
        // face does (the jaw of a tight crop).
        landmarks_outside_image: true,
        ..manifest.clone()
    };
    let yaml_path = staging.join("manifest.yaml");
    let yaml = serde_yaml::to_string(&prepared)
        .map_err(|e| FaceError::Config(format!("manifest.yaml: {e}")))?;
    std::fs::write(
        &yaml_path,
        format!(
            "# Written by `cargo xtask prepare {}`.\n{yaml}",
            manifest.name
        ),
    )
    .map_err(|e| FaceError::io(&yaml_path, e))
}

/// Moves the finished staging folder to `out_dir`, replacing an older cache only now.
fn replace_dir(staging: &Path, out_dir: &Path) -> Result<()> {
    let old = sibling(out_dir, "old")?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| FaceError::io(&old, e))?;
    }
    if out_dir.exists() {
        std::fs::rename(out_dir, &old).map_err(|e| FaceError::io(out_dir, e))?;
    }
    std::fs::rename(staging, out_dir).map_err(|e| FaceError::io(out_dir, e))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(|e| FaceError::io(&old, e))?;
    }
    Ok(())
}
