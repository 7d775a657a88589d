//! One sample as an importer produces it, before any image is decoded
//! (ARCHITECTURE.md "Data flow").

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use crate::{Expression, Landmarks68};

/// The dataset's own split assignment, where it has one (FER2013's Usage, RAF-DB's file prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitHint {
    Train,
    Validation,
    Test,
}

/// One imported sample: where its image is, its label, its subject and, if annotated, its landmarks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// Stable identifier, unique within the dataset (the path relative to the root for folders).
    pub id: String,
    /// The image file; `None` for samples that live in memory (SynthFER).
    pub path: Option<PathBuf>,
    pub expression: Expression,
    /// Subject identity; folds are subject-exclusive (paper 4.4).
    pub subject: String,
    pub split_hint: Option<SplitHint>,
    /// 68 points in the pixel-index coordinates of the image at `path`.
    pub landmarks: Option<Landmarks68>,
}
