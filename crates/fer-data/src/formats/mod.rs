//! Importers, one per native dataset layout: each turns a folder into `Vec<Record>`.
//! RAF-DB basic, SFEW 2.0, CK+ original and Oulu-CASIA have manifests and availability checks
//! but no importer yet: the face-pipeline issue adds them (with face
//! detection and alignment, paper 4.2).

pub mod image_folder;
pub mod image_folder_splits;
pub mod landmark_csv;
pub mod prepared_cache;
