//! The one error type of fer-train.

use std::path::PathBuf;

/// Errors of training, evaluation, scoring and run directories.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// Training stopped on request after committing `epochs_done` epochs; running the same
    /// configuration again resumes.
    #[error("run {run_dir} stopped after epoch {epochs_done}; run it again to resume")]
    Interrupted {
        run_dir: PathBuf,
        epochs_done: usize,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A weights file that cannot be read or does not fit the model it is loaded into.
    #[error("{path}: {message}")]
    Weights { path: PathBuf, message: String },
    #[error("invalid training setting: {0}")]
    Config(String),
    #[error("invalid metric input: {0}")]
    Metric(String),
    #[error(transparent)]
    Data(#[from] fer_data::DataError),
    #[error(transparent)]
    Model(#[from] fer_models::ModelError),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Runs(#[from] fer_runs::RunsError),
}

impl TrainError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }

    /// A file candle failed to write (a checkpoint, optimiser state): named, so that a full
    /// disk says where it was writing.
    pub(crate) fn writing(path: impl Into<PathBuf>, e: candle_core::Error) -> Self {
        let source = match e {
            candle_core::Error::Io(io) => io,
            other => std::io::Error::other(other.to_string()),
        };
        TrainError::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result alias of fer-train.
pub type Result<T> = std::result::Result<T, TrainError>;
