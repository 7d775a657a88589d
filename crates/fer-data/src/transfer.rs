//! Cross-dataset transfer (paper 5.3, Table 9): train on one dataset, test on another, over the
//! classes both share (the 6 basic expressions: neutral and contempt are not in every dataset).
//!
//! The two datasets are restricted to the shared classes (labels renumbered in that order) and
//! joined into one `FaceDataset`, so the ordinary trainer runs the pair: training and
//! validation samples come from the source only, the test split is the whole target.

use crate::error::{DataError, Result};
use crate::face_dataset::{FaceDataset, FaceSample};
use crate::protocol::{subject_holdout, ProtocolSpec, Split};
use crate::record::SplitHint;
use crate::Expression;

/// Share of the source's subjects held out for validation when the source has no official
/// validation part (the reference code's 80/20 split of CK+ and Oulu-CASIA for Table 9).
pub const TRANSFER_VALIDATION_FRACTION: f64 = 0.2;

/// The samples of `data` whose expression is in `classes`, labelled by position in `classes`.
fn restricted(data: &FaceDataset, classes: &[Expression]) -> Vec<FaceSample> {
    data.samples
        .iter()
        .filter_map(|s| {
            let label = classes.iter().position(|c| *c == s.expression)?;
            Some(FaceSample { label, ..s.clone() })
        })
        .collect()
}

/// The joined dataset (`"<source>-><target>"`) and its one split: the source's official
/// train/validation parts (or a subject-exclusive hold-out of its subjects, seeded) for
/// training and validation, every target sample for test. Sample ids get the dataset's name
/// as a prefix so predictions say where each face came from.
pub fn transfer_dataset(
    source: &FaceDataset,
    source_protocol: &ProtocolSpec,
    target: &FaceDataset,
    classes: &[Expression],
    seed: u64,
) -> Result<(FaceDataset, Split)> {
    if source.size != target.size {
        return Err(DataError::Config(format!(
            "transfer {} -> {}: loaded at {} and {} px",
            source.name, target.name, source.size, target.size
        )));
    }
    if classes.len() < 2 {
        return Err(DataError::Config(
            "transfer needs at least two shared classes".into(),
        ));
    }
    for c in classes {
        for d in [source, target] {
            if !d.classes.contains(c) {
                return Err(DataError::Config(format!(
                    "transfer class '{c}' is not a class of {}",
                    d.name
                )));
            }
        }
    }
    let tag = |name: &str, mut v: Vec<FaceSample>| {
        for s in v.iter_mut() {
            s.id = format!("{name}/{}", s.id);
            // Subjects of two datasets must never be taken for the same person.
            s.subject = format!("{name}/{}", s.subject);
        }
        v
    };
    let src = tag(&source.name, restricted(source, classes));
    let tgt = tag(&target.name, restricted(target, classes));
    if src.is_empty() || tgt.is_empty() {
        return Err(DataError::Config(format!(
            "transfer {} -> {}: no sample of the shared classes in one of them",
            source.name, target.name
        )));
    }
    let n_src = src.len();
    let (train, val) = match source_protocol {
        ProtocolSpec::Official => {
            let pick = |h: SplitHint| -> Vec<usize> {
                (0..n_src)
                    .filter(|&i| src[i].split_hint == Some(h))
                    .collect()
            };
            (pick(SplitHint::Train), pick(SplitHint::Validation))
        }
        _ => {
            let subjects: Vec<String> = src.iter().map(|s| s.subject.clone()).collect();
            let s = subject_holdout(&subjects, TRANSFER_VALIDATION_FRACTION, 0.0, seed)?;
            (s.train, s.val)
        }
    };
    if train.is_empty() || val.is_empty() {
        return Err(DataError::Config(format!(
            "transfer from {}: no training or validation samples",
            source.name
        )));
    }
    let test: Vec<usize> = (n_src..n_src + tgt.len()).collect();
    let mut samples = src;
    samples.extend(tgt);
    Ok((
        FaceDataset {
            name: format!("{}->{}", source.name, target.name),
            classes: classes.to_vec(),
            size: source.size,
            samples,
            off_size: source
                .off_size
                .iter()
                .chain(&target.off_size)
                .cloned()
                .collect(),
            skipped: source
                .skipped
                .iter()
                .chain(&target.skipped)
                .cloned()
                .collect(),
        },
        Split {
            name: "transfer".into(),
            train,
            val,
            test,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synthetic::{generate, SynthFerConfig, SYNTHFER_CLASSES};

    fn synth(name: &str, seed: u64) -> FaceDataset {
        let cfg = SynthFerConfig {
            num_subjects: 20,
            images_per_subject: 7,
            size: 24,
            seed,
            ..SynthFerConfig::default()
        };
        FaceDataset::from_synthetic(name, &SYNTHFER_CLASSES, generate(&cfg).unwrap()).unwrap()
    }

    #[test]
    fn shared_classes_are_renumbered_and_test_is_the_whole_target() {
        let (a, b) = (synth("a", 1), synth("b", 2));
        let classes = [
            Expression::Surprise,
            Expression::Anger,
            Expression::Happiness,
        ];
        let (joined, split) = transfer_dataset(
            &a,
            &ProtocolSpec::SubjectKFold { folds: 10 },
            &b,
            &classes,
            3,
        )
        .unwrap();
        assert_eq!(joined.name, "a->b");
        assert_eq!(joined.classes, classes);
        let in_classes = |d: &FaceDataset| {
            d.samples
                .iter()
                .filter(|s| classes.contains(&s.expression))
                .count()
        };
        assert_eq!(joined.len(), in_classes(&a) + in_classes(&b));
        for s in &joined.samples {
            assert_eq!(classes[s.label], s.expression);
        }
        // Test = every target sample of the shared classes; train/val = source only.
        assert_eq!(split.test.len(), in_classes(&b));
        assert!(split
            .test
            .iter()
            .all(|&i| joined.samples[i].id.starts_with("b/")));
        assert!(split
            .train
            .iter()
            .chain(&split.val)
            .all(|&i| joined.samples[i].id.starts_with("a/")));
        assert_eq!(split.train.len() + split.val.len(), in_classes(&a));
        // Validation subjects are not training subjects.
        let subj = |ix: &[usize]| {
            ix.iter()
                .map(|&i| joined.samples[i].subject.clone())
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert!(subj(&split.train).is_disjoint(&subj(&split.val)));
    }

    #[test]
    fn a_class_missing_from_one_side_is_an_error() {
        let (a, mut b) = (synth("a", 1), synth("b", 2));
        b.classes.retain(|c| *c != Expression::Fear);
        let err = transfer_dataset(
            &a,
            &ProtocolSpec::Official,
            &b,
            &[Expression::Fear, Expression::Anger],
            1,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("fear") && err.contains("b"), "{err}");
    }
}
