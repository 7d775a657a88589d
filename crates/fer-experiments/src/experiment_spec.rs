//! `ExperimentSpec`: one file under `experiments/` describing a table, figure or ablation of
//! Yu & Xu 2021 (Tables 3-13, Figs. 2-4): the datasets and their protocol, the methods (rows),
//! the seeds of paper 4.4, the settings every run shares, the hyperparameter grid searched on
//! validation, the figures to draw and the numbers the paper reports.
//!
//! `train:` blocks are partial `TrainConfig`s merged onto the paper preset
//! (`TrainConfig::paper`), so a typo in a key is an error naming the key, not a silent default.

use crate::error::{bail, Context, ExperimentError, Result};
use crate::workspace::Workspace;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fer_train::TrainConfig;

/// What the experiment measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExperimentKind {
    /// Train and test every method (Tables 3-9, 11-13, Figs. 2-4).
    Training,
    /// Time inference of a batch (Table 10).
    InferenceTime,
}

/// A chart the report draws for this experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FigureKind {
    /// Grouped bars per method and dataset.
    Bars,
    /// Test confusion matrices summed over runs (Tables 5-8).
    ConfusionMatrices,
    /// t-SNE of the FER embedding of the test split (Fig. 2).
    Tsne,
    /// α/β (or cross-stitch) values over training steps (Fig. 3).
    MixingCurves,
    /// The loss weighting's task weights (and the task gradients' cosine) over training
    /// steps, drawn as Fig. 3 draws β.
    WeightingCurves,
    /// Spatial attention over test faces (Fig. 4).
    AttentionMaps,
}

impl FigureKind {
    /// Whether the figure is drawn from a run's steps.csv, which then belongs to the
    /// experiment's committed records (`xtask records`); the other figures read metrics.json
    /// and predictions only.
    pub fn reads_steps(self) -> bool {
        matches!(self, Self::MixingCurves | Self::WeightingCurves)
    }
}

/// One dataset column of the paper's table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatasetSlot {
    /// The paper's name for it, the key of `paper_results` (e.g. `ck+`).
    pub key: String,
    /// The manifest under `data-manifests/` (or a path to a manifest YAML).
    pub manifest: String,
    /// Manifests that may run this slot's protocol instead (`--datasets ckplus48`).
    #[serde(default)]
    pub stand_ins: Vec<String>,
    /// Overrides for this dataset's runs (e.g. the batch size the reference code uses).
    #[serde(default)]
    pub train: Option<serde_yaml::Value>,
    /// Overrides applied when a stand-in runs this slot, by stand-in manifest (CK+48 trains at
    /// its native 48 px: `{ckplus48: {model_config: {input_size: 48}}}`).
    #[serde(default)]
    pub stand_in_train: BTreeMap<String, serde_yaml::Value>,
}

/// One row of the paper's table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodSpec {
    /// Unique id: the table row key and the results folder.
    pub id: String,
    /// Registry name of the model; defaults to `id`.
    #[serde(default)]
    pub model: Option<String>,
    /// The name the paper prints.
    #[serde(default)]
    pub label: Option<String>,
    /// Overrides for this method's runs.
    #[serde(default)]
    pub train: Option<serde_yaml::Value>,
    /// Dotted `TrainConfig` path -> values to search (selected on validation, paper 4.4).
    #[serde(default)]
    pub grid: BTreeMap<String, Vec<serde_yaml::Value>>,
    /// Seeds of this method's runs, when they differ from the experiment's `seeds`.
    #[serde(default)]
    pub seeds: Option<Vec<u64>>,
    /// Another experiment with a method of the same id whose runs are this method's where
    /// they are the same run: where that experiment, under the same options, plans a run whose
    /// config equals this method's apart from the experiment's name, the run is that
    /// experiment's. It is trained once, in that experiment's folder, and both reports read
    /// its record (Table 11's trainable CMCNN is Table 4's CMCNN). Runs that experiment does
    /// not plan stay this experiment's own.
    #[serde(default)]
    pub same_runs_as: Option<String>,
}

impl MethodSpec {
    /// The registry name of the model this method trains.
    pub fn model(&self) -> &str {
        self.model.as_deref().unwrap_or(&self.id)
    }
}

/// A cross-dataset pair of Table 9: train on one dataset, test on another.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferPair {
    pub train: String,
    pub test: String,
}

/// Where a grid is searched (paper 4.4 says "grid search" and names neither the grid nor the
/// runs it was searched on): every grid point runs on these seeds and folds only, the point
/// with the best mean validation score is selected, and only it runs on every seed and fold.
/// The runs of the selected point on the tuning seeds and folds are the same runs (same run
/// ids) as its final runs there.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuningSpec {
    /// Seeds the grid is searched on.
    pub seeds: Vec<u64>,
    /// Folds (split indices) the grid is searched on; a protocol with one split uses it.
    pub folds: Vec<usize>,
}

/// Methods given as one id or a list.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum MethodIds {
    One(String),
    Many(Vec<String>),
}

impl MethodIds {
    pub fn ids(&self) -> Vec<String> {
        match self {
            Self::One(id) => vec![id.clone()],
            Self::Many(ids) => ids.clone(),
        }
    }
}

/// Paired comparisons `a - b` on one test metric, for every a and b listed (a method is never
/// compared with itself); the report pairs their runs by (seed, fold).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComparisonGroup {
    pub a: MethodIds,
    pub b: MethodIds,
    /// `acc_total`, `acc_average`, `f1_eq19`, `macro_f1` or `nrmse`.
    pub metric: String,
}

impl ComparisonGroup {
    /// The (a, b) pairs.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for a in self.a.ids() {
            for b in self.b.ids() {
                if a != b {
                    out.push((a.clone(), b));
                }
            }
        }
        out
    }
}

/// What the claim says of `a - b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expectation {
    Higher,
    Lower,
}

/// A claim (the paper's, or the literature's for an experiment beyond it) and the comparisons
/// that test it (`reading.md`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClaimSpec {
    /// The claim in words, with where it is made (the paper's section, or the citation).
    pub claim: String,
    pub compare: ComparisonGroup,
    /// The sign of `a - b` the claim predicts.
    pub expect: Expectation,
}

/// Published values: dataset key -> method id -> metric key -> value in %.
pub type PaperResults = BTreeMap<String, BTreeMap<String, BTreeMap<String, f64>>>;

/// One `experiments/<name>.yaml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSpec {
    pub name: String,
    pub title: String,
    #[serde(default)]
    pub paper_section: String,
    pub kind: ExperimentKind,
    pub datasets: Vec<DatasetSlot>,
    pub methods: Vec<MethodSpec>,
    #[serde(default = "paper_seeds")]
    pub seeds: Vec<u64>,
    /// The settings preset every run starts from: `paper` (the default, the paper's text) or
    /// `reference-code` (thuiar/cmcnn's config.py; see `TrainConfig::reference_code`).
    #[serde(default = "paper_preset")]
    pub preset: String,
    /// The grid-search protocol; without it every grid point runs on every seed and fold.
    #[serde(default)]
    pub tuning: Option<TuningSpec>,
    /// Overrides of the paper preset for every run.
    #[serde(default)]
    pub train: Option<serde_yaml::Value>,
    #[serde(default)]
    pub figures: Vec<FigureKind>,
    #[serde(default)]
    pub paper_results: PaperResults,
    /// Published confusion matrices (Tables 5-8), kept for the report.
    #[serde(default)]
    pub paper_confusion: Option<serde_yaml::Value>,
    /// Class list shared by a transfer experiment (Table 9).
    #[serde(default)]
    pub classes: Option<Vec<String>>,
    #[serde(default)]
    pub transfer_pairs: Vec<TransferPair>,
    /// Batch size of an inference-time experiment (Table 10).
    #[serde(default)]
    pub batch: Option<usize>,
    /// The ablation this file serves (`cargo xtask ablation <name>`).
    #[serde(default)]
    pub ablation: Option<String>,
    #[serde(default)]
    pub notes: Option<String>,
    /// Paired comparisons the report makes (comparisons.csv); the claims' comparisons are
    /// made as well.
    #[serde(default)]
    pub comparisons: Vec<ComparisonGroup>,
    /// The claims this experiment tests (reading.md): the paper's, or the literature's for an
    /// experiment beyond it.
    #[serde(default)]
    pub claims: Vec<ClaimSpec>,
    /// Where the spec was read from.
    #[serde(skip)]
    pub source: PathBuf,
}

fn paper_preset() -> String {
    "paper".to_string()
}

/// Paper 4.4: "we select five random seeds in each experiment, including 1, 12, 123, 1234,
/// and 12345".
pub fn paper_seeds() -> Vec<u64> {
    vec![1, 12, 123, 1234, 12345]
}

impl ExperimentSpec {
    /// Reads `experiments/<name>.yaml`, or a YAML path.
    pub fn load(workspace: &Workspace, name_or_path: &str) -> Result<Self> {
        let path = resolve_path(workspace, name_or_path);
        if !path.is_file() {
            bail!(
                "no experiment '{name_or_path}': {} does not exist (known: {})",
                path.display(),
                known_experiments(workspace).join(", ")
            );
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let mut spec: ExperimentSpec = serde_yaml::from_str(&text).map_err(|e| {
            let line = e.location().map(|l| l.line()).unwrap_or(0);
            ExperimentError::Invalid(format!("{}:{line}: {e}", path.display()))
        })?;
        spec.source = path;
        spec.validate()?;
        Ok(spec)
    }

    /// Checks what serde cannot: unique ids, known metric keys, overrides that fit the config.
    pub fn validate(&self) -> Result<()> {
        let at = self.source.display();
        if self.datasets.is_empty() || self.methods.is_empty() {
            bail!("{at}: needs at least one dataset and one method");
        }
        if self.seeds.is_empty() {
            bail!("{at}: `seeds` is empty");
        }
        if let Some(batch) = self.batch {
            if !(1..=4096).contains(&batch) {
                bail!("{at}: `batch` must be 1-4096 images, got {batch}");
            }
        }
        if !fer_runs::is_safe_name(&self.name) {
            bail!(
                "{at}: name {:?} is not a safe name: use {}",
                self.name,
                fer_runs::SAFE_NAME_RULE
            );
        }
        for d in &self.datasets {
            // A key is the paper's name of a dataset (`ck+`), written into tables and CSVs and
            // never a folder, so it may hold '+'; anything else a safe name refuses it refuses.
            let plain = d.key.strip_suffix('+').unwrap_or(&d.key).replace('+', "-");
            if !fer_runs::is_safe_name(&plain) {
                bail!(
                    "{at}: dataset key {:?} is not a safe name: use {}, or '+'",
                    d.key,
                    fer_runs::SAFE_NAME_RULE
                );
            }
        }
        let mut ids = std::collections::BTreeSet::new();
        for m in &self.methods {
            if !fer_runs::is_safe_name(&m.id) {
                bail!(
                    "{at}: method id {:?} is not a safe name: use {}",
                    m.id,
                    fer_runs::SAFE_NAME_RULE
                );
            }
            if !ids.insert(m.id.as_str()) {
                bail!("{at}: method id '{}' appears twice", m.id);
            }
            if m.seeds.as_ref().is_some_and(|s| s.is_empty()) {
                bail!("{at}: method '{}' has an empty `seeds`", m.id);
            }
            if let Some(other) = &m.same_runs_as {
                if !fer_runs::is_safe_name(other) || *other == self.name {
                    bail!(
                        "{at}: method '{}': same_runs_as {other:?} must name another experiment of experiments/ ({})",
                        m.id,
                        fer_runs::SAFE_NAME_RULE
                    );
                }
            }
        }
        for group in self
            .comparisons
            .iter()
            .chain(self.claims.iter().map(|c| &c.compare))
        {
            if !PAPER_METRICS[..5].contains(&group.metric.as_str()) {
                bail!(
                    "{at}: comparison metric '{}' is not one of {}",
                    group.metric,
                    PAPER_METRICS[..5].join(", ")
                );
            }
            for id in group.a.ids().iter().chain(group.b.ids().iter()) {
                if self.method(id).is_none() {
                    bail!("{at}: a comparison names method '{id}', which the experiment does not have");
                }
            }
        }
        if let Some(t) = &self.tuning {
            if t.seeds.is_empty() || t.folds.is_empty() {
                bail!("{at}: `tuning` needs at least one seed and one fold");
            }
        }
        for d in &self.datasets {
            if let Some(name) = d.stand_in_train.keys().find(|k| !d.stand_ins.contains(k)) {
                bail!(
                    "{at}: dataset {}: stand_in_train names '{name}', which is not one of its stand_ins",
                    d.key
                );
            }
        }
        for (dataset, rows) in &self.paper_results {
            for (method, metrics) in rows {
                for key in metrics.keys() {
                    if !PAPER_METRICS.contains(&key.as_str()) {
                        bail!(
                            "{at}: paper_results.{dataset}.{method}: unknown metric '{key}' (known: {})",
                            PAPER_METRICS.join(", ")
                        );
                    }
                }
            }
        }
        // Every override must produce a valid TrainConfig; checked now, not hours into a run.
        for d in &self.datasets {
            for m in &self.methods {
                let cfg = self
                    .base_config(d, &d.manifest, m, "check", 1)
                    .with_context(|| format!("{at}: dataset {} method {}", d.key, m.id))?;
                for (path, values) in &m.grid {
                    for v in values {
                        apply_override(&cfg, &dotted_to_mapping(path, v.clone()))
                            .with_context(|| format!("{at}: method {} grid key '{path}'", m.id))?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The paper preset with the experiment's, the dataset's and the method's overrides (in
    /// that order) for one run.
    /// `dataset_name` is the manifest that actually runs (the slot's own or a stand-in).
    pub fn base_config(
        &self,
        dataset: &DatasetSlot,
        dataset_name: &str,
        method: &MethodSpec,
        split: &str,
        seed: u64,
    ) -> Result<TrainConfig> {
        let mut cfg = TrainConfig::preset(
            &self.preset,
            &self.name,
            dataset_name,
            method.model(),
            split,
            seed,
        )?;
        if method.id != method.model() {
            cfg.method = Some(method.id.clone());
        }
        let stand_in = dataset.stand_in_train.get(dataset_name);
        for o in [
            &self.train,
            &dataset.train,
            &stand_in.cloned(),
            &method.train,
        ]
        .into_iter()
        .flatten()
        {
            cfg = apply_override(&cfg, o)?;
        }
        Ok(cfg)
    }

    /// The seeds a method runs: its own, or the experiment's.
    pub fn method_seeds(&self, method: &MethodSpec) -> Vec<u64> {
        method.seeds.clone().unwrap_or_else(|| self.seeds.clone())
    }

    /// Every comparison the report makes, the claims' included, each once, in file order.
    pub fn all_comparisons(&self) -> Vec<(String, String, String)> {
        let mut out: Vec<(String, String, String)> = Vec::new();
        for group in self
            .comparisons
            .iter()
            .chain(self.claims.iter().map(|c| &c.compare))
        {
            for (a, b) in group.pairs() {
                let item = (a, b, group.metric.clone());
                if !out.contains(&item) {
                    out.push(item);
                }
            }
        }
        out
    }

    /// The method with this id.
    pub fn method(&self, id: &str) -> Option<&MethodSpec> {
        self.methods.iter().find(|m| m.id == id)
    }
}

/// Metric keys `paper_results` may hold.
pub const PAPER_METRICS: [&str; 6] = [
    "acc_total",
    "acc_average",
    "f1_eq19",
    "macro_f1",
    "nrmse",
    "time_ms",
];

/// `experiments/<name>.yaml`, or the path itself when it names a YAML file.
pub fn resolve_path(workspace: &Workspace, name_or_path: &str) -> PathBuf {
    let p = Path::new(name_or_path);
    if p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
        p.to_path_buf()
    } else {
        workspace
            .experiments_dir()
            .join(format!("{name_or_path}.yaml"))
    }
}

/// The experiment names under `experiments/`.
pub fn known_experiments(workspace: &Workspace) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(workspace.experiments_dir())
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
                .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().to_string()))
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// `a.b.c: v` as the nested mapping `{a: {b: {c: v}}}`.
pub fn dotted_to_mapping(path: &str, value: serde_yaml::Value) -> serde_yaml::Value {
    path.rsplit('.').fold(value, |inner, key| {
        let mut m = serde_yaml::Mapping::new();
        m.insert(serde_yaml::Value::String(key.to_string()), inner);
        serde_yaml::Value::Mapping(m)
    })
}

/// Merges a partial config (nested mappings) onto `cfg`; unknown keys are errors.
pub fn apply_override(cfg: &TrainConfig, over: &serde_yaml::Value) -> Result<TrainConfig> {
    let mut base = serde_yaml::to_value(cfg)?;
    merge(&mut base, over, "")?;
    let merged: TrainConfig = serde_yaml::from_value(base).context("the merged settings")?;
    Ok(merged)
}

fn merge(base: &mut serde_yaml::Value, over: &serde_yaml::Value, at: &str) -> Result<()> {
    use serde_yaml::Value;
    match (base, over) {
        (Value::Mapping(b), Value::Mapping(o)) => {
            for (k, v) in o {
                let key = k.as_str().unwrap_or_default().to_string();
                let path = if at.is_empty() {
                    key.clone()
                } else {
                    format!("{at}.{key}")
                };
                match b.get_mut(k) {
                    Some(slot) if slot.is_mapping() && v.is_mapping() => merge(slot, v, &path)?,
                    Some(slot) => *slot = v.clone(),
                    // Optional sections (e.g. `pretrained`) are absent or null in the preset.
                    None => {
                        if !OPTIONAL_KEYS.contains(&key.as_str()) {
                            bail!("unknown setting '{path}'");
                        }
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
            Ok(())
        }
        (b, o) => {
            *b = o.clone();
            Ok(())
        }
    }
}

/// Settings that the preset leaves out of its YAML (`addons`: the settings of add-on models,
/// which each add-on checks when it is built; `precision` and `weighting` at their defaults).
const OPTIONAL_KEYS: [&str; 6] = [
    "method",
    "grid_point",
    "pretrained",
    "addons",
    "precision",
    "weighting",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_step_curve_figures_read_steps_csv() {
        let all = [
            FigureKind::Bars,
            FigureKind::ConfusionMatrices,
            FigureKind::Tsne,
            FigureKind::MixingCurves,
            FigureKind::WeightingCurves,
            FigureKind::AttentionMaps,
        ];
        let reading: Vec<_> = all.into_iter().filter(|f| f.reads_steps()).collect();
        assert_eq!(
            reading,
            [FigureKind::MixingCurves, FigureKind::WeightingCurves]
        );
    }

    #[test]
    fn overrides_merge_and_typos_fail() {
        let cfg = TrainConfig::paper("e", "d", "cmcnn", "fold-0", 1);
        let over: serde_yaml::Value = serde_yaml::from_str(
            "{batch_size: 16, model_config: {co_attention: {embedding_ratio: 0.2}}}",
        )
        .unwrap();
        let merged = apply_override(&cfg, &over).unwrap();
        assert_eq!(merged.batch_size, 16);
        assert_eq!(merged.model_config.co_attention.embedding_ratio, 0.2);
        assert_eq!(
            merged.model_config.input_size, 100,
            "untouched keys keep the preset"
        );
        let typo: serde_yaml::Value =
            serde_yaml::from_str("{model_config: {co_atention: {embedding_ratio: 0.2}}}").unwrap();
        let err = apply_override(&cfg, &typo).unwrap_err().to_string();
        assert!(err.contains("model_config.co_atention"), "{err}");
        let dotted = dotted_to_mapping("fld_loss_weight", serde_yaml::Value::from(1.0));
        assert_eq!(apply_override(&cfg, &dotted).unwrap().fld_loss_weight, 1.0);
        // An add-on's settings are set from an experiment YAML and change the run id.
        let addon: serde_yaml::Value =
            serde_yaml::from_str("{model_config: {addons: {mtan: {task_specific_f: true}}}}")
                .unwrap();
        let with_addon = apply_override(&cfg, &addon).unwrap();
        assert!(with_addon.model_config.addons.contains_key("mtan"));
        assert!(with_addon
            .to_yaml()
            .unwrap()
            .contains("task_specific_f: true"));
        assert_ne!(
            with_addon.run_dir(Path::new("r")).unwrap(),
            cfg.run_dir(Path::new("r")).unwrap()
        );
    }

    #[test]
    fn every_committed_experiment_parses() {
        let ws = crate::workspace::repository_workspace();
        for name in known_experiments(&ws) {
            ExperimentSpec::load(&ws, &name).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        }
    }
}

#[cfg(test)]
mod paper_number_tests {
    use super::*;
    use fer_report::{Metric, PaperNumbers};

    /// experiments/table3.yaml and table4.yaml were transcribed from the paper independently of
    /// fer-report's `yu_xu_2021_tables_3_4`; they must agree cell by cell.
    #[test]
    fn tables_3_and_4_agree_with_the_independent_transcription() {
        let reference = PaperNumbers::yu_xu_2021_tables_3_4();
        let mut compared = 0;
        for name in ["table3", "table4"] {
            let spec =
                ExperimentSpec::load(&crate::workspace::repository_workspace(), name).unwrap();
            for (dataset, rows) in &spec.paper_results {
                for (method, metrics) in rows {
                    for (key, value) in metrics {
                        let metric: Metric = key.parse().unwrap();
                        assert_eq!(
                            reference.get(dataset, method, metric),
                            Some(*value),
                            "{name}: {dataset} {method} {key}"
                        );
                        compared += 1;
                    }
                }
            }
        }
        assert_eq!(
            compared,
            reference.len(),
            "every published cell is in the YAML"
        );
    }
}
