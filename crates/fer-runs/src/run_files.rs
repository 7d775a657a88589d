//! The files of a run directory (`results/<experiment>/<dataset>/<method>/<run-id>/`), the run
//! id that names it, and the atomic writer every run file goes through.

use sha2::{Digest, Sha256};
use std::path::Path;

use crate::error::{Result, RunsError};

/// The resolved settings of the run, hashed into its id.
pub const CONFIG_FILE: &str = "config.yaml";
/// The finished run's record ([`crate::RunRecord`]).
pub const METRICS_FILE: &str = "metrics.json";
/// The completion marker, written after every other file.
pub const DONE_FILE: &str = "DONE";

/// The first 12 hex digits of the SHA-256 of the resolved config text: equal configs share a
/// run directory, so a finished run is not redone.
pub fn run_id(resolved_config_yaml: &str) -> String {
    let digest = Sha256::digest(resolved_config_yaml.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Writes `bytes` to `path` atomically: to a temporary name in the same folder
/// (`.<name>.tmp-<pid>`), synced, then renamed into place, so an interrupted write never leaves a
/// half-written file under the real name. Creates the folder if needed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let io = |p: &Path, source| RunsError::Io {
        path: p.to_path_buf(),
        source,
    };
    let dir = path.parent().unwrap_or_else(|| Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "file".into());
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let written = (|| {
        crate::fault_injection::step(|| format!("create {}", tmp.display()));
        let mut file = std::fs::File::create(&tmp).map_err(|e| io(&tmp, e))?;
        std::io::Write::write_all(&mut file, bytes).map_err(|e| io(&tmp, e))?;
        // fsync before the rename: otherwise a crash can leave the new name pointing at an
        // empty file on some filesystems, which is what the rename is meant to prevent.
        file.sync_all().map_err(|e| io(&tmp, e))?;
        crate::fault_injection::step(|| format!("rename to {}", path.display()));
        std::fs::rename(&tmp, path).map_err(|e| io(path, e))
    })();
    if written.is_err() {
        // Best effort: the original error is the one worth reporting.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_id_is_a_stable_hash() {
        assert_eq!(run_id("a: 1\n"), run_id("a: 1\n"));
        assert_ne!(run_id("a: 1\n"), run_id("a: 2\n"));
        assert_eq!(run_id("x").len(), 12);
        // sha256("a: 1\n") starts with these six bytes (python3 -c "import hashlib;
        // print(hashlib.sha256(b'a: 1\n').hexdigest()[:12])").
        assert_eq!(run_id("a: 1\n"), RUN_ID_OF_A1);
    }
    const RUN_ID_OF_A1: &str = "37b128c59f1f";

    #[test]
    fn atomic_writes_leave_no_temporary_file() {
        let dir = std::env::temp_dir().join(format!("fer-runs-atomic-{}", std::process::id()));
        let path = dir.join("sub").join("metrics.json");
        write_atomic(&path, b"{}").unwrap();
        write_atomic(&path, b"{\"a\": 1}").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"a\": 1}");
        let names: Vec<String> = std::fs::read_dir(dir.join("sub"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        assert_eq!(names, vec!["metrics.json".to_string()]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
