//! `ExperimentError`: the error type of fer-experiments (ARCHITECTURE.md "fer-experiments").
//!
//! Errors of the crates below pass through unchanged (`transparent`), and [`Context`] adds
//! what was being done, so a command prints the same one line `what: cause` as before the
//! experiment machinery left the binary.

use std::fmt::Display;

/// What went wrong while planning, running or reporting an experiment.
#[derive(Debug, thiserror::Error)]
pub enum ExperimentError {
    /// A spec, option or plan that cannot run; the message says what to fix.
    #[error("{0}")]
    Invalid(String),
    /// An error and what was being done when it happened. It prints whole (`what: cause`)
    /// and is the end of the chain, so that a message formatted with `{}` alone, as a plan's
    /// problems are, keeps its cause, and anyhow's `{:#}` does not print the cause twice.
    #[error("{what}: {cause}")]
    Context {
        what: String,
        cause: Box<ExperimentError>,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    ParseInt(#[from] std::num::ParseIntError),
    #[error(transparent)]
    Data(#[from] fer_data::DataError),
    #[error(transparent)]
    Model(#[from] fer_models::ModelError),
    #[error(transparent)]
    Train(#[from] fer_train::TrainError),
    #[error(transparent)]
    Report(#[from] fer_report::ReportError),
    #[error(transparent)]
    Runs(#[from] fer_runs::RunsError),
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error(transparent)]
    Yaml(#[from] serde_yaml::Error),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
    #[error(transparent)]
    Polars(#[from] polars::error::PolarsError),
}

pub type Result<T> = std::result::Result<T, ExperimentError>;

/// Adds what was being done to an error (or names what is missing from an `Option`).
pub trait Context<T> {
    fn context(self, what: impl Display) -> Result<T>;
    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T, E: Into<ExperimentError>> Context<T> for std::result::Result<T, E> {
    fn context(self, what: impl Display) -> Result<T> {
        self.map_err(|e| ExperimentError::Context {
            what: what.to_string(),
            cause: Box::new(e.into()),
        })
    }

    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| ExperimentError::Context {
            what: what().to_string(),
            cause: Box::new(e.into()),
        })
    }
}

impl<T> Context<T> for Option<T> {
    fn context(self, what: impl Display) -> Result<T> {
        self.ok_or_else(|| ExperimentError::Invalid(what.to_string()))
    }

    fn with_context<D: Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.ok_or_else(|| ExperimentError::Invalid(what().to_string()))
    }
}

/// Returns an [`ExperimentError::Invalid`] with a formatted message.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::error::ExperimentError::Invalid(format!($($arg)*)))
    };
}
pub(crate) use bail;

#[cfg(test)]
mod tests {
    use super::*;

    /// The chain prints as anyhow printed it: `what: cause`, innermost last.
    #[test]
    fn context_reads_as_what_then_cause() {
        let io: std::result::Result<(), std::io::Error> =
            Err(std::io::Error::new(std::io::ErrorKind::NotFound, "gone"));
        let e = io.context("reading plan.json").unwrap_err();
        let mut chain = vec![e.to_string()];
        let mut source = std::error::Error::source(&e);
        while let Some(s) = source {
            chain.push(s.to_string());
            source = s.source();
        }
        assert_eq!(chain.join(": "), "reading plan.json: gone");
        let missing: Option<u8> = None;
        assert_eq!(
            missing.context("no split 3").unwrap_err().to_string(),
            "no split 3"
        );
    }
}
