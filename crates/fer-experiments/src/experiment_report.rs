//! The report of one experiment: which runs it covers (`plan.json`), the hyperparameter point
//! selected on validation (paper 4.4: grid search; never on test), `summary.csv`, `runs.csv`,
//! `grid.csv`, `table.md` with the paper's numbers and our difference beside each cell, and the
//! charts the experiment asks for (bars, confusion matrices as Tables 5-8, β curves as Fig. 3,
//! t-SNE as Fig. 2, attention maps as Fig. 4).

use crate::error::{bail, Context, Result};
use crate::experiment_context::ExperimentContext;
use candle_core::Device;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;

use fer_report::{MethodNames, Metric, PaperNumbers, RunResult};
use fer_train::TrainConfig;

use crate::experiment_spec::{ExperimentSpec, FigureKind};
use crate::run_executor::run_dir_of;
use crate::run_plan::RunPlan;

/// `plan.json`: what the last `reproduce` of an experiment ran, so `report` covers exactly
/// those runs and says under which settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlanRecord {
    pub experiment: String,
    pub output_name: String,
    /// The command that made the plan, as typed.
    pub command: String,
    pub datasets: Vec<PlannedDatasetRecord>,
    pub seeds: Vec<u64>,
    pub max_epochs: Vec<usize>,
    /// Run directories relative to the results folder.
    pub run_dirs: Vec<PathBuf>,
    /// The runs among `run_dirs` that search a grid on the tuning seeds and folds (the
    /// experiment's `tuning`); a grid point is selected on these alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tuning_run_dirs: Vec<PathBuf>,
    /// Final runs of tuned methods not planned yet: their tuning has not finished.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub awaiting_selection: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One dataset of a plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedDatasetRecord {
    /// The paper's dataset (slot key).
    pub key: String,
    /// The manifest that ran, and its file.
    pub manifest: String,
    pub manifest_path: PathBuf,
    pub substituted: bool,
    pub size: usize,
    pub protocol: String,
}

pub const PLAN_FILE: &str = "plan.json";

/// The names of a run directory relative to the results folder, as plan.json lists it:
/// `<experiment>/<dataset>/<method>/<id>`.
fn run_dir_parts(rel: &Path) -> Vec<String> {
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect()
}

/// Run directories grouped by dataset (first-seen order), and within a dataset in the order of
/// the experiment's `methods`, each method's runs in plan order. plan.json lists runs in the
/// order they were planned, which `--methods` changes; tables follow the experiment file.
fn in_method_order(spec: &ExperimentSpec, run_dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut datasets: Vec<String> = Vec::new();
    let mut keyed: Vec<((usize, usize), &PathBuf)> = run_dirs
        .iter()
        .map(|rel| {
            let parts = run_dir_parts(rel);
            let dataset = parts.get(1).cloned().unwrap_or_default();
            let d = match datasets.iter().position(|x| *x == dataset) {
                Some(d) => d,
                None => {
                    datasets.push(dataset);
                    datasets.len() - 1
                }
            };
            let m = parts
                .get(2)
                .and_then(|id| spec.methods.iter().position(|m| m.id == *id))
                .unwrap_or(spec.methods.len());
            ((d, m), rel)
        })
        .collect();
    // Stable: runs of one method keep their plan order (grid, fold, seed).
    keyed.sort_by_key(|(k, _)| *k);
    keyed.into_iter().map(|(_, rel)| rel.clone()).collect()
}

/// The protocol of planned dataset `i` in words, with the splits its runs use: `configs` are
/// the plan's runs and the finals its grid selections add.
fn describe_protocol(plan: &RunPlan, configs: &[(usize, &TrainConfig)], i: usize) -> String {
    let mut splits: Vec<&str> = configs
        .iter()
        .filter(|(d, _)| *d == i)
        .map(|(_, c)| c.split.as_str())
        .collect();
    splits.sort_unstable();
    splits.dedup();
    let base = match &plan.datasets[i].manifest.protocol {
        fer_data::ProtocolSpec::SubjectKFold { folds } => {
            format!("subject-exclusive {folds}-fold cross-validation (paper 4.4)")
        }
        fer_data::ProtocolSpec::SubjectHoldout {
            val_fraction,
            test_fraction,
        } => format!(
            "subject-exclusive hold-out ({:.0} % validation, {:.0} % test)",
            val_fraction * 100.0,
            test_fraction * 100.0
        ),
        fer_data::ProtocolSpec::Official => "the official split".to_string(),
    };
    if splits.is_empty() {
        base
    } else {
        format!("{base}; splits run: {}", splits.join(", "))
    }
}

impl PlanRecord {
    pub fn new(spec: &ExperimentSpec, plan: &RunPlan, results: &Path) -> Result<Self> {
        let mut run_dirs = Vec::new();
        let mut tuning_run_dirs = Vec::new();
        let mut seeds = Vec::new();
        let mut epochs = Vec::new();
        let resolution = plan.resolve(results)?;
        let finals = resolution
            .runs
            .iter()
            .filter(|r| r.role == crate::run_plan::RunRole::Final);
        let mut configs = Vec::new();
        for r in plan.runs.iter().chain(finals) {
            configs.push((r.dataset, &r.config));
            let dir = run_dir_of(results, &r.config)?;
            let rel = dir.strip_prefix(results).unwrap_or(&dir).to_path_buf();
            if r.role == crate::run_plan::RunRole::Tuning {
                tuning_run_dirs.push(rel.clone());
            }
            run_dirs.push(rel);
            if !seeds.contains(&r.config.seed) {
                seeds.push(r.config.seed);
            }
            if !epochs.contains(&r.config.max_epochs) {
                epochs.push(r.config.max_epochs);
            }
        }
        Ok(Self {
            experiment: spec.name.clone(),
            output_name: plan.output_name.clone(),
            // As the user typed it (a Slurm report job's `--followup` is the runner's own).
            command: format!(
                "cargo xtask {}",
                std::env::args()
                    .skip(1)
                    .filter(|a| a != "--followup")
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            datasets: plan
                .datasets
                .iter()
                .enumerate()
                .map(|(i, d)| PlannedDatasetRecord {
                    key: d.slot.key.clone(),
                    manifest: d.manifest.name.clone(),
                    manifest_path: d.manifest_path.clone(),
                    substituted: d.substituted,
                    size: d.size,
                    protocol: describe_protocol(plan, &configs, i),
                })
                .collect(),
            seeds,
            max_epochs: epochs,
            run_dirs,
            tuning_run_dirs,
            awaiting_selection: resolution.pending_runs,
        })
    }

    /// Whether a planned run directory is this experiment's own, not another experiment's
    /// shared run (`same_runs_as`).
    pub fn is_own(&self, rel: &Path) -> bool {
        run_dir_parts(rel).first() == Some(&self.output_name)
    }

    pub fn write(&self, out_dir: &Path) -> Result<()> {
        let json = serde_json::to_string_pretty(self)?;
        fer_train::write_atomic(&out_dir.join(PLAN_FILE), json.as_bytes())?;
        Ok(())
    }

    /// A plan of some methods only (`--methods`) keeps the runs the previous plan.json lists
    /// for the other methods, so the report still covers every method of the experiment.
    pub fn merged_with_previous(mut self, out_dir: &Path) -> Result<Self> {
        if !out_dir.join(PLAN_FILE).is_file() {
            return Ok(self);
        }
        let previous = Self::read(out_dir)?;
        if previous.experiment != self.experiment || previous.output_name != self.output_name {
            return Ok(self);
        }
        let key = |p: &PathBuf| -> Option<(String, String)> {
            let parts = run_dir_parts(p);
            Some((parts.get(1)?.clone(), parts.get(2)?.clone()))
        };
        let planned: std::collections::BTreeSet<(String, String)> =
            self.run_dirs.iter().filter_map(key).collect();
        let kept = |p: &&PathBuf| key(p).is_some_and(|k| !planned.contains(&k));
        let mut run_dirs: Vec<PathBuf> = previous.run_dirs.iter().filter(kept).cloned().collect();
        let mut tuning: Vec<PathBuf> = previous
            .tuning_run_dirs
            .iter()
            .filter(kept)
            .cloned()
            .collect();
        run_dirs.append(&mut self.run_dirs);
        tuning.append(&mut self.tuning_run_dirs);
        self.run_dirs = run_dirs;
        self.tuning_run_dirs = tuning;
        for s in previous.seeds {
            if !self.seeds.contains(&s) {
                self.seeds.push(s);
            }
        }
        for e in previous.max_epochs {
            if !self.max_epochs.contains(&e) {
                self.max_epochs.push(e);
            }
        }
        Ok(self)
    }

    pub fn read(out_dir: &Path) -> Result<Self> {
        let path = out_dir.join(PLAN_FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "{} is missing: run `cargo xtask reproduce` for this experiment first",
                path.display()
            )
        })?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }
}

/// One (dataset, method, grid point) with its mean validation score.
struct GridRow {
    dataset: String,
    method: String,
    point: String,
    runs: usize,
    validation: Option<f64>,
    selected: bool,
}

/// Grid points in grid order, each with its runs.
type PointRuns = Vec<(String, Vec<RunResult>)>;

/// Keeps, per (dataset, method), the runs of the grid point with the best mean validation
/// score (`grid_selection`), judged on the runs `is_tuning` accepts; returns the kept runs and
/// the table of every point (its runs and score as judged).
fn select_grid_points(
    runs: Vec<RunResult>,
    is_tuning: impl Fn(&RunResult) -> bool,
) -> (Vec<RunResult>, Vec<GridRow>) {
    use crate::grid_selection::{mean_score, select_point, validation_score};
    let mut groups: BTreeMap<(String, String), PointRuns> = BTreeMap::new();
    let mut order: Vec<(String, String)> = Vec::new();
    for r in runs {
        let key = (r.dataset.clone(), r.method_id().to_string());
        if !groups.contains_key(&key) {
            order.push(key.clone());
        }
        let points = groups.entry(key).or_default();
        let label = r.grid_point.clone().unwrap_or_default();
        match points.iter_mut().find(|(l, _)| *l == label) {
            Some((_, rs)) => rs.push(r),
            None => points.push((label, vec![r])),
        }
    }
    let mut kept = Vec::new();
    let mut rows = Vec::new();
    for key in order {
        let Some(points) = groups.remove(&key) else {
            continue;
        };
        // Points stay in the order plan.json lists their runs: the plan's grid order, the
        // order the runner's selection breaks ties by.
        let judged: Vec<(String, Vec<f64>)> = points
            .iter()
            .map(|(l, rs)| {
                let scores = rs
                    .iter()
                    .filter(|r| is_tuning(r))
                    .filter_map(validation_score)
                    .collect();
                (l.clone(), scores)
            })
            .collect();
        let best = select_point(&judged);
        for (i, (point, rs)) in points.into_iter().enumerate() {
            let selected = best == Some(i) || (best.is_none() && i == 0);
            // A method without a grid has one unlabelled point: all its runs, no search.
            let (runs, validation) = if point.is_empty() {
                let all: Vec<f64> = rs.iter().filter_map(validation_score).collect();
                (rs.len(), mean_score(&all))
            } else {
                (
                    rs.iter().filter(|r| is_tuning(r)).count(),
                    mean_score(&judged[i].1),
                )
            };
            rows.push(GridRow {
                dataset: key.0.clone(),
                method: key.1.clone(),
                point: point.clone(),
                runs,
                validation,
                selected,
            });
            if selected {
                kept.extend(rs);
            }
        }
    }
    (kept, rows)
}

/// The paper's numbers keyed by the dataset names that actually ran (a stand-in gets its
/// slot's numbers, and the table says it is a stand-in).
fn paper_numbers(spec: &ExperimentSpec, datasets: &[PlannedDatasetRecord]) -> PaperNumbers {
    let mut p = PaperNumbers::new();
    // (paper key, dataset name in our runs): every dataset, and every transfer pair "a->b".
    let mut names: Vec<(String, String)> = datasets
        .iter()
        .map(|d| (d.key.clone(), d.manifest.clone()))
        .collect();
    for pair in &spec.transfer_pairs {
        let find = |key: &str| datasets.iter().find(|d| d.key == key);
        if let (Some(a), Some(b)) = (find(&pair.train), find(&pair.test)) {
            names.push((
                format!("{}->{}", pair.train, pair.test),
                format!("{}->{}", a.manifest, b.manifest),
            ));
        }
    }
    for (key, name) in names {
        let Some(rows) = spec.paper_results.get(&key) else {
            continue;
        };
        for (method, metrics) in rows {
            for (metric_key, value) in metrics {
                if let Ok(metric) = metric_key.parse::<Metric>() {
                    p.insert(&name, method, metric, *value);
                }
            }
        }
    }
    p
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.6}")).unwrap_or_default()
}

fn runs_csv(runs: &[RunResult], results: &Path) -> String {
    let mut out = String::from(
        "dataset,method,model,seed,fold,grid_point,epochs_run,best_epoch,train_seconds,test_acc_total,test_acc_average,test_f1_eq19,test_macro_f1,test_nrmse,val_acc_average,val_nrmse,run_dir\n",
    );
    for r in runs {
        let v = r.validation.clone().unwrap_or_default();
        let dir = r.source.parent().unwrap_or(Path::new(""));
        let _ = writeln!(
            out,
            "{},{},{},{},{},\"{}\",{},{},{:.1},{},{},{},{},{},{},{},{}",
            r.dataset,
            r.method_id(),
            r.model,
            r.seed,
            r.fold.map(|f| f.to_string()).unwrap_or_default(),
            r.grid_point.clone().unwrap_or_default(),
            r.epochs_run,
            r.best_epoch,
            r.train_seconds,
            fmt_opt(r.test.acc_total),
            fmt_opt(r.test.acc_average),
            fmt_opt(r.test.f1_eq19),
            fmt_opt(r.test.macro_f1),
            fmt_opt(r.test.nrmse),
            fmt_opt(v.acc_average),
            fmt_opt(v.nrmse),
            dir.strip_prefix(results).unwrap_or(dir).display()
        );
    }
    out
}

fn grid_csv(rows: &[GridRow]) -> String {
    let mut out = String::from("dataset,method,grid_point,runs,mean_validation_score,selected\n");
    for r in rows {
        let _ = writeln!(
            out,
            "{},{},\"{}\",{},{},{}",
            r.dataset,
            r.method,
            r.point,
            r.runs,
            fmt_opt(r.validation),
            r.selected
        );
    }
    out
}

/// Writes the report of `results/<output_name>/` for the runs its `plan.json` lists.
pub fn write_report(
    spec: &ExperimentSpec,
    results: &Path,
    output_name: &str,
    device: &Device,
    ctx: &ExperimentContext,
) -> Result<Vec<PathBuf>> {
    // Tables and charts name models as their registrations do.
    let names = &ctx.method_names();
    let out_dir = results.join(output_name);
    let record = PlanRecord::read(&out_dir)?;
    let mut runs = Vec::new();
    let mut unfinished = Vec::new();
    for rel in &in_method_order(spec, &record.run_dirs) {
        let dir = results.join(rel);
        if dir.join(fer_report::DONE_FILE).is_file() {
            runs.push(fer_report::read_run(&dir.join(fer_report::METRICS_FILE))?);
        } else {
            unfinished.push(rel.clone());
        }
    }
    if runs.is_empty() {
        bail!(
            "{}: none of the {} planned runs has finished yet",
            out_dir.display(),
            record.run_dirs.len()
        );
    }
    let all_runs = runs.clone();
    // With a tuning protocol the grid is judged on the tuning runs alone; without one, on
    // every run of the point (the old protocol).
    let tuning: std::collections::BTreeSet<PathBuf> =
        record.tuning_run_dirs.iter().cloned().collect();
    let tuned = !tuning.is_empty();
    let is_tuning = |r: &RunResult| {
        !tuned
            || r.source
                .parent()
                .and_then(|d| d.strip_prefix(results).ok())
                .is_some_and(|d| tuning.contains(d))
    };
    let (selected, grid_rows) = select_grid_points(runs, is_tuning);
    let mut written = Vec::new();
    let write = |name: &str, text: &str, written: &mut Vec<PathBuf>| -> Result<()> {
        let path = out_dir.join(name);
        fer_train::write_atomic(&path, text.as_bytes())?;
        written.push(path);
        Ok(())
    };
    write("runs.csv", &runs_csv(&all_runs, results), &mut written)?;
    if grid_rows.iter().any(|g| !g.point.is_empty()) {
        write("grid.csv", &grid_csv(&grid_rows), &mut written)?;
    }
    let mut df = fer_report::summarise(&selected)?;
    let summary = out_dir.join("summary.csv");
    fer_report::write_summary_csv(&mut df, &summary)?;
    written.push(summary);

    let paper = paper_numbers(spec, &record.datasets);
    let mut md = format!("# {}\n\n", spec.title);
    let _ = writeln!(
        md,
        "Paper: Yu & Xu 2021, {}. Produced by `{}`.\n",
        spec.paper_section, record.command
    );
    let _ = writeln!(
        md,
        "Settings: seeds {:?}; at most {:?} epochs per run (paper: 50 with early stopping after 8); {} of {} planned runs finished.",
        record.seeds,
        record.max_epochs,
        all_runs.len(),
        record.run_dirs.len()
    );
    for d in &record.datasets {
        if d.substituted {
            let _ = writeln!(
                md,
                "\n**{} stands in for {}**: the paper's numbers beside its cells are the paper's {} results, measured on other data; compare tendencies, not values.",
                d.manifest, d.key, d.key
            );
        }
        let _ = writeln!(
            md,
            "\n{}: {} px, protocol {}.",
            d.manifest, d.size, d.protocol
        );
    }
    md.push_str(&shared_runs_markdown(spec, names, &record));
    if !unfinished.is_empty() {
        let _ = writeln!(
            md,
            "\n**Partial**: {} runs have not finished; the means below are over the finished ones (`n`).",
            unfinished.len()
        );
    }
    if grid_rows.iter().any(|g| !g.point.is_empty()) {
        match &spec.tuning {
            Some(t) if tuned => {
                let _ = writeln!(
                    md,
                    "\nGrid search (paper 4.4 names no grid): every grid point runs on seeds {:?}, folds {:?} only; the point with the best mean validation score (ACC_average; -NRMSE for FLD-only) over those runs is selected, never on test, and only it runs on every fold and seed. grid.csv lists every point's tuning runs and score.",
                    t.seeds, t.folds
                );
                if record.awaiting_selection > 0 {
                    let _ = writeln!(
                        md,
                        "\n**Tuning unfinished**: {} final runs wait for their method's selection.",
                        record.awaiting_selection
                    );
                }
            }
            _ => {}
        }
        md.push_str("\nGrid points selected on mean validation score (never on test; grid.csv lists all):\n\n");
        // A selection is provisional while some of its method's tuning runs are unfinished.
        let mut tuning_left: BTreeMap<(String, String), usize> = BTreeMap::new();
        for rel in &unfinished {
            if tuning.contains(rel) {
                let parts = run_dir_parts(rel);
                if parts.len() >= 3 {
                    *tuning_left
                        .entry((parts[1].clone(), parts[2].clone()))
                        .or_default() += 1;
                }
            }
        }
        for g in grid_rows
            .iter()
            .filter(|g| g.selected && !g.point.is_empty())
        {
            match tuning_left.get(&(g.dataset.clone(), g.method.clone())) {
                Some(left) => {
                    let _ = writeln!(
                        md,
                        "- {} {}: {} (provisional: {left} of its tuning runs have not finished)",
                        g.dataset, g.method, g.point
                    );
                }
                None => {
                    let _ = writeln!(md, "- {} {}: {}", g.dataset, g.method, g.point);
                }
            }
        }
    }
    md.push('\n');
    md.push_str(&labelled_table(spec, names, &df, &paper)?);
    md.push_str(&paper_confusion_sections(
        spec,
        names,
        &selected,
        &record.datasets,
    )?);
    // Paired comparisons (ours): runs of the selected grid points paired by (seed, fold).
    let specs: Vec<fer_report::ComparisonSpec> = spec
        .all_comparisons()
        .into_iter()
        .filter_map(|(a, b, metric)| {
            Some(fer_report::ComparisonSpec {
                a,
                b,
                metric: metric.parse().ok()?,
            })
        })
        .collect();
    let comparisons = fer_report::compare_runs(&selected, &specs)?;
    if !specs.is_empty() {
        write(
            "comparisons.csv",
            &fer_report::comparisons_csv(&comparisons),
            &mut written,
        )?;
        md.push_str(&comparisons_markdown(spec, names, &comparisons));
    }
    md.push_str(&code_versions_markdown(&all_runs));
    if let Some(notes) = &spec.notes {
        let _ = writeln!(md, "\nNotes from the experiment file: {}", notes.trim());
    }
    // Figures come before table.md, which says which of them the records could not draw.
    let manifests: BTreeMap<String, PathBuf> = record
        .datasets
        .iter()
        .map(|d| (d.manifest.clone(), d.manifest_path.clone()))
        .collect();
    let figures =
        crate::experiment_figures::draw(spec, &selected, &df, &out_dir, device, &manifests, ctx)?;
    written.extend(figures.written);
    if !figures.not_drawn.is_empty() {
        md.push_str("\nFigures not drawn:\n\n");
        for line in &figures.not_drawn {
            let _ = writeln!(md, "- {line}");
        }
    }
    write("table.md", &md, &mut written)?;
    let paper_difference = |dataset: &str, a: &str, b: &str, metric: Metric| {
        Some(paper.get(dataset, a, metric)? - paper.get(dataset, b, metric)?)
    };
    let partial = (!unfinished.is_empty() || record.awaiting_selection > 0).then(|| {
        format!(
            "{} planned runs have not finished and {} final runs wait for a grid selection; the statistics below cover the finished pairs only.",
            unfinished.len(),
            record.awaiting_selection
        )
    });
    if let Some(reading) = crate::experiment_reading::reading_markdown(
        spec,
        names,
        &comparisons,
        &paper_difference,
        partial,
    ) {
        write("reading.md", &reading, &mut written)?;
    }
    for metric in Metric::ALL {
        if comparisons.iter().any(|c| c.metric == metric) {
            let stem = out_dir.join(format!("paired_differences_{}", metric.key()));
            let (png, svg) =
                fer_report::plot_paired_differences(&comparisons, metric, names, &stem)?;
            written.push(png);
            written.push(svg);
        }
    }
    Ok(written)
}

/// The paired comparisons as a Markdown table (comparisons.csv has every column).
fn comparisons_markdown(
    spec: &ExperimentSpec,
    names: &MethodNames,
    rows: &[fer_report::RunComparison],
) -> String {
    let mut md = String::from(
        "\n### Paired comparisons (ours; the paper reports means only)\n\nA − B on the test split, runs paired by (seed, fold); differences in percentage points (NRMSE ×100: lower is better). CI: Student t, 95 %. p: two-sided, uncorrected.\n\n| dataset | A − B | metric | pairs | mean diff (pp) | 95 % CI | paired t p | Wilcoxon p | wins/ties/losses |\n|---|---|---|--:|--:|--:|--:|--:|--:|\n",
    );
    if rows.is_empty() {
        md.push_str("| - | no finished pairs yet | | | | | | | |\n");
    }
    let p = crate::experiment_reading::format_p;
    for r in rows {
        let Some(s) = &r.stats else { continue };
        let _ = writeln!(
            md,
            "| {} | {} − {} | {} | {} | {:+.2} | {} | {} | {} ({}) | {}/{}/{} |",
            r.dataset,
            method_label(spec, names, &r.a),
            method_label(spec, names, &r.b),
            r.metric.header(),
            s.n,
            s.mean_difference * 100.0,
            crate::experiment_reading::format_ci(s.ci95_low, s.ci95_high),
            p(s.t_p_value),
            p(s.wilcoxon_p_value),
            s.wilcoxon_method,
            s.wins,
            s.ties,
            s.losses
        );
    }
    md
}

/// The code versions, devices and thread counts of the runs, when they are not all one.
/// A paragraph naming the runs of the plan that are another experiment's (`same_runs_as`),
/// per method; empty when every run is the experiment's own.
fn shared_runs_markdown(spec: &ExperimentSpec, names: &MethodNames, record: &PlanRecord) -> String {
    let mut shared: BTreeMap<(String, String), usize> = BTreeMap::new();
    for rel in &record.run_dirs {
        if let [experiment, _, method, _] = run_dir_parts(rel).as_slice() {
            if !record.is_own(rel) {
                *shared
                    .entry((method.clone(), experiment.clone()))
                    .or_default() += 1;
            }
        }
    }
    let mut md = String::new();
    for ((method, experiment), n) in shared {
        let _ = writeln!(
            md,
            "\n**Shared runs**: {n} runs of {} are those of results/{experiment}/, whose configs are the same apart from the experiment's name (`same_runs_as`); they were trained once, for both.",
            method_label(spec, names, &method)
        );
    }
    md
}

fn code_versions_markdown(runs: &[RunResult]) -> String {
    let mut versions: BTreeMap<String, usize> = BTreeMap::new();
    for r in runs {
        let key = match &r.provenance {
            // Records from before the processor was kept print as they always did.
            Some(p) => format!(
                "{} on {}{}, threads: {}",
                p.short(),
                p.device,
                p.cpu
                    .as_deref()
                    .map(|cpu| format!(" ({cpu})"))
                    .unwrap_or_default(),
                p.threads
            ),
            None => "not recorded (runs from before provenance was kept)".to_string(),
        };
        *versions.entry(key).or_default() += 1;
    }
    match versions.len() {
        0 => String::new(),
        1 => {
            let (v, n) = versions
                .iter()
                .next()
                .map(|(v, n)| (v.clone(), *n))
                .unwrap_or_default();
            format!("\nCode version of all {n} runs: {v}.\n")
        }
        _ => {
            let mut md = String::from(
                "\n**The runs come from different code versions, devices or thread counts** (seeded CPU runs repeat bit for bit only on the same ones):\n\n",
            );
            for (v, n) in versions {
                let _ = writeln!(md, "- {v}: {n} runs");
            }
            md
        }
    }
}

/// A confusion matrix the paper prints (Tables 5-8).
#[derive(Debug, Clone, Deserialize)]
struct PaperConfusion {
    classes: Vec<String>,
    percent: Vec<Vec<f64>>,
}

/// Tables 5-8: our row-normalised test confusion matrix (summed over the selected runs) in the
/// paper's class order, each cell "ours (paper)".
fn paper_confusion_sections(
    spec: &ExperimentSpec,
    names: &MethodNames,
    runs: &[RunResult],
    datasets: &[PlannedDatasetRecord],
) -> Result<String> {
    let Some(value) = &spec.paper_confusion else {
        return Ok(String::new());
    };
    let tables: BTreeMap<String, BTreeMap<String, PaperConfusion>> =
        serde_yaml::from_value(value.clone()).context("paper_confusion")?;
    let mut md = String::new();
    for d in datasets {
        let Some(methods) = tables.get(&d.key) else {
            continue;
        };
        for (method, paper) in methods {
            let group: Vec<&RunResult> = runs
                .iter()
                .filter(|r| r.dataset == d.manifest && r.method_id() == method)
                .collect();
            let Some((sum, ours)) = crate::experiment_figures::summed_confusion(&group) else {
                continue;
            };
            let index = |c: &str| ours.iter().position(|o| o == c);
            let _ = writeln!(
                md,
                "\n### Confusion matrix of {} on {} (row %, true class by row): ours (paper)\n",
                method_label(spec, names, method),
                d.manifest
            );
            md.push_str("| true \\ predicted |");
            for c in &paper.classes {
                let _ = write!(md, " {c} |");
            }
            md.push_str("\n|:--|");
            for _ in &paper.classes {
                md.push_str("--:|");
            }
            md.push('\n');
            for (pi, c) in paper.classes.iter().enumerate() {
                let _ = write!(md, "| {c} |");
                let row_total: u64 = index(c)
                    .map(|i| sum[i].iter().fold(0u64, |a, b| a.saturating_add(*b)))
                    .unwrap_or(0);
                for (pj, c2) in paper.classes.iter().enumerate() {
                    let theirs = paper.percent.get(pi).and_then(|r| r.get(pj)).copied();
                    let mine = match (index(c), index(c2)) {
                        (Some(i), Some(j)) if row_total > 0 => {
                            format!("{:.1}", 100.0 * sum[i][j] as f64 / row_total as f64)
                        }
                        _ => "-".into(),
                    };
                    let theirs = theirs
                        .map(|t| format!("{t:.1}"))
                        .unwrap_or_else(|| "-".into());
                    let _ = write!(md, " {mine} ({theirs}) |");
                }
                md.push('\n');
            }
        }
    }
    Ok(md)
}

/// The name a table row prints: the experiment's label, or the paper's name of the model.
pub fn method_label(spec: &ExperimentSpec, names: &MethodNames, id: &str) -> String {
    spec.method(id)
        .and_then(|m| m.label.clone())
        .unwrap_or_else(|| names.get(id).to_string())
}

/// The Markdown table with the experiment's row labels (the frame keeps method ids).
fn labelled_table(
    spec: &ExperimentSpec,
    names: &MethodNames,
    df: &DataFrame,
    paper: &PaperNumbers,
) -> Result<String> {
    let ids: Vec<String> = df
        .column("model")?
        .str()?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect();
    let datasets: Vec<String> = df
        .column("dataset")?
        .str()?
        .iter()
        .map(|v| v.unwrap_or_default().to_string())
        .collect();
    let labels: Vec<String> = ids.iter().map(|id| method_label(spec, names, id)).collect();
    let mut relabelled = df.clone();
    relabelled.with_column(polars::prelude::Column::new("model".into(), labels.clone()))?;
    let mut by_label = PaperNumbers::new();
    for ((id, label), dataset) in ids.iter().zip(&labels).zip(&datasets) {
        for metric in Metric::ALL {
            if let Some(v) = paper.get(dataset, id, metric) {
                by_label.insert(dataset, label, metric, v);
            }
        }
    }
    // The rows already carry their labels.
    Ok(fer_report::summary_table_markdown(
        &relabelled,
        Some(&by_label),
        &MethodNames::default(),
    ))
}

/// Whether the experiment asks for a figure.
pub fn wants(spec: &ExperimentSpec, f: FigureKind) -> bool {
    spec.figures.contains(&f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use fer_report::{MetricSet, RunProvenance};

    fn run(point: &str, fold: u32, val: f64, test: f64) -> RunResult {
        RunResult {
            experiment: "e".into(),
            dataset: "d".into(),
            model: "hps".into(),
            method: None,
            grid_point: Some(point.into()),
            seed: 1,
            split: String::new(),
            fold: Some(fold),
            run_id: format!("{point}-{fold}"),
            best_epoch: 1,
            epochs_run: 1,
            train_seconds: 1.0,
            test: MetricSet {
                acc_average: Some(test),
                ..MetricSet::default()
            },
            validation: Some(MetricSet {
                acc_average: Some(val),
                ..MetricSet::default()
            }),
            class_names: vec![],
            confusion_matrix: None,
            provenance: None,
            source: PathBuf::from(format!("e/d/hps/{point}-{fold}/metrics.json")),
        }
    }

    /// `ablation beta --methods cmcnn-beta-0.5-0.5,...` once put (0.5, 0.5) first in Table 11;
    /// rows follow the experiment file's methods whatever order the plan listed them in.
    #[test]
    fn tables_follow_the_experiment_files_method_order() {
        let ws = crate::workspace::repository_workspace();
        let spec = ExperimentSpec::load(&ws, "ablation-beta").unwrap();
        let order: Vec<&str> = spec.methods.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(order[0], "cmcnn-beta-1.0-0.0");
        assert_eq!(order[4], "cmcnn-beta-0.5-0.5");
        let dirs: Vec<PathBuf> = [
            "ablation-beta/ckplus48/cmcnn-beta-0.5-0.5/a",
            "ablation-beta/ckplus48/not-a-method/x",
            "ablation-beta/ckplus48/cmcnn-beta-1.0-0.0/c",
            "ablation-beta/other/cmcnn-beta-1.0-0.0/d",
            "ablation-beta/ckplus48/cmcnn-beta-0.5-0.5/b",
            "table4/ckplus48/cmcnn/e",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        let names: Vec<String> = in_method_order(&spec, &dirs)
            .iter()
            .map(|d| run_dir_parts(d)[3].clone())
            .collect();
        // ckplus48 first (first seen): 1.0-0.0, then 0.5-0.5 in plan order, the shared cmcnn,
        // then a method the file does not list; then the other dataset.
        assert_eq!(names, ["c", "a", "b", "e", "x", "d"]);
    }

    #[test]
    fn selection_never_looks_at_test_nor_outside_the_tuning_runs() {
        // λ=0.2 is far better on test, λ=0.5 better on validation: 0.5 is selected.
        let runs = vec![
            run("l=0.2", 0, 0.70, 0.99),
            run("l=0.5", 0, 0.80, 0.50),
            // A final run of λ=0.2 outside the tuning folds with a high validation score
            // must not count.
            run("l=0.2", 5, 0.99, 0.99),
        ];
        let tuning_fold = |r: &RunResult| r.fold == Some(0);
        let (kept, rows) = select_grid_points(runs.clone(), tuning_fold);
        assert!(kept
            .iter()
            .all(|r| r.grid_point.as_deref() == Some("l=0.5")));
        let selected: Vec<&GridRow> = rows.iter().filter(|g| g.selected).collect();
        assert_eq!(selected.len(), 1);
        assert_eq!(selected[0].point, "l=0.5");
        assert_eq!(selected[0].runs, 1);
        // Without a tuning protocol every run of a point counts: λ=0.2's mean is then higher.
        let (kept, _) = select_grid_points(runs, |_| true);
        assert!(kept
            .iter()
            .all(|r| r.grid_point.as_deref() == Some("l=0.2")));
        assert_eq!(kept.len(), 2);
    }

    /// Records of one commit, device and thread count, but trained on processors of two
    /// instruction-set levels, are flagged as different; records from before the processor
    /// was kept print as they always did, so committed reports do not change.
    #[test]
    fn the_processor_level_separates_code_versions() {
        let provenance = |cpu: Option<&str>| RunProvenance {
            commit: "0123456789abcdef".into(),
            dirty: false,
            device: "cpu".into(),
            threads: 1,
            cpu: cpu.map(String::from),
        };
        let mut old = run("l=0.2", 0, 0.7, 0.7);
        old.provenance = Some(provenance(None));
        let same = code_versions_markdown(&[old.clone(), old.clone()]);
        assert_eq!(
            same,
            "\nCode version of all 2 runs: 0123456789ab on cpu, threads: 1.\n"
        );
        let mut v3 = old.clone();
        v3.provenance = Some(provenance(Some("AMD EPYC, x86-64-v3")));
        let mut v4 = old.clone();
        v4.provenance = Some(provenance(Some("AMD EPYC, x86-64-v4")));
        let mixed = code_versions_markdown(&[v3, v4]);
        assert!(mixed.contains("different code versions"), "{mixed}");
        assert!(
            mixed.contains("- 0123456789ab on cpu (AMD EPYC, x86-64-v3), threads: 1: 1 runs"),
            "{mixed}"
        );
        assert!(mixed.contains("(AMD EPYC, x86-64-v4)"), "{mixed}");
    }
}

#[cfg(test)]
mod plan_record_tests {
    use super::*;

    fn record(run_dirs: &[&str]) -> PlanRecord {
        PlanRecord {
            experiment: "t4".into(),
            output_name: "t4".into(),
            command: "cargo xtask reproduce t4".into(),
            datasets: vec![],
            seeds: vec![1],
            max_epochs: vec![50],
            run_dirs: run_dirs.iter().map(PathBuf::from).collect(),
            tuning_run_dirs: vec![],
            awaiting_selection: 0,
        }
    }

    /// `reproduce --methods hps` once narrowed plan.json to HPS, and the report dropped every
    /// other method; the other methods' runs are now kept.
    #[test]
    fn a_plan_of_some_methods_keeps_the_other_methods_runs() {
        let dir = std::env::temp_dir().join(format!("fer-plan-merge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        record(&["t4/ck/hps/a", "t4/ck/csn/b", "t4/ck/cmcnn/c"])
            .write(&dir)
            .unwrap();
        let merged = record(&["t4/ck/hps/a", "t4/ck/hps/d"])
            .merged_with_previous(&dir)
            .unwrap();
        let dirs: Vec<String> = merged
            .run_dirs
            .iter()
            .map(|p| p.display().to_string())
            .collect();
        assert_eq!(
            dirs,
            vec!["t4/ck/csn/b", "t4/ck/cmcnn/c", "t4/ck/hps/a", "t4/ck/hps/d"]
        );
        // Another experiment's plan is not mixed in.
        let mut other = record(&["x/ck/hps/a"]);
        other.output_name = "x".into();
        assert_eq!(
            other.clone().merged_with_previous(&dir).unwrap().run_dirs,
            other.run_dirs
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
