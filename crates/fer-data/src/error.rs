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
    #[error("dataset '{name}' not found at {path}: {hint}")]
    MissingDataset {
        name: String,
        path: PathBuf,
        hint: String,
    },
    #[error("invalid setting: {0}")]
    Config(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
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

/// Result alias of fer-data.
pub type Result<T> = std::result::Result<T, DataError>;
