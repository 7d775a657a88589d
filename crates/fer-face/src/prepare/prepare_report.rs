//! What `prepare` did: counts per stage and every image it could not use, with the reason.
//! Written to `prepare.json` and `failures.csv` in the cache and printed by xtask.

use serde::{Deserialize, Serialize};

use super::PrepareConfig;
use crate::align::AlignmentTemplate;
use crate::fallback_box::FallbackBox;

/// One image that did not make it into the cache.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepareFailure {
    /// The record id (its path relative to the dataset root for folders).
    pub id: String,
    /// The file, when the record has one.
    pub path: Option<String>,
    /// The stage that failed and why, e.g. "decode: not a readable image: ...".
    pub reason: String,
}

/// The closing report of `prepare`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrepareReport {
    pub dataset: String,
    pub config: PrepareConfig,
    /// Records the importer produced.
    pub imported: usize,
    /// Images the detector found a face in.
    pub detected: usize,
    /// Images that used the fallback box (pre-cropped faces where the detector found nothing).
    pub fallbacks: usize,
    /// Faces whose landmarks came from the dataset rather than the predictor.
    pub dataset_landmarks: usize,
    /// Images written to the cache.
    pub written: usize,
    /// Images skipped: undecodable files, failed landmarks or alignment.
    pub failures: Vec<PrepareFailure>,
    pub fallback_box: FallbackBox,
    pub template: Option<AlignmentTemplate>,
    pub seconds: f64,
}

impl PrepareReport {
    /// One line per count, as printed at the end of `cargo xtask prepare`.
    pub fn summary(&self) -> String {
        format!(
            "{}: imported {}, detected {} ({:.1} %), fallback boxes {}, dataset landmarks {}, written {}, failures {} in {:.1} s",
            self.dataset,
            self.imported,
            self.detected,
            100.0 * self.detected as f64 / self.imported.max(1) as f64,
            self.fallbacks,
            self.dataset_landmarks,
            self.written,
            self.failures.len(),
            self.seconds
        )
    }
}
