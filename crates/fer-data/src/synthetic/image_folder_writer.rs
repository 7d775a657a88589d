//! Writes SynthFER as an image folder (issue: "`cargo xtask synth --out DIR` writes it as an
//! image folder with a landmark CSV and a contact sheet PNG").
//!
//! Layout (read back by the image-folder importer):
//! `<out>/<expression name>/<id>.png`, `<out>/landmarks.csv` with header
//! `image,x_0,...,x_67,y_0,...,y_67` (`image` relative to `<out>`, forward slashes, coordinates
//! in pixel-index space, printed with the shortest exact f32 representation), and
//! `<out>/contact_sheet.png` (the first 64 samples).
//!
//! The write is atomic: everything goes to the sibling `<out>.tmp-<pid>` first, which is
//! renamed into place at the end, so an interrupted run never leaves a half-written dataset
//! under `<out>`. An existing non-empty `<out>` is never touched.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::contact_sheet::contact_sheet;
use super::synth_sample::SynthSample;
use crate::error::{DataError, Result};
use crate::landmarks::NUM_LANDMARKS;

/// Name of the landmark CSV inside the output folder.
pub const LANDMARK_CSV: &str = "landmarks.csv";
/// Name of the contact sheet inside the output folder.
pub const CONTACT_SHEET_PNG: &str = "contact_sheet.png";
/// Number of samples shown on the contact sheet.
const SHEET_SAMPLES: usize = 64;

fn image_error(path: &Path, e: image::ImageError) -> DataError {
    match e {
        image::ImageError::IoError(io) => DataError::io(path, io),
        other => DataError::io(path, std::io::Error::other(other.to_string())),
    }
}

/// Writes `samples` as an image folder at `out_dir` (which must not exist or be empty) and
/// returns the path of the landmark CSV.
pub fn write_image_folder(samples: &[SynthSample], out_dir: &Path) -> Result<PathBuf> {
    let name = out_dir.file_name().ok_or_else(|| {
        DataError::Config(format!(
            "output folder {} has no final name component",
            out_dir.display()
        ))
    })?;
    let existing_empty = match fs::read_dir(out_dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(DataError::Config(format!(
                    "output folder {} already exists and is not empty; choose another --out or \
                     remove it yourself (SynthFER never deletes existing data)",
                    out_dir.display()
                )));
            }
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => {
            if out_dir.exists() {
                return Err(DataError::Config(format!(
                    "output path {} exists but is not a readable folder ({e})",
                    out_dir.display()
                )));
            }
            return Err(DataError::io(out_dir, e));
        }
    };
    let mut seen = HashSet::with_capacity(samples.len());
    for s in samples {
        if !seen.insert(s.id.as_str()) {
            return Err(DataError::Config(format!(
                "two samples share the id '{}'; image files would overwrite each other",
                s.id
            )));
        }
    }

    let parent = match out_dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| DataError::io(&parent, e))?;
    let mut tmp_name = name.to_os_string();
    tmp_name.push(format!(".tmp-{}", std::process::id()));
    let tmp = parent.join(tmp_name);
    if tmp.exists() {
        // A leftover of an earlier run of this very process id: our own scratch space.
        fs::remove_dir_all(&tmp).map_err(|e| DataError::io(&tmp, e))?;
    }
    fs::create_dir(&tmp).map_err(|e| DataError::io(&tmp, e))?;

    match write_contents(samples, &tmp) {
        Ok(()) => {}
        Err(e) => {
            // Best effort: the error that matters is `e`.
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    }
    if existing_empty {
        fs::remove_dir(out_dir).map_err(|e| DataError::io(out_dir, e))?;
    }
    if let Err(e) = fs::rename(&tmp, out_dir) {
        let _ = fs::remove_dir_all(&tmp);
        return Err(DataError::io(out_dir, e));
    }
    Ok(out_dir.join(LANDMARK_CSV))
}

/// Writes the class folders, images, CSV and contact sheet into `dir`.
fn write_contents(samples: &[SynthSample], dir: &Path) -> Result<()> {
    let mut classes: Vec<_> = samples.iter().map(|s| s.expression).collect();
    classes.sort();
    classes.dedup();
    for c in &classes {
        let d = dir.join(c.name());
        fs::create_dir(&d).map_err(|e| DataError::io(&d, e))?;
    }
    samples.par_iter().try_for_each(|s| {
        let path = dir.join(s.expression.name()).join(format!("{}.png", s.id));
        s.image
            .save_with_format(&path, image::ImageFormat::Png)
            .map_err(|e| image_error(&path, e))
    })?;

    let mut csv = String::with_capacity(samples.len() * 1200 + 1200);
    csv.push_str("image");
    for axis in ["x", "y"] {
        for i in 0..NUM_LANDMARKS {
            // Writing to a String cannot fail.
            let _ = write!(csv, ",{axis}_{i}");
        }
    }
    csv.push('\n');
    for s in samples {
        let _ = write!(csv, "{}/{}.png", s.expression.name(), s.id);
        for axis in 0..2 {
            for p in &s.landmarks.points {
                let _ = write!(csv, ",{}", p[axis]);
            }
        }
        csv.push('\n');
    }
    let csv_path = dir.join(LANDMARK_CSV);
    fs::write(&csv_path, csv).map_err(|e| DataError::io(&csv_path, e))?;

    if !samples.is_empty() {
        let shown = &samples[..samples.len().min(SHEET_SAMPLES)];
        let side = shown
            .iter()
            .map(|s| s.image.width())
            .max()
            .unwrap_or(1)
            .max(1);
        let scale = 192u32.div_ceil(side).max(1);
        let sheet = contact_sheet(shown, 8, scale);
        let sheet_path = dir.join(CONTACT_SHEET_PNG);
        sheet
            .save_with_format(&sheet_path, image::ImageFormat::Png)
            .map_err(|e| image_error(&sheet_path, e))?;
    }
    Ok(())
}
