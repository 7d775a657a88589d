//! The campaign machinery of `cargo xtask reproduce` on a tiny SynthFER experiment: a grid
//! searched on a tuning subset (the experiment's `tuning`) and selected on validation before
//! the selected point runs on every fold; per-method seeds; `--time-budget` stopping cleanly
//! with the command that continues; `--dry-run`'s per-method table; provenance in every
//! record; a tampered record named and trained again; and a report rebuilt from the committed
//! record files alone, byte for byte.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

fn temp(name: &str) -> PathBuf {
    common::temp("xtask-campaign", name)
}

/// 30 subjects x 5 faces at 32 px, 3 folds; base-dcnn-fer on seeds 3 and 4, hps on seed 3
/// with λ searched on fold 0 of seed 3; one epoch per run.
fn write_experiment(dir: &Path) -> PathBuf {
    let manifest = common::write_tiny_synth_manifest(dir);
    let experiment = dir.join("camp.yaml");
    std::fs::write(
        &experiment,
        format!(
            "name: camp\ntitle: campaign test\nkind: training\ndatasets:\n  - key: tiny\n    manifest: {}\nmethods:\n  - id: base-dcnn-fer\n    seeds: [3, 4]\n  - id: hps\n    grid:\n      fld_loss_weight: [0.5, 1.0]\nseeds: [3]\ntuning:\n  seeds: [3]\n  folds: [0]\ntrain:\n  batch_size: 16\n  max_epochs: 1\n  model_config:\n    input_size: 32\n    fer_head: {{hidden: 128, embedding: 32}}\n    fld_head: {{hidden: 128}}\nfigures: [bars]\ncomparisons:\n  - {{a: hps, b: base-dcnn-fer, metric: acc_total}}\nclaims:\n  - claim: \"HPS beats BaseDCNN\"\n    compare: {{a: hps, b: base-dcnn-fer, metric: acc_average}}\n    expect: higher\n",
            manifest.display()
        ),
    )
    .expect("experiment");
    experiment
}

fn xtask(experiment: &Path, results: &Path, extra: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("reproduce")
        .arg(experiment)
        .args(["--folds", "2", "--results"])
        .arg(results)
        .args(extra)
        .output()
        .expect("run xtask");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Every finished run directory (holding DONE) below `root`.
fn finished_runs(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        if d.join("DONE").is_file() {
            out.push(d.clone());
        }
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("read json")).expect("json")
}

#[test]
fn a_tuned_campaign_selects_on_validation_resumes_and_reports_from_records() {
    let dir = temp("tuned");
    let experiment = write_experiment(&dir);
    let results = dir.join("results");

    // Before anything ran: 2 tuning runs + 4 base runs planned, 2 hps finals wait.
    let (ok, log) = xtask(&experiment, &results, &["--dry-run"]);
    assert!(ok, "{log}");
    assert!(
        log.contains("0 of 6 planned runs finished; 2 more wait"),
        "{log}"
    );
    assert!(
        log.contains("tuning: tiny-synth hps 0 of 2 grid runs finished"),
        "{log}"
    );
    assert!(log.contains("| tiny-synth | hps | 0 | 2 | 2 |"), "{log}");
    assert!(!results.exists(), "--dry-run writes nothing");

    // A budget of one second: at most the first run's first epoch, then a clean stop with
    // the command that continues.
    let (ok, log) = xtask(&experiment, &results, &["--time-budget", "1s"]);
    assert!(ok, "{log}");
    assert!(log.contains("Time budget spent. Continue with:"), "{log}");
    assert!(log.contains("reproduce"), "{log}");
    assert!(finished_runs(&results).len() < 6, "{log}");
    assert!(xtask(&experiment, &results, &["--time-budget", "2x"])
        .1
        .contains("unknown unit 'x'"));

    // The whole campaign, in two workers under a budget that suffices: the final runs that
    // the tuning round makes plannable run in the next round, not reported as out of time.
    let (ok, log) = xtask(
        &experiment,
        &results,
        &["--jobs", "2", "--time-budget", "1h"],
    );
    assert!(ok, "{log}");
    assert!(!log.contains("Time budget spent"), "{log}");
    let runs = finished_runs(&results.join("camp"));
    // 2 tuning + 4 base + 1 hps final on fold 1 (its fold-0 final is a tuning run).
    assert_eq!(runs.len(), 7, "{runs:?}\n{log}");
    let plan = json(&results.join("camp/plan.json"));
    assert_eq!(plan["run_dirs"].as_array().map(Vec::len), Some(7));
    assert_eq!(plan["tuning_run_dirs"].as_array().map(Vec::len), Some(2));

    // The selected λ is the tuning run with the higher validation ACC_average (first on a tie).
    let mut tuning: Vec<(String, f64)> = runs
        .iter()
        .map(|r| json(&r.join("metrics.json")))
        .filter(|m| m["method"] == "hps" && m["split"] == "fold-0")
        .map(|m| {
            (
                m["grid_point"].as_str().unwrap_or_default().to_string(),
                m["validation"]["acc_average"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    tuning.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(tuning.len(), 2);
    let expected = if tuning[1].1 > tuning[0].1 {
        &tuning[1].0
    } else {
        &tuning[0].0
    };
    let finals: Vec<serde_json::Value> = runs
        .iter()
        .map(|r| json(&r.join("metrics.json")))
        .filter(|m| m["method"] == "hps" && m["split"] == "fold-1")
        .collect();
    assert_eq!(finals.len(), 1);
    assert_eq!(finals[0]["grid_point"].as_str(), Some(expected.as_str()));
    let grid = std::fs::read_to_string(results.join("camp/grid.csv")).expect("grid.csv");
    assert!(grid.contains(&format!("\"{expected}\",1,")), "{grid}");

    // Provenance in every record.
    let m = json(&runs[0].join("metrics.json"));
    assert_eq!(m["provenance"]["device"], "cpu");
    assert!(m["provenance"]["commit"]
        .as_str()
        .is_some_and(|c| !c.is_empty()));
    assert!(m["provenance"]["threads"].as_u64().is_some_and(|t| t >= 1));

    // Paired statistics and the reading: hps vs base-dcnn-fer on seed 3, folds 0 and 1.
    let comparisons =
        std::fs::read_to_string(results.join("camp/comparisons.csv")).expect("comparisons");
    assert!(
        comparisons.contains("tiny-synth,hps,base-dcnn-fer,acc_total,2,2,"),
        "{comparisons}"
    );
    assert!(
        comparisons.contains("tiny-synth,hps,base-dcnn-fer,acc_average,2,2,"),
        "{comparisons}"
    );
    let reading = std::fs::read_to_string(results.join("camp/reading.md")).expect("reading");
    assert!(reading.contains("## HPS beats BaseDCNN"), "{reading}");
    assert!(results
        .join("camp/paired_differences_acc_total.png")
        .is_file());

    // Again: every run is reused.
    let (ok, log) = xtask(&experiment, &results, &[]);
    assert!(ok, "{log}");
    assert_eq!(log.matches("finished before").count(), 7, "{log}");

    // `records` lists exactly the committable files: 5 per finished run and plan.json.
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("records")
        .arg(&experiment)
        .arg("--results")
        .arg(&results)
        .output()
        .expect("records");
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(listed.lines().count(), 7 * 5 + 1, "{listed}");
    assert!(
        !listed.contains("safetensors") && !listed.contains("steps.csv"),
        "{listed}"
    );

    // The report from the record files alone (what a fresh clone has) is byte-identical.
    let copy = dir.join("copy");
    for run in &runs {
        let rel = run.strip_prefix(&results).expect("under results");
        std::fs::create_dir_all(copy.join(rel)).expect("mkdir");
        for f in [
            "config.yaml",
            "metrics.json",
            "history.csv",
            "predictions.csv",
            "DONE",
        ] {
            std::fs::copy(run.join(f), copy.join(rel).join(f)).expect("copy record");
        }
    }
    std::fs::copy(results.join("camp/plan.json"), copy.join("camp/plan.json")).expect("plan");
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("report")
        .arg(&experiment)
        .arg("--results")
        .arg(&copy)
        .output()
        .expect("report");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in [
        "summary.csv",
        "runs.csv",
        "grid.csv",
        "comparisons.csv",
        "table.md",
        "reading.md",
        "bars_acc_average.svg",
        "bars_acc_average.png",
        "paired_differences_acc_average.svg",
        "paired_differences_acc_average.png",
    ] {
        assert_eq!(
            std::fs::read(results.join("camp").join(f)).expect("original"),
            std::fs::read(copy.join("camp").join(f)).expect("rebuilt"),
            "{f} differs when rebuilt from the records"
        );
    }

    // A tampered record (another experiment's metrics under this id) is named and retrained.
    let victim = runs
        .iter()
        .find(|r| json(&r.join("metrics.json"))["method"] == "base-dcnn-fer")
        .expect("a base run");
    let text = std::fs::read_to_string(victim.join("metrics.json")).expect("metrics");
    std::fs::write(
        victim.join("metrics.json"),
        text.replace("\"experiment\": \"camp\"", "\"experiment\": \"other\""),
    )
    .expect("tamper");
    let (ok, log) = xtask(&experiment, &results, &[]);
    assert!(ok, "{log}");
    assert!(
        log.contains("is from experiment 'other'") && log.contains("training it again"),
        "{log}"
    );
    assert_eq!(log.matches("finished before").count(), 6, "{log}");
    assert_eq!(json(&victim.join("metrics.json"))["experiment"], "camp");
    let _ = std::fs::remove_dir_all(&dir);
}

/// `share`: hps shares camp's runs (`same_runs_as: camp`) on seed 3, where camp plans the same
/// configs, and trains its own on seed 5, which camp does not plan; `changed` overrides the
/// batch size, so none of its configs is camp's and nothing is shared.
fn write_sharing_experiments(dir: &Path) -> (PathBuf, PathBuf) {
    let camp = std::fs::read_to_string(write_experiment(dir)).expect("camp");
    let share = camp
        .replace("name: camp\n", "name: share\n")
        .replace(
            "  - id: base-dcnn-fer\n    seeds: [3, 4]\n  - id: hps\n",
            "  - id: hps\n    same_runs_as: camp\n    seeds: [3, 5]\n",
        )
        .replace(
            "comparisons:\n  - {a: hps, b: base-dcnn-fer, metric: acc_total}\nclaims:\n  - claim: \"HPS beats BaseDCNN\"\n    compare: {a: hps, b: base-dcnn-fer, metric: acc_average}\n    expect: higher\n",
            "",
        );
    assert!(
        share.contains("same_runs_as") && !share.contains("claims"),
        "{share}"
    );
    let changed = share
        .replace("name: share\n", "name: changed\n")
        .replace("batch_size: 16", "batch_size: 8");
    let (a, b) = (dir.join("share.yaml"), dir.join("changed.yaml"));
    std::fs::write(&a, share).expect("share");
    std::fs::write(&b, changed).expect("changed");
    (a, b)
}

#[test]
fn a_method_uses_another_experiments_runs_where_they_are_the_same_run() {
    let dir = temp("shared");
    let camp = write_experiment(&dir);
    let (share, changed) = write_sharing_experiments(&dir);
    let results = dir.join("results");
    let (ok, log) = xtask(&camp, &results, &[]);
    assert!(ok, "{log}");
    let camp_runs = finished_runs(&results.join("camp"));
    assert_eq!(camp_runs.len(), 7, "{log}");

    // Planned: camp's 2 tuning runs and its seed-3 final on fold 1 (the fold-0 final is a
    // tuning run), and 2 own finals of seed 5; only those 2 are left to run.
    let (ok, log) = xtask(&share, &results, &["--dry-run"]);
    assert!(ok, "{log}");
    assert!(log.contains("3 of 5 planned runs finished"), "{log}");
    assert_eq!(
        log.matches("results/camp/tiny-synth/hps/").count(),
        3,
        "{log}"
    );
    assert_eq!(
        log.matches("results/share/tiny-synth/hps/").count(),
        2,
        "{log}"
    );
    let (ok, log) = xtask(&changed, &results, &["--dry-run"]);
    assert!(ok, "{log}");
    assert!(!log.contains("results/camp/"), "{log}");

    // Running it trains the two own runs only, with camp's selection, and never into camp.
    let (ok, log) = xtask(&share, &results, &[]);
    assert!(ok, "{log}");
    assert_eq!(finished_runs(&results.join("camp")), camp_runs, "{log}");
    let own = finished_runs(&results.join("share"));
    assert_eq!(own.len(), 2, "{log}");
    let selected = |runs: &[PathBuf]| -> Vec<String> {
        runs.iter()
            .map(|r| json(&r.join("metrics.json")))
            .filter(|m| m["method"] == "hps" && m["split"] == "fold-1")
            .map(|m| m["grid_point"].as_str().unwrap_or_default().to_string())
            .collect()
    };
    assert_eq!(selected(&own), selected(&camp_runs), "{log}");
    let plan = json(&results.join("share/plan.json"));
    let dirs: Vec<&str> = plan["run_dirs"]
        .as_array()
        .expect("run_dirs")
        .iter()
        .filter_map(|d| d.as_str())
        .collect();
    assert_eq!(dirs.len(), 5, "{plan}");
    assert_eq!(dirs.iter().filter(|d| d.starts_with("camp/")).count(), 3);
    let table = std::fs::read_to_string(results.join("share/table.md")).expect("table");
    assert!(
        table.contains("**Shared runs**: 3 runs of") && table.contains("results/camp/"),
        "{table}"
    );

    // `records` lists the experiment's own records only.
    let out = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("records")
        .arg(&share)
        .arg("--results")
        .arg(&results)
        .output()
        .expect("records");
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(listed.lines().count(), 2 * 5 + 1, "{listed}");
    assert!(!listed.contains("/camp/"), "{listed}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("3 planned runs are other experiments'"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // An experiment that is not there is named, before anything runs.
    let missing = dir.join("missing.yaml");
    std::fs::write(
        &missing,
        std::fs::read_to_string(&share)
            .expect("share")
            .replace("name: share\n", "name: missing\n")
            .replace("same_runs_as: camp", "same_runs_as: nowhere"),
    )
    .expect("missing");
    let (ok, log) = xtask(&missing, &results, &["--dry-run"]);
    assert!(!ok, "{log}");
    assert!(
        log.contains("method 'hps' shares the runs of nowhere")
            && log.contains("no experiment 'nowhere'"),
        "{log}"
    );
    assert_eq!(log.trim().lines().count(), 1, "{log}");
}
