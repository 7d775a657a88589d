//! The finished run record: the small files a finished run leaves (`config.yaml`,
//! `metrics.json`, `history.csv`, `predictions.csv`, `DONE`; `steps.csv` where a figure needs
//! the mixing weights) and that may be committed to the repository under
//! `results/<experiment>/`. A record is only taken as finished when it is whole and belongs to
//! the config that asks for it: its `config.yaml` hashes to its run id and equals the config,
//! and its `metrics.json` names the same run, experiment and dataset. Anything else is named
//! and trained again, never silently used.

use std::path::Path;

use crate::error::{Result, TrainError};
use crate::run_dir::{run_id, DONE_MARKER};
use crate::train_config::TrainConfig;
use crate::trainer::RunMetrics;

/// The files every finished record holds.
pub const RECORD_FILES: [&str; 5] = [
    fer_runs::CONFIG_FILE,
    fer_runs::METRICS_FILE,
    "history.csv",
    "predictions.csv",
    DONE_MARKER,
];

/// Reads a finished record of `cfg` (whose resolved YAML is `yaml`) from `dir`, or says what
/// is wrong with it.
pub fn check_finished_record(
    dir: &Path,
    cfg: &TrainConfig,
    yaml: &str,
) -> std::result::Result<RunMetrics, String> {
    let saved = check_record_files(dir)?;
    let id = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    if saved != yaml {
        return Err("config.yaml differs from the settings planned for this run".into());
    }
    let text = std::fs::read_to_string(dir.join("metrics.json"))
        .map_err(|e| format!("metrics.json: {e}"))?;
    let metrics: RunMetrics =
        serde_json::from_str(&text).map_err(|e| format!("metrics.json line {}: {e}", e.line()))?;
    if metrics.run_id != id {
        return Err(format!(
            "metrics.json is of run {}, not {id}",
            metrics.run_id
        ));
    }
    if metrics.experiment != cfg.experiment || metrics.dataset != cfg.dataset {
        return Err(format!(
            "metrics.json is from experiment '{}' on '{}', not '{}' on '{}'",
            metrics.experiment, metrics.dataset, cfg.experiment, cfg.dataset
        ));
    }
    Ok(metrics)
}

/// Checks that a finished record in `dir` is whole and self-consistent (every record file
/// present, config.yaml hashing to the folder's run id); returns its config.yaml text.
pub fn check_record_files(dir: &Path) -> std::result::Result<String, String> {
    for name in RECORD_FILES {
        if !dir.join(name).is_file() {
            return Err(format!("finished record lacks {name}"));
        }
    }
    let id = dir
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let saved = std::fs::read_to_string(dir.join(fer_runs::CONFIG_FILE))
        .map_err(|e| format!("config.yaml: {e}"))?;
    if run_id(&saved) != id {
        return Err(format!(
            "config.yaml hashes to run id {}, not to its folder's {id}",
            run_id(&saved)
        ));
    }
    Ok(saved)
}

/// Removes the files of a run directory whose record was refused, so that it trains anew.
pub fn clear_run_dir(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| TrainError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| TrainError::io(dir, e))?;
        let path = entry.path();
        if path.is_file() {
            std::fs::remove_file(&path).map_err(|e| TrainError::io(&path, e))?;
        }
    }
    Ok(())
}

/// Removes the temporary files an interrupted write left (`.<name>.tmp…`): they are never
/// read, and a checkpoint's can be tens of megabytes.
pub fn remove_temporary_files(dir: &Path) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| TrainError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| TrainError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with('.') && name.contains(".tmp") {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| TrainError::io(&path, e))?;
        }
    }
    Ok(())
}

/// In a finished run directory, removes what a kill between DONE and the removal of the resume
/// state left: temporary files, `last-*`/`optimizer-*` checkpoints and progress.json.
pub fn remove_resume_leftovers(dir: &Path) -> Result<()> {
    remove_temporary_files(dir)?;
    let entries = std::fs::read_dir(dir).map_err(|e| TrainError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| TrainError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let resume_state = name == crate::training_progress::PROGRESS_FILE
            || ((name.starts_with("last-") || name.starts_with("optimizer-"))
                && name.ends_with(".safetensors"));
        if resume_state {
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| TrainError::io(&path, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(dir: &Path, cfg: &TrainConfig, experiment_in_metrics: &str) -> String {
        let yaml = cfg.to_yaml().unwrap();
        let id = run_id(&yaml);
        let run = dir.join(&id);
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(run.join("config.yaml"), &yaml).unwrap();
        let metrics = serde_json::json!({
            "experiment": experiment_in_metrics, "dataset": cfg.dataset, "model": cfg.model,
            "seed": cfg.seed, "split": cfg.split, "fold": 0, "run_id": id, "best_epoch": 1,
            "epochs_run": 1, "train_seconds": 1.0, "test": {}, "validation": {},
            "class_names": [], "confusion_matrix": null
        });
        std::fs::write(run.join("metrics.json"), metrics.to_string()).unwrap();
        for f in ["history.csv", "predictions.csv", DONE_MARKER] {
            std::fs::write(run.join(f), "x\n").unwrap();
        }
        id
    }

    #[test]
    fn whole_records_pass_and_broken_ones_are_named() {
        let root = std::env::temp_dir().join(format!("fer-run-record-{}", std::process::id()));
        let cfg = TrainConfig::paper("e", "d", "hps", "fold-0", 1);
        let yaml = cfg.to_yaml().unwrap();
        let id = record(&root, &cfg, "e");
        let dir = root.join(&id);
        assert!(check_finished_record(&dir, &cfg, &yaml).is_ok());

        // Another experiment's metrics under this id.
        std::fs::remove_dir_all(&root).unwrap();
        record(&root, &cfg, "other");
        let err = check_finished_record(&dir, &cfg, &yaml).unwrap_err();
        assert!(err.contains("experiment 'other'"), "{err}");

        // An edited config.yaml no longer hashes to its folder.
        std::fs::write(dir.join("config.yaml"), yaml.replace("seed: 1", "seed: 2")).unwrap();
        let err = check_finished_record(&dir, &cfg, &yaml).unwrap_err();
        assert!(err.contains("hashes to run id"), "{err}");

        // A missing file.
        std::fs::write(dir.join("config.yaml"), &yaml).unwrap();
        std::fs::remove_file(dir.join("predictions.csv")).unwrap();
        let err = check_finished_record(&dir, &cfg, &yaml).unwrap_err();
        assert!(err.contains("predictions.csv"), "{err}");

        std::fs::write(dir.join(".best.safetensors.tmp"), "x").unwrap();
        remove_temporary_files(&dir).unwrap();
        assert!(!dir.join(".best.safetensors.tmp").exists());
        clear_run_dir(&dir).unwrap();
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
