//! `cargo xtask predict`: a model folder and a folder of images into one CSV row per face.
//!
//! - Parity with the reference implementation (issue 20, item 3): the reference CMCNN
//!   (thuiar/cmcnn models/CMCNN.py, unmodified) with deterministic pseudo-random weights and
//!   perturbed batch-norm statistics, run by `data/reference_predict.py` on four formula faces.
//!   This test regenerates the same weights from the same formula (nothing binary is
//!   committed), imports them with `import-reference` and predicts the same faces with
//!   `predict --aligned`: class probabilities and landmarks agree within 1e-5.
//! - The same path as training's evaluation (item 2): a run's test split through
//!   `predict --aligned` gives that run's predictions.csv (needs ../shared).
//! - Raw photos through the face pipeline, the contact sheet, scoring the CSV, and bad input.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{prepare_and_train_ckplus48, shared, temp, xtask_env as xtask};

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn one_line_error(out: &Output) -> String {
    assert!(!out.status.success(), "expected failure");
    let err = String::from_utf8_lossy(&out.stderr).to_string();
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with("note:"))
        .collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {err}");
    lines[0].to_string()
}

/// A CSV as header and rows of named fields.
fn read_csv(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).expect("csv");
    let mut lines = text.lines();
    let header: Vec<String> = lines
        .next()
        .expect("header")
        .split(',')
        .map(String::from)
        .collect();
    lines
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            assert_eq!(f.len(), header.len(), "{l}");
            header
                .iter()
                .cloned()
                .zip(f.into_iter().map(String::from))
                .collect()
        })
        .collect()
}

/// splitmix64's finaliser, as reference_predict.py computes it.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The value of element `i` of float entry `k` named `name` of shape `shape`: the rules of
/// reference_predict.py's header, in its order.
fn reference_value(k: u64, i: u64, name: &str, shape: &[usize]) -> f32 {
    let u = (splitmix64((k << 32) | i) >> 11) as f64 / (1u64 << 53) as f64;
    let numel: usize = shape.iter().product();
    let fan_in = (numel / shape[0]) as f64;
    let v = if name.ends_with("running_var") {
        0.5 + u
    } else if name.ends_with("running_mean") {
        0.2 * (2.0 * u - 1.0)
    } else if name.contains("cross_stitch") {
        0.2 + 0.6 * u
    } else if name.contains("em_maps") && shape.len() >= 2 {
        0.1 * (2.0 * u - 1.0) * (6.0 / fan_in).sqrt()
    } else if shape.len() >= 2 {
        (2.0 * u - 1.0) * (6.0 / fan_in).sqrt()
    } else if shape.len() == 1 && name.ends_with("weight") {
        0.5 + u
    } else {
        0.2 * (2.0 * u - 1.0)
    };
    v as f32
}

/// Face `n` of reference_predict.py, 100x100.
fn formula_face(n: u32) -> image::GrayImage {
    image::GrayImage::from_fn(100, 100, |x, y| {
        let v = ((x * (n + 3) + y * (2 * n + 5) + (x * y) / (7 + n)) * 3 + 17 * n) % 256;
        image::Luma([v as u8])
    })
}

/// data/reference_predict_expected.txt: per face, the probabilities and the 136 landmark values.
fn expected_outputs() -> Vec<(Vec<f64>, Vec<f64>)> {
    let text = include_str!("data/reference_predict_expected.txt");
    let mut probs: Vec<Vec<f64>> = Vec::new();
    let mut landmarks: Vec<Vec<f64>> = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let values: Vec<f64> = f[2]
            .split(' ')
            .map(|v| v.parse().expect("number"))
            .collect();
        match f[0] {
            "probs" => probs.push(values),
            "landmarks" => landmarks.push(values),
            other => panic!("unexpected line kind {other}"),
        }
    }
    probs.into_iter().zip(landmarks).collect()
}

/// The reference CMCNN's state dict regenerated from the formula under its own names,
/// imported by `import-reference` into `<dir>/model`.
fn imported_reference_model(dir: &Path) -> PathBuf {
    let mut tensors = Vec::new();
    for line in include_str!("data/reference_predict_names.txt")
        .lines()
        .filter(|l| !l.starts_with('#'))
    {
        let f: Vec<&str> = line.split('\t').collect();
        let k: u64 = f[0].parse().expect("k");
        let shape: Vec<usize> = f[2].split(',').map(|v| v.parse().expect("dim")).collect();
        let numel: usize = shape.iter().product();
        let data: Vec<f32> = (0..numel as u64)
            .map(|i| reference_value(k, i, f[1], &shape))
            .collect();
        let t =
            candle_core::Tensor::from_vec(data, shape, &candle_core::Device::Cpu).expect("tensor");
        tensors.push((f[1].to_string(), t));
    }
    assert_eq!(
        tensors.len(),
        180,
        "every float entry of the reference CMCNN"
    );
    let checkpoint = dir.join("reference_cmcnn.safetensors");
    candle_core::safetensors::save(&tensors.into_iter().collect::<HashMap<_, _>>(), &checkpoint)
        .expect("save");
    let model = dir.join("model");
    ok(&xtask(
        &[
            "import-reference",
            "--kind",
            "cmcnn",
            "--checkpoint",
            &checkpoint.to_string_lossy(),
            "--out",
            &model.to_string_lossy(),
        ],
        &[],
    ));
    model
}

#[test]
fn predict_matches_the_reference_cmcnn_within_1e_5() {
    let dir = temp("xtask-predict", "reference");
    let model = imported_reference_model(&dir);
    let faces = dir.join("faces");
    std::fs::create_dir_all(&faces).expect("mkdir");
    for n in 0..4 {
        formula_face(n)
            .save(faces.join(format!("face{n}.png")))
            .expect("png");
    }
    let csv = dir.join("predictions.csv");
    ok(&xtask(
        &[
            "predict",
            "--model",
            &model.to_string_lossy(),
            "--images",
            &faces.to_string_lossy(),
            "--aligned",
            "--out",
            &csv.to_string_lossy(),
        ],
        &[],
    ));
    let rows = read_csv(&csv);
    let expected = expected_outputs();
    assert_eq!(rows.len(), 4);
    let mut worst = (0.0f64, 0.0f64);
    for (n, (probs, points)) in expected.iter().enumerate() {
        let row = rows
            .iter()
            .find(|r| r["id"] == format!("face{n}.png"))
            .expect("row");
        assert_eq!(row["status"], "ok");
        for (c, p) in probs.iter().enumerate() {
            let ours: f64 = row[&format!("prob_class_{c}")].parse().expect("prob");
            worst.0 = worst.0.max((ours - p).abs());
        }
        for j in 0..68 {
            for (axis, name) in ["x", "y"].iter().enumerate() {
                let ours: f64 = row[&format!("pred_{name}_{j}")].parse().expect("point");
                worst.1 = worst.1.max((ours - points[2 * j + axis]).abs());
            }
        }
        // The predicted class is the most probable one.
        let best = (0..7)
            .max_by(|&a, &b| probs[a].total_cmp(&probs[b]))
            .expect("class");
        assert_eq!(row["pred_label"], format!("class_{best}"));
    }
    assert!(
        worst.0 < 1e-5 && worst.1 < 1e-5,
        "max |probability| difference {:.3e}, max |landmark| difference {:.3e}",
        worst.0,
        worst.1
    );
    eprintln!(
        "reference parity: max |probability| difference {:.3e}, max |landmark| difference {:.3e}",
        worst.0, worst.1
    );
    // The folder holds a CMCNN checkpoint twice (about 1.3 GB): removed once passed.
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_model_folders_and_outputs_are_refused_by_name() {
    let dir = temp("xtask-predict", "bad");
    let faces = dir.join("faces");
    std::fs::create_dir_all(&faces).expect("mkdir");
    formula_face(0).save(faces.join("a.png")).expect("png");
    let out_csv = dir.join("p.csv");
    let predict = |model: &Path, images: &Path, out: &Path| {
        xtask(
            &[
                "predict",
                "--model",
                &model.to_string_lossy(),
                "--images",
                &images.to_string_lossy(),
                "--aligned",
                "--out",
                &out.to_string_lossy(),
            ],
            &[],
        )
    };
    // A folder with neither kind of config.
    let empty = dir.join("empty-model");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let e = one_line_error(&predict(&empty, &faces, &out_csv));
    assert!(
        e.contains("empty-model") && e.contains("model_config.yaml"),
        "{e}"
    );
    // A config without weights.
    let imported = imported_reference_model(&dir);
    let weights = imported.join("model.safetensors");
    let mut tensors =
        candle_core::safetensors::load(&weights, &candle_core::Device::Cpu).expect("weights");
    std::fs::remove_file(&weights).expect("rm");
    let e = one_line_error(&predict(&imported, &faces, &out_csv));
    assert!(
        e.contains("model.safetensors") && e.contains("no weights"),
        "{e}"
    );
    // Weights of the wrong shape: one tensor of the real file transposed.
    let name = tensors
        .iter()
        .find(|(_, t)| t.rank() == 2 && t.dim(0).ok() != t.dim(1).ok())
        .map(|(n, _)| n.clone())
        .expect("a non-square matrix");
    let transposed = tensors[&name].t().and_then(|t| t.contiguous()).expect("t");
    tensors.insert(name.clone(), transposed);
    candle_core::safetensors::save(&tensors, &weights).expect("save");
    let e = one_line_error(&predict(&imported, &faces, &out_csv));
    assert!(
        e.contains("model.safetensors") && e.contains("does not fit") && e.contains("shape"),
        "{e}"
    );
    // A malformed config names the file and line.
    std::fs::write(
        imported.join("model_config.yaml"),
        "model: cmcnn\nmodel_config:\n  input_size: [1\n",
    )
    .expect("write");
    let e = one_line_error(&predict(&imported, &faces, &out_csv));
    assert!(e.contains("model_config.yaml:"), "{e}");
    // An output in a missing folder is refused before any work; nothing is written.
    let e = one_line_error(&predict(&imported, &faces, &dir.join("no/such/p.csv")));
    assert!(e.contains("no/such") && e.contains("does not exist"), "{e}");
    // An empty image folder.
    let none = dir.join("no-images");
    std::fs::create_dir_all(&none).expect("mkdir");
    let e = one_line_error(&predict(&imported, &none, &out_csv));
    assert!(
        e.contains("no-images") && e.contains("no image files"),
        "{e}"
    );
    assert!(!out_csv.exists(), "nothing partial is written");
    // The folder holds a CMCNN checkpoint twice (about 1.3 GB): removed once passed.
    let _ = std::fs::remove_dir_all(&dir);
}

/// Trains hps for one epoch on a prepared CK+48 subset, then predicts: its test split through
/// `predict --aligned` gives its predictions.csv; raw CK+48 photos go through the face
/// pipeline with the cache's template; the CSV scores; bad faces are listed, not fatal.
#[test]
fn predict_follows_training_evaluation_and_the_face_pipeline() {
    let Some(shared) = shared() else { return };
    let dir = temp("xtask-predict", "pipeline");
    let prepared = prepare_and_train_ckplus48(&shared, &dir, 60, "hps");
    ok(&prepared.prepare);
    ok(&prepared.train);
    let (cache, results) = (prepared.cache, prepared.results);
    let run = walk(&results)
        .into_iter()
        .find(|p| p.ends_with("predictions.csv"))
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .expect("a finished run");

    // Item 2: the run's test faces through predict --aligned equal its predictions.csv.
    let expected = read_csv(&run.join("predictions.csv"));
    let test_faces = dir.join("test-faces");
    for row in &expected {
        // The cache keeps each face under images/ by its source id (already a .png here).
        let from = cache.join("images").join(&row["id"]);
        let to = test_faces.join(&row["id"]);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("{}: {e}", from.display()));
    }
    let aligned_csv = dir.join("aligned.csv");
    ok(&xtask(
        &[
            "predict",
            "--model",
            &run.to_string_lossy(),
            "--images",
            &test_faces.to_string_lossy(),
            "--aligned",
            "--out",
            &aligned_csv.to_string_lossy(),
        ],
        &[],
    ));
    let got: HashMap<String, HashMap<String, String>> = read_csv(&aligned_csv)
        .into_iter()
        .map(|r| (r["id"].clone(), r))
        .collect();
    assert_eq!(got.len(), expected.len());
    let mut worst = 0.0f64;
    for e in &expected {
        let g = &got[&e["id"]];
        assert_eq!(g["pred_label"], e["pred_label"], "{}", e["id"]);
        for j in 0..68 {
            for axis in ["x", "y"] {
                let key = format!("pred_{axis}_{j}");
                let (a, b): (f64, f64) = (
                    g[&key].parse().expect("ours"),
                    e[&key].parse().expect("run"),
                );
                worst = worst.max((a - b).abs());
            }
        }
    }
    // predictions.csv rounds points to 1/1000 pixel.
    assert!(worst <= 5.0001e-4, "landmarks differ by {worst}");

    // Raw photos: CK+48 originals in class folders, one not an image, one blank.
    let photos = dir.join("photos");
    let mut copied = 0;
    for class in ["anger", "happy"] {
        std::fs::create_dir_all(photos.join(class)).expect("mkdir");
        let src = shared.join("datasets/ckplus48").join(class);
        let mut names: Vec<PathBuf> = std::fs::read_dir(&src)
            .expect("class folder")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        names.sort();
        for p in names.iter().take(3) {
            std::fs::copy(p, photos.join(class).join(p.file_name().expect("name"))).expect("copy");
            copied += 1;
        }
    }
    std::fs::write(photos.join("anger/broken.png"), b"not a png").expect("write");
    image::GrayImage::new(64, 64)
        .save(photos.join("happy/blank.png"))
        .expect("png");
    let raw_csv = dir.join("raw.csv");
    let sheet = dir.join("sheet.png");
    let stdout = ok(&xtask(
        &[
            "predict",
            "--model",
            &run.to_string_lossy(),
            "--images",
            &photos.to_string_lossy(),
            "--labels-from-folders",
            "--template",
            &cache.to_string_lossy(),
            "--sheet",
            &sheet.to_string_lossy(),
            "--out",
            &raw_csv.to_string_lossy(),
        ],
        &[("FER_MODELS", &shared.join("models"))],
    ));
    assert!(stdout.contains("1 unreadable"), "{stdout}");
    let rows = read_csv(&raw_csv);
    let broken = rows
        .iter()
        .find(|r| r["image"] == "anger/broken.png")
        .expect("listed");
    assert!(
        broken["status"].starts_with("unreadable"),
        "{:?}",
        broken["status"]
    );
    let blank = rows
        .iter()
        .find(|r| r["image"] == "happy/blank.png")
        .expect("listed");
    assert_eq!(blank["status"], "no face");
    assert_eq!(blank["pred_label"], "");
    let faces: Vec<_> = rows.iter().filter(|r| r["status"] == "ok").collect();
    // MTCNN finds the face in every CK+48 image (40 of 40 in fer-face's parity sample).
    assert_eq!(
        faces.len(),
        copied,
        "{} faces of {copied} photos",
        faces.len()
    );
    for r in &faces {
        // A one-epoch model's points say nothing about the face, so only their presence is
        // checked here; the mapping back to the photo is checked in fer-face's unit tests.
        for j in 0..68 {
            let x: f64 = r[&format!("pred_x_{j}")].parse().expect("x");
            assert!(x.is_finite());
        }
        let (x1, x2): (f64, f64) = (r["x1"].parse().expect("x1"), r["x2"].parse().expect("x2"));
        assert!(x2 > x1, "a box");
        let total: f64 = [
            "anger",
            "contempt",
            "disgust",
            "fear",
            "happiness",
            "sadness",
            "surprise",
        ]
        .iter()
        .map(|c| r[&format!("prob_{c}")].parse::<f64>().expect("prob"))
        .sum();
        assert!((total - 1.0).abs() < 1e-5, "{total}");
        assert!(["anger", "happiness"].contains(&r["true_label"].as_str()));
    }
    assert!(sheet.is_file() && sheet.with_extension("svg").is_file());
    // The file is the score layout: a labelled folder scores directly.
    let scored = ok(&xtask(
        &["score", "--predictions", &raw_csv.to_string_lossy()],
        &[],
    ));
    assert!(scored.contains("acc_total"), "{scored}");

    // Faces of the wrong size for --aligned are refused by file.
    let e = one_line_error(&xtask(
        &[
            "predict",
            "--model",
            &run.to_string_lossy(),
            "--images",
            &photos.join("happy").to_string_lossy(),
            "--aligned",
            "--out",
            &dir.join("x.csv").to_string_lossy(),
        ],
        &[],
    ));
    assert!(e.contains("blank.png") && e.contains("48x48"), "{e}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
