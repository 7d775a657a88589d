//! FER2013 in its canonical single-CSV form (`fer2013.csv`, header `emotion,pixels,Usage`):
//! each row holds its label (0 angry 1 disgust 2 fear 3 happy 4 sad 5 surprise 6 neutral,
//! named by the manifest's `label_map`), its 48x48 gray face as 2304 space-separated values
//! in row-major order, and its usage (Training / PublicTest / PrivateTest -> the train /
//! validation / test split hint). Not one of the paper's four datasets (paper 4.1); a large
//! in-the-wild set for FER-only baselines. Rows have no image file, so `read_rows` decodes the
//! pixels and `FaceDataset::load` builds the samples from them (`FaceDataset::from_images`);
//! no identities, so each row is its own subject. The image-folder form of the same data is
//! `image_folder_splits`.

use rayon::prelude::*;
use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};
use crate::manifest::Manifest;
use crate::record::{Record, SplitHint};

/// The CSV's name inside a root folder.
pub const CSV_NAME: &str = "fer2013.csv";
/// Side of FER2013's images.
pub const SIDE: u32 = 48;

/// The CSV a root stands for: the root itself when it is a file, else `<root>/fer2013.csv`.
pub fn csv_path(root: &Path) -> PathBuf {
    if root.is_file() {
        root.to_path_buf()
    } else {
        root.join(CSV_NAME)
    }
}

/// The split of a `Usage` value.
pub fn split_of_usage(usage: &str) -> Option<SplitHint> {
    match usage {
        "Training" => Some(SplitHint::Train),
        "PublicTest" => Some(SplitHint::Validation),
        "PrivateTest" => Some(SplitHint::Test),
        _ => None,
    }
}

/// The records of the CSV (`path` is `None`: the pixels live in the file), for the steps that
/// need no pixels. Ids are `fer2013.csv:<line>`.
pub fn import(root: &Path, manifest: &Manifest) -> Result<Vec<Record>> {
    Ok(read_rows(&csv_path(root), manifest)?
        .into_iter()
        .map(|(r, _)| r)
        .collect())
}

/// Reads every row with its decoded 48x48 image, in file order. Columns are found by name
/// (trimmed), so their order does not matter; `Usage` may be absent (no split hints then).
/// A row with the wrong number of fields, a label the manifest does not map, a pixel count
/// other than 2304, a value outside 0..=255 or an unknown usage is a `DataError::Parse` naming
/// the file and line. Rows whose label maps outside the manifest's classes are left out; a file
/// without rows is an error too. The manifest's `expected_count` is checked.
pub fn read_rows(path: &Path, manifest: &Manifest) -> Result<Vec<(Record, image::GrayImage)>> {
    let text = std::fs::read_to_string(path).map_err(|e| DataError::io(path, e))?;
    let mut lines = text.lines().enumerate();
    let Some((_, header)) = lines.next() else {
        return Err(DataError::parse(
            path,
            1,
            "empty file, expected the header emotion,pixels,Usage",
        ));
    };
    let columns: Vec<&str> = header
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(|c| c.trim().trim_matches('"'))
        .collect();
    let find = |name: &str| columns.iter().position(|c| c.eq_ignore_ascii_case(name));
    let (Some(emotion_col), Some(pixels_col)) = (find("emotion"), find("pixels")) else {
        return Err(DataError::parse(
            path,
            1,
            format!(
                "header '{}' lacks `emotion` or `pixels` (expected emotion,pixels,Usage)",
                header.trim()
            ),
        ));
    };
    let columns = Columns {
        count: columns.len(),
        emotion: emotion_col,
        pixels: pixels_col,
        usage: find("usage"),
    };
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_else(|| CSV_NAME.to_string());
    let rows: Vec<(usize, &str)> = lines
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    // 35,887 rows of 2,304 numbers: parse in parallel, then report the first bad row in file
    // order, so the error does not depend on thread timing.
    let parsed: Vec<Result<Option<(Record, image::GrayImage)>>> = rows
        .par_iter()
        .map(|&(line_no, line)| parse_row(path, &file, line_no, line, &columns, manifest))
        .collect();
    let mut out = Vec::with_capacity(parsed.len());
    for row in parsed {
        if let Some(row) = row? {
            out.push(row);
        }
    }
    if out.is_empty() {
        return Err(DataError::MissingDataset {
            name: manifest.name.clone(),
            path: path.to_path_buf(),
            hint: "the CSV has no row of the manifest's classes".into(),
        });
    }
    if let Some(n) = manifest.expected_count {
        if n != out.len() {
            return Err(DataError::Manifest {
                path: path.to_path_buf(),
                message: format!(
                    "expected {n} rows for '{}', found {}: is the file complete?",
                    manifest.name,
                    out.len()
                ),
            });
        }
    }
    Ok(out)
}

/// Where the needed columns are.
struct Columns {
    count: usize,
    emotion: usize,
    pixels: usize,
    usage: Option<usize>,
}

fn parse_row(
    path: &Path,
    file: &str,
    line_no: usize,
    line: &str,
    columns: &Columns,
    manifest: &Manifest,
) -> Result<Option<(Record, image::GrayImage)>> {
    let bad = |message: String| DataError::parse(path, line_no, message);
    let fields: Vec<&str> = line
        .split(',')
        .map(|f| f.trim().trim_matches('"'))
        .collect();
    if fields.len() != columns.count {
        return Err(bad(format!(
            "{} fields, the header has {}",
            fields.len(),
            columns.count
        )));
    }
    let label = fields[columns.emotion];
    let expression = manifest.expression_of(label).map_err(|_| {
        bad(format!(
            "emotion '{label}' is not in the manifest's label_map (FER2013 labels are 0..6)"
        ))
    })?;
    if manifest.label_of(expression).is_none() {
        return Ok(None);
    }
    let split_hint = match columns.usage {
        Some(c) => Some(split_of_usage(fields[c]).ok_or_else(|| {
            bad(format!(
                "usage '{}' is none of Training, PublicTest, PrivateTest",
                fields[c]
            ))
        })?),
        None => None,
    };
    let mut pixels = Vec::with_capacity((SIDE * SIDE) as usize);
    for v in fields[columns.pixels].split_whitespace() {
        let p = v.parse::<u8>().map_err(|_| {
            bad(format!(
                "pixel {} is '{v}', expected a gray value 0..=255",
                pixels.len()
            ))
        })?;
        pixels.push(p);
    }
    if pixels.len() != (SIDE * SIDE) as usize {
        return Err(bad(format!(
            "{} pixel values, expected {} (48x48)",
            pixels.len(),
            SIDE * SIDE
        )));
    }
    let image = image::GrayImage::from_raw(SIDE, SIDE, pixels)
        .ok_or_else(|| bad("pixels do not fill a 48x48 image".into()))?;
    let id = format!("{file}:{line_no}");
    Ok(Some((
        Record {
            id: id.clone(),
            path: None,
            expression,
            subject: id,
            split_hint,
            landmarks: None,
        },
        image,
    )))
}
