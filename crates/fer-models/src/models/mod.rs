//! The registered models of the paper: each implements `MultiTaskModel` and is built by
//! `ModelRegistry` under the names the experiments use (`base-dcnn-fer`, `base-dcnn-fld`,
//! `hps`, `csn`, `ps-mcnn`, `cmcnn`/`cmcnn-c`/`cmcnn-s`, `se-net`/`cbam-c`/`cbam-s`/`dam-cnn`,
//! `resnet18`, `cmcnn-resnet18`). See ARCHITECTURE.md "fer-models".
//!
//! Each model wires the blocks of `nn` together; the interface they implement
//! (`multi_task_model`, `task_outputs`, `model_config`, `model_registry`) is at the crate root.

pub mod attended_base_dcnn_fer;
pub mod base_dcnn_fer;
pub mod base_dcnn_fld;
pub mod cmcnn;
pub mod cmcnn_resnet18;
pub mod csn;
pub mod hps;
pub mod ps_mcnn;
pub mod resnet18;
