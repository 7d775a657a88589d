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
pub fn write_tiny_synth_manifest(dir: &Path) -> PathBuf {
    let manifest = dir.join("tiny-synth.yaml");
    std::fs::write(
        &manifest,
        "name: tiny-synth\nformat:\n  kind: synthetic\nclasses: [neutral, happiness, sadness, surprise, fear, disgust, anger]\nimage_size: 32\nprotocol:\n  kind: subject_k_fold\n  folds: 3\nsynthetic:\n  num_subjects: 30\n  images_per_subject: 5\n  size: 32\n  seed: 5\n",
    )
    .expect("manifest");
    manifest
}
