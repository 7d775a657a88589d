//! Single-threaded speed of the dlib shape predictor port (`fer_face::ert`): the 68-point
//! model on the 60 native 48x48 CK+48 faces of the dlib reference CSV, reported as faces per
//! second (median of several timed passes, each over many repetitions of the 60 faces).
//! dlib 20.0.1 itself does about 1,189 faces/s on the same faces on the reference machine.
//!
//! On a shared machine the wall-clock rate understates the speed by however many other
//! processes compete for the cores, so the rate per second of this thread's own CPU time
//! (Linux `/proc/thread-self/schedstat`) is printed beside it.
//!
//! Run: `cargo run --release -p fer-face --example bench_ert` (FER_SHARED = root of ../shared).

use fer_face::ert::{DlibRect, ShapePredictor};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Timed passes; the median is reported.
const PASSES: usize = 7;
/// Repetitions of the 60 faces in one pass.
const REPETITIONS: usize = 20;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let shared = std::env::var_os("FER_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let model = shared.join("models/dlib/shape_predictor_68_face_landmarks.dat");
    let csv = shared.join("reference/dlib68_native_ckplus48_sample.csv");
    let sp = ShapePredictor::from_file(&model)?;

    // image and box_left..box_bottom are the first columns after image, success.
    let text = std::fs::read_to_string(&csv).map_err(|e| format!("{}: {e}", csv.display()))?;
    let mut faces = Vec::new();
    for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
        let f: Vec<&str> = line.split(',').collect();
        if f.len() < 6 || f[1] != "1" {
            continue;
        }
        let c = |i: usize| f[i].trim().parse::<i64>();
        let rect = DlibRect::new(c(2)?, c(3)?, c(4)?, c(5)?);
        let path = shared.join("datasets/ckplus48").join(f[0]);
        let image = image::open(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .to_luma8();
        faces.push((image, rect));
    }
    if faces.is_empty() {
        return Err(format!("no faces in {}", csv.display()).into());
    }

    // Warm-up pass (page in the 100 MB of leaves).
    let mut checksum = 0.0f64;
    for (image, rect) in &faces {
        checksum += f64::from(sp.predict(image, *rect)[30][0]);
    }
    let mut wall_rates = Vec::with_capacity(PASSES);
    let mut cpu_rates = Vec::with_capacity(PASSES);
    let per_pass = (REPETITIONS * faces.len()) as f64;
    for _ in 0..PASSES {
        let (start, cpu_start) = (Instant::now(), thread_cpu_seconds());
        for _ in 0..REPETITIONS {
            for (image, rect) in &faces {
                checksum += f64::from(sp.predict(image, *rect)[30][0]);
            }
        }
        wall_rates.push(per_pass / start.elapsed().as_secs_f64());
        if let (Some(a), Some(b)) = (cpu_start, thread_cpu_seconds()) {
            cpu_rates.push(per_pass / (b - a));
        }
    }
    println!(
        "ert 68-point, single thread, {PASSES} passes of {per_pass} faces (checksum {checksum:.1}):"
    );
    println!("  wall clock: {}", summary(&mut wall_rates));
    if cpu_rates.len() == PASSES {
        println!(
            "  per CPU second of this thread: {}",
            summary(&mut cpu_rates)
        );
    }
    Ok(())
}

/// "median X faces/s (min, max)".
fn summary(rates: &mut [f64]) -> String {
    rates.sort_by(f64::total_cmp);
    format!(
        "median {:.0} faces/s (min {:.0}, max {:.0})",
        rates[rates.len() / 2],
        rates[0],
        rates[rates.len() - 1]
    )
}

/// CPU time this thread has run, from the first field of /proc/thread-self/schedstat
/// (nanoseconds on a CPU); None off Linux.
fn thread_cpu_seconds() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: f64 = text.split_whitespace().next()?.parse().ok()?;
    Some(nanos * 1e-9)
}
