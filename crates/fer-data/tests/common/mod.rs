//! Helpers shared by fer-data's integration tests.

use std::path::{Path, PathBuf};

/// The shared FER2013 folder, or None (with a message) when this machine has no copy.
pub fn shared_fer2013() -> Option<PathBuf> {
    let root = std::env::var_os("FER_FER2013")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets/fer2013")
        });
    if root.is_dir() {
        return Some(root);
    }
    let msg = format!(
        "FER2013 not found at {} (set FER_FER2013 or place ../shared beside the checkout)",
        root.display()
    );
    if std::env::var_os("FER_REQUIRE_SHARED").is_some_and(|v| v == "1") {
        panic!("FER_REQUIRE_SHARED=1 but {msg}");
    }
    eprintln!("skipping: {msg}");
    None
}
