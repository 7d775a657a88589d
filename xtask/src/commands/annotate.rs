//! `cargo xtask annotate`: 68-point landmarks (dlib's shape predictor, Kazemi and Sullivan 2014,
//! standing in for the paper's OpenFace 2.0, paper 4.3) for every image of a folder, written
//! as a landmark CSV that manifests (`landmarks_csv`) and the parity checks read.

use anyhow::{bail, Context, Result};
use clap::Args;
use fer_data::Landmarks68;
use fer_face::ert::DlibRect;
use fer_face::prepare::face_pipeline::{calibrate_fallback, detect_faces, locate_landmarks};
use fer_face::prepare::prepare_config::LandmarkSource;
use fer_face::FaceBox;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

use crate::face_models;
use crate::face_tools::{self, StageBars};

/// Write 68 landmarks for every image under --images: columns image, success, box_left,
/// box_top, box_right, box_bottom, x_0..x_67, y_0..y_67, fallback (the layout of
/// ../shared/reference/dlib68_native_ckplus48_sample.csv plus the fallback flag). Without
/// --boxes, MTCNN finds the face (a calibrated fallback box where it finds none); with --boxes,
/// the CSV's image and box_left, box_top, box_right, box_bottom columns (dlib's inclusive
/// integer corners) are used instead, for exactly the images it lists.
#[derive(Args, Debug)]
pub struct AnnotateArgs {
    /// Folder of images (searched recursively; with --boxes, the folder the CSV's paths are relative to).
    #[arg(long)]
    pub images: PathBuf,
    /// Face boxes to use instead of the detector.
    #[arg(long)]
    pub boxes: Option<PathBuf>,
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

fn header() -> String {
    let mut cols = vec![
        "image".to_string(),
        "success".into(),
        "box_left".into(),
        "box_top".into(),
        "box_right".into(),
        "box_bottom".into(),
    ];
    cols.extend((0..68).map(|i| format!("x_{i}")));
    cols.extend((0..68).map(|i| format!("y_{i}")));
    cols.push("fallback".into());
    cols.join(",")
}

fn line(image: &str, face: Option<(&[String; 4], &Landmarks68, bool)>) -> String {
    match face {
        None => format!("{image},0{}", ",".repeat(4 + 136 + 1)),
        Some((b, l, fallback)) => {
            let mut s = format!("{image},1,{},{},{},{}", b[0], b[1], b[2], b[3]);
            for p in &l.points {
                s.push_str(&format!(",{}", p[0]));
            }
            for p in &l.points {
                s.push_str(&format!(",{}", p[1]));
            }
            s.push_str(if fallback { ",1" } else { ",0" });
            s
        }
    }
}

/// One row of a --boxes CSV.
pub(crate) struct GivenBox {
    image: String,
    rect: Option<DlibRect>,
}

/// Reads the image and box columns of a boxes CSV (other columns are ignored; rows with
/// `success` 0 or empty box fields have no box). Errors name the file and line.
pub(crate) fn read_boxes(path: &Path) -> Result<Vec<GivenBox>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut lines = text.lines().enumerate();
    let Some((_, head)) = lines.next() else {
        bail!("{}:1: empty file, expected a header line", path.display());
    };
    let cols: Vec<&str> = head.split(',').map(str::trim).collect();
    let find = |name: &str| -> Result<usize> {
        cols.iter().position(|c| *c == name).with_context(|| {
            format!(
                "{}:1: no `{name}` column (need image, box_left, box_top, box_right, box_bottom)",
                path.display()
            )
        })
    };
    let idx = [
        find("image")?,
        find("box_left")?,
        find("box_top")?,
        find("box_right")?,
        find("box_bottom")?,
    ];
    let success = cols.iter().position(|c| *c == "success");
    let mut out = Vec::new();
    for (i, l) in lines {
        if l.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = l.split(',').map(str::trim).collect();
        if f.len() != cols.len() {
            bail!(
                "{}:{}: {} fields, the header has {}",
                path.display(),
                i + 1,
                f.len(),
                cols.len()
            );
        }
        let failed = success.is_some_and(|c| f[c] == "0") || f[idx[1]].is_empty();
        let rect = if failed {
            None
        } else {
            // A box is a finite number of pixels within a million of the origin (a 1e30 box
            // used to become i64::MAX), with its right edge right of its left and its bottom
            // below its top.
            let n = |k: usize| -> Result<i64> {
                let v = f[idx[k]]
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && v.abs() <= 1e6)
                    .with_context(|| {
                        format!(
                            "{}:{}: column `{}`: '{}' is not a finite coordinate (|value| <= 1e6 px)",
                            path.display(),
                            i + 1,
                            cols[idx[k]],
                            f[idx[k]]
                        )
                    })?;
                Ok(v.round() as i64)
            };
            let r = DlibRect {
                left: n(1)?,
                top: n(2)?,
                right: n(3)?,
                bottom: n(4)?,
            };
            if r.right <= r.left || r.bottom <= r.top {
                bail!(
                    "{}:{}: box ({}, {}, {}, {}) is inverted or has zero area: need box_left < box_right and box_top < box_bottom",
                    path.display(),
                    i + 1,
                    r.left,
                    r.top,
                    r.right,
                    r.bottom
                );
            }
            Some(r)
        };
        out.push(GivenBox {
            image: f[idx[0]].to_string(),
            rect,
        });
    }
    Ok(out)
}

pub fn run(args: AnnotateArgs) -> Result<()> {
    let models = face_models::models_dir(args.models.as_deref());
    let mut lines = vec![header()];
    let (mut ok, mut failed) = (0usize, 0usize);
    if let Some(boxes) = &args.boxes {
        let predictor = face_tools::load_shape_predictor(&models)?;
        let given = read_boxes(boxes)?;
        let rows: Vec<String> = given
            .par_iter()
            .map(|g| {
                let Some(rect) = g.rect else {
                    return line(&g.image, None);
                };
                let path = args.images.join(&g.image);
                match fer_data::read_image(&path) {
                    Ok(img) => {
                        let points = predictor.predict(&img.into_luma8(), rect);
                        let l = Landmarks68::from_xs_ys(
                            &points.iter().map(|p| p[0]).collect::<Vec<_>>(),
                            &points.iter().map(|p| p[1]).collect::<Vec<_>>(),
                        );
                        let b =
                            [rect.left, rect.top, rect.right, rect.bottom].map(|v| v.to_string());
                        match l {
                            Some(l) => line(&g.image, Some((&b, &l, false))),
                            None => line(&g.image, None),
                        }
                    }
                    Err(e) => {
                        eprintln!("skipped {}: not a readable image: {e}", path.display());
                        line(&g.image, None)
                    }
                }
            })
            .collect();
        for r in rows {
            if r.split(',').nth(1) == Some("1") {
                ok += 1;
            } else {
                failed += 1;
            }
            lines.push(r);
        }
    } else {
        let detector = face_tools::load_detector(&models)?;
        let predictor = face_tools::load_landmarker(&models)?;
        let records = face_tools::folder_records(&args.images)?;
        let load = fer_data::formats::record_image_loader::load_record_file;
        let bars = StageBars::new();
        let progress = |s, d, t| bars.update(s, d, t);
        let detected = detect_faces(&detector, &records, &load, args.batch, &progress)?;
        let fallback = calibrate_fallback(&detected);
        let located = locate_landmarks(
            &predictor,
            &records,
            &detected,
            Some(&fallback),
            LandmarkSource::Predict,
            &load,
            &progress,
        );
        bars.finish();
        for (r, l) in records.iter().zip(&located) {
            match l {
                Ok(l) => {
                    ok += 1;
                    let b: FaceBox = l.face;
                    let b = [b.left, b.top, b.right, b.bottom].map(|v| format!("{v:.3}"));
                    lines.push(line(&r.id, Some((&b, &l.landmarks, l.fallback))));
                }
                Err(reason) => {
                    failed += 1;
                    eprintln!("skipped {}: {reason}", r.id);
                    lines.push(line(&r.id, None));
                }
            }
        }
    }
    fer_train::run_dir::write_atomic(&args.out, (lines.join("\n") + "\n").as_bytes())?;
    println!(
        "landmarks for {ok} images, {failed} without -> {}",
        args.out.display()
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxes(name: &str, rows: &str) -> String {
        let dir = std::env::temp_dir().join(format!("xtask-boxes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!("image,success,box_left,box_top,box_right,box_bottom\n{rows}"),
        )
        .expect("csv");
        match read_boxes(&path) {
            Ok(b) => format!("ok {}", b.len()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn non_finite_huge_inverted_and_empty_boxes_are_refused_by_line() {
        assert_eq!(
            boxes("good.csv", "a.png,1,1,2,30,40\nb.png,0,,,,\n"),
            "ok 2"
        );
        let e = boxes("nan.csv", "a.png,1,NaN,2,30,40\n");
        assert!(
            e.contains("nan.csv:2:") && e.contains("box_left") && e.contains("'NaN'"),
            "{e}"
        );
        let e = boxes("huge.csv", "a.png,1,1,2,1e30,40\n");
        assert!(e.contains("huge.csv:2:") && e.contains("box_right"), "{e}");
        let e = boxes("inverted.csv", "a.png,1,1,2,30,40\nb.png,1,30,2,1,40\n");
        assert!(
            e.contains("inverted.csv:3:") && e.contains("inverted"),
            "{e}"
        );
        let e = boxes("empty.csv", "a.png,1,5,5,5,9\n");
        assert!(e.contains("empty.csv:2:") && e.contains("zero area"), "{e}");
    }
}
