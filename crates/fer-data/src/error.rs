//! The one error type of fer-data: every message names the file, line, shape or setting at fault.

use std::path::PathBuf;

/// Errors of dataset import, manifests, augmentation and loading.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable image: {message}")]
    Image { path: PathBuf, message: String },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("manifest {path}: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error("unknown expression label '{name}' (known: neutral, happiness, sadness, surprise, fear, disgust, anger, contempt and their usual spellings)")]
    UnknownExpression { name: String },
    /// A root that exists but holds no images where the importer looks.
    #[error("dataset '{name}' not found at {path}: {hint}")]
    MissingDataset {
        name: String,
        path: PathBuf,
        hint: String,
    },
    /// The availability check (run before any run starts) or an importer did not find the data:
    /// the message says which manifest, where it looked, what was missing, how to point
    /// elsewhere and how to obtain the dataset. Boxed: it is the largest variant by far.
    #[error("{0}")]
    DatasetMissing(Box<DatasetMissingInfo>),
    /// A layout of raw frames (SFEW 2.0, CK+ original, Oulu-CASIA) that needs face detection
    /// and alignment (paper 4.3) before a model can train on it: `FaceDataset::load` refuses it
    /// and names the command that prepares it. `formats::import_records` still imports the raw
    /// records, for that command.
    #[error("dataset '{name}' ({}) at {}: the `{layout}` layout holds raw frames that need face detection and alignment (paper 4.3) before training; prepare it first with `cargo xtask prepare {name}`", manifest_label(manifest.as_deref()), root.display())]
    NeedsPreparation {
        manifest: Option<PathBuf>,
        name: String,
        layout: &'static str,
        root: PathBuf,
    },
    #[error("invalid setting: {0}")]
    Config(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// What `DataError::DatasetMissing` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetMissingInfo {
    /// The manifest file, when the manifest was read from one.
    pub manifest: Option<PathBuf>,
    pub name: String,
    /// The root (or entry under it) that was looked at; `None` when no root was configured.
    pub looked_in: Option<PathBuf>,
    /// What is missing, e.g. "the folder does not exist" or "no test/ folder for the test split".
    pub missing: String,
    /// The environment variable that moves the root (`root_env` of the manifest).
    pub env_var: Option<String>,
    /// The manifest's `obtain` text.
    pub obtain: String,
}

impl std::fmt::Display for DatasetMissingInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "dataset '{}' ({}) is not available: {}{}. To use another folder: {}. How to obtain it: {}",
            self.name,
            manifest_label(self.manifest.as_deref()),
            self.missing,
            looked_in_label(self.looked_in.as_deref()),
            relocate_hint(self.env_var.as_deref()),
            obtain_text(&self.obtain)
        )
    }
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        DataError::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn parse(path: impl Into<PathBuf>, line: usize, message: impl Into<String>) -> Self {
        DataError::Parse {
            path: path.into(),
            line,
            message: message.into(),
        }
    }
}

fn manifest_label(manifest: Option<&std::path::Path>) -> String {
    match manifest {
        Some(p) => format!("manifest {}", p.display()),
        None => "manifest not read from a file".into(),
    }
}

fn looked_in_label(looked_in: Option<&std::path::Path>) -> String {
    match looked_in {
        Some(p) => format!(" (looked in {})", p.display()),
        None => String::new(),
    }
}

fn relocate_hint(env_var: Option<&str>) -> String {
    match env_var {
        Some(v) => format!("set {v}=<folder> or pass --data-root <folder>"),
        None => "pass --data-root <folder>".into(),
    }
}

fn obtain_text(obtain: &str) -> &str {
    if obtain.trim().is_empty() {
        "(the manifest has no `obtain` text)"
    } else {
        obtain.trim()
    }
}

/// Result alias of fer-data.
pub type Result<T> = std::result::Result<T, DataError>;
