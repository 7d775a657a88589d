//! `cargo xtask detect`: MTCNN (Zhang et al. 2016; paper 4.3) over an image folder, written in
//! the column layout of facenet-pytorch's reference CSVs (../shared/reference/mtcnn_*.csv).

use anyhow::{Context, Result};
use clap::Args;
use fer_data::face::FaceDetection;
use indicatif::ProgressBar;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

use crate::face_models;
use crate::face_tools;

/// Detect faces with MTCNN in every image under a folder and write, per image, the number of
/// faces and the most probable one: image, n_faces, x1, y1, x2, y2, prob, and the five points
/// le, re, nose, ml, mr (facenet-pytorch's layout; empty fields where none was found).
#[derive(Args, Debug)]
pub struct DetectArgs {
    /// Folder of images (searched recursively).
    #[arg(long)]
    pub images: PathBuf,
    /// Output CSV.
    #[arg(long)]
    pub out: PathBuf,
    /// Images per detector batch.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Model folder (default: FER_MODELS, else models/).
    #[arg(long)]
    pub models: Option<PathBuf>,
}

pub const DETECT_HEADER: &str =
    "image,n_faces,x1,y1,x2,y2,prob,le_x,le_y,re_x,re_y,nose_x,nose_y,ml_x,ml_y,mr_x,mr_y";

/// One output line.
pub fn detect_line(image: &str, faces: &[FaceDetection]) -> String {
    match faces.first() {
        None => format!("{image},0{}", ",".repeat(15)),
        Some(f) => {
            let b = f.bbox;
            let mut s = format!(
                "{image},{},{:.3},{:.3},{:.3},{:.3},{:.5}",
                faces.len(),
                b.left,
                b.top,
                b.right,
                b.bottom,
                f.score
            );
            for p in f.points {
                s.push_str(&format!(",{:.3},{:.3}", p[0], p[1]));
            }
            s
        }
    }
}

/// Decodes one image as RGB (grey replicated, as PIL's `convert("RGB")`).
pub fn open_rgb(path: &Path) -> Result<image::RgbImage> {
    Ok(image::open(path)
        .with_context(|| format!("{}: not a readable image", path.display()))?
        .into_rgb8())
}

pub fn run(args: DetectArgs) -> Result<()> {
    let models = face_models::models_dir(args.models.as_deref());
    let detector = face_tools::load_detector(&models)?;
    let images = face_tools::list_images(&args.images)?;
    let bar = ProgressBar::new(images.len() as u64);
    let mut lines = vec![DETECT_HEADER.to_string()];
    let mut unreadable = 0usize;
    let mut with_face = 0usize;
    for chunk in images.chunks(args.batch.max(1)) {
        let decoded: Vec<Result<image::RgbImage>> = chunk
            .par_iter()
            .map(|rel| open_rgb(&args.images.join(rel)))
            .collect();
        let ok: Vec<image::RgbImage> = decoded
            .iter()
            .filter_map(|d| d.as_ref().ok().cloned())
            .collect();
        let mut found = detector.detect_batch(&ok)?.into_iter();
        for (rel, d) in chunk.iter().zip(decoded) {
            let name = rel.to_string_lossy().replace('\\', "/");
            match d {
                Ok(_) => {
                    let faces = found.next().unwrap_or_default();
                    with_face += usize::from(!faces.is_empty());
                    lines.push(detect_line(&name, &faces));
                }
                Err(e) => {
                    unreadable += 1;
                    eprintln!("skipped {e:#}");
                }
            }
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish();
    fer_train::run_dir::write_atomic(&args.out, (lines.join("\n") + "\n").as_bytes())?;
    println!(
        "{} images, faces in {with_face}, unreadable {unreadable} -> {}",
        images.len(),
        args.out.display()
    );
    Ok(())
}
