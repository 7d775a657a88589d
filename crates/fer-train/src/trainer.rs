//! The training loop of paper 4.4: Adam with L2 weight decay, step learning-rate schedule,
//! early stopping on the validation split, the best checkpoint chosen by validation
//! ACC_average (FER) or NRMSE (FLD-only), and one test evaluation of that checkpoint. The test
//! split never influences training or selection (the reference code selects on test; we do not).

use candle_core::{DType, Device};
use std::path::{Path, PathBuf};
use std::time::Instant;

use fer_data::{FaceDataset, Split};
use fer_models::{seeded_var_builder, ModelRegistry, MultiTaskModel};

use crate::error::{Result, TrainError};
use crate::history_log::HistoryLog;
use crate::progress_display::ProgressDisplay;
use crate::run_dir::run_id;
use crate::run_provenance::CodeVersion;
use crate::run_record::check_finished_record;
use crate::step_log::StepLog;
use crate::train_config::TrainConfig;
use crate::training_observer::TrainingObserver;
use crate::training_session::TrainingSession;

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
#[derive(Debug, Clone, Copy, Default)]
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
    /// Asked between epochs: when it says true, stop (with `TrainError::Interrupted`) after
    /// the epoch just committed. A cluster's warning signal before a time limit or
    /// preemption sets it (fer-experiments' `stop_signal`).
    pub stop_requested: Option<fn() -> bool>,
}

/// Trains one model on one split and evaluates it; skips a run whose directory is complete.
///
/// The stages (ARCHITECTURE.md "fer-train"): the checks that need no files, the reuse of a
/// finished record, then a [`TrainingSession`] built, resumed, run epoch by epoch with its
/// commit point after each, and finished; [`HistoryLog`], [`StepLog`] and
/// [`ProgressDisplay`] observe it.
pub fn train_run(
    cfg: &TrainConfig,
    data: &FaceDataset,
    split: &Split,
    registry: &ModelRegistry,
    device: &Device,
    results_root: &Path,
    opts: TrainOptions,
) -> Result<RunOutcome> {
    let pretrained = check_run(cfg, data, registry)?;
    let yaml = cfg.to_yaml()?;
    let id = run_id(&yaml);
    let run_path = results_root
        .join(&cfg.experiment)
        .join(&cfg.dataset)
        .join(cfg.method_id())
        .join(&id);
    if let Some(finished) = reuse_finished(&run_path, cfg, &yaml)? {
        return Ok(finished);
    }
    // Every forward and backward pass of this run (training and evaluation) multiplies at the
    // configured precision; the guard restores the thread's previous setting on return.
    let _precision = fer_models::ops::matmul_precision::autocast(cfg.precision)?;
    let mut session = TrainingSession::build(
        cfg,
        data,
        split,
        registry,
        device,
        results_root,
        &id,
        &yaml,
        pretrained.as_deref(),
    )?;
    let mut history = HistoryLog::new();
    let mut steps = StepLog::new(&session.weighting_names(), &session.mixing_names()?);
    let mut display = ProgressDisplay::new(
        &cfg.model,
        cfg.max_epochs,
        session.steps_per_epoch(),
        opts.show_progress,
    );
    let mut observers: [&mut dyn TrainingObserver; 3] = [&mut history, &mut steps, &mut display];
    session.resume(&mut observers)?;
    if session.progress.epochs_done > 0 {
        // Said once, so that a log shows where an interrupted or requeued run went on.
        println!(
            "{}: resuming after epoch {}",
            session.dir().path().display(),
            session.progress.epochs_done
        );
    }
    let mut last_epoch_seconds: Option<f64> = None;
    while !session.is_over() {
        if opts.stop_requested.is_some_and(|asked| asked()) {
            return interrupted(&session, &mut observers);
        }
        // The time budget: an epoch that would end after the deadline is not started (the
        // first epoch of a session always runs, so a budget never stalls a campaign).
        if let (Some(deadline), Some(secs)) = (opts.deadline, last_epoch_seconds) {
            if Instant::now() + std::time::Duration::from_secs_f64(secs) > deadline {
                return interrupted(&session, &mut observers);
            }
        }
        let started = Instant::now();
        let result = session.run_epoch(&mut observers)?;
        let seconds = started.elapsed().as_secs_f64();
        session.commit_epoch(&result, seconds, &mut observers)?;
        last_epoch_seconds = Some(seconds);
        if opts.stop_after_epochs == Some(session.progress.epochs_done) {
            return interrupted(&session, &mut observers);
        }
    }
    for o in observers.iter_mut() {
        o.end();
    }
    let (run_dir, metrics) = session.finish(opts.code_version)?;
    Ok(RunOutcome {
        run_dir,
        metrics,
        skipped: false,
    })
}

/// The checks that need no files: the config, the data's size and classes against the
/// model's, the model's name and the pretrained weights' file. Returns that file.
fn check_run(
    cfg: &TrainConfig,
    data: &FaceDataset,
    registry: &ModelRegistry,
) -> Result<Option<PathBuf>> {
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
    // Unknown names fail before anything is written; so does a pretrained-weights file that
    // is not there.
    registry.get(&cfg.model)?;
    match &cfg.pretrained {
        Some(p) => {
            let path = p.resolve()?;
            if !path.is_file() {
                return Err(TrainError::Config(format!(
                    "pretrained weights {} do not exist",
                    path.display()
                )));
            }
            Ok(Some(path))
        }
        None => Ok(None),
    }
}

/// A finished record (perhaps committed by another machine) is used only when it is whole
/// and belongs to this config; otherwise it is named and cleared, and the run trains again.
fn reuse_finished(run_path: &Path, cfg: &TrainConfig, yaml: &str) -> Result<Option<RunOutcome>> {
    if !run_path.join(crate::run_dir::DONE_MARKER).is_file() {
        return Ok(None);
    }
    match check_finished_record(run_path, cfg, yaml) {
        Ok(metrics) => {
            crate::run_record::remove_resume_leftovers(run_path)?;
            Ok(Some(RunOutcome {
                run_dir: run_path.to_path_buf(),
                metrics,
                skipped: true,
            }))
        }
        Err(problem) => {
            eprintln!("{}: {problem}; training it again", run_path.display());
            crate::run_record::clear_run_dir(run_path)?;
            Ok(None)
        }
    }
}

/// Stops after the last committed epoch; running again resumes from it.
fn interrupted(
    session: &TrainingSession<'_>,
    observers: &mut [&mut dyn TrainingObserver],
) -> Result<RunOutcome> {
    for o in observers.iter_mut() {
        o.end();
    }
    Err(TrainError::Interrupted {
        run_dir: session.dir().path().to_path_buf(),
        epochs_done: session.progress.epochs_done,
    })
}

/// Builds a registered model and loads a checkpoint into it (for inference and tests).
///
/// Errors: a model that cannot be built as configured is `TrainError::Config` ("cannot build
/// model 'name': ..."), for the caller to prefix with the file the configuration came from;
/// a checkpoint that does not fit is `TrainError::Weights`, naming the checkpoint.
pub fn load_model(
    registry: &ModelRegistry,
    name: &str,
    cfg: &fer_models::ModelConfig,
    checkpoint: &Path,
    device: &Device,
) -> Result<Box<dyn MultiTaskModel>> {
    let (mut varmap, vb) = seeded_var_builder(0, DType::F32, device);
    let model = registry
        .build(name, cfg, vb)
        .map_err(|e| TrainError::Config(format!("cannot build model '{name}': {e}")))?;
    varmap.load(checkpoint).map_err(|e| TrainError::Weights {
        path: checkpoint.to_path_buf(),
        message: format!(
            "does not fit model '{name}' as configured: {}",
            first_line(&e.to_string())
        ),
    })?;
    Ok(model)
}

/// The message of an error without the backtrace candle appends under RUST_BACKTRACE.
fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or(text)
}
