//! Oulu-CASIA NIR&VIS (paper 4.1): the visible-light sequences under strong light,
//! `VL/Strong/Pxxx/<Expression>/*.jpeg` (Anger, Disgust, Fear, Happiness, Sadness, Surprise),
//! of which the paper (after Cai et al.) takes the last three frames, by sorted file name: the
//! ones nearest the peak. Subject = the `Pxxx` folder, so folds are subject-exclusive (paper
//! 4.4). The frames are raw: `cargo xtask prepare` detects and aligns them (paper 4.3) before
//! training, so `FaceDataset::load` refuses them.

use std::path::Path;

use crate::availability::missing;
use crate::error::Result;
use crate::formats::image_files::{last_frames, relative_id, sorted_image_files, LAST_FRAMES};
use crate::formats::image_folder::{class_of_folder, finish, sorted_subfolders};
use crate::manifest::Manifest;
use crate::record::Record;

/// The sequences' folder, relative to the root.
pub const SEQUENCES_DIR: &str = "VL/Strong";

/// Imports the last three frames of every `VL/Strong/<subject>/<Expression>/` sequence,
/// subjects and expressions in sorted order. Folders that name no class of the manifest are
/// passed over; a class folder without frames is an error naming it (a partial copy), as is a
/// `VL/Strong` without any sequence.
pub fn import(root: &Path, manifest: &Manifest) -> Result<Vec<Record>> {
    let base = root.join(SEQUENCES_DIR);
    if !base.is_dir() {
        return Err(missing(
            manifest,
            root,
            format!("no folder {SEQUENCES_DIR} (the oulu_casia layout)"),
        ));
    }
    let mut records = Vec::new();
    for (subject, subject_dir) in sorted_subfolders(&base)? {
        for (folder, dir) in sorted_subfolders(&subject_dir)? {
            let Some(expression) = class_of_folder(manifest, &folder) else {
                continue;
            };
            let frames = sorted_image_files(&dir)?;
            if frames.is_empty() {
                return Err(missing(
                    manifest,
                    &dir,
                    "an expression folder without frames (expected its .jpeg frames)",
                ));
            }
            for path in last_frames(&frames, LAST_FRAMES) {
                records.push(Record {
                    id: relative_id(root, path),
                    path: Some(path.clone()),
                    expression,
                    subject: subject.clone(),
                    split_hint: None,
                    landmarks: None,
                });
            }
        }
    }
    if records.is_empty() {
        return Err(missing(
            manifest,
            &base,
            "no sequence (expected Pxxx/<Expression>/ folders, e.g. P001/Anger/)",
        ));
    }
    finish(root, manifest, records)
}
