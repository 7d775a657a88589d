//! The parsers `cargo xtask fuzz` covers: every reader a user's file reaches (issue 18's list),
//! each with seed files that it accepts. A target writes the input where its parser reads it
//! (a file with the format's extension) and ignores the result: only a panic, an abort or an
//! allocation over the limit is a failure.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use candle_core::{Device, Tensor};
use fer_data::{Manifest, NUM_LANDMARKS};

/// One parser under test.
pub struct FuzzTarget {
    pub name: &'static str,
    /// The extension of the file the input is written to.
    pub extension: &'static str,
    /// Valid inputs to start from; empty (with the reason) where they need ../shared.
    pub seeds: fn() -> Result<Vec<Vec<u8>>>,
    /// Parses the input (`bytes`, also written at `path`).
    pub run: fn(&Path, &[u8]),
}

/// Every target, in a fixed order.
pub fn fuzz_targets() -> Vec<FuzzTarget> {
    vec![
        FuzzTarget {
            name: "image",
            extension: "png",
            seeds: image_seeds,
            run: |_, bytes| drop(fer_data::decode_image(bytes)),
        },
        FuzzTarget {
            name: "landmark-csv",
            extension: "csv",
            seeds: || Ok(vec![landmark_csv().into_bytes()]),
            run: |path, _| drop(fer_data::formats::landmark_csv::read_landmark_csv(path)),
        },
        FuzzTarget {
            name: "openface-csv",
            extension: "csv",
            seeds: || Ok(vec![openface_csv().into_bytes()]),
            run: |path, _| drop(fer_data::formats::openface_csv::read_openface_csv(path)),
        },
        FuzzTarget {
            name: "predictions-csv",
            extension: "csv",
            seeds: || {
                Ok(vec![
                    predictions_csv(true).into_bytes(),
                    predictions_csv(false).into_bytes(),
                ])
            },
            run: |path, _| {
                drop(fer_train::score_predictions_csv(
                    path,
                    &fer_train::ScoreOptions::default(),
                ))
            },
        },
        FuzzTarget {
            name: "boxes-csv",
            extension: "csv",
            seeds: || {
                Ok(vec![b"image,success,box_left,box_top,box_right,box_bottom\na.png,1,3,4,40,44\nb.png,0,,,,\n".to_vec()])
            },
            run: |path, _| drop(crate::commands::annotate::read_boxes(path)),
        },
        FuzzTarget {
            name: "prepared-samples-csv",
            extension: "csv",
            seeds: || Ok(vec![prepared_samples_csv()?]),
            run: |path, _| drop(fer_data::PreparedSample::read_csv(path)),
        },
        FuzzTarget {
            name: "fer2013-csv",
            extension: "csv",
            seeds: || Ok(vec![fer2013_csv().into_bytes()]),
            run: |path, _| {
                if let Ok(m) = manifest("fer2013") {
                    drop(fer_data::formats::fer2013_csv::read_rows(path, &m));
                }
            },
        },
        FuzzTarget {
            name: "ckplus-emotion-txt",
            extension: "txt",
            seeds: || Ok(vec![b"   3.0000000e+00\n".to_vec()]),
            run: |path, _| {
                if let Ok(m) = manifest("ckplus") {
                    drop(fer_data::formats::ckplus_original::read_emotion(path, &m));
                }
            },
        },
        FuzzTarget {
            name: "ckplus-landmarks-txt",
            extension: "txt",
            seeds: || Ok(vec![ckplus_landmarks_txt().into_bytes()]),
            run: |path, _| {
                drop(fer_data::formats::ckplus_original::read_ckplus_landmarks(
                    path,
                ))
            },
        },
        FuzzTarget {
            name: "manifest-yaml",
            extension: "yaml",
            seeds: || files_in(&crate::workspace::root().join("data-manifests"), "yaml"),
            run: |path, _| drop(Manifest::from_file(path)),
        },
        FuzzTarget {
            name: "experiment-yaml",
            extension: "yaml",
            seeds: || files_in(&crate::workspace::root().join("experiments"), "yaml"),
            run: |path, _| {
                let ws = crate::workspace::workspace();
                drop(fer_experiments::ExperimentSpec::load(
                    &ws,
                    &path.to_string_lossy(),
                ));
            },
        },
        FuzzTarget {
            name: "safetensors",
            extension: "safetensors",
            seeds: || Ok(vec![safetensors_seed()?]),
            run: |path, _| drop(fer_models::io::reference_checkpoint::read_state_dict(path)),
        },
        FuzzTarget {
            name: "pth",
            extension: "pth",
            seeds: torch_seeds,
            run: |path, _| drop(fer_models::io::reference_checkpoint::read_state_dict(path)),
        },
        FuzzTarget {
            name: "mtcnn-pt",
            extension: "pt",
            seeds: torch_seeds,
            run: |path, _| drop(fer_face::mtcnn::TorchStateDict::read(path, &Device::Cpu)),
        },
        FuzzTarget {
            name: "dlib-dat",
            extension: "dat",
            seeds: || Ok(vec![fer_face::ert::minimal_model::minimal_model()]),
            run: |path, bytes| drop(fer_face::ert::ShapePredictor::from_bytes(bytes, path)),
        },
    ]
}

/// A state dict in PyTorch's zip format (written by `tiny_state_dict.py` beside this file),
/// so that the mutations start inside candle's zip path and not only the legacy MTCNN files.
const TINY_STATE_DICT: &[u8] = include_bytes!("tiny_state_dict.pth");

fn manifest(name: &str) -> Result<Manifest> {
    Ok(crate::workspace::workspace().load_manifest(name)?)
}

fn files_in(dir: &Path, extension: &str) -> Result<Vec<Vec<u8>>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == extension))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| std::fs::read(p).with_context(|| format!("reading {}", p.display())))
        .collect()
}

/// PNG and JPEG, grey and colour, written by the `image` crate.
fn image_seeds() -> Result<Vec<Vec<u8>>> {
    let grey = image::DynamicImage::ImageLuma8(image::GrayImage::from_fn(12, 9, |x, y| {
        image::Luma([(x * 20 + y * 7) as u8])
    }));
    let colour = image::DynamicImage::ImageRgb8(grey.to_rgb8());
    let mut out = Vec::new();
    for img in [&grey, &colour] {
        for format in [image::ImageFormat::Png, image::ImageFormat::Jpeg] {
            let mut bytes = std::io::Cursor::new(Vec::new());
            img.write_to(&mut bytes, format)?;
            out.push(bytes.into_inner());
        }
    }
    Ok(out)
}

/// `x_0..x_67`, `y_0..y_67` as column names with a prefix.
fn point_columns(prefix: &str) -> Vec<String> {
    let mut cols: Vec<String> = (0..NUM_LANDMARKS)
        .map(|i| format!("{prefix}x_{i}"))
        .collect();
    cols.extend((0..NUM_LANDMARKS).map(|i| format!("{prefix}y_{i}")));
    cols
}

/// 136 coordinates on a circle.
fn point_values() -> Vec<String> {
    let xs = (0..NUM_LANDMARKS).map(|i| format!("{:.2}", 24.0 + 10.0 * (i as f64 * 0.09).cos()));
    let ys = (0..NUM_LANDMARKS).map(|i| format!("{:.2}", 24.0 + 10.0 * (i as f64 * 0.09).sin()));
    xs.chain(ys).collect()
}

fn landmark_csv() -> String {
    format!(
        "image,success,{}\na.png,1,{}\nb.png,0{}\n",
        point_columns("").join(","),
        point_values().join(","),
        ",".repeat(2 * NUM_LANDMARKS)
    )
}

fn openface_csv() -> String {
    format!(
        "face, confidence, {}\n0, 0.98, {}\n",
        point_columns("").join(", "),
        point_values().join(", ")
    )
}

fn predictions_csv(landmarks: bool) -> String {
    if !landmarks {
        return "id,true_label,pred_label\na,happiness,happiness\nb,anger,surprise\n".into();
    }
    let values = point_values().join(",");
    format!(
        "id,true_label,pred_label,{},{}\na,happiness,happiness,{values},{values}\n",
        point_columns("true_").join(","),
        point_columns("pred_").join(",")
    )
}

fn prepared_samples_csv() -> Result<Vec<u8>> {
    let path = std::env::temp_dir().join(format!("fer-fuzz-seed-{}.csv", std::process::id()));
    let values = point_values();
    let landmarks = fer_data::Landmarks68::from_xs_ys(
        &values[..NUM_LANDMARKS]
            .iter()
            .map(|v| v.parse().unwrap_or(0.0))
            .collect::<Vec<f32>>(),
        &values[NUM_LANDMARKS..]
            .iter()
            .map(|v| v.parse().unwrap_or(0.0))
            .collect::<Vec<f32>>(),
    )
    .context("seed landmarks")?;
    let sample = fer_data::PreparedSample {
        image: "faces/a.png".into(),
        expression: fer_data::Expression::Happiness,
        subject: "S1".into(),
        split: None,
        source: "a".into(),
        fallback: false,
        score: Some(0.99),
        face: fer_data::FaceBox::new(1.0, 2.0, 40.0, 44.0),
        landmarks,
    };
    fer_data::PreparedSample::write_csv(&[sample], &path)?;
    let bytes = std::fs::read(&path)?;
    let _ = std::fs::remove_file(&path);
    Ok(bytes)
}

fn fer2013_csv() -> String {
    let pixels: Vec<String> = (0..48 * 48).map(|i| (i % 256).to_string()).collect();
    format!(
        "emotion,pixels,Usage\n3,{},Training\n0,{},PrivateTest\n",
        pixels.join(" "),
        pixels.join(" ")
    )
}

fn ckplus_landmarks_txt() -> String {
    let v = point_values();
    (0..NUM_LANDMARKS)
        .map(|i| format!("   {}   {}\n", v[i], v[NUM_LANDMARKS + i]))
        .collect()
}

fn safetensors_seed() -> Result<Vec<u8>> {
    let path =
        std::env::temp_dir().join(format!("fer-fuzz-seed-{}.safetensors", std::process::id()));
    let tensors = std::collections::HashMap::from([
        (
            "conv1.weight".to_string(),
            Tensor::arange(0f32, 24.0, &Device::Cpu)?.reshape((2, 3, 2, 2))?,
        ),
        (
            "fc.bias".to_string(),
            Tensor::arange(0f32, 3.0, &Device::Cpu)?,
        ),
    ]);
    candle_core::safetensors::save(&tensors, &path)?;
    let bytes = std::fs::read(&path)?;
    let _ = std::fs::remove_file(&path);
    Ok(bytes)
}

/// The MTCNN weight files of ../shared/models (real torch pickles), when they are there.
/// The zip seed, then the legacy-format MTCNN files when ../shared is here.
fn torch_seeds() -> Result<Vec<Vec<u8>>> {
    let mut seeds = vec![TINY_STATE_DICT.to_vec()];
    seeds.extend(shared_torch_files()?);
    Ok(seeds)
}

fn shared_torch_files() -> Result<Vec<Vec<u8>>> {
    let dir = crate::commands::bench::shared_dir().join("models/mtcnn");
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    files_in(&dir, "pt")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The zip seed is a valid checkpoint our reader takes apart, views with offsets included
    /// (values from tiny_state_dict.py), so mutations of it reach the tensor records.
    #[test]
    fn the_zip_seed_reads_as_pytorch_wrote_it() {
        let path = std::env::temp_dir().join(format!("tiny-{}.pth", std::process::id()));
        std::fs::write(&path, TINY_STATE_DICT).unwrap();
        let dict = fer_models::io::reference_checkpoint::read_state_dict(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let get = |n: &str| {
            dict.iter()
                .find(|(k, _)| k == n)
                .map(|(_, t)| t.clone())
                .unwrap()
        };
        assert_eq!(dict.len(), 5);
        let conv = get("conv.weight");
        assert_eq!(conv.dims(), &[2, 1, 2, 3]);
        let v: Vec<f32> = conv.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(v, (0..12).map(|i| i as f32 / 8.0).collect::<Vec<_>>());
        // torch.linspace(-1, 1, 10)[2:8]: -1 + 2 * k / 9 for k = 2..8.
        let fc: Vec<f32> = get("fc.weight").flatten_all().unwrap().to_vec1().unwrap();
        for (i, v) in fc.iter().enumerate() {
            assert!(
                (v - (-1.0 + 2.0 * (i + 2) as f32 / 9.0)).abs() < 1e-6,
                "{fc:?}"
            );
        }
        let steps: Vec<i64> = get("bn.num_batches_tracked")
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert_eq!(steps, vec![7]);
    }
}
