//! `RunsError`: the error type of fer-runs.

use std::path::PathBuf;

/// A run file that could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RunsError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, RunsError>;
