//! `cargo xtask prepare <dataset>`: the face pipeline of paper 4.3 over a dataset, written as a
//! prepared cache that the trainer reads.

use anyhow::{Context, Result};
use clap::Args;
use fer_data::Record;
use fer_face::prepare::prepare_config::LandmarkSource;
use fer_face::prepare::{FacePipeline, PrepareConfig};
use std::path::PathBuf;

use crate::face_tools::{self, StageBars};
use crate::{face_models, workspace};

/// Detect faces (MTCNN), predict 68 landmarks (dlib's shape predictor), align each face by its
/// eye and mouth centres onto the training mean (paper 4.3) and write a prepared cache:
/// prepared/<dataset>/ with images/, samples.csv (label, subject, split, source, fallback flag,
/// box, 68 points), failures.csv, prepare.json and manifest.yaml. Train on it with
/// `cargo xtask train --dataset prepared/<dataset>/manifest.yaml`.
#[derive(Args, Debug)]
pub struct PrepareArgs {
    /// Dataset manifest: a name in data-manifests/ (ckplus48, fer2013, sfew2, ...) or a YAML path.
    pub dataset: String,
    /// Dataset root, replacing the manifest's (and its environment variable).
    #[arg(long)]
    pub data_root: Option<PathBuf>,
    /// Output folder (default: prepared/<dataset> in the workspace, or $FER_PREPARED/<dataset>).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Drop class folders whose names are no expression instead of stopping (as
    /// `ignore_unknown_classes: true` in the manifest).
    #[arg(long)]
    pub ignore_unknown_classes: bool,
    /// Side of the aligned faces (paper 4.3: 100), 16-512 px as every command takes it.
    #[arg(long, default_value_t = 100, value_parser = parse_prepare_size)]
    pub size: u32,
    /// Images per detector batch.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Model folder (default: FER_MODELS, else models/; fill it with `cargo xtask fetch-models`).
    #[arg(long)]
    pub models: Option<PathBuf>,
    /// Use the dataset's own landmarks where it has them (CK+ Landmarks/, a landmark CSV).
    #[arg(long)]
    pub dataset_landmarks: bool,
    /// Prepare only N evenly spaced records (a quick look before the full run).
    #[arg(long)]
    pub limit: Option<usize>,
}

/// `--size`: the same 16-512 px bound as training's, as the pixel type alignment takes.
fn parse_prepare_size(text: &str) -> Result<u32> {
    let size = super::reproduce::parse_size(text)?;
    Ok(u32::try_from(size)?)
}

/// Where `prepare` writes a dataset's cache by default.
pub fn default_cache_dir(name: &str) -> PathBuf {
    let base = std::env::var_os("FER_PREPARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace::root().join("prepared"));
    base.join(name)
}

pub fn run(args: PrepareArgs) -> Result<()> {
    let mut manifest = workspace::workspace().load_manifest(&args.dataset)?;
    manifest.ignore_unknown_classes |= args.ignore_unknown_classes;
    let root = args
        .data_root
        .clone()
        .or_else(|| workspace::resolve(manifest.resolved_root()));
    let models = face_models::models_dir(args.models.as_deref());
    let detector = face_tools::load_detector(&models)?;
    let predictor = face_tools::load_landmarker(&models)?;

    let mut records: Vec<Record> = fer_data::formats::import_records(&manifest, root.as_deref())?;
    if let Some(n) = args.limit {
        // Evenly spaced, so a quick look still covers every class folder.
        let len = records.len();
        let n = n.min(len);
        records = (0..n).map(|i| records[i * len / n].clone()).collect();
    }
    // Pre-cropped faces (CK+48, FER2013, RAF-DB) get the fallback box where MTCNN finds
    // nothing; raw frames (SFEW 2.0, CK+, Oulu-CASIA) do not.
    let base = if manifest.format.needs_preparation() {
        PrepareConfig::raw_frames()
    } else {
        PrepareConfig::paper()
    };
    let config = PrepareConfig {
        size: args.size,
        batch_size: args.batch,
        landmark_source: if args.dataset_landmarks {
            LandmarkSource::DatasetElsePredict
        } else {
            LandmarkSource::Predict
        },
        ..base
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_cache_dir(&manifest.name));
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    println!(
        "preparing {} ({} records, {} layout) -> {}",
        manifest.name,
        records.len(),
        manifest.format.name(),
        out.display()
    );
    let loader = fer_data::formats::record_image_loader(&manifest, root.as_deref())?;
    let pipeline = FacePipeline {
        detector: &detector,
        predictor: &predictor,
        config,
    };
    let bars = StageBars::new();
    let report = pipeline.run(&manifest, &records, &*loader, &out, &|s, d, t| {
        bars.update(s, d, t)
    })?;
    bars.finish();
    println!("{}", report.summary());
    for f in report.failures.iter().take(10) {
        println!(
            "  skipped {}: {}",
            f.path.as_deref().unwrap_or(&f.id),
            f.reason
        );
    }
    if report.failures.len() > 10 {
        println!("  ... {} more in failures.csv", report.failures.len() - 10);
    }
    println!(
        "cache: {} (train on it with `cargo xtask train --dataset {}`)",
        out.display(),
        out.join("manifest.yaml").display()
    );
    Ok(())
}
