//! fer-models: candle implementations of the models of Yu & Xu (2021), "Co-attentive
//! multi-task convolutional neural network for facial expression recognition", behind one
//! interface (`MultiTaskModel`) and one registry (`ModelRegistry`).

pub mod attended_base_dcnn_fer;
pub mod base_dcnn;
pub mod base_dcnn_fer;
pub mod base_dcnn_fld;
pub mod cbam_channel_attention;
pub mod channel_co_attention;
pub mod channel_pool;
pub mod cmcnn;
pub mod cmcnn_resnet18;
pub mod co_attention_scores;
pub mod co_attention_unit;
mod cpu_gemm;
mod cpu_slice;
pub mod cross_stitch_unit;
pub mod csn;
pub mod error;
pub mod fer_head;
mod flat_gradients;
pub mod fld_head;
pub mod fused_batch_norm;
pub mod fused_conv2d;
pub mod fused_linear;
pub mod gemm_conv2d;
pub mod hps;
mod lane_sum;
pub mod layers;
pub mod mac_counter;
pub mod max_pool;
pub mod model_config;
pub mod model_registry;
pub mod multi_task_model;
pub mod pretrained_weights;
pub mod ps_mcnn;
pub mod reference_checkpoint;
pub mod resnet18;
pub mod salient_region_attention;
pub mod seeded_var_map;
mod small_batch_gemm;
pub mod spatial_attention;
pub mod squeeze_excitation;
pub mod task_outputs;
#[cfg(test)]
mod test_tensors;

pub use base_dcnn::BaseDcnn;
pub use base_dcnn_fer::BaseDcnnFer;
pub use base_dcnn_fld::BaseDcnnFld;
pub use error::{ModelError, Result};
pub use model_config::{
    AttentionBaselineConfig, CoAttentionConfig, CoAttentionMixing, CrossStitchConfig,
    FerHeadConfig, FerHeadStyle, FldHeadConfig, ModelConfig, SpatialKernel,
};
pub use model_registry::{ModelBuilder, ModelEntry, ModelRegistry};
pub use multi_task_model::{MixingParameter, MultiTaskModel};
pub use pretrained_weights::{load_safetensors_into, resolve_hub_weights, LoadOptions, LoadReport};
pub use resnet18::ResNet18;
pub use seeded_var_map::seeded_var_builder;
pub use task_outputs::{TaskOutputs, Tasks};
