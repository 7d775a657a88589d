//! Importer of a prepared cache (`cargo xtask prepare`, the face pipeline of paper 4.3):
//! `samples.csv` gives each aligned image's label, subject, split and 68 landmarks.

use std::path::Path;

use crate::error::{DataError, Result};
use crate::prepared_sample::{PreparedSample, PREPARED_SAMPLES_CSV};
use crate::{Manifest, Record};

/// The records of the cache at `root`, in `samples.csv` order.
pub fn import(root: &Path, manifest: &Manifest) -> Result<Vec<Record>> {
    let csv = root.join(PREPARED_SAMPLES_CSV);
    let samples = PreparedSample::read_csv(&csv)?;
    if samples.is_empty() {
        return Err(DataError::MissingDataset {
            name: manifest.name.clone(),
            path: csv,
            hint: "the prepared cache lists no sample; run `cargo xtask prepare` again".into(),
        });
    }
    Ok(samples
        .into_iter()
        .map(|s| Record {
            id: s.source,
            path: Some(root.join(&s.image)),
            expression: s.expression,
            subject: s.subject,
            split_hint: s.split,
            landmarks: Some(s.landmarks),
        })
        .collect())
}
