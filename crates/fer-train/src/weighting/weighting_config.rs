//! `WeightingConfig`: the `weighting` setting of a run (config.yaml, experiment YAML,
//! `--weighting`): a method name and its numeric settings.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Which weighting method a run uses, and its settings by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeightingConfig {
    /// Registry name (`fixed`, `uncertainty`, `dwa`, `rlw`, `gradnorm`, `famo`, `pcgrad`,
    /// `cagrad`, `aligned-mtl`).
    pub method: String,
    /// The method's settings (`temperature`, `alpha`, ...); the method's defaults fill the
    /// rest when a run is planned.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, f64>,
}

impl Default for WeightingConfig {
    /// `fixed`: loss_E + λ loss_L, the paper's eq. 16.
    fn default() -> Self {
        Self::named("fixed")
    }
}

impl WeightingConfig {
    /// A method with its default settings.
    pub fn named(method: &str) -> Self {
        Self {
            method: method.to_string(),
            params: BTreeMap::new(),
        }
    }

    /// Whether this is the paper's fixed λ, which config.yaml leaves out so that the run ids
    /// of every run before this setting existed do not change.
    pub fn is_fixed(&self) -> bool {
        self.method == "fixed" && self.params.is_empty()
    }

    /// A setting's value (after [`crate::weighting::resolved`], every setting is present).
    pub fn param(&self, name: &str) -> f64 {
        self.params.get(name).copied().unwrap_or(f64::NAN)
    }
}
