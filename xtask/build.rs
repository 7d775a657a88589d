//! Records the code version this binary is built from (git commit, and whether the working
//! tree differed from it) for the provenance block of every run's metrics.json.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    // Untracked files (run records, build outputs) do not change the code.
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .map(|s| !s.is_empty())
        .unwrap_or(false);
    println!("cargo:rustc-env=FER_GIT_COMMIT={commit}");
    println!("cargo:rustc-env=FER_GIT_DIRTY={dirty}");
    // Rebuilt when the commit moves or the code changes (cargo scans these folders).
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    for path in [
        ".git/HEAD",
        ".git/index",
        ".git/refs",
        "crates",
        "xtask/src",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed={root}/{path}");
    }
}
