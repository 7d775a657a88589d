//! The models `cargo xtask` can run: the paper's (fer-models) plus the add-on baseline crates
//! under `crates/baselines/`.

/// The registry every command uses. This is where add-on crates are registered, one line each
/// (`fer_<name>::register(&mut registry);`), after adding the crate to `xtask/Cargo.toml`.
pub fn model_registry() -> fer_models::ModelRegistry {
    let mut registry = fer_models::ModelRegistry::with_paper_models();
    fer_mtan::register(&mut registry);
    registry
}
