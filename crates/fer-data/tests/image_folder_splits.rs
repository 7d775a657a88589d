//! The split-folder importer (FER2013's image-folder form) on fixture trees built by the test:
//! split hints from the top-level folders, labels through the label map, subjects from file
//! stems, the expected-count check, and `FaceDataset::load` with the official protocol.

use anyhow::Result;
use fer_data::formats::image_folder_splits;
use fer_data::{Expression, FaceDataset, Manifest, ProtocolSpec, SplitHint};
use std::path::{Path, PathBuf};

fn fixture_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fer-data-ifs-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn write_png(path: &Path, side: u32, v: u8) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    image::GrayImage::from_pixel(side, side, image::Luma([v]))
        .save(path)
        .expect("png");
}

/// A FER2013-like manifest (the repository's label map) rooted at `root`.
fn manifest(root: &Path, expected: Option<usize>) -> Manifest {
    let count = expected
        .map(|n| format!("expected_count: {n}\n"))
        .unwrap_or_default();
    let yaml = format!(
        r#"
name: fer-fixture
format: {{ kind: image_folder_splits }}
root: {}
root_env: FER_FIXTURE_NOT_SET
obtain: build it in the test
classes: [anger, disgust, fear, happiness, sadness, surprise, neutral]
label_map: {{ angry: anger, happy: happiness, sad: sadness }}
image_size: 48
{count}protocol: {{ kind: official }}
"#,
        root.display()
    );
    serde_yaml::from_str(&yaml).expect("manifest")
}

/// train: 3 images, validation: 2, test: 2, 48x48 except one 24x24 (resized on load).
fn fer_tree(root: &Path, validation: &str, test: &str) {
    write_png(&root.join("train/angry/Training_1.png"), 48, 10);
    write_png(&root.join("train/happy/Training_2.png"), 48, 20);
    write_png(&root.join("train/sad/Training_3.png"), 24, 30);
    write_png(
        &root.join(format!("{validation}/happy/PublicTest_4.png")),
        48,
        40,
    );
    write_png(
        &root.join(format!("{validation}/neutral/PublicTest_5.png")),
        48,
        50,
    );
    write_png(
        &root.join(format!("{test}/surprise/PrivateTest_6.png")),
        48,
        60,
    );
    write_png(&root.join(format!("{test}/fear/PrivateTest_7.png")), 48, 70);
}

#[test]
fn split_folders_give_split_hints_labels_and_stem_subjects() -> Result<()> {
    let root = fixture_dir("ok");
    fer_tree(&root, "validation", "test");
    std::fs::create_dir_all(root.join("cache/angry"))?; // not a split: ignored
    std::fs::write(root.join("train/angry/notes.txt"), "ignored")?;
    let m = manifest(&root, Some(7));
    let records = image_folder_splits::import(&root, &m)?;
    assert_eq!(records.len(), 7);
    let hints: Vec<_> = records.iter().map(|r| r.split_hint).collect();
    use SplitHint::*;
    assert_eq!(
        hints,
        [Train, Train, Train, Validation, Validation, Test, Test].map(Some)
    );
    assert_eq!(records[0].id, "train/angry/Training_1.png");
    assert_eq!(records[0].expression, Expression::Anger);
    assert_eq!(records[2].expression, Expression::Sadness);
    assert_eq!(records[6].expression, Expression::Surprise);
    // No subject regex: each image is its own subject, named by its file stem.
    assert_eq!(records[1].subject, "Training_2");
    assert!(records.iter().all(|r| r.landmarks.is_none()));

    // The official protocol turns the hints into train / validation / test.
    let data = FaceDataset::load(&m, None, 48, None)?;
    assert_eq!(data.len(), 7);
    assert_eq!(data.size, 48);
    assert!(data.samples.iter().all(|s| s.image.pixels.len() == 48 * 48));
    assert_eq!(data.samples[0].label, 0);
    assert_eq!(data.samples[4].label, 6, "neutral is index 6");
    let splits = m
        .protocol
        .splits(&data.subjects(), &data.split_hints(), 0)?;
    assert_eq!(splits.len(), 1);
    assert_eq!(splits[0].train, vec![0, 1, 2]);
    assert_eq!(splits[0].val, vec![3, 4]);
    assert_eq!(splits[0].test, vec![5, 6]);
    assert_eq!(m.protocol, ProtocolSpec::Official);
    std::fs::remove_dir_all(&root)?;
    Ok(())
}

#[test]
fn usage_named_folders_are_accepted() -> Result<()> {
    let root = fixture_dir("usage");
    fer_tree(&root, "PublicTest", "PrivateTest");
    let records = image_folder_splits::import(&root, &manifest(&root, None))?;
    assert_eq!(records[3].split_hint, Some(SplitHint::Validation));
    assert_eq!(records[3].id, "PublicTest/happy/PublicTest_4.png");
    assert_eq!(records[6].split_hint, Some(SplitHint::Test));
    std::fs::remove_dir_all(&root)?;
    Ok(())
}

#[test]
fn a_wrong_count_or_two_folders_for_one_split_is_an_error() -> Result<()> {
    let root = fixture_dir("count");
    fer_tree(&root, "validation", "test");
    let e = image_folder_splits::import(&root, &manifest(&root, Some(35887)))
        .expect_err("count")
        .to_string();
    assert!(e.contains("expected 35887") && e.contains("found 7"), "{e}");

    write_png(&root.join("val/happy/PublicTest_9.png"), 48, 1);
    let e = image_folder_splits::import(&root, &manifest(&root, None))
        .expect_err("val and validation")
        .to_string();
    assert!(e.contains("val/") && e.contains("validation/"), "{e}");
    std::fs::remove_dir_all(&root)?;
    Ok(())
}

#[test]
fn an_unreadable_image_is_skipped_and_named() -> Result<()> {
    let root = fixture_dir("corrupt");
    fer_tree(&root, "validation", "test");
    std::fs::write(root.join("test/fear/PrivateTest_8.png"), b"not a png")?;
    let data = FaceDataset::load(&manifest(&root, None), None, 48, None)?;
    assert_eq!(data.len(), 7);
    assert_eq!(data.skipped().len(), 1);
    assert_eq!(data.skipped()[0].id, "test/fear/PrivateTest_8.png");
    assert!(
        data.skipped()[0].to_string().contains("PrivateTest_8.png"),
        "{}",
        data.skipped()[0]
    );
    std::fs::remove_dir_all(&root)?;
    Ok(())
}
