//! Throughput of fer_face::mtcnn (MTCNN, Zhang et al. 2016, facenet-pytorch port) on 48x48
//! faces: `detect_batch` over 256 CK+48 / FER2013 images in batches of several sizes, and
//! `detect` one image at a time; prints images/s (median of a few repetitions).
//!
//! `cargo run --release -p fer-face --example bench_mtcnn` (data from ../shared or FER_SHARED).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::Device;
use fer_face::mtcnn::{Mtcnn, MtcnnConfig};

const IMAGES: usize = 256;
const REPETITIONS: usize = 5;

fn main() -> Result<()> {
    let shared = std::env::var_os("FER_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let images = load_images(&shared)?;
    let mtcnn = Mtcnn::from_dir(
        &shared.join("models/mtcnn"),
        MtcnnConfig::default(),
        &Device::Cpu,
    )?;
    println!(
        "{} images of 48x48, {} rayon threads, median of {REPETITIONS} runs",
        images.len(),
        rayon::current_num_threads()
    );
    let found = mtcnn
        .detect_batch(&images)?
        .iter()
        .filter(|f| !f.is_empty())
        .count();
    println!("faces found in {found} of {} images", images.len());

    for batch in [32, 64, 128, 256] {
        let rate = median_rate(images.len(), || {
            for chunk in images.chunks(batch) {
                mtcnn.detect_batch(chunk)?;
            }
            Ok(())
        })?;
        println!("detect_batch, batches of {batch:>3}: {rate:7.1} images/s");
    }
    let rate = median_rate(images.len(), || {
        for image in &images {
            mtcnn.detect(image)?;
        }
        Ok(())
    })?;
    println!("detect, one image per call: {rate:7.1} images/s");
    Ok(())
}

/// Images per second of `run` over `count` images, the median of REPETITIONS runs.
fn median_rate(count: usize, mut run: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut rates = Vec::with_capacity(REPETITIONS);
    for _ in 0..REPETITIONS {
        let start = Instant::now();
        run()?;
        rates.push(count as f64 / start.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[REPETITIONS / 2])
}

/// Half CK+48, half FER2013 test images, in a fixed order.
fn load_images(shared: &Path) -> Result<Vec<image::RgbImage>> {
    let mut images = Vec::with_capacity(IMAGES);
    for (folder, count) in [
        ("datasets/ckplus48", IMAGES / 2),
        ("datasets/fer2013/test", IMAGES - IMAGES / 2),
    ] {
        let mut paths = Vec::new();
        collect_images(&shared.join(folder), &mut paths)?;
        paths.sort();
        anyhow::ensure!(paths.len() >= count, "too few images in {folder}");
        // Spread over the classes: every k-th file.
        let step = paths.len() / count;
        for path in paths.iter().step_by(step).take(count) {
            images.push(
                image::open(path)
                    .with_context(|| path.display().to_string())?
                    .to_rgb8(),
            );
        }
    }
    Ok(images)
}

fn collect_images(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| dir.display().to_string())? {
        let path = entry?.path();
        if path.is_dir() {
            collect_images(&path, out)?;
        } else if path
            .extension()
            .is_some_and(|e| e == "png" || e == "jpg" || e == "jpeg")
        {
            out.push(path);
        }
    }
    Ok(())
}
