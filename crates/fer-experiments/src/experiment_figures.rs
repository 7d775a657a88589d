//! The charts of an experiment's report: grouped bars per method and dataset, test confusion
//! matrices summed over runs (Tables 5-8), the α/β values of the Co-ATT units over training
//! steps with the best-validation step marked (Fig. 3), t-SNE of the FER embedding of the test
//! split (Fig. 2) and spatial attention over test faces (Fig. 4). Figures that need a model's
//! outputs load the run's selected checkpoint (`best.safetensors`) and its own config.

use crate::error::{bail, Context, Result};
use crate::experiment_context::ExperimentContext;
use candle_core::{Device, Tensor};
use polars::prelude::DataFrame;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fer_data::{BatchLoader, FaceDataset, LoaderConfig};
use fer_report::{MethodNames, RunResult};
use fer_train::TrainConfig;

use crate::experiment_report::wants;
use crate::experiment_spec::{ExperimentKind, ExperimentSpec, FigureKind};

/// What [`draw`] made: the files written, and a line per figure it could not draw from the
/// records (the report prints these in table.md).
#[derive(Debug, Default)]
pub struct Figures {
    pub written: Vec<PathBuf>,
    pub not_drawn: Vec<String>,
}

/// Draws every figure the experiment asks for.
pub fn draw(
    spec: &ExperimentSpec,
    runs: &[RunResult],
    summary: &DataFrame,
    out_dir: &Path,
    device: &Device,
    manifests: &BTreeMap<String, PathBuf>,
    ctx: &ExperimentContext,
) -> Result<Figures> {
    let names = &ctx.method_names();
    let mut not_drawn = Vec::new();
    let mut written = Vec::new();
    let mut push = |pair: (PathBuf, PathBuf)| {
        written.push(pair.0);
        written.push(pair.1);
    };
    if spec.kind == ExperimentKind::Training || wants(spec, FigureKind::Bars) {
        for metric in ["acc_average", "nrmse"] {
            let any = runs.iter().any(|r| match metric {
                "nrmse" => r.test.nrmse.is_some(),
                _ => r.test.acc_average.is_some(),
            });
            if any {
                push(fer_report::plot_metric_bars(
                    summary,
                    metric,
                    names,
                    &out_dir.join(format!("bars_{metric}")),
                )?);
            }
        }
    }
    let groups = first_seen_groups(runs);
    if wants(spec, FigureKind::ConfusionMatrices) {
        for ((dataset, method), group) in &groups {
            if let Some((cm, classes)) = summed_confusion(group) {
                let title = format!(
                    "{} on {} (test, {} runs summed, row %)",
                    names.get(method),
                    dataset,
                    group.len()
                );
                push(fer_report::plot_confusion_matrix(
                    &cm,
                    &classes,
                    &title,
                    &out_dir.join(format!("confusion_{dataset}_{method}")),
                )?);
            }
        }
    }
    if wants(spec, FigureKind::MixingCurves) {
        for ((dataset, method), group) in &groups {
            let Some((run, curves)) =
                step_curves(group, fer_report::read_mixing_curves, &mut not_drawn)?
            else {
                continue;
            };
            // Fig. 3 plots β; CSN's cross-stitch units have no β and show every parameter.
            let parameters: &[&str] = if curves.series.iter().any(|(n, _)| n.ends_with(".beta1")) {
                &["beta1", "beta2"]
            } else {
                &[]
            };
            push(step_curves_chart(
                run,
                &curves,
                parameters,
                &format!("{} on {dataset}: mixing parameters", names.get(method)),
                &out_dir.join(format!("mixing_curves_{dataset}_{method}")),
            )?);
        }
    }
    if wants(spec, FigureKind::WeightingCurves) {
        for ((dataset, method), group) in &groups {
            let Some((run, curves)) = step_curves(
                group,
                |path| fer_report::read_step_series(path, &["weighting.", "gradients."]),
                &mut not_drawn,
            )?
            else {
                continue;
            };
            // The cosine of the task gradients exists for the gradient methods only.
            let kinds: &[&str] = if curves.series("gradients.cos").is_some() {
                &["fer", "fld", "cos"]
            } else {
                &["fer", "fld"]
            };
            push(step_curves_chart(
                run,
                &curves,
                kinds,
                &format!("{} on {dataset}: task weights", names.get(method)),
                &out_dir.join(format!("weighting_curves_{dataset}_{method}")),
            )?);
        }
    }
    if wants(spec, FigureKind::Tsne) || wants(spec, FigureKind::AttentionMaps) {
        written.extend(model_figures(
            spec, names, &groups, out_dir, device, manifests, ctx,
        )?);
    }
    Ok(Figures { written, not_drawn })
}

type Groups<'a> = Vec<((String, String), Vec<&'a RunResult>)>;

/// Runs grouped by (dataset, method) in first-seen order.
fn first_seen_groups(runs: &[RunResult]) -> Groups<'_> {
    let mut out: Groups<'_> = Vec::new();
    for r in runs {
        let key = (r.dataset.clone(), r.method_id().to_string());
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(r),
            None => out.push((key, vec![r])),
        }
    }
    out
}

/// The per-step curves of a group's figure run (`first_run`), read from its `steps.csv` by
/// `read`; `None` when the group has no run or the file has no such columns. A record without
/// steps.csv adds a line to `not_drawn`. A figure that calls it must say so in
/// [`FigureKind::reads_steps`], so that `xtask records` commits the file it reads.
fn step_curves<'a>(
    group: &[&'a RunResult],
    read: impl Fn(&Path) -> fer_report::Result<fer_report::MixingCurves>,
    not_drawn: &mut Vec<String>,
) -> Result<Option<(&'a RunResult, fer_report::MixingCurves)>> {
    let Some(run) = first_run(group) else {
        return Ok(None);
    };
    let Some(dir) = run.source.parent() else {
        return Ok(None);
    };
    let path = dir.join("steps.csv");
    if !path.is_file() {
        // Records made before the trainer wrote steps.csv (e.g. a shared run of an older
        // experiment) have no curves to draw; said in the report, not fatal. The record is
        // named relative to the results folder, so a fresh clone writes the same line.
        // `<experiment>/<dataset>/<method>/<id>/steps.csv`
        let components: Vec<_> = path.components().collect();
        let record: PathBuf = components[components.len().saturating_sub(5)..]
            .iter()
            .collect();
        not_drawn.push(format!(
            "no step curves for {} on {}: its figure run's record has no results/{}",
            run.method_id(),
            run.dataset,
            record.display()
        ));
        return Ok(None);
    }
    let curves = read(&path)?;
    Ok((!curves.series.is_empty()).then_some((run, curves)))
}

/// One run's curves over its steps, the selected (best-validation) step marked, titled
/// "<what> over steps (seed, fold)".
fn step_curves_chart(
    run: &RunResult,
    curves: &fer_report::MixingCurves,
    kinds: &[&str],
    what: &str,
    stem: &Path,
) -> Result<(PathBuf, PathBuf)> {
    let title = format!(
        "{what} over steps (seed {}, fold {}); green: best validation",
        run.seed,
        run.fold
            .map(|f| f.to_string())
            .unwrap_or_else(|| "-".into())
    );
    let best = curves.last_step_of_epoch(run.best_epoch);
    Ok(fer_report::plot_mixing_curves(
        curves, kinds, best, &title, stem,
    )?)
}

/// The run figures are drawn from: the lowest seed, then the lowest fold.
fn first_run<'a>(group: &[&'a RunResult]) -> Option<&'a RunResult> {
    group
        .iter()
        .min_by_key(|r| (r.seed, r.fold.unwrap_or(0)))
        .copied()
}

/// The test confusion matrices of a group of runs added up (runs with another class list are
/// left out), with the class names.
pub fn summed_confusion(group: &[&RunResult]) -> Option<(Vec<Vec<u64>>, Vec<String>)> {
    let first = group.iter().find(|r| r.confusion_matrix.is_some())?;
    let classes = first.class_names.clone();
    let n = classes.len();
    let mut sum = vec![vec![0u64; n]; n];
    for r in group {
        let Some(cm) = &r.confusion_matrix else {
            continue;
        };
        if r.class_names != classes {
            continue;
        }
        for (i, row) in cm.iter().enumerate() {
            for (j, v) in row.iter().enumerate() {
                // Saturating: counts come from metrics.json files.
                sum[i][j] = sum[i][j].saturating_add(*v);
            }
        }
    }
    Some((sum, classes))
}

/// The test-split outputs of a run's selected checkpoint.
struct TestOutputs {
    embeddings: Vec<Vec<f32>>,
    labels: Vec<usize>,
    /// (face, map, map side) of the first faces, one per class where possible.
    attention: Vec<(usize, Vec<f32>, usize, usize)>,
    data: FaceDataset,
    class_names: Vec<String>,
}

fn test_outputs(
    run: &RunResult,
    device: &Device,
    want_attention: usize,
    manifests: &BTreeMap<String, PathBuf>,
    ctx: &ExperimentContext,
) -> Result<TestOutputs> {
    let dir = run.source.parent().context("run directory")?;
    let cfg_path = dir.join("config.yaml");
    let text = std::fs::read_to_string(&cfg_path)
        .with_context(|| format!("reading {}", cfg_path.display()))?;
    let cfg: TrainConfig =
        serde_yaml::from_str(&text).with_context(|| format!("parsing {}", cfg_path.display()))?;
    let model = fer_train::load_model(
        &ctx.registry,
        &cfg.model,
        &cfg.model_config,
        &dir.join("best.safetensors"),
        device,
    )
    .with_context(|| format!("loading the checkpoint of {}", dir.display()))?;
    // The plan recorded which manifest file the dataset came from (it may be a path).
    let manifest = match manifests.get(&cfg.dataset) {
        Some(path) => fer_data::Manifest::from_file(path)?,
        None => ctx.workspace.load_manifest(&cfg.dataset)?,
    };
    let root = ctx.workspace.resolve(manifest.resolved_root());
    let data = FaceDataset::load(
        &manifest,
        root.as_deref(),
        cfg.model_config.input_size as u32,
        None,
    )?;
    let split = manifest
        .protocol
        .splits(&data.subjects(), &data.split_hints(), cfg.seed)?
        .into_iter()
        .find(|s| s.name == cfg.split)
        .with_context(|| format!("split {} of {}", cfg.split, cfg.dataset))?;
    let loader = BatchLoader::new(&data, split.test.clone(), LoaderConfig::eval(32), device)?;
    let mut out = TestOutputs {
        embeddings: vec![],
        labels: vec![],
        attention: vec![],
        class_names: data.class_names(),
        data: data.clone(),
    };
    let mut classes_shown = std::collections::BTreeSet::new();
    for batch in loader.epoch(0) {
        let batch = batch?;
        let o = model.forward_t(&batch.images, false)?;
        if let Some(e) = &o.fer_embedding {
            let e = e.flatten_from(1)?.to_vec2::<f32>()?;
            out.embeddings.extend(e);
            out.labels
                .extend(batch.indices.iter().map(|&i| data.samples[i].label));
        }
        if let Some(a) = o.attention_maps.last() {
            let (b, h, w) = map_dims(a)?;
            let maps = a.reshape((b, h * w))?.to_vec2::<f32>()?;
            for (k, &i) in batch.indices.iter().enumerate() {
                if out.attention.len() < want_attention
                    && classes_shown.insert(data.samples[i].label)
                {
                    out.attention.push((i, maps[k].clone(), w, h));
                }
            }
        }
    }
    Ok(out)
}

/// (B, H, W) of an attention map given as (B, 1, H, W) or (B, H, W).
fn map_dims(a: &Tensor) -> Result<(usize, usize, usize)> {
    let d = a.dims();
    match d.len() {
        4 => Ok((d[0], d[2], d[3])),
        3 => Ok((d[0], d[1], d[2])),
        _ => bail!("attention map of shape {d:?}"),
    }
}

fn model_figures(
    spec: &ExperimentSpec,
    names: &MethodNames,
    groups: &Groups<'_>,
    out_dir: &Path,
    device: &Device,
    manifests: &BTreeMap<String, PathBuf>,
    ctx: &ExperimentContext,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    // (title, points, labels) per dataset; drawn side by side once every method is embedded.
    type Panel = (String, Vec<[f64; 2]>, Vec<usize>);
    let mut panels: BTreeMap<String, Vec<Panel>> = BTreeMap::new();
    let mut class_names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for ((dataset, method), group) in groups {
        let Some(run) = first_run(group) else {
            continue;
        };
        let want_attention = if wants(spec, FigureKind::AttentionMaps) {
            8
        } else {
            0
        };
        // Checkpoints are never committed: on a fresh clone these figures cannot be redrawn
        // from the records, and the committed images stay as they are.
        let checkpoint = run
            .source
            .parent()
            .map(|d| d.join("best.safetensors"))
            .unwrap_or_default();
        if !checkpoint.is_file() {
            eprintln!(
                "{dataset} {method}: {} is not here (checkpoints are not committed), so its t-SNE and attention figures are left as they are",
                checkpoint.display()
            );
            continue;
        }
        let outputs = test_outputs(run, device, want_attention, manifests, ctx)?;
        class_names.insert(dataset.clone(), outputs.class_names.clone());
        if wants(spec, FigureKind::Tsne) && outputs.embeddings.len() >= 4 {
            let points = fer_report::tsne(
                &outputs.embeddings,
                &fer_report::TsneConfig {
                    seed: run.seed,
                    ..Default::default()
                },
            )?;
            panels.entry(dataset.clone()).or_default().push((
                crate::experiment_report::method_label(spec, names, method),
                points,
                outputs.labels.clone(),
            ));
        }
        if wants(spec, FigureKind::AttentionMaps) && !outputs.attention.is_empty() {
            let faces: Vec<fer_report::AttentionFace> = outputs
                .attention
                .iter()
                .map(|(i, map, mw, mh)| {
                    let s = &outputs.data.samples[*i];
                    fer_report::AttentionFace {
                        image: s
                            .image
                            .pixels
                            .iter()
                            .map(|v| v.round().clamp(0.0, 255.0) as u8)
                            .collect(),
                        width: s.image.width,
                        height: s.image.height,
                        map: map.clone(),
                        map_width: *mw,
                        map_height: *mh,
                        caption: outputs.class_names[s.label].clone(),
                    }
                })
                .collect();
            let (png, svg) = fer_report::plot_attention_maps(
                &faces,
                4,
                &format!(
                    "{} on {}: spatial attention of the last unit over test faces",
                    names.get(method),
                    dataset
                ),
                &out_dir.join(format!("attention_{dataset}_{method}")),
            )?;
            written.push(png);
            written.push(svg);
        }
    }
    for (dataset, p) in panels {
        let p: Vec<fer_report::TsnePanel> = p
            .iter()
            .map(|(title, points, labels)| fer_report::TsnePanel {
                title,
                points,
                labels,
            })
            .collect();
        let (png, svg) = fer_report::plot_tsne_panels(
            &p,
            class_names.get(&dataset).map(Vec::as_slice).unwrap_or(&[]),
            &format!("t-SNE of the FER embedding, {dataset} test split"),
            &out_dir.join(format!("tsne_{dataset}")),
        )?;
        written.push(png);
        written.push(svg);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fer_report::MetricSet;

    /// A shared run of an older experiment has no steps.csv: the figure is skipped, and the
    /// report is told which record, named relative to the results folder so that a fresh
    /// clone writes the same table.md.
    #[test]
    fn a_record_without_steps_is_named_not_fatal() {
        let results = std::env::temp_dir().join(format!("fer-figures-{}", std::process::id()));
        let dir = results.join("table4/ckplus48/cmcnn/c566630519ce");
        std::fs::create_dir_all(&dir).unwrap();
        let run = RunResult {
            experiment: "table4".into(),
            dataset: "ckplus48".into(),
            model: "cmcnn".into(),
            method: None,
            grid_point: None,
            seed: 1,
            split: "fold-0".into(),
            fold: Some(0),
            run_id: "c566630519ce".into(),
            best_epoch: 1,
            epochs_run: 1,
            train_seconds: 1.0,
            test: MetricSet::default(),
            validation: None,
            class_names: vec![],
            confusion_matrix: None,
            provenance: None,
            source: dir.join("metrics.json"),
        };
        let mut not_drawn = Vec::new();
        let curves = step_curves(&[&run], fer_report::read_mixing_curves, &mut not_drawn).unwrap();
        assert!(curves.is_none());
        assert_eq!(
            not_drawn,
            ["no step curves for cmcnn on ckplus48: its figure run's record has no results/table4/ckplus48/cmcnn/c566630519ce/steps.csv"]
        );
        std::fs::remove_dir_all(&results).unwrap();
    }
}
