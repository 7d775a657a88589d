//! `write_atomic`: the crate's only way of putting a file on disk (ARCHITECTURE.md "Conventions":
//! files are written to a temporary name and renamed into place).
//!
//! Not from the paper; it protects the reproduction: an interrupted `xtask report` must never
//! leave a half-written `summary.csv` or `table.md` that looks complete.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::report_error::{ReportError, Result};

/// `<stem>.<ext>` without touching dots already in the stem (`Path::with_extension` would turn
/// `cm.raf` into `cm.png`).
pub(crate) fn with_suffix(stem: &Path, ext: &str) -> PathBuf {
    let mut name: OsString = stem.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

/// Writes `bytes` to `path` through the run record's atomic writer (temporary sibling, fsync,
/// rename; parent folders created), with the crate's error.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    fer_runs::write_atomic(path, bytes).map_err(|e| match e {
        fer_runs::RunsError::Io { path, source } => ReportError::Io {
            path,
            action: "write".into(),
            source,
        },
    })
}
