//! The model files of the face pipeline (MTCNN's P/R/O-Net from facenet-pytorch 2.6.0, dlib's
//! 68-point shape predictor from face_recognition_models 0.3.0): where they live, where they
//! come from, and their sha256 (`MODEL_FILES` below), so that `fetch-models` and every command
//! that loads them check the same list.

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

use crate::workspace;

/// A Python package on the package index that ships some of the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelPackage {
    /// `name==version` as pip takes it.
    pub requirement: &'static str,
    /// The licence of the files, for the README and `fetch-models`' output.
    pub licence: &'static str,
}

pub const FACENET_PYTORCH: ModelPackage = ModelPackage {
    requirement: "facenet-pytorch==2.6.0",
    licence: "MIT (facenet-pytorch)",
};

pub const FACE_RECOGNITION_MODELS: ModelPackage = ModelPackage {
    requirement: "face_recognition_models==0.3.0",
    licence: "the 68-point model was trained on iBUG 300-W, whose licence excludes commercial use",
};

/// One model file: its path in the model folder, its sha256, and where it is in its package.
#[derive(Debug, Clone, Copy)]
pub struct ModelFile {
    pub relative: &'static str,
    pub sha256: &'static str,
    pub package: ModelPackage,
    /// Path inside the package archive (the wheel's or sdist's member name ends with this).
    pub member: &'static str,
}

pub const MODEL_FILES: [ModelFile; 4] = [
    ModelFile {
        relative: "mtcnn/pnet.pt",
        sha256: "a2a71925e0b9996a42f63e47efc1ca19043e69558b5c523b978d611dfae49c8f",
        package: FACENET_PYTORCH,
        member: "facenet_pytorch/data/pnet.pt",
    },
    ModelFile {
        relative: "mtcnn/rnet.pt",
        sha256: "bbb937de72efc9ef83b186c49f5f558467a1d7e3453a8ece0d71a886633f6a86",
        package: FACENET_PYTORCH,
        member: "facenet_pytorch/data/rnet.pt",
    },
    ModelFile {
        relative: "mtcnn/onet.pt",
        sha256: "165bfbe42940416ccfb977545cf0e976d5bf321f67083ae2aaaa5c764280118d",
        package: FACENET_PYTORCH,
        member: "facenet_pytorch/data/onet.pt",
    },
    ModelFile {
        relative: "dlib/shape_predictor_68_face_landmarks.dat",
        sha256: "fbdc2cb80eb9aa7a758672cbfdda32ba6300efe9b6e6c7a299ff7e736b11b92f",
        package: FACE_RECOGNITION_MODELS,
        member: "face_recognition_models/models/shape_predictor_68_face_landmarks.dat",
    },
];

/// The model folder: `--models`, else `FER_MODELS`, else `models/` in the workspace.
pub fn models_dir(flag: Option<&Path>) -> PathBuf {
    if let Some(p) = flag {
        return p.to_path_buf();
    }
    if let Some(p) = std::env::var_os("FER_MODELS") {
        return PathBuf::from(p);
    }
    workspace::root().join("models")
}

/// The sha256 of a file, as lowercase hex.
pub fn sha256_of(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)
        .with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

/// What is wrong with one model file in `dir`, or None when it is there and verified.
pub fn file_problem(dir: &Path, file: &ModelFile) -> Result<Option<String>> {
    let path = dir.join(file.relative);
    if !path.is_file() {
        return Ok(Some(format!("{} is missing", path.display())));
    }
    let sha = sha256_of(&path)?;
    if sha != file.sha256 {
        return Ok(Some(format!(
            "{} has sha256 {sha}, expected {}",
            path.display(),
            file.sha256
        )));
    }
    Ok(None)
}

/// Checks that every model file is in `dir` with the right sha256; the error says how to get them.
pub fn require_models(dir: &Path) -> Result<()> {
    let mut problems = Vec::new();
    for f in &MODEL_FILES {
        if let Some(p) = file_problem(dir, f)? {
            problems.push(p);
        }
    }
    if !problems.is_empty() {
        bail!(
            "face-pipeline models not ready: {}; run `cargo xtask fetch-models` (or set FER_MODELS / --models to a folder that holds them, e.g. ../shared/models)",
            problems.join("; ")
        );
    }
    Ok(())
}
