//! CK+ as its authors distribute it (paper 4.1): frames in
//! `cohn-kanade-images/Sxxx/yyy/Sxxx_yyy_zzzzzzzz.png`, one emotion code per labelled sequence
//! in `Emotion/Sxxx/yyy/Sxxx_yyy_zzzzzzzz_emotion.txt` (a float such as `   3.0000000e+00`;
//! 0 neutral 1 anger 2 contempt 3 disgust 4 fear 5 happy 6 sadness 7 surprise, named by the
//! manifest's `label_map`), and CK+'s own 68-point markup (AAM-tracked, the iBUG order) in
//! `Landmarks/Sxxx/yyy/Sxxx_yyy_zzzzzzzz_landmarks.txt` (68 lines of `x y`), attached to the
//! frame's record when present. As the paper (after Cai et al.), the last three frames of each
//! of the 327 labelled sequences are taken (981 images); subject = `Sxxx`. The frames are raw
//! 640x490: `cargo xtask prepare` detects and aligns them (paper 4.3) before training.

use std::path::{Path, PathBuf};

use crate::availability::missing;
use crate::error::{DataError, Result};
use crate::formats::image_files::{
    last_frames, relative_id, sorted_image_files, stem_of, LAST_FRAMES,
};
use crate::formats::image_folder::{finish, sorted_subfolders};
use crate::manifest::Manifest;
use crate::record::Record;
use crate::{Expression, Landmarks68, NUM_LANDMARKS};

pub const IMAGES_DIR: &str = "cohn-kanade-images";
pub const EMOTION_DIR: &str = "Emotion";
pub const LANDMARKS_DIR: &str = "Landmarks";

/// Imports the last three frames of every sequence that `Emotion/` labels, subjects and
/// sequences in sorted order. A labelled sequence whose frames are missing is an error naming
/// the folder; an emotion or landmark file that does not parse is a `DataError::Parse` naming
/// the file and line. Sequences whose code maps to an expression outside the manifest's classes
/// (neutral, for the 7-class list) are left out.
pub fn import(root: &Path, manifest: &Manifest) -> Result<Vec<Record>> {
    for dir in [IMAGES_DIR, EMOTION_DIR] {
        if !root.join(dir).is_dir() {
            return Err(missing(
                manifest,
                root,
                format!("no folder {dir} (the ckplus_original layout)"),
            ));
        }
    }
    let emotion_root = root.join(EMOTION_DIR);
    let mut records = Vec::new();
    for (subject, subject_dir) in sorted_subfolders(&emotion_root)? {
        for (sequence, sequence_dir) in sorted_subfolders(&subject_dir)? {
            let Some(emotion_file) = emotion_file(&sequence_dir)? else {
                continue; // an unlabelled sequence (266 of the 593)
            };
            let expression = read_emotion(&emotion_file, manifest)?;
            if manifest.label_of(expression).is_none() {
                continue;
            }
            let frames_dir = root.join(IMAGES_DIR).join(&subject).join(&sequence);
            let frames = if frames_dir.is_dir() {
                sorted_image_files(&frames_dir)?
            } else {
                Vec::new()
            };
            if frames.is_empty() {
                return Err(missing(
                    manifest,
                    &frames_dir,
                    format!(
                        "no frames for the sequence that {} labels",
                        emotion_file.display()
                    ),
                ));
            }
            for path in last_frames(&frames, LAST_FRAMES) {
                let landmarks_file = root
                    .join(LANDMARKS_DIR)
                    .join(&subject)
                    .join(&sequence)
                    .join(format!("{}_landmarks.txt", stem_of(path)));
                let landmarks = if landmarks_file.is_file() {
                    Some(read_ckplus_landmarks(&landmarks_file)?)
                } else {
                    None
                };
                records.push(Record {
                    id: relative_id(root, path),
                    path: Some(path.clone()),
                    expression,
                    subject: subject.clone(),
                    split_hint: None,
                    landmarks,
                });
            }
        }
    }
    if records.is_empty() {
        return Err(missing(
            manifest,
            &emotion_root,
            "no labelled sequence (expected Sxxx/yyy/Sxxx_yyy_zzzzzzzz_emotion.txt files)",
        ));
    }
    finish(root, manifest, records)
}

/// The sequence's `*_emotion.txt`, if it has one; two are ambiguous and refused.
fn emotion_file(sequence_dir: &Path) -> Result<Option<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(sequence_dir)
        .map_err(|e| DataError::io(sequence_dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|n| n.to_string_lossy().ends_with("_emotion.txt"))
        })
        .collect();
    files.sort();
    match files.len() {
        0 => Ok(None),
        1 => Ok(files.pop()),
        _ => Err(DataError::Config(format!(
            "{}: {} emotion files for one sequence; keep one",
            sequence_dir.display(),
            files.len()
        ))),
    }
}

/// The expression of an emotion file: one whole-number float, a code of the label map.
pub fn read_emotion(path: &Path, manifest: &Manifest) -> Result<Expression> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let mut values = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let Some((idx, value)) = values.next() else {
        return Err(DataError::parse(
            path,
            1,
            "empty emotion file, expected one code such as 3.0000000e+00",
        ));
    };
    let line_no = idx + 1;
    if let Some((extra, _)) = values.next() {
        return Err(DataError::parse(
            path,
            extra + 1,
            "more than one value, expected one emotion code",
        ));
    }
    let value = value.trim();
    let code = value
        .parse::<f64>()
        .ok()
        .filter(|v| v.fract() == 0.0 && *v >= 0.0)
        .ok_or_else(|| {
            DataError::parse(
                path,
                line_no,
                format!("'{value}' is not an emotion code (a whole number such as 3.0000000e+00)"),
            )
        })?;
    let code = format!("{}", code as u64);
    manifest.expression_of(&code).map_err(|_| {
        DataError::parse(
            path,
            line_no,
            format!("emotion code {code} is not in the manifest's label_map (CK+ codes are 0..7)"),
        )
    })
}

/// CK+'s own landmark file: 68 lines of `x y` in the frame's pixel coordinates. They are taken
/// as written: CK+'s README does not say whether its AAM points count pixels from 0 or (as
/// MATLAB would) from 1, so they may sit up to one pixel off the pixel-index convention
/// (ARCHITECTURE.md "Conventions").
pub fn read_ckplus_landmarks(path: &Path) -> Result<Landmarks68> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let mut points = [[0.0f32; 2]; NUM_LANDMARKS];
    let mut n = 0;
    let mut last_line = 0;
    for (idx, line) in text.lines().enumerate() {
        let line_no = idx + 1;
        if line.trim().is_empty() {
            continue;
        }
        last_line = line_no;
        if n == NUM_LANDMARKS {
            return Err(DataError::parse(
                path,
                line_no,
                format!("more than {NUM_LANDMARKS} points"),
            ));
        }
        let values: Vec<f32> = line
            .split_whitespace()
            .map(|v| v.parse::<f32>())
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| {
                DataError::parse(
                    path,
                    line_no,
                    format!("'{}' is not two numbers", line.trim()),
                )
            })?;
        let [x, y] = values[..] else {
            return Err(DataError::parse(
                path,
                line_no,
                format!("{} values, expected `x y`", values.len()),
            ));
        };
        points[n] = [x, y];
        n += 1;
    }
    if n != NUM_LANDMARKS {
        return Err(DataError::parse(
            path,
            last_line.max(1),
            format!("{n} points, expected {NUM_LANDMARKS}"),
        ));
    }
    Ok(Landmarks68::new(points))
}
