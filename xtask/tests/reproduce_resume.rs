//! `cargo xtask reproduce` survives being killed (and gives the same numbers in `--jobs 2`
//! worker processes): the process is stopped in the middle of a
//! run, started again, does not redo the runs that had finished, resumes the interrupted one,
//! and ends with the same summary as an uninterrupted invocation. Also: a missing dataset stops
//! `reproduce` before any run starts, naming the manifest, the path and how to obtain it.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

fn temp(name: &str) -> PathBuf {
    common::temp("xtask-reproduce", name)
}

/// A small SynthFER (30 subjects x 5 faces at 32 px), 3 subject-exclusive folds, and an
/// experiment with two methods; `--folds 1` makes two runs of two epochs each.
fn write_experiment(dir: &Path) -> PathBuf {
    let manifest = common::write_tiny_synth_manifest(dir);
    let experiment = dir.join("tiny.yaml");
    std::fs::write(
        &experiment,
        format!(
            "name: tiny\ntitle: resume test\nkind: training\ndatasets:\n  - key: tiny\n    manifest: {}\nmethods:\n  - id: base-dcnn-fer\n  - id: hps\nseeds: [3]\ntrain:\n  batch_size: 16\n  max_epochs: 2\n  model_config:\n    input_size: 32\n    fer_head: {{hidden: 128, embedding: 32}}\n    fld_head: {{hidden: 128}}\nfigures: [bars, confusion_matrices]\npaper_results:\n  tiny:\n    base-dcnn-fer: {{acc_average: 50.0}}\n",
            manifest.display()
        ),
    )
    .expect("experiment");
    experiment
}

fn reproduce(experiment: &Path, results: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_xtask"));
    // One thread everywhere: the kernels split sums by thread, so runs repeat bit for bit on
    // the same thread count (recorded in each run), and `--jobs 2` would otherwise give each
    // worker half the cores of the single-process runs it is compared with.
    c.env("RAYON_NUM_THREADS", "1");
    c.args(["reproduce"])
        .arg(experiment)
        .args(["--folds", "1", "--results"])
        .arg(results);
    c
}

/// Run directories below `root` with their DONE state.
fn run_dirs(root: &Path) -> Vec<(PathBuf, bool)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        if d.join("config.yaml").is_file() {
            out.push((d.clone(), d.join("DONE").is_file()));
        }
        for e in entries.flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn modified(p: &Path) -> SystemTime {
    std::fs::metadata(p)
        .and_then(|m| m.modified())
        .expect("mtime")
}

#[test]
fn a_killed_reproduce_resumes_without_redoing_finished_runs() {
    let dir = temp("resume");
    let experiment = write_experiment(&dir);

    // Uninterrupted, in two worker processes that share the plan.
    let straight = dir.join("straight");
    let out = reproduce(&experiment, &straight)
        .args(["--jobs", "2"])
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let expected = std::fs::read_to_string(straight.join("tiny/summary.csv")).expect("summary");
    let log = String::from_utf8_lossy(&out.stdout);
    assert!(log.contains("[w1]") && log.contains("[w2]"), "{log}");
    assert!(
        !straight.join("tiny").read_dir().expect("dir").any(|e| e
            .map(|e| e.file_name().to_string_lossy().starts_with(".claims"))
            .unwrap_or(false)),
        "claims are removed"
    );
    assert_eq!(expected.lines().count(), 3, "two methods: {expected}");

    // Killed once a run has finished and the next one has committed an epoch.
    let killed = dir.join("killed");
    let mut child = reproduce(&experiment, &killed)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let dirs = run_dirs(&killed.join("tiny"));
        let done = dirs.iter().filter(|(_, d)| *d).count();
        let mid_run = dirs
            .iter()
            .any(|(p, d)| !*d && p.join("progress.json").is_file());
        if done >= 1 && mid_run {
            break;
        }
        assert!(
            child.try_wait().expect("poll").is_none(),
            "reproduce finished before it could be interrupted"
        );
        assert!(Instant::now() < deadline, "no progress within 10 minutes");
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    let before = run_dirs(&killed.join("tiny"));
    let finished: Vec<(PathBuf, SystemTime)> = before
        .iter()
        .filter(|(_, d)| *d)
        .map(|(p, _)| (p.clone(), modified(&p.join("metrics.json"))))
        .collect();
    assert!(!finished.is_empty());
    assert!(before.iter().any(|(_, d)| !*d), "one run was interrupted");

    // Started again: finished runs are skipped, the rest resume and finish.
    let out = reproduce(&experiment, &killed).output().expect("rerun");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout.matches("finished before").count(),
        finished.len(),
        "{stdout}"
    );
    for (p, t) in &finished {
        assert_eq!(
            modified(&p.join("metrics.json")),
            *t,
            "{} was redone",
            p.display()
        );
    }
    let after = run_dirs(&killed.join("tiny"));
    assert_eq!(after.len(), 2);
    assert!(after.iter().all(|(_, d)| *d));
    let resumed = std::fs::read_to_string(killed.join("tiny/summary.csv")).expect("summary");
    assert_eq!(
        resumed, expected,
        "the resumed summary equals the uninterrupted one"
    );
    for f in [
        "table.md",
        "runs.csv",
        "bars_acc_average.png",
        "bars_acc_average.svg",
    ] {
        assert!(killed.join("tiny").join(f).is_file(), "{f} written");
    }
    let table = std::fs::read_to_string(killed.join("tiny/table.md")).expect("table");
    assert!(table.contains("paper 50.00"), "{table}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_dataset_stops_reproduce_before_any_run() {
    let dir = temp("missing");
    let experiment = dir.join("needs-data.yaml");
    let manifest = dir.join("absent.yaml");
    std::fs::write(
        &manifest,
        format!(
            "name: absent\nformat:\n  kind: image_folder\nroot: {}\nroot_env: FER_TEST_ABSENT_ROOT\nobtain: Ask the authors for the data.\nclasses: [anger, happiness]\nimage_size: 48\nprotocol:\n  kind: subject_k_fold\n  folds: 3\n",
            dir.join("no-such-folder").display()
        ),
    )
    .expect("manifest");
    std::fs::write(
        &experiment,
        format!(
            "name: needs-data\ntitle: t\nkind: training\ndatasets:\n  - key: absent\n    manifest: {}\nmethods:\n  - id: base-dcnn-fer\n",
            manifest.display()
        ),
    )
    .expect("experiment");
    let results = dir.join("results");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("reproduce")
        .arg(&experiment)
        .arg("--results")
        .arg(&results)
        .env_remove("FER_TEST_ABSENT_ROOT")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    for needle in [
        "nothing was run",
        "no-such-folder",
        "FER_TEST_ABSENT_ROOT",
        "Ask the authors",
    ] {
        assert!(err.contains(needle), "'{needle}' missing from: {err}");
    }
    assert!(!results.exists(), "no results folder was created");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Two `reproduce` of one experiment started together never train a run twice: each run's
/// lock (results/<exp>/.locks/) leaves a run another process trains to it, and a run finished
/// meanwhile is reused.
#[test]
fn two_invocations_started_together_train_every_run_once() {
    let dir = temp("together");
    let experiment = write_experiment(&dir);
    let results = dir.join("results");
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_xtask"))
            .env("RAYON_NUM_THREADS", "1")
            .arg("reproduce")
            .arg(&experiment)
            .args(["--folds", "2", "--results"])
            .arg(&results)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let (a, b) = (start(), start());
    let mut log = String::new();
    for child in [a, b] {
        let out = child.wait_with_output().expect("wait");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        log.push_str(&String::from_utf8_lossy(&out.stdout));
    }
    // Two methods x two folds: four runs, each trained by exactly one of the two.
    let trained = log
        .lines()
        .filter(|l| l.contains(": ACC_average") && !l.contains("finished before"))
        .count();
    assert_eq!(trained, 4, "{log}");
    let dirs = run_dirs(&results.join("tiny"));
    assert_eq!(dirs.len(), 4);
    for (d, done) in &dirs {
        assert!(done, "{} finished", d.display());
        let history = std::fs::read_to_string(d.join("history.csv")).expect("history");
        assert_eq!(history.lines().count(), 3, "two epochs, once: {history}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
