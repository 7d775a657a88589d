//! Models by the names the experiments use (DESIGN.md), so that a YAML file or a command line
//! can say `base-dcnn-fer` and an add-on crate can register its own with one line.

use candle_nn::VarBuilder;

use crate::error::{ModelError, Result};
use crate::model_config::ModelConfig;
use crate::multi_task_model::MultiTaskModel;

/// Builds a model from its settings and a variable builder.
pub type ModelBuilder = fn(&ModelConfig, VarBuilder) -> Result<Box<dyn MultiTaskModel>>;

/// One registered model.
#[derive(Clone)]
pub struct ModelEntry {
    /// Registry name, as in the paper's tables (`base-dcnn-fer`, `cmcnn`, ...).
    pub name: &'static str,
    /// One line: what it is and where in the paper.
    pub summary: &'static str,
    pub build: ModelBuilder,
}

/// The set of models a run can choose from.
#[derive(Clone, Default)]
pub struct ModelRegistry {
    entries: Vec<ModelEntry>,
}

impl ModelRegistry {
    /// The models of the paper that this version implements.
    pub fn with_paper_models() -> Self {
        let mut r = Self::default();
        r.register(ModelEntry {
            name: "base-dcnn-fer",
            summary: "BaseDCNN + 3-layer FER head, single-task FER baseline (Table 1, 3.1)",
            build: |cfg, vb| Ok(Box::new(crate::BaseDcnnFer::new(cfg, vb)?)),
        });
        r.register(ModelEntry {
            name: "base-dcnn-fld",
            summary: "BaseDCNN + 2-layer FLD head, single-task FLD baseline (Table 1, 3.1)",
            build: |cfg, vb| Ok(Box::new(crate::BaseDcnnFld::new(cfg, vb)?)),
        });
        r
    }

    /// Adds (or replaces) a model.
    pub fn register(&mut self, entry: ModelEntry) {
        self.entries.retain(|e| e.name != entry.name);
        self.entries.push(entry);
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.name).collect()
    }

    pub fn entries(&self) -> &[ModelEntry] {
        &self.entries
    }

    pub fn get(&self, name: &str) -> Result<&ModelEntry> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| ModelError::UnknownModel {
                name: name.to_string(),
                known: self.names().join(", "),
            })
    }

    /// Builds a registered model.
    pub fn build(
        &self,
        name: &str,
        cfg: &ModelConfig,
        vb: VarBuilder,
    ) -> Result<Box<dyn MultiTaskModel>> {
        (self.get(name)?.build)(cfg, vb)
    }
}
