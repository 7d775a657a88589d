//! Landmarking with dlib's shape predictor: an ensemble of regression trees (Kazemi and
//! Sullivan 2014) read from dlib's serialised `.dat` models and evaluated in pure Rust so
//! that its 68 landmarks match dlib's (the stand-in for the paper's OpenFace 2.0 landmarks in
//! the face pipeline of section 4.3).
//!
//! - `dlib_deserializer`: dlib's binary serialisation primitives.
//! - `regression_tree`, `cascade_level`: one tree; one cascade level packed flat.
//! - `reference_similarity`, `point_transform_affine`: the shape-indexed feature geometry.
//! - `shape_predictor`: loading and prediction; `dlib_rect`: the face box it takes.
//! - `minimal_model`: a tiny valid `.dat`, for tests and fuzzing.

pub mod cascade_level;
pub mod dlib_deserializer;
pub mod dlib_rect;
pub mod minimal_model;
pub mod point_transform_affine;
pub mod reference_similarity;
pub mod regression_tree;
pub mod shape_predictor;

pub use dlib_rect::DlibRect;
pub use shape_predictor::ShapePredictor;
