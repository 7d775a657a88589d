//! Paths of the workspace the runner works in.

use std::path::PathBuf;

/// The workspace root (the folder with the top-level Cargo.toml), or FER_WORKSPACE_ROOT when
/// set: a prebuilt binary run elsewhere (the GPU bundle, bench/gpu.sh) has no source tree at
/// the path it was compiled in, and finds bench/, data-manifests/ and experiments/ there.
pub fn root() -> PathBuf {
    if let Some(dir) = std::env::var_os("FER_WORKSPACE_ROOT") {
        return PathBuf::from(dir);
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent().map(PathBuf::from).unwrap_or(here)
}

/// `results/` under the workspace root.
pub fn results_dir() -> PathBuf {
    root().join("results")
}

/// `data-manifests/<name>.yaml` under the workspace root.
pub fn manifest_path(name: &str) -> PathBuf {
    root().join("data-manifests").join(format!("{name}.yaml"))
}

/// A manifest's root: relative paths are taken from the workspace root, so commands work
/// from any working directory.
pub fn resolve(path: Option<PathBuf>) -> Option<PathBuf> {
    path.map(|p| if p.is_relative() { root().join(p) } else { p })
}
