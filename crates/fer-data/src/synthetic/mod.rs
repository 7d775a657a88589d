//! SynthFER, the embedded default dataset: procedurally rendered grayscale faces with exact
//! 68-point landmarks (iBUG 300-W order) and one of 7 expressions (issue "SynthFER"; it stands
//! in for RAF/SFEW2/CK+/Oulu-CASIA of paper 4.1 when those are not at hand, with the same two
//! labels per image: expression (FER) and 68 landmarks (FLD, paper 3.1 and 4.3)).
//!
//! Pipeline of one image (one file per concept):
//! - `mean_face`: the mean 68-point face in a canonical frame;
//! - `identity`: per-subject face shape, appearance and personal expressiveness;
//! - `expression_model`: action-unit displacement fields and expression recipes at a random
//!   intensity: the expression lives in the landmark geometry;
//! - `face_geometry`: landmarks -> every drawn shape (hair, lids, lips, wrinkles, ...);
//! - `pose`: in-plane rotation, scale, shift and a yaw-like squeeze, into pixel coordinates;
//! - `renderer` (+ `raster`): anti-aliased drawing, illumination, blur, noise, occluders;
//! - `generator`: subjects x images in parallel, one random stream per subject and per image;
//! - `image_folder_writer`, `contact_sheet`: the on-disk form used by `cargo xtask synth`.

pub(crate) mod contact_sheet;
mod expression_model;
mod face_geometry;
mod generator;
mod identity;
mod image_folder_writer;
mod mean_face;
mod pose;
mod raster;
mod renderer;
mod rng_util;
mod synth_fer_config;
mod synth_sample;

#[cfg(test)]
mod tests;

pub use contact_sheet::{class_colour, contact_sheet, contact_sheet_of_tiles, SheetTile};
pub use generator::{generate, generate_with_progress};
pub use image_folder_writer::{write_image_folder, CONTACT_SHEET_PNG, LANDMARK_CSV};
pub use synth_fer_config::SynthFerConfig;
pub use synth_sample::SynthSample;

use crate::expression::Expression;

/// The 7 SynthFER classes, in label order (the basic six plus neutral, as in RAF-DB).
pub const SYNTHFER_CLASSES: [Expression; 7] = [
    Expression::Neutral,
    Expression::Happiness,
    Expression::Sadness,
    Expression::Surprise,
    Expression::Fear,
    Expression::Disgust,
    Expression::Anger,
];
