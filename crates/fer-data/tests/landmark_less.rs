//! Landmark-less datasets (FER2013): they load, report that they have no landmarks, and give
//! the loader batches whose landmark mask is all zeros, so a FER-only model trains on them
//! (the wing loss of paper eq. 14 is masked out) while a model with an FLD head can be refused
//! before training starts (`FaceDataset::has_landmarks`).

use anyhow::Result;
use candle_core::Device;
use fer_data::{BatchLoader, FaceDataset, LoaderConfig, Manifest};
use std::path::{Path, PathBuf};

fn fixture_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fer-data-nolm-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn write_png(path: &Path, v: u8) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    image::GrayImage::from_fn(48, 48, |x, y| image::Luma([v.wrapping_add((x + y) as u8)]))
        .save(path)
        .expect("png");
}

#[test]
fn a_landmark_less_dataset_loads_and_batches_with_an_empty_mask() -> Result<()> {
    let root = fixture_dir("fer");
    for (i, split) in ["train", "validation", "test"].iter().enumerate() {
        for (j, class) in ["angry", "happy", "neutral"].iter().enumerate() {
            for k in 0..2u8 {
                write_png(
                    &root.join(format!("{split}/{class}/{split}_{j}_{k}.png")),
                    (i * 50 + j * 10) as u8 + k,
                );
            }
        }
    }
    let yaml = format!(
        "name: fer-fixture\nformat: {{ kind: image_folder_splits }}\nroot: {}\nclasses: [anger, happiness, neutral]\nlabel_map: {{ angry: anger, happy: happiness }}\nimage_size: 48\nexpected_count: 18\nprotocol: {{ kind: official }}\n",
        root.display()
    );
    let m: Manifest = serde_yaml::from_str(&yaml)?;
    let data = FaceDataset::load(&m, None, 48, None)?;
    assert_eq!(data.len(), 18);
    assert!(!data.has_landmarks());
    let split = m
        .protocol
        .splits(&data.subjects(), &data.split_hints(), 0)?
        .remove(0);
    assert_eq!(data.count_with_landmarks(&split.train), 0);

    // Training batches (augmented: flip and rotation without landmarks) and evaluation batches.
    let dev = Device::Cpu;
    let train = BatchLoader::new(&data, split.train.clone(), LoaderConfig::train(4, 1), &dev)?;
    for batch in train.epoch(0) {
        let b = batch?;
        assert_eq!(b.images.dims(), &[4, 1, 48, 48]);
        assert_eq!(b.landmark_mask.to_vec1::<f32>()?, vec![0.0; 4]);
        assert_eq!(b.landmarks.abs()?.sum_all()?.to_scalar::<f32>()?, 0.0);
    }
    let test = BatchLoader::new(&data, split.test.clone(), LoaderConfig::eval(4), &dev)?;
    assert_eq!(test.epoch(0).count(), 2);
    std::fs::remove_dir_all(&root)?;
    Ok(())
}

#[test]
fn synthfer_has_landmarks() -> Result<()> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data-manifests/synthfer.yaml");
    let mut m = Manifest::from_file(&path)?;
    if let Some(cfg) = m.synthetic.as_mut() {
        cfg.num_subjects = 3;
        cfg.images_per_subject = 2;
    }
    let data = FaceDataset::load(&m, None, 48, None)?;
    assert!(data.has_landmarks());
    assert_eq!(data.count_with_landmarks(&[0, 1, 2]), 3);
    Ok(())
}
