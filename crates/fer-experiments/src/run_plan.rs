//! `RunPlan`: every training run an experiment needs under the user's options (datasets and
//! stand-ins, seeds, folds, epochs, size, grid), resolved before any run starts, so that a
//! missing dataset or a bad setting stops the command at once (paper 4.4: five seeds; k-fold
//! protocols give one run per fold; grids searched and selected on validation).

use crate::error::{bail, Context, ExperimentError, Result};
use std::path::PathBuf;

use fer_data::{Manifest, ProtocolSpec};
use fer_models::ops::matmul_precision::Precision;
use fer_train::TrainConfig;
use serde::{Deserialize, Serialize};

use crate::experiment_spec::{apply_override, dotted_to_mapping, DatasetSlot, ExperimentSpec};
use crate::workspace::Workspace;

/// Which folds of a k-fold protocol to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoldSelection {
    /// The first n folds.
    First(usize),
    /// These fold indices.
    Indices(Vec<usize>),
}

impl std::str::FromStr for FoldSelection {
    type Err = ExperimentError;

    /// `3` = the first three folds; `0,4,7` or `2-5` = those folds.
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if !s.contains(',') && !s.contains('-') {
            let n: usize = s.parse().with_context(|| format!("--folds '{s}'"))?;
            if n == 0 {
                bail!("--folds 0 selects nothing: a single number is how many folds, from the first (fold 0 alone is `0-0`)");
            }
            return Ok(Self::First(n));
        }
        let mut out = Vec::new();
        for part in s.split(',') {
            let part = part.trim();
            if let Some((a, b)) = part.split_once('-') {
                let (a, b): (usize, usize) = (
                    a.trim().parse().with_context(|| format!("--folds '{s}'"))?,
                    b.trim().parse().with_context(|| format!("--folds '{s}'"))?,
                );
                if b < a {
                    bail!("--folds '{s}': range {a}-{b} is empty");
                }
                if b >= fer_data::MAX_FOLDS {
                    bail!(
                        "--folds '{s}': fold {b} is past the last possible fold ({})",
                        fer_data::MAX_FOLDS - 1
                    );
                }
                out.extend(a..=b);
            } else {
                out.push(part.parse().with_context(|| format!("--folds '{s}'"))?);
            }
        }
        Ok(Self::Indices(out))
    }
}

/// The user's reductions and choices (command-line options of `reproduce` and `ablation`).
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// Dataset slots to run, by key or manifest, or stand-ins (`ckplus48`, `ck+=ckplus48`).
    pub datasets: Vec<String>,
    /// Method ids to run (all when empty).
    pub methods: Vec<String>,
    pub seeds: Option<Vec<u64>>,
    pub folds: Option<FoldSelection>,
    pub max_epochs: Option<usize>,
    pub size: Option<usize>,
    /// Precision of every run's multiplications (`--precision`).
    pub precision: Option<Precision>,
    /// Every run's loss weighting (`--weighting`), replacing the experiment's.
    pub weighting: Option<fer_train::WeightingConfig>,
    /// Search the methods' grids (otherwise the first value of every grid axis).
    pub grid: bool,
    /// Replaces the root of the (single) dataset.
    pub data_root: Option<PathBuf>,
    /// Drop class folders that name no expression (`--ignore-unknown-classes`), as the
    /// manifest's `ignore_unknown_classes: true` does.
    pub ignore_unknown_classes: bool,
    /// Results folder name under results/ (default: the experiment's name).
    pub output_name: Option<String>,
}

/// One dataset the plan runs on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedDataset {
    pub slot: DatasetSlot,
    pub manifest: Manifest,
    pub manifest_path: PathBuf,
    pub root: Option<PathBuf>,
    /// True when a stand-in runs the slot's protocol (the report says so).
    pub substituted: bool,
    /// Input size of the runs on it.
    pub size: usize,
}

/// Why a run is in the plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RunRole {
    /// A grid point on the tuning seeds and folds (the experiment's `tuning`).
    Tuning,
    /// A run the table reports.
    Final,
}

/// One training run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedRun {
    /// Index into [`RunPlan::datasets`].
    pub dataset: usize,
    /// Index of the split within the protocol's splits.
    pub split_index: usize,
    /// For a transfer experiment (Table 9): the dataset tested on (index into `datasets`).
    pub transfer_target: Option<usize>,
    pub config: TrainConfig,
    pub role: RunRole,
}

/// A final run of a tuned method whose grid point is not selected yet: one config per point.
#[derive(Debug, Clone)]
pub struct PendingRun {
    pub dataset: usize,
    pub split_index: usize,
    /// The method id.
    pub method: String,
    /// One config per grid point, in grid order.
    pub candidates: Vec<TrainConfig>,
}

/// A tuned method's selected grid point.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    pub dataset: String,
    pub method: String,
    pub grid_point: String,
}

/// A tuned method whose tuning runs have not all finished.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    pub dataset: String,
    pub method: String,
    pub tuning_finished: usize,
    pub tuning_total: usize,
}

/// What [`RunPlan::resolve`] found.
#[derive(Debug, Clone, Default)]
pub struct Resolution {
    /// Final runs of tuned methods (role `Tuning` when the run is one of the tuning runs).
    pub runs: Vec<PlannedRun>,
    pub selected: Vec<Selection>,
    pub waiting: Vec<Waiting>,
    /// Final runs still waiting for their method's selection.
    pub pending_runs: usize,
}

/// Everything one `reproduce` invocation will run.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The folder under results/ (the experiment name in every run's config).
    pub output_name: String,
    pub datasets: Vec<PlannedDataset>,
    /// The runs that can be planned now: untuned methods, and the grid points of tuned
    /// methods on the tuning seeds and folds (listed first, so selection comes early).
    pub runs: Vec<PlannedRun>,
    /// The final runs of tuned methods, planned once their tuning runs have finished
    /// ([`RunPlan::resolve`]).
    pub pending: Vec<PendingRun>,
}

/// Split names of a protocol, in the order `ProtocolSpec::splits` returns them.
fn split_names(protocol: &ProtocolSpec) -> Vec<String> {
    match protocol {
        ProtocolSpec::SubjectKFold { folds } => (0..*folds).map(|i| format!("fold-{i}")).collect(),
        ProtocolSpec::SubjectHoldout { .. } => vec!["holdout".into()],
        ProtocolSpec::Official => vec!["official".into()],
    }
}

/// The split indices a tuning protocol searches on, checked against the protocol.
fn tuning_splits(
    t: &crate::experiment_spec::TuningSpec,
    splits: usize,
    dataset: &str,
) -> Result<Vec<usize>> {
    if splits == 1 {
        return Ok(vec![0]);
    }
    if let Some(bad) = t.folds.iter().find(|&&f| f >= splits) {
        bail!("tuning fold {bad} does not exist: {dataset} has {splits} folds");
    }
    Ok(t.folds.clone())
}

/// Picks the datasets: every slot, or those the user named (a name that is not a slot's key
/// or manifest substitutes for the slot that lists it as a stand-in, or `key=manifest`).
fn select_datasets(
    spec: &ExperimentSpec,
    wanted: &[String],
) -> Result<Vec<(DatasetSlot, String, bool)>> {
    if wanted.is_empty() {
        return Ok(spec
            .datasets
            .iter()
            .map(|d| (d.clone(), d.manifest.clone(), false))
            .collect());
    }
    let mut out = Vec::new();
    for w in wanted {
        let (slot, manifest) = match w.split_once('=') {
            Some((key, manifest)) => {
                let slot = spec
                    .datasets
                    .iter()
                    .find(|d| d.key == key)
                    .with_context(|| {
                        format!(
                            "--datasets {w}: {} has no dataset '{key}' (it has {})",
                            spec.name,
                            slot_keys(spec)
                        )
                    })?;
                (slot, manifest.to_string())
            }
            None => {
                if let Some(slot) = spec
                    .datasets
                    .iter()
                    .find(|d| d.key == *w || d.manifest == *w)
                {
                    (slot, slot.manifest.clone())
                } else if let Some(slot) = spec
                    .datasets
                    .iter()
                    .find(|d| d.stand_ins.iter().any(|s| s == w))
                {
                    (slot, w.clone())
                } else {
                    bail!(
                        "--datasets {w}: {} runs on {}; '{w}' is none of them nor a listed stand-in (use <dataset>={w} to substitute it for one)",
                        spec.name,
                        slot_keys(spec)
                    );
                }
            }
        };
        let substituted = manifest != slot.manifest;
        out.push((slot.clone(), manifest, substituted));
    }
    Ok(out)
}

fn slot_keys(spec: &ExperimentSpec) -> String {
    spec.datasets
        .iter()
        .map(|d| {
            if d.stand_ins.is_empty() {
                format!("{} ({})", d.key, d.manifest)
            } else {
                format!(
                    "{} ({}; stand-ins {})",
                    d.key,
                    d.manifest,
                    d.stand_ins.join(", ")
                )
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// All grid points of a method: (label, overrides); one unlabelled point without a search.
fn grid_points(
    grid: &std::collections::BTreeMap<String, Vec<serde_yaml::Value>>,
    search: bool,
) -> Vec<(Option<String>, Vec<serde_yaml::Value>)> {
    let axes: Vec<(&String, &Vec<serde_yaml::Value>)> =
        grid.iter().filter(|(_, v)| !v.is_empty()).collect();
    if axes.is_empty() {
        return vec![(None, vec![])];
    }
    if !search {
        let first = axes
            .iter()
            .map(|(k, v)| dotted_to_mapping(k, v[0].clone()))
            .collect();
        return vec![(None, first)];
    }
    let mut points: Vec<(Vec<String>, Vec<serde_yaml::Value>)> = vec![(vec![], vec![])];
    for (key, values) in axes {
        let mut next = Vec::new();
        for (labels, overs) in &points {
            for v in values {
                let text = serde_yaml::to_string(v)
                    .unwrap_or_default()
                    .trim()
                    .to_string();
                let mut l = labels.clone();
                l.push(format!("{key}={text}"));
                let mut o = overs.clone();
                o.push(dotted_to_mapping(key, v.clone()));
                next.push((l, o));
            }
        }
        points = next;
    }
    points
        .into_iter()
        .map(|(l, o)| (Some(l.join(",")), o))
        .collect()
}

/// What every planned config shares.
struct RunSettings<'a> {
    spec: &'a ExperimentSpec,
    opts: &'a PlanOptions,
    output_name: &'a str,
}

impl RunSettings<'_> {
    /// The configs of one method on one split: one per grid point (or one without a search).
    fn configs(
        &self,
        slot: &DatasetSlot,
        dataset_name: &str,
        method: &crate::experiment_spec::MethodSpec,
        split: &str,
        seed: u64,
        num_classes: usize,
    ) -> Result<Vec<TrainConfig>> {
        let mut base = self
            .spec
            .base_config(slot, dataset_name, method, split, seed)?;
        base.experiment = self.output_name.to_string();
        base.model_config.num_classes = num_classes;
        if let Some(size) = self.opts.size {
            base.model_config.input_size = size;
        }
        if let Some(e) = self.opts.max_epochs {
            base.max_epochs = e;
        }
        if let Some(p) = self.opts.precision {
            base.precision = p;
        }
        if let Some(w) = &self.opts.weighting {
            base.weighting = w.clone();
        }
        let mut out = Vec::new();
        for (label, overrides) in grid_points(&method.grid, self.opts.grid) {
            let mut cfg = base.clone();
            for o in &overrides {
                cfg = apply_override(&cfg, o)?;
            }
            cfg.grid_point = label;
            cfg.weighting = fer_train::weighting::resolved(&cfg.weighting)?;
            cfg.validate()?;
            out.push(cfg);
        }
        Ok(out)
    }
}

/// The shared class list of a transfer experiment.
pub fn transfer_classes(spec: &ExperimentSpec) -> Result<Vec<fer_data::Expression>> {
    let names = spec.classes.as_ref().with_context(|| {
        format!(
            "{}: a transfer experiment needs `classes` (the classes both datasets share)",
            spec.name
        )
    })?;
    names
        .iter()
        .map(|n| {
            n.parse()
                .with_context(|| format!("{}: class '{n}'", spec.name))
        })
        .collect()
}

/// Table 9: one run per (pair, seed, method, grid point) whose two datasets are selected.
fn transfer_runs(
    settings: &RunSettings<'_>,
    datasets: &[PlannedDataset],
    methods: &[&crate::experiment_spec::MethodSpec],
    seeds: &[u64],
) -> Result<Vec<PlannedRun>> {
    let classes = transfer_classes(settings.spec)?;
    let find = |key: &str| datasets.iter().position(|d| d.slot.key == key);
    let mut runs = Vec::new();
    for pair in &settings.spec.transfer_pairs {
        let (Some(si), Some(ti)) = (find(&pair.train), find(&pair.test)) else {
            continue;
        };
        let (s, t) = (&datasets[si], &datasets[ti]);
        let name = format!("{}->{}", s.manifest.name, t.manifest.name);
        for &seed in seeds {
            for m in methods {
                for config in
                    settings.configs(&s.slot, &name, m, "transfer", seed, classes.len())?
                {
                    runs.push(PlannedRun {
                        dataset: si,
                        split_index: 0,
                        transfer_target: Some(ti),
                        config,
                        role: RunRole::Final,
                    });
                }
            }
        }
    }
    if runs.is_empty() {
        bail!(
            "{}: no transfer pair has both of its datasets selected (pairs: {}); choose them with --datasets, e.g. --datasets raf-db=fer2013,ck+=ckplus48",
            settings.spec.name,
            settings
                .spec
                .transfer_pairs
                .iter()
                .map(|p| format!("{}->{}", p.train, p.test))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(runs)
}

/// The output folder of experiment `other` under the options that give `own_output` to `spec`:
/// the same suffix (`-quick`, `-bf16`, `-<tag>`, `-<weighting>`) after the other's name.
fn shared_output_name(spec: &ExperimentSpec, own_output: &str, other: &str) -> Option<String> {
    if own_output == spec.name {
        return Some(other.to_string());
    }
    let suffix = own_output.strip_prefix(&spec.name)?.strip_prefix('-')?;
    Some(format!("{other}-{suffix}"))
}

/// How `--datasets` names dataset `d` to experiment `other`: the key of a slot of `other`
/// whose own manifest it is (by name or file), or its name where a slot lists it as a
/// stand-in; `None` when `other` does not run on it.
fn dataset_selector(
    other: &ExperimentSpec,
    d: &PlannedDataset,
    workspace: &Workspace,
) -> Option<String> {
    let name = &d.manifest.name;
    for slot in &other.datasets {
        let file = if slot.manifest.ends_with(".yaml") {
            PathBuf::from(&slot.manifest)
        } else {
            workspace.manifest_path(&slot.manifest)
        };
        if slot.manifest == *name || file == d.manifest_path {
            return Some(slot.key.clone());
        }
    }
    other
        .datasets
        .iter()
        .any(|slot| slot.stand_ins.contains(name))
        .then(|| name.clone())
}

/// Makes the runs of methods with `same_runs_as` the other experiment's runs wherever that
/// experiment, under the same options, plans the very same run: same config apart from the
/// experiment's name, checked on the whole resolved config (its YAML, which the run id
/// hashes). Such a run moves to the other experiment's folder and run id; every other run
/// stays this experiment's.
fn share_runs(
    spec: &ExperimentSpec,
    opts: &PlanOptions,
    workspace: &Workspace,
    plan: &mut RunPlan,
) -> Result<()> {
    let wanted = |m: &&crate::experiment_spec::MethodSpec| {
        opts.methods.is_empty() || opts.methods.contains(&m.id)
    };
    for m in spec.methods.iter().filter(wanted) {
        let Some(other_name) = &m.same_runs_as else {
            continue;
        };
        let at = format!(
            "{}: method '{}' shares the runs of {other_name}",
            spec.name, m.id
        );
        // The other experiment's file beside this one's, else experiments/ of the workspace.
        let beside = spec
            .source
            .parent()
            .map(|d| d.join(format!("{other_name}.yaml")))
            .filter(|p| p.is_file());
        let other = match beside {
            Some(path) => ExperimentSpec::load(workspace, &path.to_string_lossy()),
            None => ExperimentSpec::load(workspace, other_name),
        }
        .with_context(|| at.clone())?;
        if other.method(&m.id).is_none() {
            bail!("{at}, which has no method '{}'", m.id);
        }
        let Some(other_output) = shared_output_name(spec, &plan.output_name, &other.name) else {
            continue;
        };
        // One plan of the other experiment over every dataset both run; a config's YAML
        // names its dataset, so runs only match on their own dataset.
        let mut selectors: Vec<String> = Vec::new();
        for d in &plan.datasets {
            match dataset_selector(&other, d, workspace) {
                Some(s) if !selectors.contains(&s) => selectors.push(s),
                _ => {}
            }
        }
        if selectors.is_empty() {
            continue;
        }
        let other_opts = PlanOptions {
            datasets: selectors,
            methods: vec![m.id.clone()],
            output_name: Some(other_output.clone()),
            ..opts.clone()
        };
        let other_plan =
            RunPlan::build(&other, &other_opts, workspace).with_context(|| at.clone())?;
        let theirs: std::collections::BTreeSet<String> = other_plan
            .runs
            .iter()
            .map(|r| &r.config)
            .chain(other_plan.pending.iter().flat_map(|p| &p.candidates))
            .map(TrainConfig::to_yaml)
            .collect::<std::result::Result<_, _>>()?;
        let mine = plan
            .runs
            .iter_mut()
            .map(|r| &mut r.config)
            .chain(
                plan.pending
                    .iter_mut()
                    .flat_map(|p| p.candidates.iter_mut()),
            )
            .filter(|c| c.method_id() == m.id);
        for config in mine {
            let mut shared = config.clone();
            shared.experiment = other_output.clone();
            if theirs.contains(&shared.to_yaml()?) {
                *config = shared;
            }
        }
    }
    Ok(())
}

impl RunPlan {
    /// Resolves the plan; checks that every dataset is present before anything runs. Methods
    /// that share another experiment's runs (`same_runs_as`) use them where they are the same.
    pub fn new(spec: &ExperimentSpec, opts: &PlanOptions, workspace: &Workspace) -> Result<Self> {
        let mut plan = Self::build(spec, opts, workspace)?;
        share_runs(spec, opts, workspace, &mut plan)?;
        Ok(plan)
    }

    /// The plan of `spec` alone, every run in its own folder.
    fn build(spec: &ExperimentSpec, opts: &PlanOptions, workspace: &Workspace) -> Result<Self> {
        let output_name = opts
            .output_name
            .clone()
            .unwrap_or_else(|| spec.name.clone());
        // `--tag` and `--preset` name the output folder too.
        if !fer_runs::is_safe_name(&output_name) {
            bail!(
                "output folder {output_name:?} (the experiment's name with --tag or --preset) is not a safe name: use {}",
                fer_runs::SAFE_NAME_RULE
            );
        }
        let selected = select_datasets(spec, &opts.datasets)?;
        if opts.data_root.is_some() && selected.len() != 1 {
            bail!("--data-root needs exactly one dataset (--datasets NAME)");
        }
        let methods: Vec<_> = if opts.methods.is_empty() {
            spec.methods.iter().collect()
        } else {
            opts.methods
                .iter()
                .map(|id| {
                    spec.method(id).with_context(|| {
                        format!(
                            "--methods {id}: {} has no such method (it has {})",
                            spec.name,
                            spec.methods
                                .iter()
                                .map(|m| m.id.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    })
                })
                .collect::<Result<_>>()?
        };
        let seeds = opts.seeds.clone().unwrap_or_else(|| spec.seeds.clone());

        // Every dataset is checked before any run is planned: missing ones stop here, all
        // named at once so a user can place them in one go.
        let mut datasets = Vec::new();
        let mut missing = Vec::new();
        for (slot, manifest_name, substituted) in selected {
            let manifest_path = if manifest_name.ends_with(".yaml") {
                PathBuf::from(&manifest_name)
            } else {
                workspace.manifest_path(&manifest_name)
            };
            let mut manifest = workspace.load_manifest(&manifest_name)?;
            manifest.ignore_unknown_classes |= opts.ignore_unknown_classes;
            let root = opts
                .data_root
                .clone()
                .or_else(|| workspace.resolve(manifest.resolved_root()));
            // Timing (Table 10) runs on random input and needs no data.
            if spec.kind == crate::experiment_spec::ExperimentKind::Training {
                if let Err(e) = manifest.check_available(root.as_deref()) {
                    missing.push(format!(
                        "{} needs dataset '{}': {e}",
                        spec.name, manifest.name
                    ));
                    continue;
                }
            }
            datasets.push(PlannedDataset {
                slot,
                manifest,
                manifest_path,
                root,
                substituted,
                size: 0,
            });
        }

        if !missing.is_empty() {
            bail!("{}", missing.join("\n"));
        }
        let mut runs = Vec::new();
        let mut pending = Vec::new();
        let settings = RunSettings {
            spec,
            opts,
            output_name: &output_name,
        };
        if !spec.transfer_pairs.is_empty() {
            runs = transfer_runs(&settings, &datasets, &methods, &seeds)?;
        } else {
            for (di, d) in datasets.iter().enumerate() {
                let names = split_names(&d.manifest.protocol);
                let split_indices: Vec<usize> = match &opts.folds {
                    None => (0..names.len()).collect(),
                    Some(_) if names.len() == 1 => vec![0],
                    Some(FoldSelection::First(n)) => (0..(*n).min(names.len())).collect(),
                    Some(FoldSelection::Indices(ix)) => {
                        if let Some(bad) = ix.iter().find(|&&i| i >= names.len()) {
                            bail!(
                                "--folds: fold {bad} does not exist; {} has {} folds",
                                d.manifest.name,
                                names.len()
                            );
                        }
                        ix.clone()
                    }
                };
                let name = &d.manifest.name;
                let classes = d.manifest.classes.len();
                // The tuning runs of every tuned method come first.
                let tuning = spec.tuning.as_ref().filter(|_| opts.grid);
                if let Some(t) = tuning {
                    let folds = tuning_splits(t, names.len(), &d.manifest.name)?;
                    for m in methods.iter().filter(|m| !m.grid.is_empty()) {
                        for &seed in &t.seeds {
                            for &si in &folds {
                                for config in
                                    settings.configs(&d.slot, name, m, &names[si], seed, classes)?
                                {
                                    runs.push(PlannedRun {
                                        dataset: di,
                                        split_index: si,
                                        transfer_target: None,
                                        config,
                                        role: RunRole::Tuning,
                                    });
                                }
                            }
                        }
                    }
                }
                let mut all_seeds: Vec<u64> = Vec::new();
                for m in &methods {
                    for s in opts.seeds.clone().unwrap_or_else(|| spec.method_seeds(m)) {
                        if !all_seeds.contains(&s) {
                            all_seeds.push(s);
                        }
                    }
                }
                for &seed in &all_seeds {
                    for &si in &split_indices {
                        for m in &methods {
                            let seeds = opts.seeds.clone().unwrap_or_else(|| spec.method_seeds(m));
                            if !seeds.contains(&seed) {
                                continue;
                            }
                            let configs =
                                settings.configs(&d.slot, name, m, &names[si], seed, classes)?;
                            if tuning.is_some() && !m.grid.is_empty() {
                                pending.push(PendingRun {
                                    dataset: di,
                                    split_index: si,
                                    method: m.id.clone(),
                                    candidates: configs,
                                });
                                continue;
                            }
                            for config in configs {
                                runs.push(PlannedRun {
                                    dataset: di,
                                    split_index: si,
                                    transfer_target: None,
                                    config,
                                    role: RunRole::Final,
                                });
                            }
                        }
                    }
                }
            }
        }
        for p in &pending {
            if let Some(c) = p.candidates.first() {
                datasets[p.dataset].size = c.model_config.input_size;
            }
        }
        for r in &runs {
            datasets[r.dataset].size = r.config.model_config.input_size;
            if let Some(t) = r.transfer_target {
                datasets[t].size = r.config.model_config.input_size;
            }
        }
        // One dataset is loaded at one size.
        for (di, d) in datasets.iter().enumerate() {
            let sizes: std::collections::BTreeSet<usize> = runs
                .iter()
                .filter(|r| r.dataset == di)
                .map(|r| r.config.model_config.input_size)
                .chain(
                    pending
                        .iter()
                        .filter(|p| p.dataset == di)
                        .flat_map(|p| p.candidates.iter().map(|c| c.model_config.input_size)),
                )
                .collect();
            if sizes.len() > 1 {
                bail!(
                    "{}: methods ask for different input sizes {sizes:?} on {}; give --size",
                    spec.name,
                    d.manifest.name
                );
            }
        }
        Ok(Self {
            output_name,
            datasets,
            runs,
            pending,
        })
    }

    /// The final runs of tuned methods whose tuning runs have all finished, with the grid
    /// point each selection picked; methods still tuning are listed as waiting. A final run
    /// that is also a tuning run (the selected point on a tuning seed and fold) is not
    /// repeated: it is the same run.
    pub fn resolve(&self, results: &std::path::Path) -> Result<Resolution> {
        use crate::grid_selection::{select_point, validation_score};
        let mut out = Resolution::default();
        // (dataset, method) -> per grid label: validation scores of finished tuning runs.
        let mut groups: std::collections::BTreeMap<
            (usize, String),
            crate::grid_selection::ScoredPoints,
        > = Default::default();
        let mut unfinished: std::collections::BTreeMap<(usize, String), (usize, usize)> =
            Default::default();
        for r in self.runs.iter().filter(|r| r.role == RunRole::Tuning) {
            let key = (r.dataset, r.config.method_id().to_string());
            let label = r.config.grid_point.clone().unwrap_or_default();
            let points = groups.entry(key.clone()).or_default();
            let at = match points.iter().position(|(l, _)| *l == label) {
                Some(i) => i,
                None => {
                    points.push((label, Vec::new()));
                    points.len() - 1
                }
            };
            let counts = unfinished.entry(key).or_default();
            counts.1 += 1;
            let dir = r.config.run_dir(results)?;
            if dir.join(fer_train::DONE_MARKER).is_file() {
                let run = fer_report::read_run(&dir.join(fer_report::METRICS_FILE))?;
                if let Some(score) = validation_score(&run) {
                    points[at].1.push(score);
                }
            } else {
                counts.0 += 1;
            }
        }
        let planned: std::collections::BTreeSet<PathBuf> = self
            .runs
            .iter()
            .map(|r| r.config.run_dir(results))
            .collect::<std::result::Result<_, _>>()?;
        let mut selected: std::collections::BTreeMap<(usize, String), String> = Default::default();
        for (key, points) in &groups {
            let (left, total) = unfinished.get(key).copied().unwrap_or_default();
            if left > 0 {
                out.waiting.push(Waiting {
                    dataset: self.datasets[key.0].manifest.name.clone(),
                    method: key.1.clone(),
                    tuning_finished: total - left,
                    tuning_total: total,
                });
                continue;
            }
            if let Some(i) = select_point(points) {
                selected.insert(key.clone(), points[i].0.clone());
                out.selected.push(Selection {
                    dataset: self.datasets[key.0].manifest.name.clone(),
                    method: key.1.clone(),
                    grid_point: points[i].0.clone(),
                });
            }
        }
        for p in &self.pending {
            let Some(label) = selected.get(&(p.dataset, p.method.clone())) else {
                out.pending_runs += 1;
                continue;
            };
            let Some(config) = p
                .candidates
                .iter()
                .find(|c| c.grid_point.as_deref().unwrap_or_default() == label)
            else {
                bail!(
                    "{}: the selected grid point '{label}' is not among its candidates",
                    p.method
                );
            };
            let role = if planned.contains(&config.run_dir(results)?) {
                RunRole::Tuning
            } else {
                RunRole::Final
            };
            out.runs.push(PlannedRun {
                dataset: p.dataset,
                split_index: p.split_index,
                transfer_target: None,
                config: config.clone(),
                role,
            });
        }
        Ok(out)
    }

    /// The results folder of this plan's runs and report.
    pub fn output_dir(&self, results: &std::path::Path) -> PathBuf {
        results.join(&self.output_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_selections_parse() {
        assert_eq!(
            "2".parse::<FoldSelection>().unwrap(),
            FoldSelection::First(2)
        );
        assert_eq!(
            "0,3,5".parse::<FoldSelection>().unwrap(),
            FoldSelection::Indices(vec![0, 3, 5])
        );
        assert_eq!(
            "2-4".parse::<FoldSelection>().unwrap(),
            FoldSelection::Indices(vec![2, 3, 4])
        );
        assert!("x".parse::<FoldSelection>().is_err());
        assert!("0".parse::<FoldSelection>().is_err());
    }

    #[test]
    fn grids_expand_to_every_combination_or_to_their_first_point() {
        let mut grid = std::collections::BTreeMap::new();
        grid.insert("fld_loss_weight".to_string(), vec![0.5.into(), 1.0.into()]);
        grid.insert(
            "model_config.co_attention.embedding_ratio".to_string(),
            vec![0.5.into(), 0.2.into()],
        );
        let all = grid_points(&grid, true);
        assert_eq!(all.len(), 4);
        assert_eq!(
            all[0].0.as_deref(),
            Some("fld_loss_weight=0.5,model_config.co_attention.embedding_ratio=0.5")
        );
        let first = grid_points(&grid, false);
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].0, None);
        assert_eq!(first[0].1.len(), 2);
    }
}
