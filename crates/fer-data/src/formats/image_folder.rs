//! Generic image-folder importer: one sub-folder per class (named by an expression or by the
//! manifest's label map), the subject parsed from each file name by the manifest's regex, and
//! landmarks from an optional landmark CSV. CK+48 and SynthFER's written form use this layout.

use std::path::Path;

use crate::error::{DataError, Result};
use crate::formats::landmark_csv::read_landmark_csv;
use crate::manifest::Manifest;
use crate::record::Record;

const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "bmp", "tiff"];

/// Imports every image under `root/<class>/` in a stable (sorted) order.
pub fn import(root: &Path, manifest: &Manifest) -> Result<Vec<Record>> {
    if !root.is_dir() {
        return Err(DataError::MissingDataset {
            name: manifest.name.clone(),
            path: root.to_path_buf(),
            hint: if manifest.obtain.is_empty() {
                "the folder does not exist".into()
            } else {
                manifest.obtain.clone()
            },
        });
    }
    let subject_re = match &manifest.subject_regex {
        Some(r) => Some(regex::Regex::new(r).map_err(|e| DataError::Manifest {
            path: root.to_path_buf(),
            message: format!("subject_regex: {e}"),
        })?),
        None => None,
    };
    let mut class_dirs: Vec<_> = std::fs::read_dir(root)
        .map_err(|e| DataError::io(root, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .collect();
    class_dirs.sort_by_key(|e| e.file_name());

    let mut records = Vec::new();
    for dir in class_dirs {
        let folder = dir.file_name().to_string_lossy().to_string();
        let Ok(expression) = manifest.expression_of(&folder) else {
            // Folders that are no class (e.g. a cache) are skipped, not guessed at.
            continue;
        };
        if manifest.label_of(expression).is_none() {
            continue; // a class this manifest does not use (e.g. contempt for 6-class runs)
        }
        let mut files: Vec<_> = std::fs::read_dir(dir.path())
            .map_err(|e| DataError::io(dir.path(), e))?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| {
                p.extension()
                    .and_then(|x| x.to_str())
                    .is_some_and(|x| IMAGE_EXTENSIONS.contains(&x.to_ascii_lowercase().as_str()))
            })
            .collect();
        files.sort();
        for path in files {
            let id = format!(
                "{folder}/{}",
                path.file_name()
                    .map(|f| f.to_string_lossy())
                    .unwrap_or_default()
            );
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            let subject = match &subject_re {
                Some(re) => {
                    let caps = re.captures(&stem).ok_or_else(|| DataError::Manifest {
                        path: path.clone(),
                        message: format!(
                            "file name '{stem}' does not match subject_regex '{}'",
                            re.as_str()
                        ),
                    })?;
                    caps.name("subject")
                        .or_else(|| caps.get(1))
                        .or_else(|| caps.get(0))
                        .map(|m| m.as_str().to_string())
                        .unwrap_or_default()
                }
                // Without a regex every image is its own subject (no identity information).
                None => id.clone(),
            };
            records.push(Record {
                id,
                path: Some(path),
                expression,
                subject,
                split_hint: None,
                landmarks: None,
            });
        }
    }
    if records.is_empty() {
        return Err(DataError::MissingDataset {
            name: manifest.name.clone(),
            path: root.to_path_buf(),
            hint: "no images found in class folders (expected <root>/<class>/<image>.png)".into(),
        });
    }
    // Landmarks are looked up by the image's path relative to the root.
    if let Some(rel) = &manifest.landmarks_csv {
        let map = read_landmark_csv(&root.join(rel))?;
        for r in records.iter_mut() {
            r.landmarks = map.get(&r.id).copied().flatten();
        }
    }
    if let Some(n) = manifest.expected_count {
        if n != records.len() {
            return Err(DataError::Manifest {
                path: root.to_path_buf(),
                message: format!(
                    "expected {n} images for '{}', found {}: is the copy complete?",
                    manifest.name,
                    records.len()
                ),
            });
        }
    }
    Ok(records)
}
