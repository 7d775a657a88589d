//! The face pipeline (`fer_face::prepare`) end to end on a fixture folder the test builds, with a
//! stand-in detector and landmark predictor whose answers are known: a missed face gets the
//! fallback box calibrated on the found ones (the mean of three different boxes), a corrupt image is skipped and counted, the
//! aligned eye and mouth centres land on the template, and the written cache loads back
//! through its manifest with its landmarks.

use anyhow::Result;
use fer_data::formats::image_folder;
use fer_data::{DatasetFormat, FaceDataset, Landmarks68, Manifest, Record};
use fer_face::prepare::{FacePipeline, PrepareConfig, PreparedSample, PREPARED_SAMPLES_CSV};
use fer_face::{FaceBox, FaceDetection, FaceDetector, LandmarkPredictor};
use std::path::{Path, PathBuf};

fn fixture_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fer-face-fp-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Finds one face in every image not marked as a miss, at a box that depends on the image
/// (`found_box`), so that the fallback box is checked as the mean of different boxes.
struct FixedDetector;

/// The box found in an image whose marker pixel (1, 0) holds 10 k: shifted and shrunk by k.
fn found_box(k: f32) -> FaceBox {
    FaceBox {
        left: 4.0 + 2.0 * k,
        top: 2.0 + k,
        right: 44.0 + k,
        bottom: 46.0 - k,
    }
}

impl FaceDetector for FixedDetector {
    fn detect_batch(
        &self,
        images: &[image::RgbImage],
    ) -> fer_face::Result<Vec<Vec<FaceDetection>>> {
        // The fixture marks "miss" images with a bright top-left pixel.
        Ok(images
            .iter()
            .map(|img| {
                if img.get_pixel(0, 0).0[0] == 255 {
                    vec![]
                } else {
                    vec![FaceDetection {
                        bbox: found_box(f32::from(img.get_pixel(1, 0).0[0]) / 10.0),
                        score: 0.99,
                        points: [[0.0; 2]; 5],
                    }]
                }
            })
            .collect())
    }
}

/// Places a fixed 68-point layout inside the given box (relative positions), so the pipeline's
/// geometry can be checked exactly.
struct BoxLayoutPredictor;

fn layout_point(i: usize) -> [f32; 2] {
    match i {
        36..=41 => [0.3, 0.4],
        42..=47 => [0.7, 0.4],
        48..=67 => [0.5, 0.8],
        _ => [(i % 17) as f32 / 17.0, 0.1 + (i / 17) as f32 * 0.05],
    }
}

impl LandmarkPredictor for BoxLayoutPredictor {
    fn predict_landmarks(
        &self,
        _image: &image::GrayImage,
        face: &FaceBox,
    ) -> fer_face::Result<Landmarks68> {
        let mut points = [[0.0f32; 2]; 68];
        for (i, p) in points.iter_mut().enumerate() {
            let r = layout_point(i);
            *p = [
                face.left + r[0] * face.width(),
                face.top + r[1] * face.height(),
            ];
        }
        Ok(Landmarks68::new(points))
    }
}

fn fixture_manifest(root: &Path) -> Manifest {
    let yaml = format!(
        r#"
name: fixture
format: {{ kind: image_folder }}
root: {}
classes: [anger, happiness]
image_size: 48
subject_regex: '^(S\d+)_'
protocol: {{ kind: subject_k_fold, folds: 3 }}
"#,
        root.display()
    );
    serde_yaml::from_str(&yaml).expect("manifest")
}

/// A 48x48 face image; `marker` sets the box the stand-in detector finds (`found_box`).
fn write_face(path: &Path, miss: bool, marker: u8) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    let mut img = image::GrayImage::from_fn(48, 48, |x, y| image::Luma([(x * 3 + y) as u8]));
    img.put_pixel(1, 0, image::Luma([10 * marker]));
    if miss {
        img.put_pixel(0, 0, image::Luma([255]));
    }
    img.save(path).expect("png");
}

fn load_file(r: &Record) -> fer_data::Result<image::DynamicImage> {
    let path = r
        .path
        .as_ref()
        .ok_or_else(|| fer_data::DataError::Config("no path".into()))?;
    image::open(path).map_err(|e| fer_data::DataError::Image {
        path: path.clone(),
        message: e.to_string(),
    })
}

#[test]
fn prepares_a_folder_into_a_cache_the_trainer_can_load() -> Result<()> {
    let root = fixture_dir("src");
    write_face(&root.join("anger/S001_001_01.png"), false, 0);
    write_face(&root.join("anger/S002_001_01.png"), true, 0);
    write_face(&root.join("happy/S001_002_01.png"), false, 1);
    write_face(&root.join("happy/S003_001_01.png"), false, 2);
    // Not an image: must be skipped and counted, not end the run.
    std::fs::write(root.join("happy/S004_001_01.png"), b"not a png")?;

    let manifest = fixture_manifest(&root);
    let records = image_folder::import(&root, &manifest)?;
    assert_eq!(records.len(), 5);

    let out = fixture_dir("out").join("fixture");
    let config = PrepareConfig {
        size: 40,
        batch_size: 2,
        ..PrepareConfig::paper()
    };
    let pipeline = FacePipeline {
        detector: &FixedDetector,
        predictor: &BoxLayoutPredictor,
        config,
    };
    let report = pipeline.run(&manifest, &records, &load_file, &out, &|_, _, _| {})?;

    assert_eq!(report.imported, 5);
    assert_eq!(report.detected, 3);
    assert_eq!(report.fallbacks, 1);
    assert_eq!(report.written, 4);
    assert_eq!(report.failures.len(), 1);
    assert!(report.failures[0].id.contains("S004"));
    assert!(
        report.failures[0].reason.starts_with("decode:"),
        "{:?}",
        report.failures
    );
    // The fallback box is the mean relative box of the three detections, k = 0, 1, 2:
    // left (4 + 6 + 8) / 3 = 6, top (2 + 3 + 4) / 3 = 3, right (44 + 45 + 46) / 3 = 45,
    // bottom (46 + 45 + 44) / 3 = 45, in a 48x48 image.
    let mean_box = [6.0, 3.0, 45.0, 45.0];
    let as_array = |b: FaceBox| [b.left, b.top, b.right, b.bottom];
    let fb = as_array(report.fallback_box.in_image(48, 48));
    assert!(
        fb.iter().zip(mean_box).all(|(g, w)| (g - w).abs() < 1e-4),
        "fallback box {fb:?}, mean of the detections {mean_box:?}"
    );
    assert_eq!(report.fallback_box.calibrated_on, 3);
    // Template: the layout's relative eye and mouth positions scaled to 40 px.
    let t = report.template.expect("template");
    let expect = [[12.0, 16.0], [28.0, 16.0], [20.0, 32.0]];
    for (p, e) in t.points.iter().zip(expect) {
        assert!(
            (p[0] - e[0]).abs() < 1e-3 && (p[1] - e[1]).abs() < 1e-3,
            "{t:?}"
        );
    }

    let samples = PreparedSample::read_csv(&out.join(PREPARED_SAMPLES_CSV))?;
    assert_eq!(samples.len(), 4);
    let missed = samples
        .iter()
        .find(|s| s.source.contains("S002"))
        .expect("the missed face is kept with the fallback box");
    assert!(missed.fallback && missed.score.is_none());
    // ... and that box is the one the missed face was aligned from.
    let face = as_array(missed.face);
    assert!(
        face.iter().zip(mean_box).all(|(g, w)| (g - w).abs() < 1e-3),
        "missed face box {face:?}"
    );
    // A detected face keeps its own box (k = 2 for S003).
    let s003 = samples
        .iter()
        .find(|s| s.source.contains("S003"))
        .expect("S003 prepared");
    let face = as_array(s003.face);
    let want = as_array(found_box(2.0));
    assert!(
        face.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-3),
        "S003 box {face:?}, detector {want:?}"
    );
    for s in &samples {
        let l = s.landmarks;
        let le = l.left_eye_centre();
        assert!(
            (le[0] - 12.0).abs() < 1e-2 && (le[1] - 16.0).abs() < 1e-2,
            "{le:?}"
        );
        let img = image::open(out.join(&s.image))?.into_luma8();
        assert_eq!(img.dimensions(), (40, 40));
    }
    assert!(out.join("prepare.json").is_file() && out.join("failures.csv").is_file());
    assert!(out.join("contact_sheet.png").is_file() && out.join("contact_sheet.csv").is_file());
    assert!(!out.with_file_name("fixture.partial").exists());

    // The cache's manifest loads through the ordinary path, landmarks included.
    let prepared = Manifest::from_file(&out.join("manifest.yaml"))?;
    assert_eq!(prepared.format, DatasetFormat::Prepared);
    assert_eq!(prepared.name, "fixture-prepared");
    let data = FaceDataset::load(&prepared, None, 40, None)?;
    assert_eq!(data.len(), 4);
    assert!(data.has_landmarks());
    assert_eq!(data.subjects().len(), 4);

    // Preparing again replaces the cache in one step.
    let again = pipeline.run(&manifest, &records, &load_file, &out, &|_, _, _| {})?;
    assert_eq!(again.written, 4);
    assert!(!out.with_file_name("fixture.old").exists());
    std::fs::remove_dir_all(&root).ok();
    std::fs::remove_dir_all(out.parent().expect("parent")).ok();
    Ok(())
}

/// FER2013's canonical single CSV goes through the same pipeline: its records have no image
/// files, so the stages read the pixels through `record_image_loader`.
#[test]
fn prepares_fer2013_in_its_csv_form() -> Result<()> {
    let root = fixture_dir("csv");
    let mut text = String::from("emotion,pixels,Usage\n");
    for (i, usage) in ["Training", "Training", "PublicTest", "PrivateTest"]
        .iter()
        .enumerate()
    {
        let pixels: Vec<String> = (0..48 * 48)
            .map(|k| ((k % 48) * 3 + k / 48 + i).min(254).to_string())
            .collect();
        text.push_str(&format!("{},{},{usage}\n", i % 7, pixels.join(" ")));
    }
    std::fs::write(root.join("fer2013.csv"), text)?;
    let yaml = format!(
        r#"
name: fixture-csv
format: {{ kind: fer2013_csv }}
root: {}
classes: [anger, disgust, fear, happiness, sadness, surprise, neutral]
label_map: {{ '0': anger, '1': disgust, '2': fear, '3': happiness, '4': sadness, '5': surprise, '6': neutral }}
image_size: 48
protocol: {{ kind: official }}
"#,
        root.display()
    );
    let manifest: Manifest = serde_yaml::from_str(&yaml)?;
    let records = fer_data::formats::import_records(&manifest, None)?;
    assert_eq!(records.len(), 4);
    assert!(records.iter().all(|r| r.path.is_none()));
    let loader = fer_data::formats::record_image_loader(&manifest, None)?;
    let out = fixture_dir("csv-out").join("fixture-csv");
    let pipeline = FacePipeline {
        detector: &FixedDetector,
        predictor: &BoxLayoutPredictor,
        config: PrepareConfig::native48(),
    };
    let report = pipeline.run(&manifest, &records, &*loader, &out, &|_, _, _| {})?;
    assert_eq!((report.written, report.detected), (4, 4));
    let samples = PreparedSample::read_csv(&out.join(PREPARED_SAMPLES_CSV))?;
    let names: std::collections::BTreeSet<&str> =
        samples.iter().map(|s| s.image.as_str()).collect();
    assert_eq!(names.len(), 4, "one aligned file per CSV row: {names:?}");
    let prepared = Manifest::from_file(&out.join("manifest.yaml"))?;
    let data = FaceDataset::load(&prepared, None, 48, None)?;
    assert_eq!(data.len(), 4);
    std::fs::remove_dir_all(&root).ok();
    std::fs::remove_dir_all(out.parent().expect("parent")).ok();
    Ok(())
}
