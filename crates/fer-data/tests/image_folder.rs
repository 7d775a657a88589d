//! The image-folder importer on a fixture tree built by the test, and on the real CK+48 copy in
//! ../shared/datasets when it is there (required when FER_REQUIRE_SHARED=1, as in CI).

use anyhow::Result;
use fer_data::formats::image_folder;
use fer_data::formats::landmark_csv::landmark_csv_header;
use fer_data::{Expression, FaceDataset, Manifest};
use std::path::{Path, PathBuf};

fn fixture_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fer-data-if-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn write_png(path: &Path, w: u32, h: u32, v: u8) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    image::GrayImage::from_pixel(w, h, image::Luma([v]))
        .save(path)
        .expect("png");
}

fn manifest(root: &Path) -> Manifest {
    let yaml = format!(
        r#"
name: fixture
format: {{ kind: image_folder }}
root: {}
classes: [anger, happiness, surprise]
image_size: 48
subject_regex: '^(S\d+)_'
landmarks_csv: landmarks.csv
protocol: {{ kind: subject_k_fold, folds: 3 }}
"#,
        root.display()
    );
    serde_yaml::from_str(&yaml).expect("manifest")
}

fn landmark_row(image: &str, v: f32) -> String {
    let mut s = image.to_string();
    for i in 0..136 {
        s.push_str(&format!(",{}", v + (i % 68) as f32 * 0.25));
    }
    s
}

#[test]
fn imports_classes_subjects_and_landmarks() -> Result<()> {
    let root = fixture_dir("ok");
    write_png(&root.join("anger/S010_001_0001.png"), 48, 48, 10);
    write_png(&root.join("happy/S010_002_0003.png"), 48, 48, 20);
    write_png(&root.join("happy/S011_001_0003.png"), 48, 48, 30);
    write_png(&root.join("surprise/S012_004_0007.png"), 24, 24, 40);
    std::fs::create_dir_all(root.join("not-a-class"))?;
    std::fs::write(root.join("anger/readme.txt"), "ignored")?;
    std::fs::write(
        root.join("landmarks.csv"),
        format!(
            "{}\n{}\n{}\n",
            landmark_csv_header(),
            landmark_row("anger/S010_001_0001.png", 1.0),
            landmark_row("surprise/S012_004_0007.png", 2.0)
        ),
    )?;
    let mut m = manifest(&root);
    // A folder that names no class stops the import, listing it, until the user drops such
    // folders knowingly.
    let e = image_folder::import(&root, &m)
        .expect_err("an unknown class folder")
        .to_string();
    assert!(
        e.contains("folders that name no class: not-a-class/"),
        "{e}"
    );
    assert!(e.contains("ignore_unknown_classes"), "{e}");
    m.ignore_unknown_classes = true;
    let records = image_folder::import(&root, &m)?;
    assert_eq!(records.len(), 4);
    assert_eq!(records[0].expression, Expression::Anger);
    assert_eq!(records[0].subject, "S010");
    assert_eq!(records[1].expression, Expression::Happiness);
    assert!(records[0].landmarks.is_some());
    assert!(records[1].landmarks.is_none());

    // Decoding resizes to the model size and moves the landmarks with the pixels.
    let data = FaceDataset::from_records("fixture", &m.classes, &records, 48)?;
    assert_eq!(data.len(), 4);
    // Loaded through its manifest (48 px declared), the 24x24 image is listed as off-size.
    let loaded = FaceDataset::load(&m, Some(&root), 48, None)?;
    assert_eq!(
        loaded.off_size,
        vec![("surprise/S012_004_0007.png".to_string(), 24, 24)]
    );
    assert_eq!(data.samples[3].label, 2);
    assert_eq!(data.samples[3].image.pixels.len(), 48 * 48);
    let l = data.samples[3].landmarks.expect("landmarks");
    assert!((l.points[0][0] - ((2.0 + 0.5) * 2.0 - 0.5)).abs() < 1e-5);
    std::fs::remove_dir_all(&root)?;
    Ok(())
}

#[test]
fn landmarks_outside_their_image_are_refused_unless_the_manifest_allows_them() -> Result<()> {
    let root = fixture_dir("outside");
    write_png(&root.join("anger/S010_001_0001.png"), 16, 16, 10);
    write_png(&root.join("happy/S011_001_0001.png"), 48, 48, 10);
    // Points 1.0 .. 17.75: inside the 48x48 image, beyond the 16x16 one.
    std::fs::write(
        root.join("landmarks.csv"),
        format!(
            "{}\n{}\n{}\n",
            landmark_csv_header(),
            landmark_row("anger/S010_001_0001.png", 1.0),
            landmark_row("happy/S011_001_0001.png", 1.0)
        ),
    )?;
    let mut m = manifest(&root);
    let e = FaceDataset::load(&m, Some(&root), 48, None)
        .expect_err("a point outside the image")
        .to_string();
    assert!(
        e.contains("landmarks.csv: point 59 of 'anger/S010_001_0001.png' (15.75, 15.75) lies outside its 16x16 image"),
        "{e}"
    );
    assert!(e.contains("landmarks_outside_image: true"), "{e}");
    m.landmarks_outside_image = true;
    assert_eq!(FaceDataset::load(&m, Some(&root), 48, None)?.len(), 2);
    std::fs::remove_dir_all(&root)?;
    Ok(())
}

#[test]
fn unreadable_image_is_skipped_and_missing_folder_named() -> Result<()> {
    let root = fixture_dir("bad");
    write_png(&root.join("anger/S001_001_1.png"), 8, 8, 1);
    std::fs::write(root.join("anger/S002_001_1.png"), b"this is not a png")?;
    std::fs::write(
        root.join("landmarks.csv"),
        format!("{}\n", landmark_csv_header()),
    )?;
    let m = manifest(&root);
    let records = image_folder::import(&root, &m)?;
    assert_eq!(records.len(), 2, "both files are listed");
    // The corrupt file is skipped and named, the good one decodes.
    let data = FaceDataset::from_records("bad", &m.classes, &records, 48)?;
    assert_eq!(data.len(), 1);
    assert_eq!(data.skipped().len(), 1);
    assert!(data.skipped()[0].path.ends_with("anger/S002_001_1.png"));
    // With no decodable image at all, the load fails naming one.
    let err = FaceDataset::from_records("bad", &m.classes, &records[1..], 48)
        .expect_err("nothing decodes")
        .to_string();
    assert!(err.contains("S002_001_1.png"), "{err}");

    let missing = root.join("nowhere");
    let err = image_folder::import(&missing, &m)
        .expect_err("missing")
        .to_string();
    assert!(err.contains("nowhere") && err.contains("fixture"), "{err}");

    let empty = fixture_dir("empty");
    let err = image_folder::import(&empty, &manifest(&empty))
        .expect_err("empty")
        .to_string();
    assert!(err.contains("no images"), "{err}");
    std::fs::remove_dir_all(&root)?;
    std::fs::remove_dir_all(&empty)?;
    Ok(())
}

#[test]
fn malformed_manifest_names_file_and_line() -> Result<()> {
    let dir = fixture_dir("manifest");
    let p = dir.join("broken.yaml");
    std::fs::write(
        &p,
        "name: x\nformat: { kind: image_folder }\nclasses: [anger, smirk]\n",
    )?;
    let err = Manifest::from_file(&p).expect_err("bad class").to_string();
    assert!(err.contains("broken.yaml"), "{err}");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// The shared CK+48 folder, or None (with a message) when this machine has no copy.
fn shared_ckplus48() -> Option<PathBuf> {
    let root = std::env::var_os("FER_CKPLUS48")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/ckplus48")
        });
    if root.is_dir() {
        return Some(root);
    }
    let msg = format!(
        "CK+48 not found at {} (set FER_CKPLUS48 or place ../shared beside the checkout)",
        root.display()
    );
    if std::env::var_os("FER_REQUIRE_SHARED").is_some_and(|v| v == "1") {
        panic!("FER_REQUIRE_SHARED=1 but {msg}");
    }
    eprintln!("skipping: {msg}");
    None
}

#[test]
fn imports_the_real_ckplus48_with_the_repository_manifest() -> Result<()> {
    let Some(root) = shared_ckplus48() else {
        return Ok(());
    };
    let manifest_path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data-manifests/ckplus48.yaml");
    let m = Manifest::from_file(&manifest_path)?;
    let records = image_folder::import(&root, &m)?;
    assert_eq!(records.len(), 981);
    let subjects: std::collections::BTreeSet<&str> =
        records.iter().map(|r| r.subject.as_str()).collect();
    assert_eq!(subjects.len(), 118);
    let with_lms = records.iter().filter(|r| r.landmarks.is_some()).count();
    assert_eq!(with_lms, 979, "two images have no detected face");
    let counts = |e: Expression| records.iter().filter(|r| r.expression == e).count();
    assert_eq!(counts(Expression::Surprise), 249);
    assert_eq!(counts(Expression::Contempt), 54);
    Ok(())
}
