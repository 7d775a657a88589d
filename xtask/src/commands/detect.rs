//! `cargo xtask detect`: MTCNN (Zhang et al. 2016; paper 4.3) over an image folder, written in
//! the column layout of facenet-pytorch's reference CSVs (../shared/reference/mtcnn_*.csv).

use anyhow::Result;
use clap::Args;
use fer_data::formats::record_image_loader::load_record_file;
use fer_face::prepare::face_pipeline::detect_faces;
use fer_face::FaceDetection;
use std::path::PathBuf;

use crate::face_models;
use crate::face_tools::{self, StageBars};

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

/// One output line: the number of faces and the most probable one.
pub fn detect_line(image: &str, faces: usize, top: Option<&FaceDetection>) -> String {
    match top {
        None => format!("{image},0{}", ",".repeat(15)),
        Some(f) => {
            let b = f.bbox;
            let mut s = format!(
                "{image},{faces},{:.3},{:.3},{:.3},{:.3},{:.5}",
                b.left, b.top, b.right, b.bottom, f.score
            );
            for p in f.points {
                s.push_str(&format!(",{:.3},{:.3}", p[0], p[1]));
            }
            s
        }
    }
}

pub fn run(args: DetectArgs) -> Result<()> {
    let models = face_models::models_dir(args.models.as_deref());
    let detector = face_tools::load_detector(&models)?;
    let records = face_tools::folder_records(&args.images)?;
    let bars = StageBars::new();
    let detected = detect_faces(
        &detector,
        &records,
        &load_record_file,
        args.batch,
        &|s, d, t| bars.update(s, d, t),
    )?;
    bars.finish();
    let mut lines = vec![DETECT_HEADER.to_string()];
    let (mut unreadable, mut with_face) = (0usize, 0usize);
    for (r, d) in records.iter().zip(&detected) {
        match d {
            Ok(d) => {
                with_face += usize::from(d.faces > 0);
                lines.push(detect_line(&r.id, d.faces, d.detection.as_ref()));
            }
            Err(reason) => {
                unreadable += 1;
                eprintln!("skipped {}: {reason}", r.id);
            }
        }
    }
    fer_train::run_dir::write_atomic(&args.out, (lines.join("\n") + "\n").as_bytes())?;
    println!(
        "{} images, faces in {with_face}, unreadable {unreadable} -> {}",
        records.len(),
        args.out.display()
    );
    Ok(())
}
