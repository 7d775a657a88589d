//! What the fer-train integration tests share: a small SynthFER dataset with a
//! subject-exclusive holdout split.

use anyhow::Result;
use fer_data::synthetic::{generate, SynthFerConfig, SYNTHFER_CLASSES};
use fer_data::{protocol::subject_holdout, FaceDataset, Split};

/// `subjects` x `per_subject` SynthFER images of `size` px (generator seed `seed`), split by
/// subject into train / `holdout` validation / `holdout` test (split seed 3).
pub fn synthfer_holdout(
    subjects: usize,
    per_subject: usize,
    size: u32,
    seed: u64,
    holdout: f64,
) -> Result<(FaceDataset, Split)> {
    let cfg = SynthFerConfig {
        num_subjects: subjects,
        images_per_subject: per_subject,
        size,
        seed,
        ..SynthFerConfig::default()
    };
    let data = FaceDataset::from_synthetic("synthfer", &SYNTHFER_CLASSES, generate(&cfg)?)?;
    let split = subject_holdout(&data.subjects(), holdout, holdout, 3)?;
    Ok((data, split))
}
