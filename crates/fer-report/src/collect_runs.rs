//! `collect_runs`: gathers every finished run below a results folder
//! (ARCHITECTURE.md "fer-report": "collect run `metrics.json` files into one frame").
//!
//! A run directory counts only when it holds the trainer's `DONE` marker: a run that is still
//! training, or was killed, may already have a `metrics.json` from an earlier epoch, and
//! averaging it in would mix unfinished models into the paper's five-seed means (Section 4.4).

use std::fs;
use std::path::{Path, PathBuf};

use crate::report_error::{ReportError, Result};
use crate::run_result::RunResult;

pub use fer_runs::DONE_FILE;
pub use fer_runs::METRICS_FILE;

/// Walks `root` recursively and returns the parsed `metrics.json` of every directory that also
/// holds `DONE`, in sorted path order (so summaries are reproducible across filesystems).
///
/// Directories without `DONE` are skipped silently; a malformed or invalid `metrics.json` in a
/// finished directory is an error naming the file (and line/column or field).
/// Symbolic links to directories are not followed, so a link loop cannot hang the report.
pub fn collect_runs(root: &Path) -> Result<Vec<RunResult>> {
    let mut runs = Vec::new();
    visit(root, &mut runs)?;
    Ok(runs)
}

fn visit(dir: &Path, runs: &mut Vec<RunResult>) -> Result<()> {
    let io = |path: &Path, action: &str, source| ReportError::Io {
        path: path.to_path_buf(),
        action: action.to_string(),
        source,
    };
    let mut entries: Vec<(PathBuf, fs::FileType)> = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| io(dir, "read directory", e))? {
        let entry = entry.map_err(|e| io(dir, "read directory entry", e))?;
        let path = entry.path();
        let kind = entry
            .file_type()
            .map_err(|e| io(&path, "read file type", e))?;
        entries.push((path, kind));
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));

    let metrics = dir.join(METRICS_FILE);
    if dir.join(DONE_FILE).is_file() && metrics.is_file() {
        runs.push(read_run(&metrics)?);
    }
    for (path, kind) in entries {
        if kind.is_dir() {
            visit(&path, runs)?;
        }
    }
    Ok(())
}

/// Parses and validates one `metrics.json`.
pub fn read_run(path: &Path) -> Result<RunResult> {
    let text = fs::read_to_string(path).map_err(|source| ReportError::Io {
        path: path.to_path_buf(),
        action: "read".into(),
        source,
    })?;
    let mut run: RunResult =
        serde_json::from_str(&text).map_err(|e| ReportError::MalformedJson {
            path: path.to_path_buf(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
    run.source = path.to_path_buf();
    crate::run_result::validate_run(&run)?;
    Ok(run)
}
