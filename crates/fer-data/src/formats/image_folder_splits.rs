//! Image folders split by the dataset's own usage: `<root>/<split>/<class>/<image>`, the
//! image-folder form of FER2013 (its CSV's `Usage` column: Training -> `train/`,
//! PublicTest -> `validation/`, PrivateTest -> `test/`). The split folder becomes each record's
//! split hint, which the `official` protocol (paper 4.1 for the datasets with a fixed split)
//! turns into the train / validation / test split.

use std::path::{Path, PathBuf};

use crate::availability::missing;
use crate::error::{DataError, Result};
use crate::formats::image_folder::{
    class_folder_list, class_of_folder, finish, import_class_folders, sorted_subfolders,
    subject_regex,
};
use crate::manifest::Manifest;
use crate::record::{Record, SplitHint};

/// The three splits, in the order their folders are imported.
pub const SPLITS: [SplitHint; 3] = [SplitHint::Train, SplitHint::Validation, SplitHint::Test];

/// The split a top-level folder stands for (case-insensitive). FER2013's usage names are
/// accepted too, because dumps of its CSV often name the folders after them.
pub fn split_of_folder(name: &str) -> Option<SplitHint> {
    match name.to_ascii_lowercase().as_str() {
        "train" | "training" => Some(SplitHint::Train),
        "validation" | "val" | "valid" | "publictest" => Some(SplitHint::Validation),
        "test" | "privatetest" => Some(SplitHint::Test),
        _ => None,
    }
}

/// The folder names `split_of_folder` accepts for a split, for messages.
pub fn folder_names(split: SplitHint) -> &'static str {
    match split {
        SplitHint::Train => "train/ (or training/)",
        SplitHint::Validation => "validation/ (or val/, valid/, PublicTest/)",
        SplitHint::Test => "test/ (or PrivateTest/)",
    }
}

/// The folder of each split under `root`, in `SPLITS` order. A missing split, or a split
/// with no class folder inside, is a `DatasetMissing` error naming what was expected; two
/// folders for one split (e.g. `val/` and `validation/`) are ambiguous and refused.
pub fn split_folders(root: &Path, manifest: &Manifest) -> Result<Vec<(SplitHint, PathBuf)>> {
    if !root.is_dir() {
        return Err(missing(manifest, root, "the folder does not exist"));
    }
    let mut found: Vec<(SplitHint, String, PathBuf)> = Vec::new();
    for (name, path) in sorted_subfolders(root)? {
        let Some(split) = split_of_folder(&name) else {
            continue; // other folders (a cache, a README folder) are not data
        };
        if let Some((_, other, _)) = found.iter().find(|(s, _, _)| *s == split) {
            return Err(DataError::Config(format!(
                "{}: both {other}/ and {name}/ look like the {} split; keep one",
                root.display(),
                split_name(split)
            )));
        }
        found.push((split, name, path));
    }
    let mut out = Vec::with_capacity(SPLITS.len());
    for split in SPLITS {
        let Some((_, _, path)) = found.iter().find(|(s, _, _)| *s == split) else {
            return Err(missing(
                manifest,
                root,
                format!(
                    "no {} folder for the {} split",
                    folder_names(split),
                    split_name(split)
                ),
            ));
        };
        let has_class = sorted_subfolders(path)?
            .iter()
            .any(|(name, _)| class_of_folder(manifest, name).is_some());
        if !has_class {
            return Err(missing(
                manifest,
                path,
                format!("no class folder (one of {})", class_folder_list(manifest)),
            ));
        }
        out.push((split, path.clone()));
    }
    Ok(out)
}

/// Imports every image under `root/<split>/<class>/`, splits in train, validation, test order,
/// each in a stable (sorted) order. Ids are paths relative to the root
/// (`train/angry/Training_10118481.jpg`), which is also how a landmark CSV names them.
pub fn import(root: &Path, manifest: &Manifest) -> Result<Vec<Record>> {
    let folders = split_folders(root, manifest)?;
    let subject_re = subject_regex(root, manifest)?;
    let mut records = Vec::new();
    for (split, dir) in folders {
        let prefix = format!(
            "{}/",
            dir.file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default()
        );
        let part = import_class_folders(&dir, &prefix, Some(split), manifest, subject_re.as_ref())?;
        if part.is_empty() {
            return Err(missing(
                manifest,
                &dir,
                "no images in its class folders (expected <split>/<class>/<image>.jpg)",
            ));
        }
        records.extend(part);
    }
    finish(root, manifest, records)
}

fn split_name(split: SplitHint) -> &'static str {
    match split {
        SplitHint::Train => "training",
        SplitHint::Validation => "validation",
        SplitHint::Test => "test",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_names_map_to_splits() {
        assert_eq!(split_of_folder("train"), Some(SplitHint::Train));
        assert_eq!(split_of_folder("PublicTest"), Some(SplitHint::Validation));
        assert_eq!(split_of_folder("PrivateTest"), Some(SplitHint::Test));
        assert_eq!(split_of_folder("Validation"), Some(SplitHint::Validation));
        assert_eq!(split_of_folder("cache"), None);
    }
}
