//! RAF-DB basic (paper 4.1): `EmoLabel/list_patition_label.txt` lists every image with its
//! 1-based label (`train_00001.jpg 5`; the manifest's `label_map` names the codes: 1 Surprise
//! 2 Fear 3 Disgust 4 Happiness 5 Sadness 6 Anger 7 Neutral), and `Image/aligned/` holds the
//! faces the authors aligned to 100x100 as `<stem>_aligned.jpg`. The `train_`/`test_` prefix is
//! the official split; RAF-DB has no validation part, so the protocol must hold one out of
//! train_ (never test_). There are no identities: each image is its own subject.
//!
//! `Annotation/manual/<stem>_manual_attri.txt` (5 points: eyes, nose, mouth corners) and
//! `Annotation/auto/` (37 points) are ignored: neither is the 68-point markup the FLD task
//! needs; a manifest can name OpenFace output instead (`landmarks_openface_dir`).

use std::path::{Path, PathBuf};

use crate::availability::missing;
use crate::error::{DataError, Result};
use crate::formats::image_files::relative_id;
use crate::formats::image_folder::finish;
use crate::manifest::Manifest;
use crate::record::{Record, SplitHint};

/// The label list, relative to the root.
pub const LABEL_LIST: &str = "EmoLabel/list_patition_label.txt";
/// The folder of aligned faces, relative to the root.
pub const ALIGNED_DIR: &str = "Image/aligned";

/// Imports every labelled image of the list, in list order. A line that does not parse
/// (`<name>.jpg <label>`, a `train_`/`test_` name, a label the manifest maps) or that names an
/// image missing from `Image/aligned/` is a `DataError::Parse` naming the list and the line.
/// Images whose label maps to an expression outside the manifest's classes are left out.
pub fn import(root: &Path, manifest: &Manifest) -> Result<Vec<Record>> {
    let list = root.join(LABEL_LIST);
    if !list.is_file() {
        return Err(missing(
            manifest,
            root,
            format!("no file {LABEL_LIST} (the raf_db_basic layout)"),
        ));
    }
    let aligned = root.join(ALIGNED_DIR);
    let text = std::fs::read_to_string(&list).map_err(|e| DataError::io(&list, e))?;
    let mut records = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        let line_no = idx + 1;
        let line = line.trim_start_matches('\u{feff}').trim();
        if line.is_empty() {
            continue;
        }
        let Some(entry) = parse_line(&list, line_no, line, manifest)? else {
            continue;
        };
        let path = aligned.join(format!("{}_aligned.jpg", entry.stem));
        if !path.is_file() {
            return Err(DataError::parse(
                &list,
                line_no,
                format!(
                    "'{}' is listed, but its aligned face {} is missing",
                    entry.name,
                    path.display()
                ),
            ));
        }
        records.push(Record {
            id: relative_id(root, &path),
            path: Some(path),
            expression: entry.expression,
            subject: entry.stem,
            split_hint: Some(entry.split),
            landmarks: None,
        });
    }
    if records.is_empty() {
        return Err(missing(
            manifest,
            &list,
            "the label list names no image of the manifest's classes",
        ));
    }
    finish(root, manifest, records)
}

/// One parsed line of the label list.
struct ListEntry {
    /// As written: `train_00001.jpg`.
    name: String,
    /// `train_00001`.
    stem: String,
    split: SplitHint,
    expression: crate::Expression,
}

/// Parses `train_00001.jpg 5`; `None` when the label is a class the manifest does not use.
fn parse_line(
    list: &Path,
    line_no: usize,
    line: &str,
    manifest: &Manifest,
) -> Result<Option<ListEntry>> {
    let bad = |message: String| DataError::parse(PathBuf::from(list), line_no, message);
    let fields: Vec<&str> = line.split_whitespace().collect();
    let [name, label] = fields[..] else {
        return Err(bad(format!(
            "expected '<image>.jpg <label>', found '{line}'"
        )));
    };
    let stem = name
        .strip_suffix(".jpg")
        .ok_or_else(|| bad(format!("image name '{name}' does not end in .jpg")))?;
    let split = if stem.starts_with("train_") {
        SplitHint::Train
    } else if stem.starts_with("test_") {
        SplitHint::Test
    } else {
        return Err(bad(format!(
            "image name '{name}' starts with neither train_ nor test_ (the official split)"
        )));
    };
    let expression = manifest.expression_of(label).map_err(|_| {
        bad(format!(
            "label '{label}' is not in the manifest's label_map (RAF-DB labels are 1..7)"
        ))
    })?;
    if manifest.label_of(expression).is_none() {
        return Ok(None);
    }
    Ok(Some(ListEntry {
        name: name.to_string(),
        stem: stem.to_string(),
        split,
        expression,
    }))
}
