//! `RunPlan`: every training run an experiment needs under the user's options (datasets and
//! stand-ins, seeds, folds, epochs, size, grid), resolved before any run starts, so that a
//! missing dataset or a bad setting stops the command at once (paper 4.4: five seeds; k-fold
//! protocols give one run per fold; grids searched and selected on validation).

use anyhow::{bail, Context, Result};
use std::path::PathBuf;

use fer_data::{Manifest, ProtocolSpec};
use fer_train::TrainConfig;

use crate::experiment_spec::{apply_override, dotted_to_mapping, DatasetSlot, ExperimentSpec};

/// Which folds of a k-fold protocol to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoldSelection {
    /// The first n folds.
    First(usize),
    /// These fold indices.
    Indices(Vec<usize>),
}

impl std::str::FromStr for FoldSelection {
    type Err = anyhow::Error;

    /// `3` = the first three folds; `0,4,7` or `2-5` = those folds.
    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim();
        if !s.contains(',') && !s.contains('-') {
            let n: usize = s.parse().with_context(|| format!("--folds '{s}'"))?;
            if n == 0 {
                bail!("--folds 0 selects nothing");
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
    /// Search the methods' grids (otherwise the first value of every grid axis).
    pub grid: bool,
    /// Replaces the root of the (single) dataset.
    pub data_root: Option<PathBuf>,
    /// Results folder name under results/ (default: the experiment's name).
    pub output_name: Option<String>,
}

/// One dataset the plan runs on.
#[derive(Debug, Clone)]
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

/// One training run.
#[derive(Debug, Clone)]
pub struct PlannedRun {
    /// Index into [`RunPlan::datasets`].
    pub dataset: usize,
    /// Index of the split within the protocol's splits.
    pub split_index: usize,
    /// For a transfer experiment (Table 9): the dataset tested on (index into `datasets`).
    pub transfer_target: Option<usize>,
    pub config: TrainConfig,
}

/// Everything one `reproduce` invocation will run.
#[derive(Debug, Clone)]
pub struct RunPlan {
    /// The folder under results/ (the experiment name in every run's config).
    pub output_name: String,
    pub datasets: Vec<PlannedDataset>,
    pub runs: Vec<PlannedRun>,
}

/// Split names of a protocol, in the order `ProtocolSpec::splits` returns them.
fn split_names(protocol: &ProtocolSpec) -> Vec<String> {
    match protocol {
        ProtocolSpec::SubjectKFold { folds } => (0..*folds).map(|i| format!("fold-{i}")).collect(),
        ProtocolSpec::SubjectHoldout { .. } => vec!["holdout".into()],
        ProtocolSpec::Official => vec!["official".into()],
    }
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
        let mut out = Vec::new();
        for (label, overrides) in grid_points(&method.grid, self.opts.grid) {
            let mut cfg = base.clone();
            for o in &overrides {
                cfg = apply_override(&cfg, o)?;
            }
            cfg.grid_point = label;
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

impl RunPlan {
    /// Resolves the plan; checks that every dataset is present before anything runs.
    pub fn new(spec: &ExperimentSpec, opts: &PlanOptions) -> Result<Self> {
        let output_name = opts
            .output_name
            .clone()
            .unwrap_or_else(|| spec.name.clone());
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
                crate::workspace::manifest_path(&manifest_name)
            };
            let manifest = crate::commands::train::load_manifest(&manifest_name)?;
            let root = opts
                .data_root
                .clone()
                .or_else(|| crate::workspace::resolve(manifest.resolved_root()));
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
                for &seed in &seeds {
                    for &si in &split_indices {
                        for m in &methods {
                            let name = &d.manifest.name;
                            let classes = d.manifest.classes.len();
                            for config in
                                settings.configs(&d.slot, name, m, &names[si], seed, classes)?
                            {
                                runs.push(PlannedRun {
                                    dataset: di,
                                    split_index: si,
                                    transfer_target: None,
                                    config,
                                });
                            }
                        }
                    }
                }
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
        })
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
