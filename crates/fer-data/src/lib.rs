//! fer-data: records, manifests, SynthFER, augmentation, protocols and batch loading.
//!
//! Data flow (ARCHITECTURE.md "Data flow"): native layout -> importer (`formats`) -> `Vec<Record>`
//! -> decoded `FaceDataset` -> protocol (`protocol`) -> `Split` -> `BatchLoader` -> candle
//! tensors. Before any of it, `Manifest::check_available` (`availability`) says whether the data
//! is there.
//!
//! The face pipeline of paper 4.3 (detection, landmarks, alignment) is the crate fer-face
//! (ARCHITECTURE.md "fer-face"); the prepared cache it writes is read here: `prepared_sample`
//! (one row of its `samples.csv`, with its `face_box`) and the `formats::prepared_cache` importer.

pub mod augment;
pub mod availability;
pub mod batch_loader;
pub mod error;
pub mod expression;
pub mod face_box;
pub mod face_dataset;
pub mod formats;
pub mod gray_f32;
pub mod image_file;
pub mod landmarks;
pub mod manifest;
pub mod prepared_sample;
pub mod protocol;
pub mod record;
pub mod skipped_image;
pub mod synthetic;
pub mod transfer;

pub use augment::AugmentConfig;
pub use batch_loader::{Batch, BatchLoader, LoaderConfig};
pub use error::{DataError, DatasetMissingInfo, Result};
pub use expression::Expression;
pub use face_box::FaceBox;
pub use face_dataset::{FaceDataset, FaceSample};
pub use gray_f32::GrayF32;
pub use image_file::{decode_image, read_image};
pub use landmarks::{Landmarks68, MIRROR_68, NUM_LANDMARKS};
pub use manifest::{DatasetFormat, Manifest};
pub use prepared_sample::{PreparedSample, PREPARED_SAMPLES_CSV};
pub use protocol::{ProtocolSpec, Split, MAX_FOLDS};
pub use record::{Record, SplitHint};
pub use skipped_image::SkippedImage;
pub use transfer::transfer_dataset;
