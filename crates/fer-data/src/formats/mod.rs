//! Importers, one per native dataset layout (ARCHITECTURE.md "fer-data", `formats::*`): each turns
//! a folder into `Vec<Record>` with `fn import(root, &Manifest)`. Image folders, RAF-DB basic and
//! the FER2013 CSV load straight into a `FaceDataset`; SFEW 2.0, CK+ original and Oulu-CASIA are
//! raw frames that the prepare step (`cargo xtask prepare`, face detection and alignment, paper
//! 4.3) reads through `import_records` first.

pub mod ckplus_original;
pub mod fer2013_csv;
pub mod image_files;
pub mod image_folder;
pub mod image_folder_splits;
pub mod landmark_csv;
pub mod openface_csv;
pub mod openface_landmarks_dir;
pub mod oulu_casia;
pub mod prepared_cache;
pub mod raf_db_basic;
pub mod record_image_loader;
pub mod sfew2;

use std::path::Path;

pub use record_image_loader::{record_image_loader, RecordImageLoader};

use crate::error::{DataError, Result};
use crate::manifest::{DatasetFormat, Manifest};
use crate::record::Record;

/// The records of the dataset a manifest describes, for the steps that work on records (the
/// prepare step): the availability check first (`root` overrides the manifest's root, as
/// `--data-root`), then the layout's importer. Raw-frame layouts are imported as they are here;
/// only `FaceDataset::load` refuses them unprepared. SynthFER has no records on disk.
pub fn import_records(manifest: &Manifest, root: Option<&Path>) -> Result<Vec<Record>> {
    let root = manifest.check_available(root)?.ok_or_else(|| {
        DataError::Config(format!(
            "dataset '{}' ({}) lives in memory: it has no records on disk to import",
            manifest.name,
            manifest.format.name()
        ))
    })?;
    import_from(&root, manifest)
}

/// Runs the importer of the manifest's layout on `root` (no availability check).
pub fn import_from(root: &Path, manifest: &Manifest) -> Result<Vec<Record>> {
    match manifest.format {
        DatasetFormat::ImageFolder => image_folder::import(root, manifest),
        DatasetFormat::ImageFolderSplits => image_folder_splits::import(root, manifest),
        DatasetFormat::RafDbBasic => raf_db_basic::import(root, manifest),
        DatasetFormat::Sfew2 => sfew2::import(root, manifest),
        DatasetFormat::CkplusOriginal => ckplus_original::import(root, manifest),
        DatasetFormat::OuluCasia => oulu_casia::import(root, manifest),
        DatasetFormat::Fer2013Csv => fer2013_csv::import(root, manifest),
        DatasetFormat::Prepared => prepared_cache::import(root, manifest),
        DatasetFormat::Synthetic => Err(DataError::Config(format!(
            "dataset '{}' (synthetic) is rendered in memory: it has no importer from files",
            manifest.name
        ))),
    }
}
