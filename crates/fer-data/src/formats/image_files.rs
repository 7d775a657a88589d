//! Listing the image files of one folder, and picking the last frames of a sequence: the
//! small pieces that every folder importer (ARCHITECTURE.md "fer-data", `formats::*`) shares. The
//! paper (4.1, after Cai et al.) takes the last three frames of each CK+ and Oulu-CASIA sequence,
//! the ones nearest the expression's peak.

use std::path::{Path, PathBuf};

use crate::error::{DataError, Result};

/// File extensions taken for images (case-insensitive). A file with one of these that does not
/// decode is listed anyway and skipped, with its reason, when the dataset is decoded.
pub const IMAGE_EXTENSIONS: [&str; 5] = ["png", "jpg", "jpeg", "bmp", "tiff"];

/// Frames per sequence that the paper uses for CK+ and Oulu-CASIA.
pub const LAST_FRAMES: usize = 3;

/// Whether the path has an image extension.
pub fn is_image_file(path: &Path) -> bool {
    path.extension()
        .and_then(|x| x.to_str())
        .is_some_and(|x| IMAGE_EXTENSIONS.contains(&x.to_ascii_lowercase().as_str()))
}

/// The image files directly in `dir`, sorted by name (frame order for sequences, whose file
/// names carry zero-padded frame numbers).
pub fn sorted_image_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| DataError::io(dir, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && is_image_file(p))
        .collect();
    files.sort();
    Ok(files)
}

/// The image files in `dir` and every folder below it, sorted by path (for tools that take
/// any folder of faces: `cargo xtask annotate`, `detect`).
pub fn image_files_below(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in std::fs::read_dir(&d).map_err(|e| DataError::io(&d, e))? {
            let path = entry.map_err(|e| DataError::io(&d, e))?.path();
            if path.is_dir() {
                pending.push(path);
            } else if is_image_file(&path) {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// The last `n` of the sorted frames (all of them when the sequence is shorter).
pub fn last_frames(frames: &[PathBuf], n: usize) -> &[PathBuf] {
    &frames[frames.len().saturating_sub(n)..]
}

/// The file stem as a string (empty for a path without one).
pub fn stem_of(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// `path` relative to `root` with `/` separators: the record id of image files.
pub fn relative_id(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().to_string())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_frames_of_short_and_long_sequences() {
        let frames: Vec<PathBuf> = (0..5).map(|i| PathBuf::from(format!("{i}.png"))).collect();
        assert_eq!(last_frames(&frames, 3), &frames[2..]);
        assert_eq!(last_frames(&frames[..2], 3), &frames[..2]);
        assert!(last_frames(&[], 3).is_empty());
    }

    #[test]
    fn ids_are_relative_with_slashes() {
        let root = Path::new("/data/raf");
        let p = root.join("Image").join("aligned").join("a.jpg");
        assert_eq!(relative_id(root, &p), "Image/aligned/a.jpg");
        assert!(is_image_file(Path::new("x.JPEG")));
        assert!(!is_image_file(Path::new("x.txt")));
    }
}
