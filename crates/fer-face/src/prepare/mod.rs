//! `prepare`: the whole face pipeline of paper 4.3 over a dataset's records, written to a
//! prepared cache (aligned grey PNGs, `samples.csv`, a manifest the trainer reads, and a
//! report). Stages: detect -> calibrate the fallback box -> 68 landmarks -> alignment template
//! -> align and write.

pub mod cache_contact_sheet;
pub mod face_pipeline;
pub mod prepare_config;
pub mod prepare_report;

/// The rows of `samples.csv`; the format lives in fer-data, whose importer reads the cache.
pub use fer_data::prepared_sample;

pub use face_pipeline::{FacePipeline, PrepareProgress, PrepareStage};
pub use prepare_config::PrepareConfig;
pub use prepare_report::{PrepareFailure, PrepareReport};
pub use prepared_sample::{PreparedSample, PREPARED_SAMPLES_CSV};
