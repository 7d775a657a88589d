//! The face pipeline of paper 4.3: detect the face (MTCNN, Zhang et al. 2016), label 68
//! landmarks (dlib's ensemble of regression trees, Kazemi and Sullivan 2014, standing in for
//! the paper's OpenFace 2.0) and align the face by three points to 100x100.
//!
//! Each stage is its own module with typed inputs and outputs so that it can run and be
//! tested alone; `xtask prepare` chains them.

pub mod align;
pub mod dlib_box_mapping;
pub mod dlib_landmarker;
pub mod ert;
pub mod face_box;
pub mod face_detection;
pub mod face_detector;
pub mod fallback_box;
pub mod landmark_predictor;
pub mod mtcnn;
pub mod prepare;

pub use face_box::FaceBox;
pub use face_detection::FaceDetection;
pub use face_detector::FaceDetector;
pub use fallback_box::FallbackBox;
pub use landmark_predictor::LandmarkPredictor;
