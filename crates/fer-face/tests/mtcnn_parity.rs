//! Parity of fer_face::mtcnn with facenet-pytorch 2.6.0's `MTCNN(keep_all=True).detect`
//! on the reference samples in ../shared/reference (40 CK+48 and 40 FER2013 test images at
//! their native 48x48), using facenet-pytorch's own weights from ../shared/models/mtcnn.
//! Needs ../shared (or FER_SHARED); required when FER_REQUIRE_SHARED=1, skipped otherwise.
//!
//! Both samples must agree to the CSV's rounding (3 decimals). CK+48 images are PNG; FER2013
//! images are JPEG, which fer_data::read_image decodes to PIL's pixels (libjpeg-turbo's
//! islow IDCT, through mozjpeg), so both sides see the same pixels there too.

use anyhow::{Context, Result};
use candle_core::Device;
use fer_face::mtcnn::{Mtcnn, MtcnnConfig, ONet, PNet, RNet, TorchStateDict};
use fer_face::{FaceBox, FaceDetection};
use std::path::{Path, PathBuf};

/// The shared folder, or None (with a message) when this machine has no copy.
fn shared_root() -> Option<PathBuf> {
    let root = std::env::var_os("FER_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let needed = [
        "models/mtcnn/pnet.pt",
        "reference/mtcnn_ckplus48_sample.csv",
        "datasets/ckplus48",
    ];
    if needed.iter().all(|p| root.join(p).exists()) {
        return Some(root);
    }
    let msg = format!(
        "MTCNN weights / reference outputs / datasets not found under {} (set FER_SHARED or \
         place ../shared beside the checkout)",
        root.display()
    );
    if std::env::var_os("FER_REQUIRE_SHARED").is_some_and(|v| v == "1") {
        panic!("FER_REQUIRE_SHARED=1 but {msg}");
    }
    eprintln!("skipping: {msg}");
    None
}

/// One row of a reference CSV: the most probable face, or None when nothing was found.
struct Reference {
    image: String,
    face: Option<FaceDetection>,
}

fn read_reference(path: &Path) -> Result<Vec<Reference>> {
    let text = std::fs::read_to_string(path).with_context(|| path.display().to_string())?;
    let mut rows = Vec::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').collect();
        anyhow::ensure!(fields.len() == 17, "{}: bad row {line}", path.display());
        let n_faces: usize = fields[1].parse()?;
        let face = if n_faces == 0 {
            None
        } else {
            let v: Vec<f32> = fields[2..]
                .iter()
                .map(|f| f.parse::<f32>())
                .collect::<std::result::Result<_, _>>()?;
            Some(FaceDetection {
                bbox: FaceBox::new(v[0], v[1], v[2], v[3]),
                score: v[4],
                points: std::array::from_fn(|j| [v[5 + 2 * j], v[6 + 2 * j]]),
            })
        };
        rows.push(Reference {
            image: fields[0].to_string(),
            face,
        });
    }
    Ok(rows)
}

/// Figures of one reference file.
#[derive(Debug)]
struct Agreement {
    images: usize,
    flag_disagreements: usize,
    both_found: usize,
    mean_iou: f32,
    min_iou: f32,
    mean_point_distance: f32,
    max_point_distance: f32,
    max_prob_difference: f32,
}

fn compare(mtcnn: &Mtcnn, shared: &Path, reference: &str, image_dir: &str) -> Result<Agreement> {
    let rows = read_reference(&shared.join("reference").join(reference))?;
    let images: Vec<image::RgbImage> = rows
        .iter()
        .map(|r| {
            let path = shared.join(image_dir).join(&r.image);
            Ok(fer_data::read_image(&path)?.to_rgb8())
        })
        .collect::<Result<_>>()?;
    let detected = mtcnn.detect_batch(&images)?;

    let (mut flag_disagreements, mut ious, mut distances, mut max_prob_difference) =
        (0, Vec::new(), Vec::new(), 0f32);
    for (row, faces) in rows.iter().zip(&detected) {
        match (&row.face, faces.first()) {
            (Some(theirs), Some(ours)) => {
                let iou = ours.bbox.iou(&theirs.bbox);
                if iou < 0.95 || std::env::var_os("MTCNN_PARITY_VERBOSE").is_some() {
                    eprintln!(
                        "{reference}: {}: IoU {iou:.4}, we found {} faces; ours {:?} p {:.5}, \
                         theirs {:?} p {:.5}",
                        row.image,
                        faces.len(),
                        ours.bbox,
                        ours.score,
                        theirs.bbox,
                        theirs.score
                    );
                }
                ious.push(iou);
                for (a, b) in ours.points.iter().zip(&theirs.points) {
                    distances.push(((a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2)).sqrt());
                }
                max_prob_difference = max_prob_difference.max((ours.score - theirs.score).abs());
            }
            (None, None) => {}
            (theirs, ours) => {
                flag_disagreements += 1;
                eprintln!(
                    "{reference}: {}: facenet found {}, we found {}",
                    row.image,
                    theirs.is_some(),
                    ours.is_some()
                );
            }
        }
    }
    let mean = |v: &[f32]| v.iter().sum::<f32>() / v.len().max(1) as f32;
    let agreement = Agreement {
        images: rows.len(),
        flag_disagreements,
        both_found: ious.len(),
        mean_iou: mean(&ious),
        min_iou: ious.iter().copied().fold(1.0, f32::min),
        mean_point_distance: mean(&distances),
        max_point_distance: distances.iter().copied().fold(0.0, f32::max),
        max_prob_difference,
    };
    eprintln!(
        "{reference}: {} images, found/not-found disagreements {}, both found {}, IoU mean {:.5} \
         min {:.5}, point distance mean {:.4} px max {:.4} px, max |prob difference| {:.2e}",
        agreement.images,
        agreement.flag_disagreements,
        agreement.both_found,
        agreement.mean_iou,
        agreement.min_iou,
        agreement.mean_point_distance,
        agreement.max_point_distance,
        agreement.max_prob_difference
    );
    Ok(agreement)
}

fn detector(shared: &Path) -> Result<Mtcnn> {
    Ok(Mtcnn::from_dir(
        &shared.join("models/mtcnn"),
        MtcnnConfig::default(),
        &Device::Cpu,
    )?)
}

#[test]
fn matches_facenet_pytorch_on_ckplus48() -> Result<()> {
    let Some(shared) = shared_root() else {
        return Ok(());
    };
    let a = compare(
        &detector(&shared)?,
        &shared,
        "mtcnn_ckplus48_sample.csv",
        "datasets/ckplus48",
    )?;
    assert_eq!(a.images, 40);
    // Same pixels on both sides: agreement to the reference's 3-decimal rounding.
    assert_eq!(a.flag_disagreements, 0, "{a:?}");
    assert_eq!(a.both_found, 40, "{a:?}");
    assert!(a.min_iou >= 0.999, "{a:?}");
    assert!(a.max_point_distance < 0.01, "{a:?}");
    assert!(a.max_prob_difference < 1e-4, "{a:?}");
    Ok(())
}

#[test]
fn matches_facenet_pytorch_on_fer2013() -> Result<()> {
    let Some(shared) = shared_root() else {
        return Ok(());
    };
    let a = compare(
        &detector(&shared)?,
        &shared,
        "mtcnn_fer2013_test_sample.csv",
        "datasets/fer2013/test",
    )?;
    assert_eq!(a.images, 40);
    // The JPEGs decode to PIL's pixels (fer_data::image_file), so the agreement is CK+48's.
    // With the `image` crate's decoder it was: IoU mean 0.99378 min 0.88754, points up to
    // 1.35 px apart, probabilities up to 0.023.
    assert_eq!(a.flag_disagreements, 0, "{a:?}");
    assert_eq!(a.both_found, 36, "{a:?}");
    assert!(a.min_iou >= 0.999, "{a:?}");
    assert!(a.max_point_distance < 0.01, "{a:?}");
    assert!(a.max_prob_difference < 1e-4, "{a:?}");
    Ok(())
}

#[test]
fn detect_batch_equals_detect_one_by_one() -> Result<()> {
    let Some(shared) = shared_root() else {
        return Ok(());
    };
    let mtcnn = detector(&shared)?;
    let rows = read_reference(&shared.join("reference/mtcnn_ckplus48_sample.csv"))?;
    let mut images: Vec<image::RgbImage> = rows
        .iter()
        .take(6)
        .map(|r| {
            Ok(fer_data::read_image(&shared.join("datasets/ckplus48").join(&r.image))?.to_rgb8())
        })
        .collect::<Result<_>>()?;
    // A different size in the same batch: an enlarged copy of the first image.
    images.push(image::imageops::resize(
        &images[0],
        96,
        80,
        image::imageops::FilterType::Triangle,
    ));
    let batched = mtcnn.detect_batch(&images)?;
    for (image, batch_faces) in images.iter().zip(&batched) {
        let single = mtcnn.detect(image)?;
        assert_eq!(single.len(), batch_faces.len());
        for (a, b) in single.iter().zip(batch_faces) {
            assert!((a.score - b.score).abs() < 1e-5, "{a:?} vs {b:?}");
            assert!(a.bbox.iou(&b.bbox) > 0.9999, "{a:?} vs {b:?}");
        }
    }
    assert!(!batched[6].is_empty(), "the enlarged face is found too");
    assert!(mtcnn.detect_batch(&[])?.is_empty());
    Ok(())
}

#[test]
fn weight_files_load_with_facenet_shapes() -> Result<()> {
    let Some(shared) = shared_root() else {
        return Ok(());
    };
    let dir = shared.join("models/mtcnn");
    let pnet = TorchStateDict::read(&dir.join("pnet.pt"), &Device::Cpu)?;
    eprintln!("pnet.pt tensors: {:?}", pnet.names());
    assert_eq!(
        pnet.tensor("conv1.weight", &[10, 3, 3, 3])?.dims(),
        &[10, 3, 3, 3]
    );
    assert_eq!(pnet.tensor("prelu3.weight", &[32])?.dims(), &[32]);
    assert_eq!(pnet.names().len(), 13);
    PNet::load(&pnet)?;
    let rnet = TorchStateDict::read(&dir.join("rnet.pt"), &Device::Cpu)?;
    assert_eq!(
        rnet.tensor("dense4.weight", &[128, 576])?.dims(),
        &[128, 576]
    );
    RNet::load(&rnet)?;
    let onet = TorchStateDict::read(&dir.join("onet.pt"), &Device::Cpu)?;
    assert_eq!(
        onet.tensor("dense5.weight", &[256, 1152])?.dims(),
        &[256, 1152]
    );
    assert_eq!(
        onet.tensor("dense6_3.weight", &[10, 256])?.dims(),
        &[10, 256]
    );
    ONet::load(&onet)?;
    // A wrong expected shape or name is an error naming the file and the tensor.
    let err = pnet
        .tensor("conv1.weight", &[10, 3, 5, 5])
        .expect_err("shape mismatch");
    assert!(err.to_string().contains("pnet.pt") && err.to_string().contains("conv1.weight"));
    let err = onet.tensor("dense9.weight", &[1]).expect_err("missing");
    assert!(err.to_string().contains("dense9.weight"), "{err}");
    // A P-Net file in place of R-Net's is refused.
    assert!(RNet::load(&pnet).is_err());
    Ok(())
}
