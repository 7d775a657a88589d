//! fer-models: candle implementations of the models of Yu & Xu (2021), "Co-attentive
//! multi-task convolutional neural network for facial expression recognition", behind one
//! interface (`MultiTaskModel`) and one registry (`ModelRegistry`).
//!
//! Four layers (ARCHITECTURE.md "fer-models"):
//! - `ops`: the CPU kernels (candle custom ops with their own backward), the bottom layer;
//! - `nn`: layers and building blocks (BaseDCNN, the heads, the attention units), on `ops`;
//! - `models`: the registered models, assembled from `nn`;
//! - `io`: pretrained and reference-checkpoint weights into a model's variables.
//!
//! At the root: the interface (`multi_task_model`, `task_outputs`, `model_config`,
//! `model_registry`, `error`), the two cost measures of a model (`mac_counter`, called by
//! `ops` and `nn` alike, and `parameter_count`) and the tensor size limit (`memory_limit`).

pub mod error;
pub mod io;
pub mod mac_counter;
pub mod memory_limit;
pub mod model_config;
pub mod model_registry;
pub mod models;
pub mod multi_task_model;
pub mod nn;
pub mod ops;
pub mod parameter_count;
pub mod task_outputs;

pub use error::{ModelError, Result};
pub use io::pretrained_weights::{
    load_safetensors_into, resolve_hub_weights, LoadOptions, LoadReport,
};
pub use model_config::{
    AttentionBaselineConfig, CoAttentionConfig, CoAttentionMixing, CrossStitchConfig,
    FerHeadConfig, FerHeadStyle, FldHeadConfig, ModelConfig, SpatialKernel,
};
pub use model_registry::{ModelBuilder, ModelEntry, ModelRegistry};
pub use models::base_dcnn_fer::BaseDcnnFer;
pub use models::base_dcnn_fld::BaseDcnnFld;
pub use models::resnet18::ResNet18;
pub use multi_task_model::{MixingParameter, MultiTaskModel};
pub use nn::base_dcnn::BaseDcnn;
pub use nn::seeded_var_map::seeded_var_builder;
pub use task_outputs::{TaskOutputs, Tasks};
