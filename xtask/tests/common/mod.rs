//! Helpers shared by the `reproduce` integration tests: a fresh temporary folder, and the tiny
//! SynthFER manifest (30 subjects x 5 faces at 32 px, 3 subject-exclusive folds) their
//! experiments run on.

use std::path::{Path, PathBuf};

/// An empty folder under the system's temporary directory, unique to this test process.
pub fn temp(prefix: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("{prefix}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// Writes `tiny-synth.yaml` into `dir` and returns its path.
#[allow(dead_code)] // not every test binary that includes this module uses every helper
pub fn write_tiny_synth_manifest(dir: &Path) -> PathBuf {
    write_synth_manifest(dir, "tiny-synth", 5)
}

/// Writes `<name>.yaml` into `dir`: 30 SynthFER subjects with `images_per_subject` faces each
/// at 32 px, 3 subject-exclusive folds.
pub fn write_synth_manifest(dir: &Path, name: &str, images_per_subject: usize) -> PathBuf {
    let manifest = dir.join(format!("{name}.yaml"));
    std::fs::write(
        &manifest,
        format!("name: {name}\nformat:\n  kind: synthetic\nclasses: [neutral, happiness, sadness, surprise, fear, disgust, anger]\nimage_size: 32\nprotocol:\n  kind: subject_k_fold\n  folds: 3\nsynthetic:\n  num_subjects: 30\n  images_per_subject: {images_per_subject}\n  size: 32\n  seed: 5\n"),
    )
    .expect("manifest");
    manifest
}
