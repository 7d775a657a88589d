//! The availability check that runs before any run starts: is the dataset a manifest describes
//! (paper 4.1: RAF-DB, SFEW 2.0, CK+, Oulu-CASIA; also FER2013 and image folders) on this
//! machine, where, and in the layout its importer expects (the entries each `formats::*`
//! importer needs)? It fails in seconds with a message
//! saying how to obtain the data and where to put it, instead of failing deep inside an import
//! or, worse, after a run directory has been made.

use std::path::{Path, PathBuf};

use crate::error::{DataError, DatasetMissingInfo, Result};
use crate::formats::fer2013_csv;
use crate::formats::image_folder::{class_folder_list, class_of_folder, sorted_subfolders};
use crate::formats::image_folder_splits::split_folders;
use crate::manifest::{DatasetFormat, Manifest};

/// An entry of a native layout that must exist below the root.
enum Entry {
    Dir(&'static str),
    File(&'static str),
}

/// The key entries of the native layouts (RAF-DB, SFEW 2.0, CK+, Oulu-CASIA): enough to tell
/// a wrong folder (or a half-extracted archive) from the right one.
fn key_entries(format: &DatasetFormat) -> &'static [Entry] {
    match format {
        DatasetFormat::RafDbBasic => &[
            Entry::File("EmoLabel/list_patition_label.txt"),
            Entry::Dir("Image/aligned"),
        ],
        DatasetFormat::Sfew2 => &[Entry::Dir("Train"), Entry::Dir("Val")],
        // `Landmarks/` is optional: the paper's landmarks come from a detector (OpenFace).
        DatasetFormat::CkplusOriginal => &[Entry::Dir("cohn-kanade-images"), Entry::Dir("Emotion")],
        DatasetFormat::OuluCasia => &[Entry::Dir("VL/Strong")],
        DatasetFormat::Prepared => &[Entry::File("samples.csv"), Entry::Dir("images")],
        // Checked by their own rules in `check_available`.
        DatasetFormat::Synthetic
        | DatasetFormat::ImageFolder
        | DatasetFormat::ImageFolderSplits
        | DatasetFormat::Fer2013Csv => &[],
    }
}

/// The `DatasetMissing` error for `manifest`, having looked in `looked_in`.
pub(crate) fn missing(manifest: &Manifest, looked_in: &Path, what: impl Into<String>) -> DataError {
    DataError::DatasetMissing(Box::new(DatasetMissingInfo {
        manifest: manifest.source.clone(),
        name: manifest.name.clone(),
        looked_in: Some(looked_in.to_path_buf()),
        missing: what.into(),
        env_var: manifest.root_env.clone(),
        obtain: manifest.obtain.clone(),
    }))
}

impl Manifest {
    /// Where the data should be: `root_override` (the `--data-root` flag) if given, else the
    /// `root_env` variable if set, else `root`, a relative `root` taken from the folder above
    /// the manifest's folder (the workspace root for `data-manifests/*.yaml`) when the manifest
    /// was read from a file. `None` when nothing says where.
    pub fn root_candidate(&self, root_override: Option<&Path>) -> Option<PathBuf> {
        if let Some(r) = root_override {
            return Some(r.to_path_buf());
        }
        if let Some(var) = &self.root_env {
            if let Some(v) = std::env::var_os(var) {
                return Some(PathBuf::from(v));
            }
        }
        let root = self.root.as_ref()?;
        if root.is_absolute() {
            return Some(root.clone());
        }
        let base = self
            .source
            .as_deref()
            .and_then(Path::parent)
            .and_then(Path::parent);
        Some(match base {
            Some(b) => b.join(root),
            None => root.clone(),
        })
    }

    /// Checks that the dataset is on this machine before a run starts: the root exists and so
    /// do the key entries of its layout (a class folder for `image_folder`; the three split
    /// folders, each with a class folder, for `image_folder_splits`; the label list and
    /// `Image/aligned` for RAF-DB; `Train`/`Val` for SFEW 2.0; `cohn-kanade-images` and
    /// `Emotion` for CK+; `VL/Strong` for Oulu-CASIA; for the FER2013 CSV, the root is the CSV
    /// file or a folder holding `fer2013.csv`; the landmark CSV or OpenFace folder when one is
    /// named).
    ///
    /// Returns the resolved root, or `None` for SynthFER (rendered in memory, always there).
    /// The error (`DataError::DatasetMissing`) names the manifest, the path looked in, the
    /// environment variable and flag that move it, and the manifest's `obtain` text.
    pub fn check_available(&self, root_override: Option<&Path>) -> Result<Option<PathBuf>> {
        if !self.format.is_on_disk() {
            return Ok(None);
        }
        let Some(root) = self.root_candidate(root_override) else {
            let missing = match &self.root_env {
                Some(var) => format!("the manifest has no `root` and {var} is not set"),
                None => "the manifest has no `root`".to_string(),
            };
            return Err(DataError::DatasetMissing(Box::new(DatasetMissingInfo {
                manifest: self.source.clone(),
                name: self.name.clone(),
                looked_in: None,
                missing,
                env_var: self.root_env.clone(),
                obtain: self.obtain.clone(),
            })));
        };
        if self.format == DatasetFormat::Fer2013Csv {
            // The root may name the CSV itself.
            let csv = fer2013_csv::csv_path(&root);
            if !csv.is_file() {
                let what = if root.is_dir() {
                    format!("no file {} in the folder", fer2013_csv::CSV_NAME)
                } else {
                    format!(
                        "neither the CSV file nor a folder holding {} exists",
                        fer2013_csv::CSV_NAME
                    )
                };
                return Err(missing(self, &root, what));
            }
            return Ok(Some(root));
        }
        if !root.is_dir() {
            return Err(missing(self, &root, "the folder does not exist"));
        }
        match self.format {
            DatasetFormat::ImageFolder => {
                let has_class = sorted_subfolders(&root)?
                    .iter()
                    .any(|(name, _)| class_of_folder(self, name).is_some());
                if !has_class {
                    return Err(missing(
                        self,
                        &root,
                        format!("no class folder (one of {})", class_folder_list(self)),
                    ));
                }
            }
            DatasetFormat::ImageFolderSplits => {
                split_folders(&root, self)?;
            }
            _ => {
                for entry in key_entries(&self.format) {
                    let (rel, ok) = match entry {
                        Entry::Dir(rel) => (rel, root.join(rel).is_dir()),
                        Entry::File(rel) => (rel, root.join(rel).is_file()),
                    };
                    if !ok {
                        let kind = if matches!(entry, Entry::Dir(_)) {
                            "folder"
                        } else {
                            "file"
                        };
                        return Err(missing(
                            self,
                            &root,
                            format!("no {kind} {rel} (the {} layout)", self.format.name()),
                        ));
                    }
                }
            }
        }
        if let Some(rel) = &self.landmarks_csv {
            if !root.join(rel).is_file() {
                return Err(missing(
                    self,
                    &root,
                    format!(
                        "no landmark file {} (named by `landmarks_csv`)",
                        rel.display()
                    ),
                ));
            }
        }
        if let Some(rel) = &self.landmarks_openface_dir {
            if !root.join(rel).is_dir() {
                return Err(missing(
                    self,
                    &root,
                    format!(
                        "no OpenFace folder {} (named by `landmarks_openface_dir`)",
                        rel.display()
                    ),
                ));
            }
        }
        Ok(Some(root))
    }
}
