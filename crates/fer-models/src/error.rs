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
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// Result alias of fer-models.
pub type Result<T> = std::result::Result<T, ModelError>;
