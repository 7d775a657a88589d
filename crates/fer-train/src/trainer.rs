//! The training loop of paper 4.4: Adam with L2 weight decay, step learning-rate schedule,
//! early stopping on the validation split, the best checkpoint chosen by validation
//! ACC_average (FER) or NRMSE (FLD-only), and one test evaluation of that checkpoint. The test
//! split never influences training or selection (the reference code selects on test; we do not).

use candle_core::{DType, Device, Tensor};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use fer_data::{BatchLoader, FaceDataset, LoaderConfig, Split};
use fer_models::{seeded_var_builder, ModelRegistry, MultiTaskModel};

use crate::adam::Adam;
use crate::error::{Result, TrainError};
use crate::evaluation::{evaluate, Evaluation};
use crate::losses::{cross_entropy, wing_loss};
use crate::predictions_csv::predictions_csv;
use crate::run_dir::{run_id, RunDir};
use crate::run_provenance::{provenance_of_this_process, CodeVersion};
use crate::run_record::check_finished_record;
use crate::train_config::TrainConfig;
use crate::training_progress::{rows_up_to_epoch, TrainingProgress};

/// The contents of `metrics.json`: the run record both the trainer and the report use.
pub use fer_runs::RunRecord as RunMetrics;

/// What a call to [`train_run`] returns.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    pub run_dir: PathBuf,
    pub metrics: RunMetrics,
    /// True when the run had finished before and was not redone.
    pub skipped: bool,
}

/// How the trainer reports progress and when it stops early.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TrainOptions {
    pub show_progress: bool,
    /// Stop (with `TrainError::Interrupted`) once this many epochs are committed, as an
    /// interruption would; running again resumes. For tests and time-boxed sessions.
    pub stop_after_epochs: Option<usize>,
    /// A time budget: between epochs, stop (with `TrainError::Interrupted`) rather than
    /// start an epoch that would end after this instant (judged by the last epoch's length).
    pub deadline: Option<Instant>,
    /// The code version recorded in `metrics.json` (the binary's build knows it).
    pub code_version: Option<CodeVersion>,
}

/// One row of `history.csv`.
struct EpochRow {
    epoch: usize,
    lr: f64,
    train_loss_fer: f64,
    train_loss_fld: f64,
    val: Evaluation,
    seconds: f64,
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.6}")).unwrap_or_default()
}

const HISTORY_HEADER: &str = "epoch,lr,train_loss_fer,train_loss_fld,val_loss_fer,val_loss_fld,val_acc_total,val_acc_average,val_f1_eq19,val_macro_f1,val_nrmse,seconds\n";

/// One line of `history.csv` (after [`HISTORY_HEADER`]).
fn history_row(r: &EpochRow) -> String {
    let m = r.val.metric_set();
    format!(
        "{},{},{:.6},{:.6},{},{},{},{},{},{},{},{:.2}\n",
        r.epoch,
        r.lr,
        r.train_loss_fer,
        r.train_loss_fld,
        fmt_opt(r.val.loss_fer),
        fmt_opt(r.val.loss_fld),
        fmt_opt(m.acc_total),
        fmt_opt(m.acc_average),
        fmt_opt(m.f1_eq19),
        fmt_opt(m.macro_f1),
        fmt_opt(m.nrmse),
        r.seconds
    )
}

/// Trains one model on one split and evaluates it; skips a run whose directory is complete.
pub fn train_run(
    cfg: &TrainConfig,
    data: &FaceDataset,
    split: &Split,
    registry: &ModelRegistry,
    device: &Device,
    results_root: &Path,
    opts: TrainOptions,
) -> Result<RunOutcome> {
    cfg.validate()?;
    if cfg.model_config.input_size != data.size {
        return Err(TrainError::Config(format!(
            "model input size {} but dataset '{}' is loaded at {} px",
            cfg.model_config.input_size, data.name, data.size
        )));
    }
    if cfg.model_config.num_classes != data.classes.len() {
        return Err(TrainError::Config(format!(
            "model has {} classes but dataset '{}' has {}",
            cfg.model_config.num_classes,
            data.name,
            data.classes.len()
        )));
    }
    registry.get(&cfg.model)?; // unknown names fail before anything is written
                               // So does a pretrained-weights file that is not there.
    let pretrained_path = match &cfg.pretrained {
        Some(p) => {
            let path = p.resolve()?;
            if !path.is_file() {
                return Err(TrainError::Config(format!(
                    "pretrained weights {} do not exist",
                    path.display()
                )));
            }
            Some(path)
        }
        None => None,
    };
    let yaml = cfg.to_yaml()?;
    let id = run_id(&yaml);
    let run_path = cfg.run_dir(results_root)?;
    if run_path.join(crate::run_dir::DONE_MARKER).is_file() {
        // A finished record (perhaps committed by another machine) is used only when it is
        // whole and belongs to this config; otherwise it is named and trained again.
        match check_finished_record(&run_path, cfg, &yaml) {
            Ok(metrics) => {
                return Ok(RunOutcome {
                    run_dir: run_path,
                    metrics,
                    skipped: true,
                })
            }
            Err(problem) => {
                eprintln!("{}: {problem}; training it again", run_path.display());
                crate::run_record::clear_run_dir(&run_path)?;
            }
        }
    }

    // Everything that can reject the run (weights of the wrong shape, a dataset without the
    // landmarks the model learns) is checked before its directory exists, so a doomed run
    // leaves nothing behind. Building first does not change the numbers: it is seeded alone.
    let (mut varmap, vb) = seeded_var_builder(cfg.seed, DType::F32, device);
    let model = registry.build(&cfg.model, &cfg.model_config, vb)?;
    if let (Some(p), Some(path)) = (&cfg.pretrained, &pretrained_path) {
        for prefix in &p.prefixes {
            let options = fer_models::LoadOptions::with_prefix(prefix.clone());
            fer_models::load_safetensors_into(&varmap, path, &options)?;
        }
    }
    let tasks = model.tasks();
    if tasks.has_fld() && data.count_with_landmarks(&split.train) == 0 {
        let where_ = if data.has_landmarks() {
            "in its training split"
        } else {
            "at all"
        };
        return Err(TrainError::Config(format!(
            "model '{}' learns landmarks but dataset '{}' has none {where_}: train a FER-only model on it (base-dcnn-fer, resnet18, se-net, ...) or give it landmarks",
            cfg.model, data.name
        )));
    }
    let dir = RunDir::create(
        results_root,
        &cfg.experiment,
        &cfg.dataset,
        cfg.method_id(),
        &id,
    )?;
    dir.write("config.yaml", yaml.as_bytes())?;
    let mut train_cfg = LoaderConfig::train(cfg.batch_size, cfg.seed);
    train_cfg.augment = cfg.augment;
    let train = BatchLoader::new(data, split.train.clone(), train_cfg, device)?;
    let val = BatchLoader::new(
        data,
        split.val.clone(),
        LoaderConfig::eval(cfg.batch_size),
        device,
    )?;
    let test = BatchLoader::new(
        data,
        split.test.clone(),
        LoaderConfig::eval(cfg.batch_size),
        device,
    )?;
    if train.num_batches() == 0 || val.len_samples() == 0 || test.len_samples() == 0 {
        return Err(TrainError::Config(format!(
            "split '{}' has {} training, {} validation and {} test samples: too few for batch size {}",
            split.name,
            train.len_samples(),
            val.len_samples(),
            test.len_samples(),
            cfg.batch_size
        )));
    }
    let named_vars: Vec<(String, candle_core::Var)> = {
        let data = varmap
            .data()
            .lock()
            .map_err(|_| TrainError::Config("variable map lock poisoned".into()))?;
        let mut v: Vec<_> = data.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    };
    let mut opt = Adam::with_names(named_vars, cfg.optimizer);

    let bar = ProgressBar::new((cfg.max_epochs * train.num_batches()) as u64);
    if !opts.show_progress {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix:>22} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} steps {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_prefix(cfg.model.clone());

    let mut history = String::from(HISTORY_HEADER);
    // Mixing parameters (α, β of Co-ATT units, cross-stitch weights) are columns of
    // steps.csv after every update: the β curves of paper Fig. 3 are drawn from them.
    let mixing_names: Vec<String> = model
        .mixing_parameters()?
        .into_iter()
        .map(|p| p.name)
        .collect();
    let mut steps = String::from("step,epoch,lr,loss_total,loss_fer,loss_fld");
    for name in &mixing_names {
        steps.push(',');
        steps.push_str(name);
    }
    steps.push('\n');
    // An unfinished run continues after its last committed epoch (training_progress).
    let mut progress = TrainingProgress::start();
    crate::run_record::remove_temporary_files(dir.path())?;
    let resumable = TrainingProgress::read(&dir)?.filter(|p| {
        let whole = dir.file(&last_checkpoint(p.epochs_done)).is_file()
            && dir.file(&optimizer_state(p.epochs_done)).is_file();
        if !whole {
            eprintln!(
                "{}: progress.json says {} epochs but their resume files are missing; starting the run over",
                dir.path().display(),
                p.epochs_done
            );
        }
        whole
    });
    if let Some(p) = resumable {
        varmap.load(dir.file(&last_checkpoint(p.epochs_done)))?;
        opt.load_state(&dir.file(&optimizer_state(p.epochs_done)), p.global_step)?;
        let read = |name: &str| {
            let path = dir.file(name);
            std::fs::read_to_string(&path).map_err(|e| TrainError::io(&path, e))
        };
        history = rows_up_to_epoch(&read("history.csv")?, 0, p.epochs_done);
        steps = rows_up_to_epoch(&read("steps.csv")?, 1, p.epochs_done);
        if p.best_epoch == p.epochs_done {
            // The commit point precedes the copy to best.safetensors.
            save_checkpoint(&varmap, &dir, BEST_CHECKPOINT)?;
        }
        bar.set_position((p.epochs_done * train.num_batches()) as u64);
        progress = p;
    }
    let mut global_step = progress.global_step;
    let mut last_epoch_seconds: Option<f64> = None;
    while progress.epochs_done < cfg.max_epochs && progress.since_best < cfg.patience {
        let epoch = progress.epochs_done;
        // The time budget: an epoch that would end after the deadline is not started (the
        // first epoch of a session always runs, so a budget never stalls a campaign).
        if let (Some(deadline), Some(secs)) = (opts.deadline, last_epoch_seconds) {
            if Instant::now() + std::time::Duration::from_secs_f64(secs) > deadline {
                bar.finish_and_clear();
                return Err(TrainError::Interrupted {
                    run_dir: dir.path().to_path_buf(),
                    epochs_done: progress.epochs_done,
                });
            }
        }
        let t0 = Instant::now();
        let lr = cfg.learning_rate_at(epoch);
        opt.set_learning_rate(lr);
        let (mut sum_fer, mut sum_fld, mut n) = (0.0, 0.0, 0usize);
        for batch in train.epoch(epoch as u64) {
            let batch = batch?;
            let out = model.forward_t(&batch.images, true)?;
            let mut total: Option<Tensor> = None;
            let mut l_fer = 0.0;
            let mut l_fld = 0.0;
            if let Some(logits) = &out.expression_logits {
                let l = cross_entropy(logits, &batch.labels)?;
                l_fer = l.to_scalar::<f32>()? as f64;
                total = Some(l);
            }
            if let Some(lm) = &out.landmarks {
                let l = wing_loss(lm, &batch.landmarks, Some(&batch.landmark_mask), &cfg.wing)?;
                l_fld = l.to_scalar::<f32>()? as f64;
                let weight = if tasks.has_fer() {
                    cfg.fld_loss_weight
                } else {
                    1.0
                };
                let l = (l * weight)?;
                total = Some(match total {
                    Some(t) => (t + l)?,
                    None => l,
                });
            }
            let total = total.ok_or_else(|| {
                TrainError::Config(format!("model '{}' produced no task output", cfg.model))
            })?;
            let total_value = total.to_scalar::<f32>()? as f64;
            if !total_value.is_finite() {
                return Err(TrainError::Config(format!(
                    "loss became {total_value} at epoch {} step {global_step}: lower the learning rate",
                    epoch + 1
                )));
            }
            opt.step(&total.backward()?)?;
            global_step += 1;
            sum_fer += l_fer;
            sum_fld += l_fld;
            n += 1;
            let _ = write!(
                steps,
                "{global_step},{},{lr},{total_value:.6},{l_fer:.6},{l_fld:.6}",
                epoch + 1
            );
            for p in model.mixing_parameters()? {
                let _ = write!(steps, ",{:.6}", p.value);
            }
            steps.push('\n');
            bar.inc(1);
            bar.set_message(format!("epoch {} loss {total_value:.4}", epoch + 1));
        }
        let val_eval = evaluate(model.as_ref(), &val, data, &cfg.wing)?;
        let score = val_eval
            .metric_set()
            .selection_score()
            .unwrap_or(f64::NEG_INFINITY);
        history.push_str(&history_row(&EpochRow {
            epoch: epoch + 1,
            lr,
            train_loss_fer: sum_fer / n.max(1) as f64,
            train_loss_fld: sum_fld / n.max(1) as f64,
            val: val_eval,
            seconds: t0.elapsed().as_secs_f64(),
        }));
        let improved = score > progress.best_score.unwrap_or(f64::NEG_INFINITY);
        progress.epochs_done = epoch + 1;
        progress.global_step = global_step;
        if improved {
            progress.best_score = score.is_finite().then_some(score);
            progress.best_epoch = epoch + 1;
            progress.since_best = 0;
        } else {
            progress.since_best += 1;
        }
        progress.elapsed_seconds += t0.elapsed().as_secs_f64();
        last_epoch_seconds = Some(t0.elapsed().as_secs_f64());
        // Commit order: see training_progress. The resume files carry their epoch in their
        // names, so a kill before progress.json is written leaves the previous epoch's files,
        // which the previous progress.json names, intact.
        dir.write("history.csv", history.as_bytes())?;
        dir.write("steps.csv", steps.as_bytes())?;
        save_checkpoint(&varmap, &dir, &last_checkpoint(progress.epochs_done))?;
        opt.save_state(&dir.file(&optimizer_state(progress.epochs_done)))?;
        progress.write(&dir)?;
        for stale in [last_checkpoint(epoch), optimizer_state(epoch)] {
            let _ = std::fs::remove_file(dir.file(&stale));
        }
        if improved {
            save_checkpoint(&varmap, &dir, BEST_CHECKPOINT)?;
        }
        if opts.stop_after_epochs == Some(progress.epochs_done) {
            bar.finish_and_clear();
            return Err(TrainError::Interrupted {
                run_dir: dir.path().to_path_buf(),
                epochs_done: progress.epochs_done,
            });
        }
    }
    let (best_epoch, epochs_run) = (progress.best_epoch, progress.epochs_done);
    bar.finish_and_clear();

    // The selected checkpoint, evaluated once on validation (for the record) and test.
    varmap.load(dir.file(BEST_CHECKPOINT))?;
    let val_eval = evaluate(model.as_ref(), &val, data, &cfg.wing)?;
    let test_eval = evaluate(model.as_ref(), &test, data, &cfg.wing)?;
    let metrics = RunMetrics {
        experiment: cfg.experiment.clone(),
        dataset: cfg.dataset.clone(),
        model: cfg.model.clone(),
        method: Some(cfg.method_id().to_string()),
        grid_point: cfg.grid_point.clone(),
        seed: cfg.seed,
        split: split.name.clone(),
        // The fold of a k-fold split; 0 for other splits (as records have always said).
        fold: Some(
            split
                .name
                .strip_prefix("fold-")
                .and_then(|f| f.parse().ok())
                .unwrap_or(0),
        ),
        run_id: id,
        best_epoch,
        epochs_run,
        train_seconds: progress.elapsed_seconds,
        test: test_eval.metric_set(),
        validation: Some(val_eval.metric_set()),
        class_names: data.class_names(),
        confusion_matrix: test_eval.fer.as_ref().map(|m| m.confusion_matrix.clone()),
        provenance: Some(provenance_of_this_process(opts.code_version, device)),
        // `source` is where a reader found the record; the writer leaves it empty, so a run
        // trained now equals the same run read back.
        source: std::path::PathBuf::new(),
    };
    dir.write(
        "predictions.csv",
        predictions_csv(&test_eval.predictions, &data.class_names()).as_bytes(),
    )?;
    let json = serde_json::to_string_pretty(&metrics)
        .map_err(|e| TrainError::Config(format!("metrics.json: {e}")))?;
    dir.write(fer_runs::METRICS_FILE, json.as_bytes())?;
    dir.mark_done()?;
    // The resume state is no longer needed once the run is done.
    for name in [
        last_checkpoint(epochs_run),
        optimizer_state(epochs_run),
        crate::training_progress::PROGRESS_FILE.to_string(),
    ] {
        let _ = std::fs::remove_file(dir.file(&name));
    }
    Ok(RunOutcome {
        run_dir: dir.path().to_path_buf(),
        metrics,
        skipped: false,
    })
}

/// The checkpoint selected on validation.
const BEST_CHECKPOINT: &str = "best.safetensors";
/// The weights after finished epoch `epoch` (1-based; resume state, removed when the run is
/// done).
fn last_checkpoint(epoch: usize) -> String {
    format!("last-{epoch}.safetensors")
}
/// Adam's moments after finished epoch `epoch` (resume state).
fn optimizer_state(epoch: usize) -> String {
    format!("optimizer-{epoch}.safetensors")
}

/// Saves all variables (weights and batch-norm statistics) atomically under `name`.
fn save_checkpoint(varmap: &candle_nn::VarMap, dir: &RunDir, name: &str) -> Result<()> {
    let path = dir.file(name);
    let tmp = dir.file(&format!(".{name}.tmp"));
    varmap.save(&tmp)?;
    std::fs::rename(&tmp, &path).map_err(|e| TrainError::io(&path, e))?;
    Ok(())
}

/// Builds a registered model and loads a checkpoint into it (for inference and tests).
pub fn load_model(
    registry: &ModelRegistry,
    name: &str,
    cfg: &fer_models::ModelConfig,
    checkpoint: &Path,
    device: &Device,
) -> Result<Box<dyn MultiTaskModel>> {
    let (mut varmap, vb) = seeded_var_builder(0, DType::F32, device);
    let model = registry.build(name, cfg, vb)?;
    varmap.load(checkpoint)?;
    Ok(model)
}
