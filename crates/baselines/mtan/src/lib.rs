//! fer-mtan: MTAN (Liu, Johns & Davison, "End-to-End Multi-Task Learning with Attention",
//! CVPR 2019) as an add-on MTL baseline of cmcnn-rs, in its own crate the way a user adds one:
//! implement `fer_models::MultiTaskModel`, then `register` it (one line in
//! `crates/fer-catalog/src/lib.rs`) so that `cargo xtask train --model mtan` finds it.

pub mod mtan;

pub use mtan::{Mtan, MtanConfig};

use fer_models::{ModelEntry, ModelRegistry};

/// MTAN's registry name; its settings live under `model_config.addons.mtan`.
pub const REGISTRY_NAME: &str = "mtan";

/// Adds `mtan` to `registry`.
pub fn register(registry: &mut ModelRegistry) {
    registry.register(ModelEntry {
        name: REGISTRY_NAME,
        display_name: "MTAN",
        summary: "MTAN (Liu et al., CVPR 2019): per-task attention masks over a shared BaseDCNN, FER + FLD heads",
        build: |cfg, vb| Ok(Box::new(Mtan::new(cfg, vb)?)),
    });
}
