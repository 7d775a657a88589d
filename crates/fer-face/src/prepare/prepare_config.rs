//! Settings of `prepare` (paper 4.3): output size, batch size of the detector, and where the
//! landmarks come from. Saved in every cache's `prepare.json`.

use serde::{Deserialize, Serialize};

/// Where each face's 68 landmarks come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LandmarkSource {
    /// Our landmark predictor on every face (the paper ran one tool, OpenFace 2.0, on all).
    Predict,
    /// The dataset's own landmarks where a record has them (CK+'s `Landmarks/`, a manifest's
    /// landmark CSV), the predictor elsewhere.
    DatasetElsePredict,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrepareConfig {
    /// Side of the aligned faces (paper 4.3: 100).
    pub size: u32,
    /// Images per detector call (MTCNN batches same-size images through its networks).
    pub batch_size: usize,
    pub landmark_source: LandmarkSource,
    /// Use the calibrated fallback box where the detector finds nothing. Right for datasets
    /// of pre-cropped faces (CK+48, FER2013, RAF-DB); for raw frames (SFEW 2.0, CK+, Oulu-CASIA)
    /// a missed face is a failure instead, since a box from the frame would be meaningless.
    pub fallback_for_missed_faces: bool,
}

impl Default for PrepareConfig {
    fn default() -> Self {
        Self::paper()
    }
}

impl PrepareConfig {
    /// The paper's setting: 100x100 aligned faces, landmarks from the predictor.
    pub fn paper() -> Self {
        Self {
            size: 100,
            batch_size: 256,
            landmark_source: LandmarkSource::Predict,
            fallback_for_missed_faces: true,
        }
    }

    /// The paper's setting for raw frames (SFEW 2.0, CK+ original, Oulu-CASIA): no fallback box.
    pub fn raw_frames() -> Self {
        Self {
            fallback_for_missed_faces: false,
            ..Self::paper()
        }
    }

    /// Faces kept at the native 48x48 of CK+48 and FER2013, for quick experiments.
    pub fn native48() -> Self {
        Self {
            size: 48,
            ..Self::paper()
        }
    }
}
