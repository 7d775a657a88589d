//! Loss weighting and gradient balancing of the two tasks (ARCHITECTURE.md "fer-train"):
//! how a multi-task model's FER and FLD losses become one update. The paper fixes the weight
//! of the landmark loss (λ of eq. 16) by grid search; the methods here are the ones MTL
//! researchers compare it with (LibMTL's names), each in its own file, each citing its paper,
//! and each picked by the `weighting` setting of a run.
//!
//! Every method, for two tasks, reduces to two pairs of weights per step (`StepWeights`): one
//! for the gradients of the shared parameters, one for the task-specific parameters. The
//! loss-weighting methods (fixed, uncertainty, DWA, RLW, FAMO) use the same pair for both;
//! GradNorm (as LibMTL's) and the gradient-surgery methods (PCGrad, CAGrad, Aligned-MTL)
//! combine the two task gradients of the shared parameters and leave each head its own task's
//! gradient.
//!
//! Adding a method: one file here with a type implementing [`TaskWeighting`] and a
//! `pub const ENTRY: WeightingEntry`, and one line in [`METHODS`].

pub mod aligned_mtl;
pub mod ca_grad;
pub mod dwa;
pub mod famo;
pub mod fixed;
pub mod grad_norm;
pub mod pc_grad;
pub mod rlw;
pub mod run_weighting;
pub mod scalar_adam;
pub mod task_gradients;
pub mod task_weighting;
pub mod uncertainty;
pub mod weighting_config;

pub use run_weighting::{RunWeighting, TwoTaskUpdate};
pub use task_gradients::TaskGradients;
pub use task_weighting::{StepInput, StepWeights, TaskWeighting, WeightingEntry};
pub use weighting_config::WeightingConfig;

use fer_models::Tasks;

use crate::error::{Result, TrainError};
use crate::train_config::TrainConfig;

/// Every weighting method, by the name a config or `--weighting` uses.
pub const METHODS: &[WeightingEntry] = &[
    fixed::ENTRY,
    uncertainty::ENTRY,
    dwa::ENTRY,
    rlw::ENTRY,
    grad_norm::ENTRY,
    famo::ENTRY,
    pc_grad::ENTRY,
    ca_grad::ENTRY,
    aligned_mtl::ENTRY,
];

/// The names of every method, for error messages and `--help`.
pub fn method_names() -> Vec<&'static str> {
    METHODS.iter().map(|e| e.name).collect()
}

/// The registered method of this name, or an error that lists the known ones.
pub fn entry(name: &str) -> Result<&'static WeightingEntry> {
    METHODS.iter().find(|e| e.name == name).ok_or_else(|| {
        TrainError::Config(format!(
            "unknown weighting method '{name}' (known: {})",
            method_names().join(", ")
        ))
    })
}

/// The config with every setting of its method spelled out (the method's paper defaults where
/// the config says nothing), so that config.yaml records what ran. An unknown setting is an
/// error that lists the method's settings.
pub fn resolved(cfg: &WeightingConfig) -> Result<WeightingConfig> {
    let e = entry(&cfg.method)?;
    if let Some(unknown) = cfg
        .params
        .keys()
        .find(|k| !e.params.iter().any(|p| p.name == k.as_str()))
    {
        let known: Vec<&str> = e.params.iter().map(|p| p.name).collect();
        return Err(TrainError::Config(format!(
            "weighting '{}' has no setting '{unknown}' (its settings: {})",
            e.name,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    let mut out = cfg.clone();
    for p in e.params {
        let v = *out.params.entry(p.name.to_string()).or_insert(p.default);
        if !v.is_finite() || !(p.valid)(v) {
            return Err(TrainError::Config(format!(
                "weighting '{}': {} = {v} is out of range ({})",
                e.name, p.name, p.range
            )));
        }
    }
    Ok(out)
}

/// Refuses a method that balances two tasks on a model that learns one. Every method but the
/// paper's fixed λ weighs two losses or two gradients; on one task there is nothing to weigh,
/// and the run would silently be plain single-task training under another name. The one
/// check for both places that refuse it: a plan, before any run folder exists, and a training
/// session.
pub fn check_model_tasks(cfg: &WeightingConfig, model: &str, tasks: Tasks) -> Result<()> {
    if cfg.is_fixed() || tasks == Tasks::Both {
        return Ok(());
    }
    Err(TrainError::Config(format!(
        "weighting '{}' balances two tasks, but model '{model}' learns {} only: use it with a multi-task model (hps, csn, ps-mcnn, cmcnn, mtan, ...)",
        cfg.method,
        if tasks.has_fer() { "FER" } else { "FLD" }
    )))
}

/// Builds the method of a run's config (resolved first).
pub fn build(cfg: &TrainConfig) -> Result<Box<dyn TaskWeighting>> {
    let w = resolved(&cfg.weighting)?;
    (entry(&w.method)?.build)(&w, cfg)
}
