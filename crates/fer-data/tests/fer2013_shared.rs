//! The repository's fer2013 manifest on the real FER2013 image folders in
//! ../shared/datasets/fer2013 when they are there (required when FER_REQUIRE_SHARED=1, as in
//! CI): all 35,887 images decode at 48x48 with the README's class counts per split.

use anyhow::Result;
use fer_data::{Expression, FaceDataset, Manifest, SplitHint};
mod common;

use common::shared_fer2013;
use std::path::Path;
use std::time::Instant;

#[test]
fn loads_the_real_fer2013_with_the_readme_class_counts() -> Result<()> {
    let Some(root) = shared_fer2013() else {
        return Ok(());
    };
    let manifest_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data-manifests/fer2013.yaml");
    let m = Manifest::from_file(&manifest_path)?;
    assert_eq!(m.check_available(Some(&root))?, Some(root.clone()));

    let start = Instant::now();
    let data = FaceDataset::load(&m, Some(&root), 48, None)?;
    let seconds = start.elapsed().as_secs_f64();
    eprintln!(
        "fer2013: {} images decoded at 48x48 in {seconds:.2} s ({} rayon threads)",
        data.len(),
        rayon::current_num_threads()
    );
    assert_eq!(data.len(), 35887);
    assert!(!data.has_landmarks(), "FER2013 ships no landmarks");

    // README: class counts (train / validation / test).
    let expected: [(Expression, [usize; 3]); 7] = [
        (Expression::Anger, [3995, 467, 491]),
        (Expression::Disgust, [436, 56, 55]),
        (Expression::Fear, [4097, 496, 528]),
        (Expression::Happiness, [7215, 895, 879]),
        (Expression::Neutral, [4965, 607, 626]),
        (Expression::Sadness, [4830, 653, 594]),
        (Expression::Surprise, [3171, 415, 416]),
    ];
    let splits = [SplitHint::Train, SplitHint::Validation, SplitHint::Test];
    for (e, counts) in expected {
        for (split, n) in splits.iter().zip(counts) {
            let found = data
                .samples
                .iter()
                .filter(|s| s.expression == e && s.split_hint == Some(*split))
                .count();
            assert_eq!(found, n, "{e} in {split:?}");
        }
    }
    // The official protocol: 28,709 / 3,589 / 3,589, and no subject is shared.
    let split = m
        .protocol
        .splits(&data.subjects(), &data.split_hints(), 0)?
        .remove(0);
    assert_eq!(
        (split.train.len(), split.val.len(), split.test.len()),
        (28709, 3589, 3589)
    );
    let subjects: std::collections::BTreeSet<&str> =
        data.samples.iter().map(|s| s.subject.as_str()).collect();
    // Each image is its own subject, named by its file stem; two stems occur twice
    // (train/neutral and train/surprise Training_52789098, train/angry and train/surprise
    // Training_8475486, different images), so 35,885 subjects.
    assert_eq!(subjects.len(), 35885);
    Ok(())
}
