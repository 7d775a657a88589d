//! Cleaning what dead processes left in an experiment's folder: `.claims-<pid>` folders of a
//! killed `--jobs` parent and `.<name>.tmp-<pid>` files of an atomic write cut short (a kill,
//! a full disk). Only a process that is gone leaves litter: files of a live process (another
//! invocation working now) are left alone. Run dirs clean their own temporary files when they
//! resume.

use std::path::Path;

/// The process id a litter name ends with (`.claims-123`, `.runs.csv.tmp-123`).
fn litter_pid(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    let tail = name
        .strip_prefix(".claims-")
        .or_else(|| name.rsplit_once(".tmp-").map(|(_, pid)| pid))?;
    tail.parse().ok()
}

/// Whether process `pid` is alive; None where that cannot be told (no /proc).
fn alive(pid: u32) -> Option<bool> {
    let proc = Path::new("/proc");
    proc.is_dir().then(|| proc.join(pid.to_string()).exists())
}

/// Removes the litter of dead processes directly in `dir`; returns what was removed.
pub fn clean_litter(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut removed = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return removed;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = litter_pid(&name) else {
            continue;
        };
        if alive(pid) != Some(false) {
            continue;
        }
        let path = entry.path();
        let gone = if path.is_dir() {
            std::fs::remove_dir_all(&path).is_ok()
        } else {
            std::fs::remove_file(&path).is_ok()
        };
        if gone {
            removed.push(path);
        }
    }
    removed.sort();
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_dead_processes_litter_is_removed() {
        assert_eq!(litter_pid(".claims-42"), Some(42));
        assert_eq!(litter_pid(".runs.csv.tmp-7"), Some(7));
        assert_eq!(litter_pid("runs.csv"), None);
        assert_eq!(litter_pid(".claims-x"), None);
        if !Path::new("/proc").is_dir() {
            return;
        }
        let dir = std::env::temp_dir().join(format!("fer-litter-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A pid above the kernel's maximum (4194304) is never alive.
        let dead = 4_999_999u32;
        let me = std::process::id();
        std::fs::create_dir_all(dir.join(format!(".claims-{dead}/x"))).unwrap();
        std::fs::write(dir.join(format!(".plan.json.tmp-{dead}")), "").unwrap();
        std::fs::create_dir_all(dir.join(format!(".claims-{me}"))).unwrap();
        std::fs::write(dir.join(format!(".runs.csv.tmp-{me}")), "").unwrap();
        std::fs::write(dir.join("summary.csv"), "kept").unwrap();
        let removed = clean_litter(&dir);
        assert_eq!(
            removed,
            vec![
                dir.join(format!(".claims-{dead}")),
                dir.join(format!(".plan.json.tmp-{dead}")),
            ]
        );
        assert!(dir.join(format!(".claims-{me}")).is_dir());
        assert!(dir.join(format!(".runs.csv.tmp-{me}")).is_file());
        assert!(dir.join("summary.csv").is_file());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
