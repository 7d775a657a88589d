//! Landmarks from a folder of per-image OpenFace 2.0 CSVs (the manifest's
//! `landmarks_openface_dir`): how the paper labels its FLD task (paper 4.3, OpenFace 2.0 run on
//! every image). `FaceLandmarkImg -fdir <images> -out_dir <folder>` writes `<image stem>.csv`;
//! a run per sub-folder that mirrors the dataset's tree is accepted too.

use std::path::{Path, PathBuf};

use crate::error::Result;
use crate::formats::image_files::stem_of;
use crate::formats::openface_csv::{best_face, read_openface_csv};
use crate::record::Record;

/// The OpenFace CSV of a record, if one exists: `<dir>/<id without extension>.csv` (a mirrored
/// tree; ids are paths relative to the root), else `<dir>/<image stem>.csv` (one flat folder).
pub fn openface_csv_of(dir: &Path, record: &Record) -> Option<PathBuf> {
    let mirrored = dir.join(&record.id).with_extension("csv");
    if mirrored.is_file() {
        return Some(mirrored);
    }
    let flat = dir.join(format!("{}.csv", stem_of(record.path.as_deref()?)));
    flat.is_file().then_some(flat)
}

/// Sets each record's landmarks to the best face of its OpenFace CSV; records without a CSV,
/// or whose CSV has no successful face, get none (the named folder is the landmark source).
/// A malformed CSV is an error naming its file and line.
pub fn attach_openface_landmarks(dir: &Path, records: &mut [Record]) -> Result<()> {
    for r in records.iter_mut() {
        r.landmarks = match openface_csv_of(dir, r) {
            Some(csv) => best_face(&read_openface_csv(&csv)?).map(|f| f.landmarks),
            None => None,
        };
    }
    Ok(())
}
