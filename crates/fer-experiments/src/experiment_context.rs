//! `ExperimentContext`: what the experiment machinery needs from the program that runs it
//! (ARCHITECTURE.md "fer-experiments"): the workspace, the models (the registry, with the
//! add-on crates the program registered; fer-experiments never names a model crate) and the
//! code version recorded in every run.

use fer_models::ModelRegistry;
use fer_train::CodeVersion;

use crate::workspace::Workspace;

/// The workspace, the models and the code version an experiment runs with.
pub struct ExperimentContext {
    pub workspace: Workspace,
    /// The paper's models and the add-on crates the program registered.
    pub registry: ModelRegistry,
    /// Recorded in every run's provenance (None: not known).
    pub code_version: Option<CodeVersion>,
}

impl ExperimentContext {
    /// The names tables and charts print for the registered models.
    pub fn method_names(&self) -> fer_report::MethodNames {
        fer_report::MethodNames::new(self.registry.display_names())
    }
}
