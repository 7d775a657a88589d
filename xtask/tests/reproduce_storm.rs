//! A kill storm: a `reproduce --jobs 2` sweep on tiny SynthFER killed with SIGKILL (the whole
//! process group: the runner and its workers) at 20 seeded random moments (scaled to this
//! machine's speed), then run to the end, gives summary.csv byte for byte equal to the sweep that was never killed, and leaves
//! no claim folder, temporary file or resume file behind.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// base-dcnn-fer and hps (λ fixed), 3 folds, 3 epochs: 6 runs.
fn write_experiment(dir: &Path) -> PathBuf {
    let manifest = common::write_tiny_synth_manifest(dir);
    let experiment = dir.join("storm.yaml");
    std::fs::write(
        &experiment,
        format!(
            "name: storm\ntitle: kill storm\nkind: training\ndatasets:\n  - key: tiny\n    manifest: {}\nmethods:\n  - id: base-dcnn-fer\n  - id: hps\nseeds: [3]\ntrain:\n  batch_size: 16\n  max_epochs: 3\n  patience: 3\n  model_config:\n    input_size: 32\n    fer_head: {{hidden: 64, embedding: 16}}\n    fld_head: {{hidden: 64}}\nfigures: []\n",
            manifest.display()
        ),
    )
    .expect("experiment");
    experiment
}

fn sweep(experiment: &Path, results: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    c.arg("reproduce")
        .arg(experiment)
        .args(["--jobs", "2", "--results"])
        .arg(results)
        .env("RAYON_NUM_THREADS", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    c
}

/// Every file below `root` whose name marks litter: claim folders, temporary files, resume
/// state of finished runs.
fn litter(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let finished = d.join("DONE").is_file();
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            let p = e.path();
            let resume = name == "progress.json"
                || name.starts_with("last-")
                || name.starts_with("optimizer-");
            if name.starts_with(".claims-") || name.contains(".tmp") || (finished && resume) {
                out.push(p.clone());
            }
            if p.is_dir() {
                stack.push(p);
            }
        }
    }
    out
}

#[test]
fn twenty_kills_of_a_two_worker_sweep_change_nothing() {
    let dir = common::temp("xtask-storm", "sweep");
    let experiment = write_experiment(&dir);

    let reference = dir.join("reference");
    let started = std::time::Instant::now();
    let status = sweep(&experiment, &reference)
        .status()
        .expect("reference sweep");
    assert!(status.success());
    // Kill delays scale with this machine's speed: 3-6 % of the whole sweep each, so that the
    // 20 kills land while the sweep still has work (each kill also loses the epoch in flight).
    let whole = started.elapsed().as_secs_f64();
    let expected =
        std::fs::read_to_string(reference.join("storm/summary.csv")).expect("reference summary");

    let results = dir.join("stormy");
    // A fixed sequence of kill fractions (an LCG): into data loading, epochs, commits and
    // reports alike.
    let mut state: u64 = 17;
    let mut kills = 0;
    for _ in 0..20 {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let fraction = 0.03 + 0.03 * ((state >> 33) % 1000) as f64 / 1000.0;
        let delay = Duration::from_secs_f64((whole * fraction).max(0.2));
        let mut child = sweep(&experiment, &results)
            .process_group(0)
            .spawn()
            .expect("sweep");
        std::thread::sleep(delay);
        if child.try_wait().expect("wait").is_none() {
            // SAFETY: kill(2) on the process group the child leads (pgid = its pid).
            unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
            kills += 1;
        }
        let _ = child.wait();
        // Workers are in the same group: give the kernel a moment to reap them.
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = sweep(&experiment, &results).status().expect("final sweep");
    assert!(status.success());
    let got = std::fs::read_to_string(results.join("storm/summary.csv")).expect("summary");
    assert_eq!(got, expected, "summary.csv after {kills} kills differs");
    let left = litter(&results);
    assert!(left.is_empty(), "litter after {kills} kills: {left:?}");
    eprintln!("{kills} kills, summary.csv byte-identical, no litter");
    assert!(
        kills >= 10,
        "only {kills} of 20 sweeps were still running when killed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
