//! Evaluation protocols: subject-exclusive k-fold cross-validation (paper 4.4: each run trains
//! on k-2 folds, validates on one and tests on one), subject hold-out, and official splits.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::error::{DataError, Result};
use crate::record::SplitHint;

/// The most folds a k-fold protocol may have: far more than any FER dataset's subjects, and a
/// bound that keeps a mistyped count (a manifest's `folds`, `--folds 0-99999999999`) an error
/// instead of a plan of billions of runs.
pub const MAX_FOLDS: usize = 1000;

/// How a dataset is split into training, validation and test samples.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ProtocolSpec {
    /// Paper 4.4: `folds` subject-exclusive folds; run i tests on fold i, validates on fold
    /// i+1 (mod k) and trains on the rest.
    SubjectKFold { folds: usize },
    /// One split: the given fractions of subjects go to validation and test, the rest to training.
    SubjectHoldout {
        val_fraction: f64,
        test_fraction: f64,
    },
    /// The dataset's own split (its records carry split hints). Datasets without a validation
    /// part (RAF-DB, SFEW 2.0) get one from their training part: a seeded
    /// `OFFICIAL_VALIDATION_FRACTION` of the training subjects, never from the test part.
    Official,
}

/// The sample indices of one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Split {
    /// Name of the run within the protocol: `fold-0`, `holdout`, `official`.
    pub name: String,
    pub train: Vec<usize>,
    pub val: Vec<usize>,
    pub test: Vec<usize>,
}

impl ProtocolSpec {
    /// All splits of this protocol for samples with the given subjects and split hints.
    pub fn splits(
        &self,
        subjects: &[String],
        hints: &[Option<SplitHint>],
        seed: u64,
    ) -> Result<Vec<Split>> {
        match *self {
            ProtocolSpec::SubjectKFold { folds } => subject_k_fold(subjects, folds, seed),
            ProtocolSpec::SubjectHoldout {
                val_fraction,
                test_fraction,
            } => Ok(vec![subject_holdout(
                subjects,
                val_fraction,
                test_fraction,
                seed,
            )?]),
            ProtocolSpec::Official => Ok(vec![official_split(subjects, hints, seed)?]),
        }
    }
}

/// Subjects in a seeded random order, with the indices of their samples.
fn shuffled_subjects(subjects: &[String], seed: u64) -> Vec<(String, Vec<usize>)> {
    let mut by_subject: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in subjects.iter().enumerate() {
        by_subject.entry(s.as_str()).or_default().push(i);
    }
    let mut groups: Vec<(String, Vec<usize>)> = by_subject
        .into_iter()
        .map(|(s, v)| (s.to_string(), v))
        .collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    groups.shuffle(&mut rng);
    groups
}

/// Assigns subjects to `k` folds so that no subject is in two folds and fold sizes (in samples)
/// are as equal as possible: subjects in seeded random order, largest first, each into the
/// currently smallest fold.
pub fn subject_folds(subjects: &[String], k: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    let mut groups = shuffled_subjects(subjects, seed);
    if k < 3 {
        return Err(DataError::Config(format!(
            "subject k-fold needs at least 3 folds (train, validation, test), got {k}"
        )));
    }
    if groups.len() < k {
        return Err(DataError::Config(format!(
            "subject k-fold with {k} folds needs at least {k} subjects, found {}",
            groups.len()
        )));
    }
    // Stable sort keeps the seeded order among subjects of equal size.
    groups.sort_by_key(|(_, v)| std::cmp::Reverse(v.len()));
    let mut folds: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (_, members) in groups {
        let smallest = (0..k).min_by_key(|&f| (folds[f].len(), f)).unwrap_or(0);
        folds[smallest].extend(members);
    }
    for f in folds.iter_mut() {
        f.sort_unstable();
    }
    Ok(folds)
}

/// Paper 4.4: k runs; run i tests on fold i, validates on fold (i + 1) mod k, trains on the rest.
pub fn subject_k_fold(subjects: &[String], k: usize, seed: u64) -> Result<Vec<Split>> {
    let folds = subject_folds(subjects, k, seed)?;
    Ok((0..k)
        .map(|i| {
            let v = (i + 1) % k;
            let mut train: Vec<usize> = (0..k)
                .filter(|&f| f != i && f != v)
                .flat_map(|f| folds[f].iter().copied())
                .collect();
            train.sort_unstable();
            Split {
                name: format!("fold-{i}"),
                train,
                val: folds[v].clone(),
                test: folds[i].clone(),
            }
        })
        .collect())
}

/// One subject-exclusive split with the given fractions of subjects in validation and test.
pub fn subject_holdout(
    subjects: &[String],
    val_fraction: f64,
    test_fraction: f64,
    seed: u64,
) -> Result<Split> {
    let ok = |f: f64| (0.0..1.0).contains(&f);
    if !ok(val_fraction) || !ok(test_fraction) || val_fraction + test_fraction >= 1.0 {
        return Err(DataError::Config(format!(
            "subject hold-out fractions must be in [0, 1) and sum below 1, got validation {val_fraction} and test {test_fraction}"
        )));
    }
    let groups = shuffled_subjects(subjects, seed);
    let n = groups.len();
    let n_test = ((n as f64) * test_fraction).round() as usize;
    let n_val = ((n as f64) * val_fraction).round() as usize;
    if n_test + n_val >= n {
        return Err(DataError::Config(format!(
            "subject hold-out leaves no training subject ({n} subjects)"
        )));
    }
    let mut split = Split {
        name: "holdout".into(),
        train: vec![],
        val: vec![],
        test: vec![],
    };
    for (i, (_, members)) in groups.into_iter().enumerate() {
        let target = if i < n_test {
            &mut split.test
        } else if i < n_test + n_val {
            &mut split.val
        } else {
            &mut split.train
        };
        target.extend(members);
    }
    split.train.sort_unstable();
    split.val.sort_unstable();
    split.test.sort_unstable();
    Ok(split)
}

/// Share of the training subjects held out for validation (early stopping, model selection)
/// when a dataset's official split has no validation part. The paper does not say how it
/// validated on RAF-DB and SFEW 2.0; selecting on the test part is what we must not do.
pub const OFFICIAL_VALIDATION_FRACTION: f64 = 0.1;

/// The dataset's own split. Without a validation part, a seeded, subject-exclusive
/// `OFFICIAL_VALIDATION_FRACTION` of the training subjects becomes the validation part.
pub fn official_split(
    subjects: &[String],
    hints: &[Option<SplitHint>],
    seed: u64,
) -> Result<Split> {
    let mut split = Split {
        name: "official".into(),
        train: vec![],
        val: vec![],
        test: vec![],
    };
    for (i, h) in hints.iter().enumerate() {
        match h {
            Some(SplitHint::Train) => split.train.push(i),
            Some(SplitHint::Validation) => split.val.push(i),
            Some(SplitHint::Test) => split.test.push(i),
            None => {
                return Err(DataError::Config(format!(
                    "official split: sample {i} has no split assignment"
                )))
            }
        }
    }
    if split.val.is_empty() && !split.train.is_empty() {
        let train_subjects: Vec<String> =
            split.train.iter().map(|&i| subjects[i].clone()).collect();
        let held = subject_holdout(&train_subjects, OFFICIAL_VALIDATION_FRACTION, 0.0, seed)?;
        let train = std::mem::take(&mut split.train);
        split.val = held.val.iter().map(|&k| train[k]).collect();
        split.train = held.train.iter().map(|&k| train[k]).collect();
    }
    if split.train.is_empty() || split.test.is_empty() || split.val.is_empty() {
        return Err(DataError::Config(
            "official split needs train and test samples, and a validation part or enough training subjects to hold one out".into(),
        ));
    }
    Ok(split)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subjects() -> Vec<String> {
        // 37 subjects with 1..=5 samples each, interleaved.
        let mut v = Vec::new();
        for round in 0..5 {
            for s in 0..37 {
                if s % 5 >= round {
                    v.push(format!("S{s:03}"));
                }
            }
        }
        v
    }

    type SubjectSet = std::collections::BTreeSet<String>;

    /// The subjects of the train, validation and test parts, asserted pairwise disjoint.
    fn disjoint_subjects(subj: &[String], s: &Split) -> (SubjectSet, SubjectSet, SubjectSet) {
        let subjects_of = |idx: &Vec<usize>| idx.iter().map(|&i| subj[i].clone()).collect();
        let (tr, va, te): (SubjectSet, SubjectSet, SubjectSet) = (
            subjects_of(&s.train),
            subjects_of(&s.val),
            subjects_of(&s.test),
        );
        assert!(tr.is_disjoint(&va) && tr.is_disjoint(&te) && va.is_disjoint(&te));
        (tr, va, te)
    }

    #[test]
    fn k_fold_is_subject_exclusive_and_tests_every_sample_once() {
        let subj = subjects();
        let splits = subject_k_fold(&subj, 10, 7).unwrap();
        assert_eq!(splits.len(), 10);
        let mut tested = vec![0usize; subj.len()];
        for s in &splits {
            assert_eq!(s.train.len() + s.val.len() + s.test.len(), subj.len());
            disjoint_subjects(&subj, s);
            for &i in &s.test {
                tested[i] += 1;
            }
        }
        assert!(tested.iter().all(|&c| c == 1), "every sample tested once");
        let sizes: Vec<usize> = splits.iter().map(|s| s.test.len()).collect();
        let (min, max) = (sizes.iter().min().unwrap(), sizes.iter().max().unwrap());
        assert!(max - min <= 5, "balanced folds, sizes {sizes:?}");
    }

    #[test]
    fn k_fold_depends_on_seed_only() {
        let subj = subjects();
        assert_eq!(
            subject_k_fold(&subj, 5, 1).unwrap(),
            subject_k_fold(&subj, 5, 1).unwrap()
        );
        assert_ne!(
            subject_k_fold(&subj, 5, 1).unwrap(),
            subject_k_fold(&subj, 5, 2).unwrap()
        );
    }

    #[test]
    fn holdout_is_subject_exclusive() {
        let subj = subjects();
        let s = subject_holdout(&subj, 0.2, 0.2, 3).unwrap();
        // Every sample in exactly one part.
        let mut all: Vec<usize> = [&s.train, &s.val, &s.test]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        all.sort_unstable();
        assert_eq!(all, (0..subj.len()).collect::<Vec<_>>());
        let (tr, va, te) = disjoint_subjects(&subj, &s);
        // 37 subjects: round(0.2 x 37) = 7 each for validation and test, 23 for training.
        assert_eq!((tr.len(), va.len(), te.len()), (23, 7, 7));
        assert!(subject_holdout(&subj, 0.6, 0.5, 3).is_err());
    }

    #[test]
    fn official_split_without_validation_holds_out_training_subjects() {
        // 20 training subjects with two images each, 5 test subjects.
        let mut subjects = Vec::new();
        let mut hints = Vec::new();
        for s in 0..25 {
            for _ in 0..2 {
                subjects.push(format!("s{s}"));
                hints.push(Some(if s < 20 {
                    SplitHint::Train
                } else {
                    SplitHint::Test
                }));
            }
        }
        let split = official_split(&subjects, &hints, 7).expect("split");
        assert_eq!(split.test, (40..50).collect::<Vec<_>>());
        assert_eq!(split.val.len(), 4, "10 % of 20 subjects, two images each");
        assert!(
            split.val.iter().all(|&i| i < 40),
            "validation never comes from test"
        );
        let val_subjects: std::collections::BTreeSet<_> =
            split.val.iter().map(|&i| &subjects[i]).collect();
        assert!(split
            .train
            .iter()
            .all(|&i| !val_subjects.contains(&subjects[i])));
        assert_eq!(split.train.len() + split.val.len(), 40);
        assert_eq!(official_split(&subjects, &hints, 7).expect("split"), split);
    }

    #[test]
    fn too_few_subjects_is_an_error() {
        let subj: Vec<String> = (0..4).map(|i| format!("s{i}")).collect();
        assert!(subject_k_fold(&subj, 10, 0).is_err());
    }
}
