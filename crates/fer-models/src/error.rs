//! The one error type of fer-models.

/// Errors of model construction, forward passes and weight files.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("unknown model '{name}' (registered: {known})")]
    UnknownModel { name: String, known: String },
    #[error("invalid model setting: {0}")]
    Config(String),
    #[error("{what}: expected shape {expected}, got {got:?}")]
    Shape {
        what: String,
        expected: String,
        got: Vec<usize>,
    },
    /// A weight file that does not fit the mapping it was read with.
    #[error("{0}")]
    CheckpointMismatch(String),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error("weight file {path}: {message}")]
    WeightFile {
        path: std::path::PathBuf,
        message: String,
    },
    #[error("weight file {path}: tensor '{name}' has shape {file_shape:?}, the model expects {model_shape:?}")]
    WeightShape {
        path: std::path::PathBuf,
        name: String,
        file_shape: Vec<usize>,
        model_shape: Vec<usize>,
    },
    #[error("weight file {path}: no tensor '{name}' (the model's shape {model_shape:?})")]
    MissingWeight {
        path: std::path::PathBuf,
        name: String,
        model_shape: Vec<usize>,
    },
    #[error("'{filename}' of Hugging Face repo '{repo_id}' is not in the local hub cache {cache_dir} (no network access is attempted); populate it with `huggingface-cli download {repo_id} {filename}` (or `hf download {repo_id} {filename}`), with HF_HOME / HF_HUB_CACHE pointing at the same cache")]
    HubCacheMiss {
        repo_id: String,
        filename: String,
        cache_dir: std::path::PathBuf,
    },
}

/// Result alias of fer-models.
pub type Result<T> = std::result::Result<T, ModelError>;
