//! Layers and building blocks: PyTorch-initialised convolution, linear and batch-norm layers,
//! the BaseDCNN backbone, the FER and FLD heads, and the attention and sharing units (Co-ATT
//! with CCAM and SCAM, cross-stitch, squeeze-and-excitation, CBAM, DAM-CNN's salient-region
//! attention) that the models of `models` are assembled from. See ARCHITECTURE.md
//! "fer-models".
//!
//! Built on `ops` (the CPU kernels); knows nothing of the models or the registry.
//! `seeded_var_map` is here, not in `io`: it creates a layer's variables (the seeded
//! initialisation every layer constructor draws from) and reads or writes no file.

pub mod base_dcnn;
pub mod cbam_channel_attention;
pub mod channel_co_attention;
pub mod co_attention_unit;
pub mod cross_stitch_unit;
pub mod fer_head;
pub mod fld_head;
pub mod layers;
pub mod salient_region_attention;
pub mod seeded_var_map;
pub mod spatial_attention;
pub mod squeeze_excitation;
