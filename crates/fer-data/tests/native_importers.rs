//! The native-layout importers (ARCHITECTURE.md "fer-data", `formats::*`; paper 4.1's datasets) on
//! tiny fixture trees that each test writes into a temporary folder: RAF-DB basic, SFEW 2.0, CK+
//! original, Oulu-CASIA, the FER2013 CSV, OpenFace 2.0 landmark CSVs, the image folder's subject
//! regex, and bad input (corrupt images skipped and counted; unparsable lines named by file and
//! line). No real face image is ever written: the fixtures are flat gray squares.

use anyhow::Result;
use fer_data::formats;
use fer_data::{DataError, Expression, FaceDataset, Manifest, SplitHint};
use std::path::{Path, PathBuf};

/// A temporary folder, removed when the test ends (also when it fails).
struct Fixture(PathBuf);

impl Fixture {
    fn new(name: &str) -> Self {
        let d = std::env::temp_dir().join(format!("fer-data-native-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("temp dir");
        Fixture(d)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A flat gray image, encoded by its extension (PNG or JPEG).
fn write_image(path: &Path, side: u32, v: u8) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    image::GrayImage::from_pixel(side, side, image::Luma([v]))
        .save(path)
        .expect("encode");
}

fn write_text(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// A repository manifest, without its expected count (the fixtures are tiny).
fn repo_manifest(name: &str) -> Manifest {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data-manifests")
        .join(format!("{name}.yaml"));
    let mut m = Manifest::from_file(&path).expect("repository manifest");
    m.expected_count = None;
    m
}

/// 68 points (i + offset, 2i + offset).
fn points(offset: f32) -> Vec<[f32; 2]> {
    (0..68)
        .map(|i| [i as f32 + offset, 2.0 * i as f32 + offset])
        .collect()
}

/// An OpenFace FaceLandmarkImg file (header with OpenFace's leading spaces), one row per face.
fn openface_img_csv(faces: &[(f32, f32)]) -> String {
    let mut header = String::from("face, confidence");
    for axis in ["x", "y"] {
        for i in 0..68 {
            header.push_str(&format!(", {axis}_{i}"));
        }
    }
    let mut text = header + "\n";
    for (k, (confidence, offset)) in faces.iter().enumerate() {
        let p = points(*offset);
        let mut row = format!("{k}, {confidence}");
        for axis in 0..2 {
            for pt in &p {
                row.push_str(&format!(", {}", pt[axis]));
            }
        }
        text.push_str(&row);
        text.push('\n');
    }
    text
}

mod raf_db {
    use super::*;

    fn tree(f: &Fixture) -> PathBuf {
        let root = f.path().join("raf");
        write_text(
            &root.join("EmoLabel/list_patition_label.txt"),
            "train_00001.jpg 5\ntrain_00002.jpg 1\n\ntest_00001.jpg 7\n",
        );
        for (stem, v) in [("train_00001", 10), ("train_00002", 20), ("test_00001", 30)] {
            write_image(
                &root.join(format!("Image/aligned/{stem}_aligned.jpg")),
                100,
                v,
            );
        }
        // The 5 manual points are ignored (not the 68-point markup).
        write_text(
            &root.join("Annotation/manual/train_00001_manual_attri.txt"),
            "1 2\n3 4\n5 6\n7 8\n9 10\n",
        );
        root
    }

    #[test]
    fn imports_labels_splits_and_subjects_and_loads_directly() -> Result<()> {
        let f = Fixture::new("raf");
        let root = tree(&f);
        let m = repo_manifest("raf-db");
        let records = formats::raf_db_basic::import(&root, &m)?;
        assert_eq!(records.len(), 3);
        // 1-based list labels through the manifest: 5 sadness, 1 surprise, 7 neutral.
        let expressions: Vec<Expression> = records.iter().map(|r| r.expression).collect();
        assert_eq!(
            expressions,
            [
                Expression::Sadness,
                Expression::Surprise,
                Expression::Neutral
            ]
        );
        let labels: Vec<Option<usize>> = expressions.iter().map(|e| m.label_of(*e)).collect();
        assert_eq!(labels, [Some(4), Some(0), Some(6)]);
        let hints: Vec<Option<SplitHint>> = records.iter().map(|r| r.split_hint).collect();
        assert_eq!(
            hints,
            [
                Some(SplitHint::Train),
                Some(SplitHint::Train),
                Some(SplitHint::Test)
            ]
        );
        assert_eq!(records[0].subject, "train_00001");
        assert_eq!(records[2].subject, "test_00001");
        assert_eq!(records[0].id, "Image/aligned/train_00001_aligned.jpg");
        assert!(records.iter().all(|r| r.landmarks.is_none()));

        // Aligned by the authors: FaceDataset::load takes it as it is.
        let data = FaceDataset::load(&m, Some(&root), 100, None)?;
        assert_eq!(data.len(), 3);
        assert_eq!(data.samples[1].label, 0);
        assert!(data.skipped().is_empty());
        Ok(())
    }

    #[test]
    fn openface_folder_gives_the_most_confident_face() -> Result<()> {
        let f = Fixture::new("raf-openface");
        let root = tree(&f);
        write_text(
            &root.join("openface/train_00001_aligned.csv"),
            &openface_img_csv(&[(0.4, 1.0), (0.9, 5.0)]),
        );
        let mut m = repo_manifest("raf-db");
        m.landmarks_openface_dir = Some("openface".into());
        let records = formats::import_records(&m, Some(&root))?;
        let l = records[0].landmarks.expect("OpenFace landmarks");
        assert_eq!(l.points[0], [5.0, 5.0]);
        assert_eq!(l.points[67], [72.0, 139.0]);
        // No CSV for the other images: no landmarks.
        assert!(records[1].landmarks.is_none());

        // A named folder that is not there fails the availability check.
        m.landmarks_openface_dir = Some("nowhere".into());
        let e = formats::import_records(&m, Some(&root))
            .expect_err("no folder")
            .to_string();
        assert!(
            e.contains("nowhere") && e.contains("landmarks_openface_dir"),
            "{e}"
        );
        Ok(())
    }

    #[test]
    fn a_bad_label_line_names_file_and_line() -> Result<()> {
        let f = Fixture::new("raf-bad");
        let root = tree(&f);
        let m = repo_manifest("raf-db");
        let list = root.join("EmoLabel/list_patition_label.txt");
        for (text, needle) in [
            ("train_00001.jpg 5\ntrain_00002.jpg\n", "expected"),
            ("train_00001.jpg 5\ntrain_00002.jpg 9\n", "label '9'"),
            ("train_00001.jpg 5\nval_00002.jpg 1\n", "train_"),
            ("train_00001.jpg 5\ntrain_00009.jpg 1\n", "missing"),
        ] {
            std::fs::write(&list, text)?;
            let err = formats::raf_db_basic::import(&root, &m).expect_err(text);
            assert!(matches!(err, DataError::Parse { line: 2, .. }), "{err:?}");
            let e = err.to_string();
            assert!(
                e.contains("list_patition_label.txt:2:") && e.contains(needle),
                "{e}"
            );
        }
        // An empty list names the list.
        std::fs::write(&list, "\n")?;
        let e = formats::raf_db_basic::import(&root, &m)
            .expect_err("empty")
            .to_string();
        assert!(e.contains("list_patition_label.txt"), "{e}");
        Ok(())
    }
}

mod sfew2 {
    use super::*;

    fn tree(f: &Fixture) -> PathBuf {
        let root = f.path().join("sfew");
        write_image(&root.join("Train/Angry/Movie_001_00000001.png"), 64, 10);
        write_image(&root.join("Train/Happy/Movie_002_00000002.png"), 64, 20);
        write_image(&root.join("Train/Happy/Other_003_00000003.png"), 64, 30);
        write_image(&root.join("Train/Unlabelled/x.png"), 64, 30);
        write_image(&root.join("Val/Sad/Movie_004_00000004.png"), 64, 40);
        write_image(&root.join("Val/Surprise/Movie_005_00000005.jpg"), 64, 50);
        root
    }

    #[test]
    fn train_is_train_and_val_is_test() -> Result<()> {
        let f = Fixture::new("sfew");
        let root = tree(&f);
        let m = repo_manifest("sfew2");
        let records = formats::sfew2::import(&root, &m)?;
        assert_eq!(records.len(), 5, "the unlabelled folder is no class");
        let train: Vec<_> = records
            .iter()
            .filter(|r| r.split_hint == Some(SplitHint::Train))
            .collect();
        let test: Vec<_> = records
            .iter()
            .filter(|r| r.split_hint == Some(SplitHint::Test))
            .collect();
        assert_eq!((train.len(), test.len()), (3, 2));
        assert!(records
            .iter()
            .all(|r| r.split_hint != Some(SplitHint::Validation)));
        assert_eq!(records[0].expression, Expression::Anger);
        assert_eq!(records[1].expression, Expression::Happiness);
        assert_eq!(test[0].expression, Expression::Sadness);
        assert_eq!(test[1].expression, Expression::Surprise);
        assert_eq!(records[0].id, "Train/Angry/Movie_001_00000001.png");
        // Each image its own subject (no subject_regex).
        assert_eq!(records[0].subject, "Movie_001_00000001");

        // A subject regex reads more from the name when the manifest has one.
        let mut by_movie = m.clone();
        by_movie.subject_regex = Some(r"^(?P<subject>[A-Za-z]+)_".into());
        let records = formats::sfew2::import(&root, &by_movie)?;
        assert_eq!(records[1].subject, "Movie");
        assert_eq!(records[2].subject, "Other");
        Ok(())
    }

    #[test]
    fn loading_asks_for_preparation_but_records_import() -> Result<()> {
        let f = Fixture::new("sfew-prep");
        let root = tree(&f);
        let m = repo_manifest("sfew2");
        let err = FaceDataset::load(&m, Some(&root), 100, None).expect_err("raw frames");
        assert!(matches!(err, DataError::NeedsPreparation { .. }), "{err:?}");
        let e = err.to_string();
        assert!(
            e.contains("cargo xtask prepare sfew2") && e.contains("sfew2.yaml"),
            "{e}"
        );
        assert_eq!(formats::import_records(&m, Some(&root))?.len(), 5);
        Ok(())
    }

    #[test]
    fn an_empty_part_is_named() -> Result<()> {
        let f = Fixture::new("sfew-empty");
        let root = f.path().join("sfew");
        write_image(&root.join("Train/Angry/a.png"), 8, 1);
        std::fs::create_dir_all(root.join("Val/Angry"))?;
        let m = repo_manifest("sfew2");
        let e = formats::sfew2::import(&root, &m)
            .expect_err("empty Val")
            .to_string();
        assert!(
            e.contains(&root.join("Val").display().to_string()) && e.contains("no images"),
            "{e}"
        );
        Ok(())
    }
}

mod ckplus {
    use super::*;

    fn frames(root: &Path, subject: &str, seq: &str, n: usize) {
        for i in 1..=n {
            write_image(
                &root.join(format!(
                    "cohn-kanade-images/{subject}/{seq}/{subject}_{seq}_{i:08}.png"
                )),
                16,
                i as u8,
            );
        }
    }

    fn emotion(root: &Path, subject: &str, seq: &str, frame: usize, text: &str) -> PathBuf {
        let p = root.join(format!(
            "Emotion/{subject}/{seq}/{subject}_{seq}_{frame:08}_emotion.txt"
        ));
        write_text(&p, text);
        p
    }

    fn landmarks_text(offset: f32) -> String {
        points(offset)
            .iter()
            .map(|p| format!("   {:.7e}   {:.7e}\n", p[0], p[1]))
            .collect()
    }

    fn landmarks(root: &Path, subject: &str, seq: &str, frame: usize, text: &str) -> PathBuf {
        let p = root.join(format!(
            "Landmarks/{subject}/{seq}/{subject}_{seq}_{frame:08}_landmarks.txt"
        ));
        write_text(&p, text);
        p
    }

    fn tree(f: &Fixture) -> PathBuf {
        let root = f.path().join("ckplus");
        // S005/001: 5 frames, disgust (3), landmarks for frames 4 and 5.
        frames(&root, "S005", "001", 5);
        emotion(&root, "S005", "001", 5, "   3.0000000e+00\n");
        landmarks(&root, "S005", "001", 4, &landmarks_text(0.5));
        landmarks(&root, "S005", "001", 5, &landmarks_text(1.5));
        // S005/002: unlabelled.
        frames(&root, "S005", "002", 4);
        // S010/001: neutral (0), not one of the 7 classes.
        frames(&root, "S010", "001", 3);
        emotion(&root, "S010", "001", 3, "   0.0000000e+00\n");
        // S010/002: 2 frames only, surprise (7).
        frames(&root, "S010", "002", 2);
        emotion(&root, "S010", "002", 2, "   7.0000000e+00\n");
        root
    }

    #[test]
    fn last_three_frames_of_labelled_sequences_with_landmarks() -> Result<()> {
        let f = Fixture::new("ckplus");
        let root = tree(&f);
        let m = repo_manifest("ckplus");
        let records = formats::ckplus_original::import(&root, &m)?;
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "cohn-kanade-images/S005/001/S005_001_00000003.png",
                "cohn-kanade-images/S005/001/S005_001_00000004.png",
                "cohn-kanade-images/S005/001/S005_001_00000005.png",
                "cohn-kanade-images/S010/002/S010_002_00000001.png",
                "cohn-kanade-images/S010/002/S010_002_00000002.png",
            ]
        );
        assert!(records[..3]
            .iter()
            .all(|r| r.expression == Expression::Disgust && r.subject == "S005"));
        assert!(records[3..]
            .iter()
            .all(|r| r.expression == Expression::Surprise && r.subject == "S010"));
        assert_eq!(m.label_of(records[0].expression), Some(2));
        assert!(records.iter().all(|r| r.split_hint.is_none()));
        assert!(records[0].landmarks.is_none());
        let l = records[2].landmarks.expect("landmarks of frame 5");
        assert_eq!(l.points[0], [1.5, 1.5]);
        assert_eq!(l.points[67], [68.5, 135.5]);
        assert_eq!(records[1].landmarks.expect("frame 4").points[1], [1.5, 2.5]);

        let err = FaceDataset::load(&m, Some(&root), 100, None).expect_err("raw frames");
        assert!(
            err.to_string().contains("cargo xtask prepare ckplus"),
            "{err}"
        );
        Ok(())
    }

    #[test]
    fn bad_emotion_and_landmark_files_name_file_and_line() -> Result<()> {
        let f = Fixture::new("ckplus-bad");
        let root = tree(&f);
        let m = repo_manifest("ckplus");

        let p = emotion(&root, "S010", "002", 2, "\n   happy\n");
        let e = formats::ckplus_original::import(&root, &m)
            .expect_err("word")
            .to_string();
        assert!(
            e.contains(&format!("{}:2:", p.display())) && e.contains("happy"),
            "{e}"
        );
        emotion(&root, "S010", "002", 2, "   9.0000000e+00\n");
        let e = formats::ckplus_original::import(&root, &m)
            .expect_err("code 9")
            .to_string();
        assert!(
            e.contains("S010_002_00000002_emotion.txt:1:") && e.contains("9"),
            "{e}"
        );
        emotion(&root, "S010", "002", 2, "   7.0000000e+00\n");

        let short: String = landmarks_text(0.0)
            .lines()
            .take(67)
            .map(|l| format!("{l}\n"))
            .collect();
        let p = landmarks(&root, "S005", "001", 5, &short);
        let e = formats::ckplus_original::import(&root, &m)
            .expect_err("67 points")
            .to_string();
        assert!(
            e.contains(&format!("{}:67:", p.display())) && e.contains("67 points"),
            "{e}"
        );
        let bad: String = std::iter::once("  x 1\n".to_string())
            .chain(
                landmarks_text(0.0)
                    .lines()
                    .skip(1)
                    .map(|l| format!("{l}\n")),
            )
            .collect();
        landmarks(&root, "S005", "001", 5, &bad);
        let e = formats::ckplus_original::import(&root, &m)
            .expect_err("not a number")
            .to_string();
        assert!(e.contains("_landmarks.txt:1:"), "{e}");
        Ok(())
    }

    #[test]
    fn a_labelled_sequence_without_frames_is_named() -> Result<()> {
        let f = Fixture::new("ckplus-noframes");
        let root = tree(&f);
        emotion(&root, "S011", "001", 9, "   1.0000000e+00\n");
        let m = repo_manifest("ckplus");
        let e = formats::ckplus_original::import(&root, &m)
            .expect_err("no frames")
            .to_string();
        assert!(e.contains("S011") && e.contains("no frames"), "{e}");
        Ok(())
    }
}

mod oulu_casia {
    use super::*;

    #[test]
    fn last_three_frames_by_name_and_subject_folders() -> Result<()> {
        let f = Fixture::new("oulu");
        let root = f.path().join("oulu");
        let base = root.join("VL/Strong");
        for i in 0..5 {
            write_image(&base.join(format!("P001/Anger/{i:03}.jpeg")), 16, i);
        }
        for i in 0..2 {
            write_image(&base.join(format!("P001/Happiness/{i:03}.jpeg")), 16, i);
        }
        for i in [9, 10, 11, 12] {
            write_image(&base.join(format!("P002/Surprise/{i:03}.jpeg")), 16, i);
        }
        write_text(&base.join("P002/Surprise/Thumbs.db"), "not a frame");
        std::fs::create_dir_all(base.join("P002/notes"))?;
        let m = repo_manifest("oulu-casia");
        let records = formats::oulu_casia::import(&root, &m)?;
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "VL/Strong/P001/Anger/002.jpeg",
                "VL/Strong/P001/Anger/003.jpeg",
                "VL/Strong/P001/Anger/004.jpeg",
                "VL/Strong/P001/Happiness/000.jpeg",
                "VL/Strong/P001/Happiness/001.jpeg",
                "VL/Strong/P002/Surprise/010.jpeg",
                "VL/Strong/P002/Surprise/011.jpeg",
                "VL/Strong/P002/Surprise/012.jpeg",
            ]
        );
        let subjects: Vec<&str> = records.iter().map(|r| r.subject.as_str()).collect();
        assert_eq!(subjects[..5], ["P001"; 5]);
        assert_eq!(subjects[5..], ["P002"; 3]);
        assert_eq!(records[0].expression, Expression::Anger);
        assert_eq!(records[3].expression, Expression::Happiness);
        assert_eq!(records[7].expression, Expression::Surprise);

        let err = FaceDataset::load(&m, Some(&root), 100, None).expect_err("raw frames");
        assert!(matches!(err, DataError::NeedsPreparation { .. }), "{err:?}");

        // An expression folder without frames is named.
        std::fs::create_dir_all(base.join("P002/Fear"))?;
        let e = formats::oulu_casia::import(&root, &m)
            .expect_err("empty Fear")
            .to_string();
        assert!(
            e.contains(&base.join("P002/Fear").display().to_string()),
            "{e}"
        );
        // And an empty VL/Strong too.
        let empty = f.path().join("empty");
        std::fs::create_dir_all(empty.join("VL/Strong"))?;
        let e = formats::oulu_casia::import(&empty, &m)
            .expect_err("no sequence")
            .to_string();
        assert!(
            e.contains(&empty.join("VL/Strong").display().to_string()) && e.contains("no sequence"),
            "{e}"
        );
        Ok(())
    }
}

mod fer2013_csv {
    use super::*;

    fn pixels(v: u8) -> String {
        (0..2304)
            .map(|i| ((v as usize + i) % 256).to_string())
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn csv(rows: &[(&str, String, &str)]) -> String {
        let mut s = String::from("emotion,pixels,Usage\n");
        for (e, p, u) in rows {
            s.push_str(&format!("{e},{p},{u}\n"));
        }
        s
    }

    fn good_rows() -> Vec<(&'static str, String, &'static str)> {
        vec![
            ("0", pixels(0), "Training"),
            ("3", pixels(10), "PublicTest"),
            ("6", pixels(20), "PrivateTest"),
            ("4", pixels(30), "Training"),
        ]
    }

    #[test]
    fn rows_decode_with_labels_usages_and_one_subject_each() -> Result<()> {
        let f = Fixture::new("fer-csv");
        let root = f.path().join("fer");
        write_text(&root.join("fer2013.csv"), &csv(&good_rows()));
        let m = repo_manifest("fer2013-csv");
        assert!(!m.format.needs_preparation());
        let rows = formats::fer2013_csv::read_rows(&root.join("fer2013.csv"), &m)?;
        assert_eq!(rows.len(), 4);
        let (r, img) = &rows[1];
        assert_eq!(r.expression, Expression::Happiness);
        assert_eq!(r.split_hint, Some(SplitHint::Validation));
        assert_eq!(r.id, "fer2013.csv:3");
        assert_eq!(r.subject, r.id);
        assert!(r.path.is_none());
        assert_eq!(img.dimensions(), (48, 48));
        // Row-major: pixel (x, y) is value y * 48 + x.
        assert_eq!(img.get_pixel(1, 0).0[0], 11);
        assert_eq!(img.get_pixel(0, 1).0[0], 58);

        // The root may be the folder or the file itself.
        for r in [root.clone(), root.join("fer2013.csv")] {
            let data = FaceDataset::load(&m, Some(&r), 48, None)?;
            assert_eq!(data.len(), 4);
            let labels: Vec<usize> = data.samples.iter().map(|s| s.label).collect();
            assert_eq!(labels, [0, 3, 6, 4]);
            assert_eq!(data.samples[0].image.pixels[..3], [0.0, 1.0, 2.0]);
            let split = m
                .protocol
                .splits(&data.subjects(), &data.split_hints(), 0)?
                .remove(0);
            assert_eq!(split.train, [0, 3]);
            assert_eq!((split.val.clone(), split.test.clone()), (vec![1], vec![2]));
        }
        // Loading at another size resizes.
        let data = FaceDataset::load(&m, Some(&root), 24, None)?;
        assert_eq!(data.samples[0].image.pixels.len(), 24 * 24);
        // A missing CSV is named by the availability check.
        let e = FaceDataset::load(&m, Some(&f.path().join("none")), 48, None)
            .expect_err("no csv")
            .to_string();
        assert!(
            e.contains("fer2013.csv") && e.contains("FER_FER2013_CSV"),
            "{e}"
        );
        Ok(())
    }

    #[test]
    fn bad_rows_name_file_and_line() -> Result<()> {
        let f = Fixture::new("fer-csv-bad");
        let path = f.path().join("fer2013.csv");
        let m = repo_manifest("fer2013-csv");
        let short: String = pixels(0)
            .rsplit_once(' ')
            .map(|(a, _)| a.to_string())
            .unwrap_or_default();
        let big = pixels(0).replacen("0 ", "256 ", 1);
        let cases: [(&str, String, &str, &str); 5] = [
            ("3", short, "Training", "2303 pixel values"),
            ("3", big, "Training", "'256'"),
            ("3", pixels(0), "Holdout", "usage 'Holdout'"),
            ("8", pixels(0), "Training", "emotion '8'"),
            ("3", format!("{},5", pixels(0)), "Training", "4 fields"),
        ];
        for (e, p, u, needle) in cases {
            let mut rows = good_rows();
            rows.insert(2, (e, p, u));
            write_text(&path, &csv(&rows));
            let err = formats::fer2013_csv::read_rows(&path, &m).expect_err(needle);
            let msg = err.to_string();
            assert!(
                matches!(err, DataError::Parse { line: 4, .. })
                    && msg.contains("fer2013.csv:4:")
                    && msg.contains(needle),
                "{msg}"
            );
        }
        Ok(())
    }
}

mod openface {
    use super::*;
    use fer_data::formats::openface_csv::{best_face, read_openface_csv};

    /// A FeatureExtraction-style file: leading spaces, 3D and eye points around the 2D ones.
    fn feature_extraction(rows: &[(u32, f32, u8, f32)]) -> String {
        let mut header =
            String::from("frame, face_id, timestamp, confidence, success, eye_lmk_x_0");
        for axis in ["x", "y"] {
            for i in 0..68 {
                header.push_str(&format!(", {axis}_{i}"));
            }
        }
        header.push_str(", X_0, p_scale");
        let mut text = header + "\n";
        for (frame, confidence, success, offset) in rows {
            let p = points(*offset);
            let mut row = format!("{frame}, 0, 0.033, {confidence}, {success}, 99.0");
            for axis in 0..2 {
                for pt in &p {
                    row.push_str(&format!(", {}", pt[axis]));
                }
            }
            row.push_str(", -12.5, 1.1");
            text.push_str(&row);
            text.push('\n');
        }
        text
    }

    #[test]
    fn reads_feature_extraction_and_face_landmark_img_output() -> Result<()> {
        let f = Fixture::new("openface");
        let p = f.path().join("video.csv");
        write_text(
            &p,
            &feature_extraction(&[(1, 0.98, 1, 3.0), (2, 0.0, 0, 0.0)]),
        );
        let faces = read_openface_csv(&p)?;
        assert_eq!(faces.len(), 2);
        assert_eq!(faces[0].frame, Some(1));
        assert_eq!(faces[0].face, Some(0));
        assert!(faces[0].success && !faces[1].success);
        assert!((faces[0].confidence - 0.98).abs() < 1e-6);
        // x_i / y_i, not eye_lmk_x_0 or X_0.
        assert_eq!(faces[0].landmarks.points[0], [3.0, 3.0]);
        assert_eq!(faces[0].landmarks.points[10], [13.0, 23.0]);
        assert_eq!(best_face(&faces).map(|f| f.frame), Some(Some(1)));

        let p = f.path().join("img.csv");
        write_text(&p, &openface_img_csv(&[(0.3, 1.0), (0.8, 2.0), (0.5, 3.0)]));
        let faces = read_openface_csv(&p)?;
        assert_eq!(faces.len(), 3);
        assert!(faces.iter().all(|f| f.success && f.frame.is_none()));
        assert_eq!(faces[2].face, Some(2));
        assert_eq!(faces[1].line, 3);
        let best = best_face(&faces).expect("a face");
        assert_eq!(best.landmarks.points[0], [2.0, 2.0]);

        // OpenFace found no face: header only, or nothing.
        write_text(&p, &openface_img_csv(&[]));
        assert!(read_openface_csv(&p)?.is_empty());
        write_text(&p, "");
        assert!(read_openface_csv(&p)?.is_empty());
        Ok(())
    }

    #[test]
    fn malformed_files_name_file_and_line() -> Result<()> {
        let f = Fixture::new("openface-bad");
        let p = f.path().join("bad.csv");
        // Wrong number of columns on line 3.
        let mut text = openface_img_csv(&[(0.9, 1.0), (0.9, 2.0)]);
        let lines: Vec<&str> = text.lines().collect();
        text = format!("{}\n{}\n{}, 7\n", lines[0], lines[1], lines[2]);
        write_text(&p, &text);
        let e = read_openface_csv(&p).expect_err("columns").to_string();
        assert!(e.contains("bad.csv:3:") && e.contains("fields"), "{e}");
        // A missing y_5 column: the header line.
        write_text(
            &p,
            &openface_img_csv(&[(0.9, 1.0)]).replacen(", y_5,", ", z_5,", 1),
        );
        let e = read_openface_csv(&p).expect_err("y_5").to_string();
        assert!(e.contains("bad.csv:1:") && e.contains("y_5"), "{e}");
        // A non-number.
        write_text(
            &p,
            &openface_img_csv(&[(0.9, 1.0)]).replacen(", 0.9, ", ", high, ", 1),
        );
        let e = read_openface_csv(&p).expect_err("text").to_string();
        assert!(
            e.contains("bad.csv:2:") && e.contains("confidence") && e.contains("high"),
            "{e}"
        );
        // NaN, inf and values past f32 are refused as the landmark CSV refuses them.
        for value in ["NaN", "inf", "-1e39"] {
            write_text(
                &p,
                &openface_img_csv(&[(0.9, 1.0)]).replacen(", 0.9, ", &format!(", {value}, "), 1),
            );
            let e = read_openface_csv(&p).expect_err(value).to_string();
            assert!(
                e.contains("bad.csv:2:") && e.contains("not a finite number"),
                "{value}: {e}"
            );
        }
        Ok(())
    }

    #[test]
    fn both_landmark_sources_in_one_manifest_are_refused() -> Result<()> {
        let f = Fixture::new("openface-manifest");
        let p = f.path().join("both.yaml");
        write_text(
            &p,
            "name: both\nformat: { kind: image_folder }\nroot: /x\nclasses: [anger, fear]\nimage_size: 48\nlandmarks_csv: l.csv\nlandmarks_openface_dir: of\nprotocol: { kind: official }\n",
        );
        let e = Manifest::from_file(&p).expect_err("both").to_string();
        assert!(e.contains("both.yaml") && e.contains("keep one"), "{e}");
        Ok(())
    }
}

mod image_folder {
    use super::*;
    use fer_data::formats::landmark_csv::landmark_csv_header;

    fn manifest(root: &Path, extra: &str) -> Manifest {
        let yaml = format!(
            "name: folder\nformat: {{ kind: image_folder }}\nroot: {}\nclasses: [anger, happiness]\nimage_size: 32\nsubject_regex: '^sub-(?P<subject>[a-z]+)-\\d+$'\n{extra}protocol: {{ kind: subject_k_fold, folds: 3 }}\n",
            root.display()
        );
        serde_yaml::from_str(&yaml).expect("manifest")
    }

    #[test]
    fn a_named_subject_group_and_an_openface_folder() -> Result<()> {
        let f = Fixture::new("folder");
        let root = f.path().join("faces");
        write_image(&root.join("anger/sub-ann-1.png"), 32, 1);
        write_image(&root.join("happy/sub-bob-2.png"), 32, 2);
        // Mirrored tree for one image, flat stem for the other.
        write_text(
            &root.join("of/anger/sub-ann-1.csv"),
            &openface_img_csv(&[(0.9, 4.0)]),
        );
        write_text(
            &root.join("of/sub-bob-2.csv"),
            &openface_img_csv(&[(0.9, 6.0)]),
        );
        let m = manifest(&root, "landmarks_openface_dir: of\n");
        let records = formats::import_records(&m, None)?;
        assert_eq!(records[0].subject, "ann");
        assert_eq!(records[1].subject, "bob");
        assert_eq!(
            records[0].landmarks.expect("mirrored").points[0],
            [4.0, 4.0]
        );
        assert_eq!(records[1].landmarks.expect("flat").points[0], [6.0, 6.0]);

        // A file name the regex does not match is named.
        write_image(&root.join("anger/unnamed.png"), 32, 3);
        let e = formats::import_records(&m, None)
            .expect_err("no match")
            .to_string();
        assert!(e.contains("unnamed") && e.contains("subject_regex"), "{e}");
        Ok(())
    }

    #[test]
    fn a_landmark_csv_with_a_wrong_column_count_names_file_and_line() -> Result<()> {
        let f = Fixture::new("folder-lmcsv");
        let root = f.path().join("faces");
        write_image(&root.join("anger/sub-ann-1.png"), 32, 1);
        write_text(
            &root.join("lm.csv"),
            &format!("{}\nanger/sub-ann-1.png,1,2,3\n", landmark_csv_header()),
        );
        let m = manifest(&root, "landmarks_csv: lm.csv\n");
        let e = formats::import_records(&m, None)
            .expect_err("short row")
            .to_string();
        assert!(e.contains("lm.csv:2:") && e.contains("fields"), "{e}");
        Ok(())
    }
}

mod bad_images {
    use super::*;

    #[test]
    fn corrupt_truncated_and_fake_images_are_skipped_and_counted() -> Result<()> {
        let f = Fixture::new("bad-images");
        let root = f.path().join("sfew");
        write_image(&root.join("Train/Angry/good_1.png"), 32, 10);
        write_image(&root.join("Val/Happy/good_2.jpg"), 32, 20);
        // A PNG cut in half.
        let truncated = root.join("Train/Angry/truncated.png");
        write_image(&truncated, 32, 30);
        let bytes = std::fs::read(&truncated)?;
        std::fs::write(&truncated, &bytes[..bytes.len() / 2])?;
        // Text named .png.
        write_text(&root.join("Train/Happy/notes.png"), "not an image at all");
        // A JPEG whose body is garbage after a valid header.
        let corrupt = root.join("Val/Happy/corrupt.jpg");
        write_image(&corrupt, 32, 40);
        let mut bytes = std::fs::read(&corrupt)?;
        let n = bytes.len();
        bytes.truncate(n.min(30));
        bytes.extend(std::iter::repeat_n(0xAB, 200));
        std::fs::write(&corrupt, bytes)?;

        let m = repo_manifest("sfew2");
        let records = formats::sfew2::import(&root, &m)?;
        assert_eq!(
            records.len(),
            5,
            "every file with an image extension is listed"
        );
        let data = FaceDataset::from_records("sfew", &m.classes, &records, 32)?;
        assert_eq!(data.len(), 2);
        let mut skipped: Vec<String> = data.skipped().iter().map(|s| s.id.clone()).collect();
        skipped.sort();
        assert_eq!(
            skipped,
            [
                "Train/Angry/truncated.png",
                "Train/Happy/notes.png",
                "Val/Happy/corrupt.jpg"
            ]
        );
        assert!(data.skipped().iter().all(|s| !s.reason.is_empty()));
        Ok(())
    }
}

mod dispatch {
    use super::*;

    #[test]
    fn import_records_checks_availability_and_refuses_synthfer() -> Result<()> {
        let m = repo_manifest("synthfer");
        let e = formats::import_records(&m, None)
            .expect_err("in memory")
            .to_string();
        assert!(e.contains("synthfer"), "{e}");
        let m = repo_manifest("oulu-casia");
        let f = Fixture::new("dispatch");
        let e = formats::import_records(&m, Some(f.path()))
            .expect_err("no VL")
            .to_string();
        assert!(
            e.contains("VL/Strong") && e.contains("FER_OULU_CASIA"),
            "{e}"
        );
        Ok(())
    }
}
