//! fer-models: candle implementations of the models of Yu & Xu (2021), "Co-attentive
//! multi-task convolutional neural network for facial expression recognition", behind one
//! interface (`MultiTaskModel`) and one registry (`ModelRegistry`).

pub mod base_dcnn;
pub mod base_dcnn_fer;
pub mod base_dcnn_fld;
mod cpu_slice;
pub mod error;
pub mod fer_head;
pub mod fld_head;
pub mod fused_batch_norm;
pub mod gemm_conv2d;
pub mod layers;
pub mod max_pool;
pub mod model_config;
pub mod model_registry;
pub mod multi_task_model;
pub mod seeded_var_map;
pub mod task_outputs;

pub use base_dcnn::BaseDcnn;
pub use base_dcnn_fer::BaseDcnnFer;
pub use base_dcnn_fld::BaseDcnnFld;
pub use error::{ModelError, Result};
pub use model_config::{FerHeadConfig, FldHeadConfig, ModelConfig};
pub use model_registry::{ModelBuilder, ModelEntry, ModelRegistry};
pub use multi_task_model::{MixingParameter, MultiTaskModel};
pub use seeded_var_map::seeded_var_builder;
pub use task_outputs::{TaskOutputs, Tasks};
