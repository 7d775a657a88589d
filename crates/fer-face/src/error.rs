//! The one error type of fer-face, the face pipeline of paper 4.3: every message names the file,
//! byte offset, tensor or setting at fault. Errors of fer-data (manifests, records, the prepared
//! cache's `samples.csv`) pass through unchanged as `FaceError::Data`.

use std::path::PathBuf;

/// Errors of face detection, landmark prediction, alignment and cache writing.
#[derive(Debug, thiserror::Error)]
pub enum FaceError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a readable image: {message}")]
    Image { path: PathBuf, message: String },
    /// A model file (e.g. dlib's serialised shape predictor) whose bytes do not decode:
    /// names the file and the byte offset where decoding stopped.
    #[error("{path}: byte {offset}: {message}")]
    ModelFormat {
        path: PathBuf,
        offset: u64,
        message: String,
    },
    /// A model weight file (e.g. MTCNN's `pnet.pt`) that cannot be read, lacks a tensor or
    /// holds one of the wrong shape.
    #[error("weight file {path}: {message}")]
    WeightFile { path: PathBuf, message: String },
    #[error("invalid setting: {0}")]
    Config(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    /// An error of fer-data, with its own message.
    #[error(transparent)]
    Data(#[from] fer_data::DataError),
}

impl FaceError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        FaceError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of fer-face.
pub type Result<T> = std::result::Result<T, FaceError>;
