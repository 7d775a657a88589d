//! The Slurm executor against a real Slurm (ARCHITECTURE.md "fer-experiments", README
//! "Running on a cluster"): a small SynthFER experiment (2 methods x 2 seeds, 2 epochs, 32 px)
//! submitted with `reproduce --executor slurm` ends with the same summary.csv as the local
//! executor; arrays are split at the cluster's MaxArraySize; submitting twice queues no run
//! twice; a task requeued with `scontrol requeue` in the middle of a run, and one warned with
//! SIGUSR1 (as before a time limit), resume and leave the summary unchanged; a task killed with
//! `scancel` shows as failed in `status`, and submitting again finishes it.
//!
//! Needs a running Slurm whose client commands reach it (`.ci/local-slurm start DIR` starts a
//! one-node cluster; `.ci/run` does). Without one the tests skip with a message, and fail under
//! FER_REQUIRE_SLURM=1 (set in CI).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The tests share one small cluster: one sweep at a time.
static CLUSTER: Mutex<()> = Mutex::new(());

/// Whether a Slurm answers; otherwise skip (or fail under FER_REQUIRE_SLURM=1).
fn slurm_available(test: &str) -> bool {
    let ok = Command::new("timeout")
        .args(["10", "sinfo", "-h"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        let msg = format!(
            "{test}: no Slurm answers `sinfo` (start a local one with `.ci/local-slurm start DIR` and export the SLURM_CONF it prints)"
        );
        if std::env::var_os("FER_REQUIRE_SLURM").is_some_and(|v| v == "1") {
            panic!("FER_REQUIRE_SLURM=1 but {msg}");
        }
        eprintln!("skipped: {msg}");
    }
    ok
}

/// 30 subjects x 24 faces at 32 px, 3 subject-exclusive folds (long enough epochs, about a
/// second or two each, to interrupt a run between them); two methods, two seeds, two epochs.
fn write_experiment(dir: &Path) -> PathBuf {
    let manifest = common::write_synth_manifest(dir, "sweep-synth", 24);
    let experiment = dir.join("sweep.yaml");
    std::fs::write(
        &experiment,
        format!(
            "name: sweep\ntitle: Slurm executor test\nkind: training\ndatasets:\n  - key: tiny\n    manifest: {}\nmethods:\n  - id: base-dcnn-fer\n  - id: hps\nseeds: [3, 4]\ntrain:\n  batch_size: 16\n  max_epochs: 2\n  model_config:\n    input_size: 32\n    fer_head: {{hidden: 128, embedding: 32}}\n    fld_head: {{hidden: 128}}\nfigures: [bars]\n",
            manifest.display()
        ),
    )
    .expect("experiment");
    experiment
}

fn xtask() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    // One thread, as every Slurm task gets (--cpus-per-task 1): the kernels split sums by
    // thread, so equal thread counts give equal numbers.
    c.env("RAYON_NUM_THREADS", "1");
    c
}

fn run_ok(c: &mut Command) -> String {
    let out = c.output().expect("run");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{c:?} failed:\n{text}");
    text
}

fn local(experiment: &Path, results: &Path, jobs: usize) -> (String, Duration) {
    let t = Instant::now();
    run_ok(
        xtask()
            .arg("reproduce")
            .arg(experiment)
            .args(["--folds", "1", "--jobs", &jobs.to_string(), "--results"])
            .arg(results),
    );
    let summary = std::fs::read_to_string(results.join("sweep/summary.csv")).expect("summary");
    (summary, t.elapsed())
}

fn submit(experiment: &Path, results: &Path) -> String {
    run_ok(
        xtask()
            .arg("reproduce")
            .arg(experiment)
            .args([
                "--folds",
                "1",
                "--executor",
                "slurm",
                "--cpus-per-task",
                "1",
                "--results",
            ])
            .arg(results),
    )
}

fn status(experiment: &Path, results: &Path) -> String {
    run_ok(
        xtask()
            .arg("status")
            .arg(experiment)
            .arg("--results")
            .arg(results),
    )
}

/// The submissions the ledger records: (array job id, run dirs in task order) and report jobs.
fn ledger(results: &Path) -> (Vec<(String, Vec<String>)>, Vec<String>) {
    let path = results.join("sweep/slurm/submissions.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("ledger")).expect("json");
    let mut arrays = Vec::new();
    let mut reports = Vec::new();
    for s in v["submissions"].as_array().expect("submissions") {
        reports.push(s["report_job"].as_str().expect("report").to_string());
        for a in s["arrays"].as_array().expect("arrays") {
            let dirs = a["run_dirs"]
                .as_array()
                .expect("dirs")
                .iter()
                .map(|d| d.as_str().expect("dir").to_string())
                .collect();
            arrays.push((a["job_id"].as_str().expect("id").to_string(), dirs));
        }
    }
    (arrays, reports)
}

/// Job ids still queued or running.
fn live_jobs() -> Vec<String> {
    let out = Command::new("squeue")
        .args(["--me", "-h", "-r", "-o", "%F|%A"])
        .output()
        .expect("squeue");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .flat_map(|l| l.split('|').map(str::to_string).collect::<Vec<_>>())
        .collect()
}

/// Waits until no job of the sweep is queued or running (the report job included).
fn wait_for_sweep(results: &Path) {
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let (arrays, reports) = ledger(results);
        let ours: Vec<String> = arrays
            .into_iter()
            .map(|(id, _)| id)
            .chain(reports)
            .collect();
        let live = live_jobs();
        if !ours.iter().any(|id| live.contains(id)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the sweep did not end in 15 minutes"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The first run directory (relative to results) with `file` and without DONE, and its task.
fn wait_for_run_with(results: &Path, has: &str, lacks: &str, skip: &[String]) -> (String, String) {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let (arrays, _) = ledger(results);
        for (job, dirs) in &arrays {
            for (task, dir) in dirs.iter().enumerate() {
                let d = results.join(dir);
                if !skip.contains(dir)
                    && d.join(has).is_file()
                    && !d.join(lacks).is_file()
                    && !d.join("DONE").is_file()
                {
                    return (dir.clone(), format!("{job}_{task}"));
                }
            }
        }
        assert!(
            Instant::now() < deadline,
            "no run reached {has} in 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn logs_of(results: &Path, task: &str) -> String {
    let logs = results.join("sweep/slurm/logs");
    let out = std::fs::read_to_string(logs.join(format!("{task}.out"))).unwrap_or_default();
    let err = std::fs::read_to_string(logs.join(format!("{task}.err"))).unwrap_or_default();
    format!("{out}{err}")
}

fn max_array_size() -> usize {
    let out = Command::new("scontrol")
        .args(["show", "config"])
        .output()
        .expect("scontrol");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| l.starts_with("MaxArraySize"))
        .and_then(|l| l.split('=').nth(1))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(1001)
}

#[test]
fn a_sweep_through_slurm_equals_the_local_executor_and_is_never_queued_twice() {
    if !slurm_available("slurm sweep") {
        return;
    }
    let _cluster = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = common::temp("xtask-slurm", "equal");
    let experiment = write_experiment(&dir);
    let (expected, local_time) = local(&experiment, &dir.join("local"), 1);
    let (two_workers, local2_time) = local(&experiment, &dir.join("local-jobs2"), 2);
    assert_eq!(two_workers, expected);

    // A rejected submission quotes Slurm and queues and records nothing.
    let results = dir.join("slurm");
    let out = xtask()
        .arg("reproduce")
        .arg(&experiment)
        .args([
            "--folds",
            "1",
            "--executor",
            "slurm",
            "--partition",
            "no-such-partition",
            "--results",
        ])
        .arg(&results)
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("nothing was submitted") && err.contains("Invalid partition"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(!results.join("sweep/slurm/submissions.json").exists());

    let t = Instant::now();
    let first = submit(&experiment, &results);
    assert!(first.contains("submitted 4 runs"), "{first}");
    // Submitting again at once: every run is queued or running, nothing goes twice.
    let second = submit(&experiment, &results);
    assert!(second.contains("nothing to submit"), "{second}");
    let (arrays, reports) = ledger(&results);
    assert_eq!(reports.len(), 1, "one submission: {second}");
    // Four runs; arrays hold at most MaxArraySize tasks (3 on the CI cluster: 3 + 1).
    let max = max_array_size();
    assert_eq!(arrays.len(), 4usize.div_ceil(max), "{arrays:?}");
    assert!(arrays.iter().all(|(_, d)| d.len() <= max));
    let mut all: Vec<&String> = arrays.iter().flat_map(|(_, d)| d).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 4, "every run once: {arrays:?}");
    wait_for_sweep(&results);
    let slurm_time = t.elapsed();
    let summary = std::fs::read_to_string(results.join("sweep/summary.csv")).expect("summary");
    assert_eq!(
        summary, expected,
        "Slurm and local give the same summary.csv"
    );
    let s = status(&experiment, &results);
    assert!(s.contains("sweep: 4 of 4 planned runs done"), "{s}");
    eprintln!(
        "wall time, 4 runs: local executor {:.1} s (one process, 1 thread), local --jobs 2 {:.1} s (two 1-thread workers), Slurm executor {:.1} s (submission to the report job's end, {} 1-CPU tasks on the local cluster)",
        local_time.as_secs_f64(),
        local2_time.as_secs_f64(),
        slurm_time.as_secs_f64(),
        arrays.iter().map(|(_, d)| d.len()).sum::<usize>()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn requeued_and_warned_tasks_resume_and_the_summary_is_unchanged() {
    if !slurm_available("slurm requeue") {
        return;
    }
    let _cluster = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = common::temp("xtask-slurm", "requeue");
    let experiment = write_experiment(&dir);
    let (expected, _) = local(&experiment, &dir.join("local"), 1);

    let results = dir.join("slurm");
    submit(&experiment, &results);
    // The warning signal (Slurm sends it before a time limit or at preemption) to a task
    // whose run has started and not committed an epoch: it finishes and commits the epoch,
    // requeues itself and resumes.
    let (warned_run, warned) = wait_for_run_with(&results, "config.yaml", "progress.json", &[]);
    run_ok(Command::new("scancel").args(["--signal=USR1", "--batch", &warned]));
    // `scontrol requeue` on another task once its run has committed an epoch.
    let (_, requeued) = wait_for_run_with(
        &results,
        "progress.json",
        "DONE",
        std::slice::from_ref(&warned_run),
    );
    run_ok(Command::new("scontrol").args(["requeue", &requeued]));
    wait_for_sweep(&results);
    for task in [&warned, &requeued] {
        let log = logs_of(&results, task);
        assert!(
            log.contains("resuming after epoch 1"),
            "task {task} resumed from its committed epoch:\n{log}"
        );
    }
    assert!(
        logs_of(&results, &warned).contains("stopped by the warning signal after epoch 1"),
        "{}",
        logs_of(&results, &warned)
    );
    let summary = std::fs::read_to_string(results.join("sweep/summary.csv")).expect("summary");
    assert_eq!(summary, expected, "interrupted tasks change no number");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_cancelled_task_shows_as_failed_and_submitting_again_finishes_it() {
    if !slurm_available("slurm scancel") {
        return;
    }
    let _cluster = CLUSTER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = common::temp("xtask-slurm", "cancel");
    let experiment = write_experiment(&dir);
    let (expected, _) = local(&experiment, &dir.join("local"), 1);

    let results = dir.join("slurm");
    submit(&experiment, &results);
    let (killed_run, killed) = wait_for_run_with(&results, "config.yaml", "DONE", &[]);
    run_ok(Command::new("scancel").arg(&killed));
    wait_for_sweep(&results);
    let s = status(&experiment, &results);
    assert!(
        s.contains(
            "sweep: 3 of 4 planned runs done, 0 running, 0 queued, 1 failed, 0 not submitted"
        ),
        "{s}"
    );
    assert!(s.contains("Failed runs:") && s.contains(&killed_run), "{s}");
    assert!(s.contains("--executor slurm"), "the resubmit command: {s}");
    // Submitting again submits that run alone.
    let again = submit(&experiment, &results);
    assert!(again.contains("submitted 1 runs"), "{again}");
    wait_for_sweep(&results);
    let s = status(&experiment, &results);
    assert!(s.contains("sweep: 4 of 4 planned runs done"), "{s}");
    let summary = std::fs::read_to_string(results.join("sweep/summary.csv")).expect("summary");
    assert_eq!(summary, expected);
    let _ = std::fs::remove_dir_all(&dir);
}
