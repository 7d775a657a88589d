//! Helpers shared by the integration tests: a fresh temporary folder, the tiny SynthFER
//! manifest (30 subjects x 5 faces at 32 px, 3 subject-exclusive folds) the `reproduce` tests
//! run on, and ../shared (face models and CK+48) for the face-pipeline tests, with a CK+48
//! subset prepared and trained on.

use std::path::{Path, PathBuf};

/// An empty folder under the system's temporary directory, unique to this test process.
#[allow(dead_code)] // not used by face_commands.rs
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

/// ../shared (models, datasets, reference), or None with a message when this machine has none.
#[allow(dead_code)] // used by the face-pipeline tests only
pub fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("FER_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    if dir.join("models/mtcnn/pnet.pt").is_file() && dir.join("datasets/ckplus48").is_dir() {
        return Some(dir);
    }
    let msg = format!(
        "no models and CK+48 under {} (set FER_SHARED or place ../shared beside the checkout)",
        dir.display()
    );
    if std::env::var_os("FER_REQUIRE_SHARED").is_some_and(|v| v == "1") {
        panic!("FER_REQUIRE_SHARED=1 but {msg}");
    }
    eprintln!("skipping: {msg}");
    None
}

/// Runs the xtask binary with `args` and extra environment variables.
#[allow(dead_code)] // used by the face-pipeline and predict tests only
pub fn xtask_env(args: &[&str], env: &[(&str, &Path)]) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.args(args);
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("run xtask")
}

/// What `prepare_and_train_ckplus48` ran and where it wrote.
#[allow(dead_code)] // used by the face-pipeline and predict tests only
pub struct PreparedRun {
    /// `prepare`'s output (status, stdout, stderr).
    pub prepare: std::process::Output,
    /// `train`'s output.
    pub train: std::process::Output,
    /// The prepared cache, `dir/ckplus48`.
    pub cache: PathBuf,
    /// The results folder the run went into, `dir/results`.
    pub results: PathBuf,
}

/// Prepares the first `limit` CK+48 faces at 48 px into `dir/ckplus48` with ../shared's face
/// models, then trains `model` on that cache for one epoch into `dir/results`. The callers
/// assert on both outputs.
#[allow(dead_code)] // used by the face-pipeline and predict tests only
pub fn prepare_and_train_ckplus48(
    shared: &Path,
    dir: &Path,
    limit: usize,
    model: &str,
) -> PreparedRun {
    let cache = dir.join("ckplus48");
    let limit = limit.to_string();
    let prepare = xtask_env(
        &[
            "prepare",
            "ckplus48",
            "--limit",
            &limit,
            "--size",
            "48",
            "--out",
            &cache.to_string_lossy(),
        ],
        &[("FER_MODELS", &shared.join("models"))],
    );
    let results = dir.join("results");
    let train = xtask_env(
        &[
            "train",
            "--dataset",
            &cache.join("manifest.yaml").to_string_lossy(),
            "--model",
            model,
            "--size",
            "48",
            "--epochs",
            "1",
            "--results",
            &results.to_string_lossy(),
        ],
        &[],
    );
    PreparedRun {
        prepare,
        train,
        cache,
        results,
    }
}
