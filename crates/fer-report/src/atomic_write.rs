//! `write_atomic`: the crate's only way of putting a file on disk (ARCHITECTURE.md "Conventions":
//! files are written to a temporary name and renamed into place).
//!
//! Not from the paper; it protects the reproduction: an interrupted `xtask report` must never
//! leave a half-written `summary.csv` or `table.md` that looks complete.

use std::ffi::OsString;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::report_error::{ReportError, Result};

/// `<path>.tmp`: a sibling of `path`, so the final rename stays on one filesystem and is atomic.
pub(crate) fn tmp_path(path: &Path) -> PathBuf {
    let mut name: OsString = path.as_os_str().to_owned();
    name.push(".tmp");
    PathBuf::from(name)
}

/// `<stem>.<ext>` without touching dots already in the stem (`Path::with_extension` would turn
/// `cm.raf` into `cm.png`).
pub(crate) fn with_suffix(stem: &Path, ext: &str) -> PathBuf {
    let mut name: OsString = stem.as_os_str().to_owned();
    name.push(".");
    name.push(ext);
    PathBuf::from(name)
}

/// Writes `bytes` to `path` via `<path>.tmp` + fsync + rename, creating parent folders.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |p: &Path, action: &str| {
        let p = p.to_path_buf();
        let action = action.to_string();
        move |source| ReportError::Io {
            path: p,
            action,
            source,
        }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(io(parent, "create directory"))?;
    }
    let tmp = tmp_path(path);
    let written = (|| -> Result<()> {
        let mut file = fs::File::create(&tmp).map_err(io(&tmp, "create"))?;
        file.write_all(bytes).map_err(io(&tmp, "write"))?;
        // fsync before the rename: otherwise a crash can leave the new name pointing at an
        // empty file on some filesystems, which is exactly what the rename is meant to prevent.
        file.sync_all().map_err(io(&tmp, "sync"))?;
        fs::rename(&tmp, path).map_err(io(&tmp, &format!("rename to {}", path.display())))
    })();
    if written.is_err() {
        // Best effort: the original error is the one worth reporting.
        let _ = fs::remove_file(&tmp);
    }
    written
}
