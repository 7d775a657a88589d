//! `TrainedModel`: a model with its weights, opened from a folder for inference. Two kinds of
//! folder hold one: a finished run directory (config.yaml and best.safetensors, the
//! checkpoint selected on validation, paper 4.4) and a folder written by
//! `cargo xtask import-reference` (model_config.yaml and model.safetensors, converted from
//! the reference implementation). Every error names the file at fault.

use std::path::{Path, PathBuf};

use candle_core::Device;
use serde::Deserialize;

use fer_models::{ModelConfig, ModelRegistry, MultiTaskModel};

use crate::error::{Result, TrainError};
use crate::run_dir::DONE_MARKER;
use crate::train_config::TrainConfig;
use crate::trainer::load_model;

/// A run's checkpoint of the best validation epoch.
pub const RUN_WEIGHTS_FILE: &str = "best.safetensors";
/// What `import-reference` writes.
pub const IMPORTED_WEIGHTS_FILE: &str = "model.safetensors";
pub const IMPORTED_CONFIG_FILE: &str = "model_config.yaml";

/// Where a model folder came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelSource {
    /// A run directory; `finished` is false when its DONE marker is missing (the weights are
    /// then the best epoch so far).
    Run { dataset: String, finished: bool },
    /// A folder written by `import-reference`.
    Imported,
}

/// A registered model built from a folder's settings, its weights loaded.
pub struct TrainedModel {
    pub model: Box<dyn MultiTaskModel>,
    /// Registry name (`cmcnn`, `base-dcnn-fer`, ...).
    pub name: String,
    pub config: ModelConfig,
    pub source: ModelSource,
    /// The weights file that was loaded.
    pub weights: PathBuf,
    /// The class names in label order, from a finished run's metrics.json (the dataset's
    /// classes it was evaluated with); `None` for imported models and unfinished runs.
    pub class_names: Option<Vec<String>>,
}

/// model_config.yaml of an imported model.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportedConfig {
    model: String,
    model_config: ModelConfig,
}

/// Parses YAML, naming the file and the line of the first error.
fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
    serde_yaml::from_str(&text).map_err(|e| TrainError::Parse {
        path: path.to_path_buf(),
        line: e.location().map(|l| l.line()).unwrap_or(1),
        message: e.to_string(),
    })
}

impl TrainedModel {
    /// Opens a run directory or an imported-model folder (which one is told by the files in
    /// it) and loads its weights on `device`.
    pub fn open(dir: &Path, registry: &ModelRegistry, device: &Device) -> Result<Self> {
        if !dir.is_dir() {
            return Err(TrainError::Config(format!(
                "model folder {} does not exist (give a finished run directory or a folder written by import-reference)",
                dir.display()
            )));
        }
        let run_config = dir.join(fer_runs::CONFIG_FILE);
        let imported_config = dir.join(IMPORTED_CONFIG_FILE);
        let (name, config, source, weights) = if run_config.is_file() {
            let cfg: TrainConfig = read_yaml(&run_config)?;
            let source = ModelSource::Run {
                dataset: cfg.dataset.clone(),
                finished: dir.join(DONE_MARKER).is_file(),
            };
            (
                cfg.model,
                cfg.model_config,
                source,
                dir.join(RUN_WEIGHTS_FILE),
            )
        } else if imported_config.is_file() {
            let cfg: ImportedConfig = read_yaml(&imported_config)?;
            (
                cfg.model,
                cfg.model_config,
                ModelSource::Imported,
                dir.join(IMPORTED_WEIGHTS_FILE),
            )
        } else {
            return Err(TrainError::Config(format!(
                "{} holds neither a run's {} nor an imported model's {}",
                dir.display(),
                fer_runs::CONFIG_FILE,
                IMPORTED_CONFIG_FILE
            )));
        };
        if !weights.is_file() {
            let hint = match &source {
                ModelSource::Run { .. } => {
                    "a run keeps its weights only on the machine that trained it (they are never committed); train it again or copy the file"
                }
                ModelSource::Imported => "run import-reference again",
            };
            return Err(TrainError::Config(format!(
                "{}: no weights file ({hint})",
                weights.display()
            )));
        }
        let config_file = if run_config.is_file() {
            run_config
        } else {
            imported_config
        };
        let model =
            load_model(registry, &name, &config, &weights, device).map_err(|e| match e {
                TrainError::Config(message) => {
                    TrainError::Config(format!("{}: {message}", config_file.display()))
                }
                other => other,
            })?;
        let metrics = dir.join(fer_runs::METRICS_FILE);
        let class_names = match &source {
            ModelSource::Run { finished: true, .. } if metrics.is_file() => {
                let text =
                    std::fs::read_to_string(&metrics).map_err(|e| TrainError::io(&metrics, e))?;
                let record: fer_runs::RunRecord =
                    serde_json::from_str(&text).map_err(|e| TrainError::Parse {
                        path: metrics.clone(),
                        line: e.line(),
                        message: e.to_string(),
                    })?;
                Some(record.class_names).filter(|c| !c.is_empty())
            }
            _ => None,
        };
        Ok(Self {
            model,
            name,
            config,
            source,
            weights,
            class_names,
        })
    }
}
