//! An image file that an importer listed but that could not be decoded (corrupt, truncated, or
//! not an image at all despite its extension). Real dataset copies contain a few such files;
//! the load skips them and keeps a list, so one bad file never ends a run and the user can still
//! see what was left out (ARCHITECTURE.md "fer-data": loading).

use std::path::PathBuf;

/// One skipped image and why it was skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedImage {
    /// The record's id (the path relative to the dataset root for folders).
    pub id: String,
    pub path: PathBuf,
    /// The decoder's message.
    pub reason: String,
}

impl std::fmt::Display for SkippedImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}
