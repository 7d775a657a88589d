//! `write_summary_csv`: `results/<experiment>/summary.csv` (ARCHITECTURE.md "fer-report"), the
//! machine-readable form of the numbers behind the paper-style tables.
//!
//! The frame is serialised to memory with polars' CsvWriter and then written atomically, so a
//! reader never sees a half-written CSV. Null cells (metric absent, std of one run) are empty.

use std::path::Path;

use polars::prelude::{CsvWriter, DataFrame, SerWriter};

use crate::atomic_write::write_atomic;
use crate::report_error::{ReportError, Result};

/// Writes `df` as CSV with a header row to `path` (via `<path>.tmp` and a rename).
pub fn write_summary_csv(df: &mut DataFrame, path: &Path) -> Result<()> {
    let mut bytes: Vec<u8> = Vec::new();
    CsvWriter::new(&mut bytes)
        .include_header(true)
        .finish(df)
        .map_err(|source| ReportError::Polars {
            what: format!("writing {}", path.display()),
            source,
        })?;
    write_atomic(path, &bytes)
}
