//! fer-face: the face pipeline of paper 4.3 (ARCHITECTURE.md "fer-face"). Detect the face
//! (MTCNN, Zhang et al. 2016), label 68 landmarks (dlib's ensemble of regression trees, Kazemi
//! and Sullivan 2014, standing in for the paper's OpenFace 2.0) and align the face by three
//! points to 100x100.
//!
//! Each stage is its own module with typed inputs and outputs so that it can run and be
//! tested alone; `xtask prepare` chains them.
//!
//! From fer-data it takes records, manifests and landmarks, and the prepared cache's format
//! (`PreparedSample`, with its `FaceBox`), which fer-data's `prepared_cache` importer reads back.

pub mod align;
pub mod dlib_box_mapping;
pub mod dlib_landmarker;
pub mod error;
pub mod ert;
pub mod face_detection;
pub mod face_detector;
pub mod fallback_box;
pub mod landmark_predictor;
pub mod mtcnn;
pub mod photo_faces;
pub mod prepare;

/// The face box every stage passes on; it lives in fer-data because the prepared cache stores it.
pub use fer_data::face_box;

pub use error::{FaceError, Result};
pub use face_box::FaceBox;
pub use face_detection::FaceDetection;
pub use face_detector::FaceDetector;
pub use fallback_box::FallbackBox;
pub use landmark_predictor::LandmarkPredictor;
