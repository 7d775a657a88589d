//! fer-catalog: every model this workspace can run, the paper's (fer-models) and the add-on
//! baseline crates under `crates/baselines/` (ARCHITECTURE.md "Baseline crates and the catalogue").
//!
//! The one place an add-on is registered: the runner (`cargo xtask`) and the tests that cover
//! every model (fer-train's `train_every_model`) read this catalogue, so a new baseline is
//! trained by them without editing either. It is its own crate because fer-models cannot
//! depend on the baselines built on it.

use fer_models::ModelRegistry;

/// The registry every command and the every-model tests use. Add-on crates are registered
/// here, one line each (`fer_<name>::register(&mut registry);`), after adding the crate to
/// this crate's Cargo.toml.
pub fn model_registry() -> ModelRegistry {
    let mut registry = ModelRegistry::with_paper_models();
    fer_mtan::register(&mut registry);
    registry
}
