//! Importers, one per native dataset layout: each turns a folder into `Vec<Record>`.

pub mod image_folder;
pub mod landmark_csv;
