//! Generic image-folder importer: one sub-folder per class (named by an expression or by the
//! manifest's label map), the subject parsed from each file name by the manifest's regex (or,
//! without one, the file stem), and landmarks from an optional landmark CSV or folder of
//! OpenFace CSVs. CK+48 and SynthFER's written form use this layout; `image_folder_splits`
//! (FER2013) and `sfew2` reuse it below each split folder, and every folder importer ends with
//! `finish` (landmarks, expected count).

use std::path::{Path, PathBuf};

use crate::availability::missing;
use crate::error::{DataError, Result};
use crate::formats::image_files::{sorted_image_files, stem_of};
use crate::formats::landmark_csv::read_landmark_csv;
use crate::formats::openface_landmarks_dir::attach_openface_landmarks;
use crate::manifest::Manifest;
use crate::record::{Record, SplitHint};
use crate::Expression;

/// Imports every image under `root/<class>/` in a stable (sorted) order.
pub fn import(root: &Path, manifest: &Manifest) -> Result<Vec<Record>> {
    if !root.is_dir() {
        return Err(missing(manifest, root, "the folder does not exist"));
    }
    let subject_re = subject_regex(root, manifest)?;
    let records = import_class_folders(root, "", None, manifest, subject_re.as_ref())?;
    if records.is_empty() {
        return Err(DataError::MissingDataset {
            name: manifest.name.clone(),
            path: root.to_path_buf(),
            hint: "no images found in class folders (expected <root>/<class>/<image>.png)".into(),
        });
    }
    finish(root, manifest, records)
}

/// The manifest's subject regex, compiled.
pub(crate) fn subject_regex(root: &Path, manifest: &Manifest) -> Result<Option<regex::Regex>> {
    match &manifest.subject_regex {
        Some(r) => Ok(Some(regex::Regex::new(r).map_err(|e| {
            DataError::Manifest {
                path: manifest
                    .source
                    .clone()
                    .unwrap_or_else(|| root.to_path_buf()),
                message: format!("subject_regex: {e}"),
            }
        })?)),
        None => Ok(None),
    }
}

/// The class a folder name stands for, if it names one of the manifest's classes.
pub(crate) fn class_of_folder(manifest: &Manifest, folder: &str) -> Option<Expression> {
    let expression = manifest.expression_of(folder).ok()?;
    manifest.label_of(expression).map(|_| expression)
}

/// The folder names that count as class folders: the label map's keys and the class names.
pub(crate) fn class_folder_list(manifest: &Manifest) -> String {
    let mut names: Vec<String> = manifest
        .label_map
        .iter()
        .filter(|(_, e)| manifest.label_of(**e).is_some())
        .map(|(k, _)| format!("{k}/"))
        .collect();
    for c in &manifest.classes {
        let n = format!("{}/", c.name());
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names.join(", ")
}

/// Folders beside the class folders that the layout or the manifest itself accounts for: the
/// manifest's landmark folder or file, and SFEW 2.0's `Unlabelled/`.
fn is_known_other_folder(manifest: &Manifest, name: &str) -> bool {
    let first = |p: &Option<PathBuf>| {
        p.as_ref()
            .and_then(|p| p.components().next())
            .is_some_and(|c| c.as_os_str() == name)
    };
    first(&manifest.landmarks_openface_dir)
        || first(&manifest.landmarks_csv)
        || (manifest.format == crate::DatasetFormat::Sfew2 && name == "Unlabelled")
}

/// The sub-folders of `dir`, sorted by name.
pub(crate) fn sorted_subfolders(dir: &Path) -> Result<Vec<(String, PathBuf)>> {
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().to_string(), e.path()))
        .collect();
    out.sort();
    Ok(out)
}

/// Imports `dir/<class>/<image>`; ids are `<id_prefix><class>/<file>` (the path relative to the
/// dataset root when `id_prefix` is the path of `dir` below the root, with a trailing `/`).
pub(crate) fn import_class_folders(
    dir: &Path,
    id_prefix: &str,
    split_hint: Option<SplitHint>,
    manifest: &Manifest,
    subject_re: Option<&regex::Regex>,
) -> Result<Vec<Record>> {
    let mut records = Vec::new();
    let folders = sorted_subfolders(dir)?;
    // A folder that names no expression at all (a typo, `banana/`) is an error unless the
    // user chose to drop such folders; one naming an expression this manifest does not use
    // (contempt for 6-class runs) is left out as the class list says.
    let unknown: Vec<String> = folders
        .iter()
        .filter(|(name, _)| {
            !name.starts_with('.')
                && !is_known_other_folder(manifest, name)
                && manifest.expression_of(name).is_err()
        })
        .map(|(name, _)| format!("{name}/"))
        .collect();
    if !unknown.is_empty() && !manifest.ignore_unknown_classes {
        return Err(DataError::Manifest {
            path: dir.to_path_buf(),
            message: format!(
                "folders that name no class: {} (class folders: {}); rename or remove them, or \
                 drop them knowingly with ignore_unknown_classes: true in the manifest (or \
                 --ignore-unknown-classes)",
                unknown.join(", "),
                class_folder_list(manifest)
            ),
        });
    }
    for (folder, folder_path) in folders {
        let Some(expression) = class_of_folder(manifest, &folder) else {
            continue;
        };
        for path in sorted_image_files(&folder_path)? {
            let id = format!(
                "{id_prefix}{folder}/{}",
                path.file_name()
                    .map(|f| f.to_string_lossy())
                    .unwrap_or_default()
            );
            let stem = stem_of(&path);
            let subject = match subject_re {
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
                // Without a regex there is no identity information: each image is its own
                // subject, named by its file stem (e.g. FER2013's `Training_10118481`). Images
                // that share a stem share a subject (FER2013 has two such pairs of different
                // images, in train/), which only makes subject-exclusive folds stricter.
                None => stem,
            };
            records.push(Record {
                id,
                path: Some(path),
                expression,
                subject,
                split_hint,
                landmarks: None,
            });
        }
    }
    Ok(records)
}

/// Attaches landmarks from the manifest's landmark CSV or OpenFace folder (either, when named,
/// is the landmark source: records it has nothing for get none) and checks the expected count.
pub(crate) fn finish(
    root: &Path,
    manifest: &Manifest,
    mut records: Vec<Record>,
) -> Result<Vec<Record>> {
    // Landmarks are looked up by the image's path relative to the root.
    if let Some(rel) = &manifest.landmarks_csv {
        let map = read_landmark_csv(&root.join(rel))?;
        for r in records.iter_mut() {
            r.landmarks = map.get(&r.id).copied().flatten();
        }
    }
    if let Some(rel) = &manifest.landmarks_openface_dir {
        attach_openface_landmarks(&root.join(rel), &mut records)?;
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
