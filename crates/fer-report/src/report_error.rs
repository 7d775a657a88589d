//! `ReportError`: the single error type of fer-report (ARCHITECTURE.md "Conventions": one
//! `thiserror` enum per library crate whose messages name the file, field or setting at fault).
//!
//! Reporting is the last stage of the pipeline (paper Section 4.4 / Tables 3-8 are built from
//! its output), so every message says which run file, frame column or chart input is wrong;
//! a bare "invalid data" would leave the user grepping dozens of run directories.

use std::path::PathBuf;

/// Everything that can go wrong while collecting, aggregating, tabulating or plotting results.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A file or directory could not be read, created, written or renamed.
    #[error("{path}: {action} failed: {source}")]
    Io {
        /// The file or directory at fault.
        path: PathBuf,
        /// What we were doing ("read", "write", "rename to ...", ...).
        action: String,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },

    /// A `metrics.json` is not valid JSON or does not follow the trainer's schema.
    #[error("{path}:{line}:{column}: malformed metrics.json: {message}")]
    MalformedJson {
        /// The metrics file.
        path: PathBuf,
        /// 1-based line of the error as reported by serde_json (0 when unknown).
        line: usize,
        /// 1-based column of the error as reported by serde_json (0 when unknown).
        column: usize,
        /// serde_json's description (names the missing or mistyped field).
        message: String,
    },

    /// A field of a run's `metrics.json` parsed but holds an impossible value.
    #[error("{path}: field `{field}`: {message}")]
    InvalidField {
        /// The metrics file (empty when the run did not come from a file).
        path: PathBuf,
        /// The JSON field at fault.
        field: String,
        /// What is wrong with it.
        message: String,
    },

    /// Two collected runs are the same run (e.g. a results folder copied inside the root);
    /// counting both would weigh one run twice in the mean and std.
    #[error("duplicate run {run}: {first} and {second}")]
    DuplicateRun {
        /// The run, described as `run_id (dataset/model, seed S, fold F)`.
        run: String,
        /// Where the first copy was read.
        first: PathBuf,
        /// Where the second copy was read.
        second: PathBuf,
    },

    /// Some runs of one (dataset, model) report a metric and others do not: the runs were
    /// produced by different trainer versions or configs and must not be averaged together.
    #[error(
        "{dataset}/{model}: field `test.{metric}` is present in {present} of {runs} runs \
         (missing in {example})"
    )]
    InconsistentMetric {
        /// Dataset of the group.
        dataset: String,
        /// Model of the group.
        model: String,
        /// Metric key, e.g. `nrmse`.
        metric: String,
        /// How many runs report it.
        present: usize,
        /// How many runs are in the group.
        runs: usize,
        /// One run file lacking it.
        example: PathBuf,
    },

    /// The summary frame lacks a column or the column has the wrong type.
    #[error("summary frame: column `{column}`: {message}")]
    Column {
        /// Column name.
        column: String,
        /// What is wrong.
        message: String,
    },

    /// A metric name that is not one of the five the report knows.
    #[error("unknown metric `{metric}`; expected one of: {expected}")]
    UnknownMetric {
        /// The name given.
        metric: String,
        /// The accepted names, comma separated.
        expected: String,
    },

    /// A confusion matrix that cannot be drawn (not square, wrong number of names, empty).
    #[error("confusion matrix `{title}`: {message}")]
    ConfusionMatrix {
        /// Chart title, to tell matrices apart when many are drawn.
        title: String,
        /// What is wrong.
        message: String,
    },

    /// A line of a CSV file written by the trainer (e.g. `steps.csv`) cannot be parsed.
    #[error("{path}:{line}: malformed CSV: {message}")]
    MalformedCsv {
        /// The CSV file.
        path: PathBuf,
        /// 1-based line number (1 = header).
        line: usize,
        /// What is wrong (names the column when one is at fault).
        message: String,
    },

    /// t-SNE input or settings that cannot be embedded (empty, ragged, non-finite, ...).
    #[error("t-SNE: {message}")]
    Tsne {
        /// What is wrong, naming the point, dimension or setting.
        message: String,
    },

    /// Chart input that cannot be drawn (lengths that disagree, out-of-range labels, ...).
    #[error("chart `{title}`: {message}")]
    ChartInput {
        /// Chart title, to tell charts apart when many are drawn.
        title: String,
        /// What is wrong, naming the panel, face or point.
        message: String,
    },

    /// An attention map or face image whose sizes disagree or whose values are not finite.
    #[error("attention map of {face}: {message}")]
    AttentionMap {
        /// The face, by index and caption.
        face: String,
        /// What is wrong.
        message: String,
    },

    /// Values that a paired comparison cannot use (lengths that differ, none, not finite).
    #[error("paired comparison, `{field}`: {message}")]
    PairedInput {
        /// The argument at fault (`a`, `b`, `a, b` or `tie_tolerance`).
        field: String,
        /// What is wrong, naming the index or the lengths.
        message: String,
    },

    /// Nothing to plot, e.g. every model lacks the metric.
    #[error("chart {path}: nothing to plot: {message}")]
    EmptyChart {
        /// The output stem.
        path: PathBuf,
        /// Why it is empty.
        message: String,
    },

    /// plotters or the PNG encoder failed.
    #[error("chart {path}: drawing failed: {message}")]
    Chart {
        /// The output file.
        path: PathBuf,
        /// The backend's message.
        message: String,
    },

    /// The embedded DejaVu Sans font was rejected by plotters' ab_glyph loader.
    #[error("font: cannot register DejaVu Sans `{style}` with plotters")]
    Font {
        /// The font style that failed ("normal" or "bold").
        style: String,
    },

    /// polars failed while building or serialising a frame.
    #[error("{what}: polars error: {source}")]
    Polars {
        /// What we were doing, including the file when there is one.
        what: String,
        /// polars' error.
        #[source]
        source: polars::prelude::PolarsError,
    },
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, ReportError>;
