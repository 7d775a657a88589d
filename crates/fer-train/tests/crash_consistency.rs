//! Crash-consistent runs: a run killed at any file-system step of its commits (each create,
//! rename and removal, through fer_runs::fault_injection) and then run again ends with exactly
//! the metrics, history and step log of the run that was never killed, and with no litter.
//!
//! The kill unwinds at the step without running any error path, as a kill -9 there would stop
//! the process: the files written so far stay, the temporary file of the step stays.

mod common;

use anyhow::{bail, Result};
use candle_core::Device;
use fer_data::{FaceDataset, Split};
use fer_models::ModelRegistry;
use fer_runs::fault_injection::{self, InjectedKill};
use fer_train::{train_run, RunOutcome, TrainConfig, TrainOptions};
use std::path::{Path, PathBuf};

const SIZE: u32 = 24;

fn dataset() -> Result<(FaceDataset, Split)> {
    common::synthfer_holdout(24, 4, SIZE, 11, 0.2)
}

/// A small HPS (both tasks, so every log column is used), three epochs.
fn config() -> TrainConfig {
    let mut c = TrainConfig::paper("crash", "synthfer", "hps", "holdout", 4);
    c.model_config.input_size = SIZE as usize;
    c.model_config.num_classes = 7;
    c.model_config.fer_head.hidden = 32;
    c.model_config.fer_head.embedding = 16;
    c.model_config.fld_head.hidden = 32;
    c.batch_size = 16;
    c.max_epochs = 3;
    c.patience = 3;
    c
}

fn opts() -> TrainOptions {
    TrainOptions {
        show_progress: false,
        ..Default::default()
    }
}

/// history.csv without its wall-clock column, steps.csv, and the metrics without timings or
/// provenance: what a resumed run must reproduce.
fn outcome_text(out: &RunOutcome) -> Result<String> {
    let history = std::fs::read_to_string(out.run_dir.join("history.csv"))?;
    let history: Vec<String> = history
        .lines()
        .map(|l| l.rsplit_once(',').map_or(l, |(a, _)| a).to_string())
        .collect();
    let steps = std::fs::read_to_string(out.run_dir.join("steps.csv"))?;
    let predictions = std::fs::read_to_string(out.run_dir.join("predictions.csv"))?;
    let m = &out.metrics;
    Ok(format!(
        "{}\n{steps}\n{predictions}\nbest {} of {}\ntest {:?}\nvalidation {:?}",
        history.join("\n"),
        m.best_epoch,
        m.epochs_run,
        m.test,
        m.validation
    ))
}

fn files_of(dir: &Path) -> Result<Vec<String>> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .map(|e| Ok(e?.file_name().to_string_lossy().to_string()))
        .collect::<Result<_>>()?;
    names.sort();
    Ok(names)
}

fn temp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fer-crash-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn a_kill_at_any_file_system_step_resumes_to_the_uninterrupted_result() -> Result<()> {
    let (data, split) = dataset()?;
    let registry = ModelRegistry::with_paper_models();
    let cfg = config();
    let reference_root = temp("reference");
    fault_injection::arm(usize::MAX);
    let reference = train_run(
        &cfg,
        &data,
        &split,
        &registry,
        &Device::Cpu,
        &reference_root,
        opts(),
    )?;
    let steps = fault_injection::disarm();
    let expected = outcome_text(&reference)?;
    let expected_files = files_of(&reference.run_dir)?;
    assert_eq!(
        expected_files,
        [
            "DONE",
            "best.safetensors",
            "config.yaml",
            "history.csv",
            "metrics.json",
            "predictions.csv",
            "steps.csv"
        ]
    );
    // Three epoch commits and the finish: at least a dozen steps each.
    assert!(steps > 30, "only {steps} file-system steps");

    let mut labels = Vec::new();
    for kill_at in 0..steps {
        let root = temp(&format!("kill-{kill_at}"));
        fault_injection::arm(kill_at);
        let killed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            train_run(&cfg, &data, &split, &registry, &Device::Cpu, &root, opts())
        }));
        fault_injection::disarm();
        let label = match killed {
            Err(payload) => match payload.downcast_ref::<InjectedKill>() {
                Some(kill) => kill.label.clone(),
                None => std::panic::resume_unwind(payload),
            },
            Ok(out) => bail!("kill point {kill_at} of {steps} was never reached: {out:?}"),
        };
        let resumed = train_run(&cfg, &data, &split, &registry, &Device::Cpu, &root, opts())?;
        assert_eq!(
            outcome_text(&resumed)?,
            expected,
            "killed at step {kill_at} ({label}), the resumed run differs"
        );
        assert_eq!(
            files_of(&resumed.run_dir)?,
            expected_files,
            "killed at step {kill_at} ({label}): litter"
        );
        labels.push(label);
        std::fs::remove_dir_all(&root)?;
    }
    eprintln!(
        "{steps} kill points, every one resumed to the uninterrupted result:\n  {}",
        labels
            .iter()
            .map(|l| l.rsplit('/').next().unwrap_or(l).to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    std::fs::remove_dir_all(&reference_root)?;
    Ok(())
}
