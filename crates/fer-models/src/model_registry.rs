//! Models by the names the experiments use (ARCHITECTURE.md "fer-models"), so that a YAML file or
//! a command line can say `base-dcnn-fer` and an add-on crate can register its own with one line.

use candle_nn::VarBuilder;

use crate::error::{ModelError, Result};
use crate::model_config::ModelConfig;
use crate::models::attended_base_dcnn_fer::{AttendedBaseDcnnFer, SelfAttentionKind};
use crate::models::cmcnn::Cmcnn;
use crate::multi_task_model::MultiTaskModel;
use crate::nn::co_attention_unit::CoAttentionModules;

/// Builds a model from its settings and a variable builder.
pub type ModelBuilder = fn(&ModelConfig, VarBuilder) -> Result<Box<dyn MultiTaskModel>>;

/// One registered model.
#[derive(Clone)]
pub struct ModelEntry {
    /// Registry name, as in the paper's tables (`base-dcnn-fer`, `cmcnn`, ...).
    pub name: &'static str,
    /// The name tables and charts print: the paper's (`BaseDCNN (FER)`, `CMCNN`), or the
    /// add-on's own.
    pub display_name: &'static str,
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
            display_name: "BaseDCNN (FER)",
            summary: "BaseDCNN + 3-layer FER head, single-task FER baseline (Table 1, 3.1)",
            build: |cfg, vb| Ok(Box::new(crate::BaseDcnnFer::new(cfg, vb)?)),
        });
        r.register(ModelEntry {
            name: "base-dcnn-fld",
            display_name: "BaseDCNN (FLD)",
            summary: "BaseDCNN + 2-layer FLD head, single-task FLD baseline (Table 1, 3.1)",
            build: |cfg, vb| Ok(Box::new(crate::BaseDcnnFld::new(cfg, vb)?)),
        });
        r.register(ModelEntry {
            name: "hps",
            display_name: "HPS",
            summary: "hard parameter sharing: one BaseDCNN, FER and FLD heads (4.2, Tables 3-4)",
            build: |cfg, vb| Ok(Box::new(crate::models::hps::Hps::new(cfg, vb)?)),
        });
        r.register(ModelEntry {
            name: "csn",
            display_name: "CSN",
            summary: "cross-stitch network: two BaseDCNN columns, units at every layer (4.2)",
            build: |cfg, vb| Ok(Box::new(crate::models::csn::Csn::new(cfg, vb)?)),
        });
        r.register(ModelEntry {
            name: "ps-mcnn",
            display_name: "PS-MCNN",
            summary: "partially shared MCNN: two task nets + a shared net, no LCLoss (4.2)",
            build: |cfg, vb| Ok(Box::new(crate::models::ps_mcnn::PsMcnn::new(cfg, vb)?)),
        });
        r.register(ModelEntry {
            name: "cmcnn",
            display_name: "CMCNN",
            summary: "CMCNN: two BaseDCNN columns with Co-ATT (CCAM + SCAM, eq. 1) units (3)",
            build: |cfg, vb| Ok(Box::new(Cmcnn::new(cfg, CoAttentionModules::Both, vb)?)),
        });
        r.register(ModelEntry {
            name: "cmcnn-c",
            display_name: "CMCNN-C",
            summary: "CMCNN with the channel co-attention (CCAM) only (5.7, Table 12)",
            build: |cfg, vb| {
                Ok(Box::new(Cmcnn::new(
                    cfg,
                    CoAttentionModules::ChannelOnly,
                    vb,
                )?))
            },
        });
        r.register(ModelEntry {
            name: "cmcnn-s",
            display_name: "CMCNN-S",
            summary: "CMCNN with the spatial co-attention (SCAM) only (5.7, Table 13)",
            build: |cfg, vb| {
                Ok(Box::new(Cmcnn::new(
                    cfg,
                    CoAttentionModules::SpatialOnly,
                    vb,
                )?))
            },
        });
        r.register(ModelEntry {
            name: "se-net",
            display_name: "SE-Net",
            summary: "BaseDCNN-FER with squeeze-and-excitation blocks (5.7, Table 12)",
            build: |cfg, vb| {
                Ok(Box::new(AttendedBaseDcnnFer::new(
                    cfg,
                    SelfAttentionKind::SqueezeExcitation,
                    vb,
                )?))
            },
        });
        r.register(ModelEntry {
            name: "cbam-c",
            display_name: "CBAM-C",
            summary: "BaseDCNN-FER with CBAM channel attention (5.7, Table 12)",
            build: |cfg, vb| {
                Ok(Box::new(AttendedBaseDcnnFer::new(
                    cfg,
                    SelfAttentionKind::CbamChannel,
                    vb,
                )?))
            },
        });
        r.register(ModelEntry {
            name: "cbam-s",
            display_name: "CBAM-S",
            summary: "BaseDCNN-FER with CBAM spatial attention (5.7, Table 13)",
            build: |cfg, vb| {
                Ok(Box::new(AttendedBaseDcnnFer::new(
                    cfg,
                    SelfAttentionKind::CbamSpatial,
                    vb,
                )?))
            },
        });
        r.register(ModelEntry {
            name: "dam-cnn",
            display_name: "DAM-CNN",
            summary: "BaseDCNN-FER with DAM-CNN's salient-region attention, no MPVS-Net (Table 13)",
            build: |cfg, vb| {
                Ok(Box::new(AttendedBaseDcnnFer::new(
                    cfg,
                    SelfAttentionKind::SalientRegion,
                    vb,
                )?))
            },
        });
        r.register(ModelEntry {
            name: "resnet18",
            display_name: "ResNet18",
            summary: "ResNet-18, torchvision layout: the ResNet18* FER baseline (5.2, Tables 5-8)",
            build: |cfg, vb| Ok(Box::new(crate::ResNet18::new(cfg, vb)?)),
        });
        r.register(ModelEntry {
            name: "cmcnn-resnet18",
            display_name: "CMCNN-ResNet18",
            summary: "CMCNN on two ResNet-18 columns, Co-ATT after each stage (5.2, Tables 5-8)",
            build: |cfg, vb| {
                Ok(Box::new(crate::models::cmcnn_resnet18::CmcnnResNet18::new(
                    cfg, vb,
                )?))
            },
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

    /// (registry name, display name) of every model, for tables and charts.
    pub fn display_names(&self) -> Vec<(&'static str, &'static str)> {
        self.entries
            .iter()
            .map(|e| (e.name, e.display_name))
            .collect()
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

    /// The tasks a registered model learns, from a build with zero weights on the CPU (no
    /// random initialisation): what a plan checks before any run starts.
    pub fn tasks(&self, name: &str, cfg: &ModelConfig) -> Result<crate::task_outputs::Tasks> {
        let vb = VarBuilder::zeros(candle_core::DType::F32, &candle_core::Device::Cpu);
        Ok(self.build(name, cfg, vb)?.tasks())
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
