//! `TrainingSession`: one run of the training loop of paper 4.4 in stages (ARCHITECTURE.md
//! "fer-train"): [`TrainingSession::build`] (model, pretrained weights, loaders, optimiser, run
//! directory), [`TrainingSession::resume`] (after the last committed epoch),
//! [`TrainingSession::run_epoch`] (the updates of eq. 16's loss, then validation),
//! [`TrainingSession::commit_epoch`] (the resume files and the selection on validation) and
//! [`TrainingSession::finish`] (the selected checkpoint evaluated once on validation and test,
//! and the run record). Observers see every step and epoch; the session owns the numbers.

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use std::path::PathBuf;
use std::time::Instant;

use fer_data::{BatchLoader, FaceDataset, LoaderConfig, Split};
use fer_models::{seeded_var_builder, ModelRegistry, MultiTaskModel};

use crate::adam::Adam;
use crate::error::{Result, TrainError};
use crate::evaluation::evaluate;
use crate::losses::{cross_entropy, wing_loss};
use crate::predictions_csv::predictions_csv;
use crate::run_dir::RunDir;
use crate::run_provenance::{provenance_of_this_process, CodeVersion};
use crate::train_config::TrainConfig;
use crate::training_observer::{EpochReport, StepReport, TrainingObserver};
use crate::training_progress::{TrainingProgress, PROGRESS_FILE};
use crate::weighting::{RunWeighting, StepInput};

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
fn save_checkpoint(varmap: &VarMap, dir: &RunDir, name: &str) -> Result<()> {
    let path = dir.file(name);
    let tmp = dir.file(&format!(".{name}.tmp"));
    fer_runs::fault_injection::step(|| format!("create {}", tmp.display()));
    varmap
        .save(&tmp)
        .map_err(|e| TrainError::writing(&tmp, e))?;
    fer_runs::fault_injection::step(|| format!("rename to {}", path.display()));
    std::fs::rename(&tmp, &path).map_err(|e| TrainError::io(&path, e))?;
    Ok(())
}

/// Removes a resume file that is no longer needed (best effort: one left behind is removed
/// with the rest once the run is done).
fn remove_resume_file(dir: &RunDir, name: &str) {
    let path = dir.file(name);
    fer_runs::fault_injection::step(|| format!("remove {}", path.display()));
    let _ = std::fs::remove_file(path);
}

/// Removes every `last-*`/`optimizer-*` file but those of epoch `keep`.
fn remove_stale_resume_files(dir: &RunDir, keep: Option<usize>) -> Result<()> {
    let kept = keep.map(|e| [last_checkpoint(e), optimizer_state(e)]);
    let entries = std::fs::read_dir(dir.path()).map_err(|e| TrainError::io(dir.path(), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| TrainError::io(dir.path(), e))?;
        let name = entry.file_name().to_string_lossy().to_string();
        let resume_file = (name.starts_with("last-") || name.starts_with("optimizer-"))
            && name.ends_with(".safetensors");
        if resume_file && !kept.as_ref().is_some_and(|k| k.contains(&name)) {
            remove_resume_file(dir, &name);
        }
    }
    Ok(())
}

/// The state of one run between stages.
pub struct TrainingSession<'a> {
    cfg: &'a TrainConfig,
    data: &'a FaceDataset,
    split: &'a Split,
    device: &'a Device,
    run_id: String,
    varmap: VarMap,
    model: Box<dyn MultiTaskModel>,
    optimizer: Adam,
    /// The variables the optimiser updates, in its order.
    vars: Vec<candle_core::Var>,
    /// How the two task losses become one update (`TrainConfig::weighting`).
    weighting: RunWeighting,
    train: BatchLoader<'a>,
    val: BatchLoader<'a>,
    test: BatchLoader<'a>,
    dir: RunDir,
    /// Where the loop stands (committed after every epoch).
    pub progress: TrainingProgress,
}

/// What [`TrainingSession::run_epoch`] measured.
pub struct EpochResult {
    pub report: EpochReport,
    /// The validation score the checkpoint is selected by.
    pub score: f64,
}

impl<'a> TrainingSession<'a> {
    /// Builds the model (seeded), loads pretrained weights, checks that the data suits it, and
    /// only then creates the run directory with its config.yaml, so that a doomed run leaves
    /// nothing behind. Building first does not change the numbers: it is seeded alone.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        cfg: &'a TrainConfig,
        data: &'a FaceDataset,
        split: &'a Split,
        registry: &ModelRegistry,
        device: &'a Device,
        results_root: &std::path::Path,
        run_id: &str,
        config_yaml: &str,
        pretrained: Option<&std::path::Path>,
    ) -> Result<Self> {
        let (varmap, vb) = seeded_var_builder(cfg.seed, DType::F32, device);
        let model = registry.build(&cfg.model, &cfg.model_config, vb)?;
        if let (Some(p), Some(path)) = (&cfg.pretrained, pretrained) {
            for prefix in &p.prefixes {
                let options = fer_models::LoadOptions::with_prefix(prefix.clone());
                fer_models::load_safetensors_into(&varmap, path, &options)?;
            }
        }
        let tasks = model.tasks();
        crate::weighting::check_model_tasks(&cfg.weighting, &cfg.model, tasks)?;
        let weighting = RunWeighting::build(cfg)?;
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
            run_id,
        )?;
        dir.write("config.yaml", config_yaml.as_bytes())?;
        let mut train_cfg = LoaderConfig::train(cfg.batch_size, cfg.seed);
        train_cfg.augment = cfg.augment;
        let train = BatchLoader::new(data, split.train.clone(), train_cfg, device)?;
        let eval = || LoaderConfig::eval(cfg.batch_size);
        let val = BatchLoader::new(data, split.val.clone(), eval(), device)?;
        let test = BatchLoader::new(data, split.test.clone(), eval(), device)?;
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
            let vars = varmap
                .data()
                .lock()
                .map_err(|_| TrainError::Config("variable map lock poisoned".into()))?;
            let mut v: Vec<_> = vars.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        let vars = named_vars.iter().map(|(_, v)| v.clone()).collect();
        let optimizer = Adam::with_names(named_vars, cfg.optimizer);
        Ok(Self {
            cfg,
            data,
            split,
            device,
            run_id: run_id.to_string(),
            varmap,
            model,
            optimizer,
            vars,
            weighting,
            train,
            val,
            test,
            dir,
            progress: TrainingProgress::start(),
        })
    }

    /// Optimiser steps per epoch.
    pub fn steps_per_epoch(&self) -> usize {
        self.train.num_batches()
    }

    /// Names of the model's mixing parameters (the columns of steps.csv).
    pub fn mixing_names(&self) -> Result<Vec<String>> {
        Ok(self
            .model
            .mixing_parameters()?
            .into_iter()
            .map(|p| p.name)
            .collect())
    }

    /// The columns steps.csv gets for the loss weighting (`RunWeighting::step_columns`).
    pub fn weighting_names(&self) -> Vec<String> {
        self.weighting.step_columns()
    }

    pub fn dir(&self) -> &RunDir {
        &self.dir
    }

    /// An unfinished run continues after its last committed epoch (training_progress): the
    /// weights, Adam's moments and the observers' rows of that epoch are restored.
    pub fn resume(&mut self, observers: &mut [&mut dyn TrainingObserver]) -> Result<()> {
        let dir = &self.dir;
        crate::run_record::remove_temporary_files(dir.path())?;
        let resumable = TrainingProgress::read(dir)?.filter(|p| {
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
        // A kill after a commit but before the previous epoch's files were removed leaves them
        // behind: everything but the committed epoch's resume files goes.
        remove_stale_resume_files(dir, resumable.as_ref().map(|p| p.epochs_done))?;
        if let Some(p) = resumable {
            self.varmap
                .load(dir.file(&last_checkpoint(p.epochs_done)))?;
            let state_file = dir.file(&optimizer_state(p.epochs_done));
            self.optimizer.load_state(&state_file, p.global_step)?;
            let saved = Adam::load_extra(&state_file)?;
            self.weighting
                .method
                .load_state(&saved)
                .map_err(|e| TrainError::Config(format!("{}: {e}", state_file.display())))?;
            for o in observers.iter_mut() {
                o.resume(dir, p.epochs_done)?;
            }
            if p.best_epoch == p.epochs_done {
                // The commit point precedes the copy to best.safetensors.
                save_checkpoint(&self.varmap, dir, BEST_CHECKPOINT)?;
            }
            self.progress = p;
        }
        Ok(())
    }

    /// Whether early stopping or the epoch budget has ended the loop.
    pub fn is_over(&self) -> bool {
        self.progress.epochs_done >= self.cfg.max_epochs
            || self.progress.since_best >= self.cfg.patience
    }

    /// The error for a non-finite loss, naming its first non-finite cause: an input image, a
    /// landmark target, or a weight (all checked only now, on the failure path); only when all
    /// are finite is it the training that diverged.
    fn non_finite_loss(
        &self,
        batch: &fer_data::Batch,
        value: f64,
        epoch: usize,
        step: usize,
    ) -> TrainError {
        let at = format!(
            "loss became {value} at epoch {} step {}",
            epoch + 1,
            step + 1
        );
        let finite_rows = |t: &Tensor| -> Option<Vec<bool>> {
            let rows = t.dim(0).ok()?;
            let flat = t
                .reshape((rows, ()))
                .ok()?
                .to_dtype(candle_core::DType::F32)
                .ok()?;
            let v = flat.to_vec2::<f32>().ok()?;
            Some(v.iter().map(|r| r.iter().all(|x| x.is_finite())).collect())
        };
        let id = |row: usize| {
            batch
                .indices
                .get(row)
                .and_then(|&i| self.data.samples.get(i))
                .map_or_else(|| format!("row {row}"), |s| format!("'{}'", s.id))
        };
        if let Some(row) = finite_rows(&batch.images).and_then(|ok| ok.iter().position(|f| !f)) {
            return TrainError::Config(format!(
                "{at}: the image of sample {} holds non-finite pixels",
                id(row)
            ));
        }
        if let Some(row) = finite_rows(&batch.landmarks).and_then(|ok| ok.iter().position(|f| !f)) {
            return TrainError::Config(format!(
                "{at}: the landmarks of sample {} are not finite; fix its landmark file",
                id(row)
            ));
        }
        if let Some(name) = self.first_non_finite_weight() {
            return TrainError::Config(format!(
                "{at}: weight '{name}' holds non-finite values (from pretrained weights, or an \
                 update that overflowed: lower the learning rate)"
            ));
        }
        TrainError::Config(format!(
            "{at} with finite inputs and weights: the training diverged; lower the learning rate"
        ))
    }

    /// The first weight (by name) holding a NaN or an infinity. Its sum is non-finite exactly
    /// then (the weights are far too small for a finite sum to overflow), so no copy is made.
    fn first_non_finite_weight(&self) -> Option<String> {
        let mut vars: Vec<(String, candle_core::Var)> = self
            .varmap
            .data()
            .lock()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars.into_iter().find_map(|(name, var)| {
            let sum = var
                .as_tensor()
                .sum_all()
                .and_then(|t| t.to_dtype(candle_core::DType::F64))
                .and_then(|t| t.to_scalar::<f64>());
            matches!(sum, Ok(v) if !v.is_finite()).then_some(name)
        })
    }

    /// One epoch: every update of eq. 16's loss (cross-entropy + λ wing loss, eq. 14), then
    /// the evaluation on validation.
    pub fn run_epoch(
        &mut self,
        observers: &mut [&mut dyn TrainingObserver],
    ) -> Result<EpochResult> {
        let cfg = self.cfg;
        let epoch = self.progress.epochs_done;
        let t0 = Instant::now();
        let lr = cfg.learning_rate_at(epoch);
        self.optimizer.set_learning_rate(lr);
        let mut global_step = self.progress.global_step;
        let (mut sum_fer, mut sum_fld, mut n) = (0.0, 0.0, 0usize);
        for batch in self.train.epoch(epoch as u64) {
            let batch = batch?;
            let out = self.model.forward_t(&batch.images, true)?;
            let loss_fer = match &out.expression_logits {
                Some(logits) => Some(cross_entropy(logits, &batch.labels)?),
                None => None,
            };
            let loss_fld = match &out.landmarks {
                Some(lm) => Some(wing_loss(
                    lm,
                    &batch.landmarks,
                    Some(&batch.landmark_mask),
                    &cfg.wing,
                )?),
                None => None,
            };
            let value = |l: &Option<Tensor>| -> Result<f64> {
                Ok(match l {
                    Some(l) => l.to_scalar::<f32>()? as f64,
                    None => 0.0,
                })
            };
            let (l_fer, l_fld) = (value(&loss_fer)?, value(&loss_fld)?);
            for loss in [l_fer, l_fld] {
                if !loss.is_finite() {
                    return Err(self.non_finite_loss(&batch, loss, epoch, global_step));
                }
            }
            let (grads, total_value, weights_row) = match (&loss_fer, &loss_fld) {
                (Some(fer), Some(fld)) => {
                    let input = StepInput {
                        losses: [l_fer, l_fld],
                        gram: None,
                        global_step,
                        epoch,
                        lr,
                    };
                    let u = self
                        .weighting
                        .two_task_update(&self.vars, fer, fld, input)?;
                    (u.grads, u.loss_total, u.step_values)
                }
                // A single-task model: its one loss, unweighted.
                (Some(loss), None) | (None, Some(loss)) => {
                    let value = if loss_fer.is_some() { l_fer } else { l_fld };
                    (loss.backward()?, value, Vec::new())
                }
                (None, None) => {
                    return Err(TrainError::Config(format!(
                        "model '{}' produced no task output",
                        cfg.model
                    )))
                }
            };
            self.optimizer.step(&grads)?;
            if self.weighting.needs_losses_after_update() {
                // The same batch through the updated model, in training mode as the method's
                // reference code (FAMO): how much each task's loss fell.
                let after = self.model.forward_t(&batch.images, true)?;
                if let (Some(logits), Some(lm)) = (&after.expression_logits, &after.landmarks) {
                    let fer = cross_entropy(logits, &batch.labels)?.to_scalar::<f32>()? as f64;
                    let fld =
                        wing_loss(lm, &batch.landmarks, Some(&batch.landmark_mask), &cfg.wing)?
                            .to_scalar::<f32>()? as f64;
                    self.weighting.method.after_update([fer, fld]);
                }
            }
            global_step += 1;
            sum_fer += l_fer;
            sum_fld += l_fld;
            n += 1;
            let step = StepReport {
                global_step,
                epoch,
                lr,
                loss_total: total_value,
                loss_fer: l_fer,
                loss_fld: l_fld,
                weighting: weights_row,
                mixing: self
                    .model
                    .mixing_parameters()?
                    .into_iter()
                    .map(|p| p.value)
                    .collect(),
            };
            for o in observers.iter_mut() {
                o.step(&step);
            }
        }
        self.progress.global_step = global_step;
        let train_seconds = t0.elapsed().as_secs_f64();
        self.weighting
            .method
            .end_epoch([sum_fer / n.max(1) as f64, sum_fld / n.max(1) as f64]);
        // A weight can overflow while the loss stays finite (ReLU and max pooling turn NaN into
        // a constant): such a run would go on training garbage, so it stops here, named.
        if let Some(name) = self.first_non_finite_weight() {
            return Err(TrainError::Config(format!(
                "weight '{name}' became non-finite during epoch {} (step {global_step}): lower \
                 the learning rate",
                epoch + 1
            )));
        }
        let val = evaluate(self.model.as_ref(), &self.val, self.data, &cfg.wing)?;
        let score = val
            .metric_set()
            .selection_score()
            .unwrap_or(f64::NEG_INFINITY);
        let report = EpochReport {
            epoch: epoch + 1,
            lr,
            train_loss_fer: sum_fer / n.max(1) as f64,
            train_loss_fld: sum_fld / n.max(1) as f64,
            val,
            seconds: t0.elapsed().as_secs_f64(),
            train_seconds,
        };
        for o in observers.iter_mut() {
            o.epoch(&report);
        }
        Ok(EpochResult { report, score })
    }

    /// The epoch's commit point (order: see training_progress): the observers' files, the
    /// resume files of this epoch, progress.json, then the previous epoch's resume files go,
    /// and the checkpoint is copied to best.safetensors when validation improved.
    pub fn commit_epoch(
        &mut self,
        result: &EpochResult,
        seconds: f64,
        observers: &mut [&mut dyn TrainingObserver],
    ) -> Result<()> {
        let epoch = self.progress.epochs_done;
        let p = &mut self.progress;
        let improved = result.score > p.best_score.unwrap_or(f64::NEG_INFINITY);
        p.epochs_done = epoch + 1;
        if improved {
            p.best_score = result.score.is_finite().then_some(result.score);
            p.best_epoch = epoch + 1;
            p.since_best = 0;
        } else {
            p.since_best += 1;
        }
        p.elapsed_seconds += seconds;
        for o in observers.iter_mut() {
            o.commit(&self.dir)?;
        }
        let done = self.progress.epochs_done;
        save_checkpoint(&self.varmap, &self.dir, &last_checkpoint(done))?;
        self.optimizer.save_state_with(
            &self.dir.file(&optimizer_state(done)),
            &self.weighting.method.state(),
        )?;
        self.progress.write(&self.dir)?;
        for stale in [last_checkpoint(epoch), optimizer_state(epoch)] {
            remove_resume_file(&self.dir, &stale);
        }
        if improved {
            save_checkpoint(&self.varmap, &self.dir, BEST_CHECKPOINT)?;
        }
        Ok(())
    }

    /// The checkpoint selected on validation, evaluated once on validation (for the record)
    /// and once on test; writes predictions.csv, metrics.json and, last, DONE, then removes
    /// the resume files. The test split is used here and nowhere before.
    pub fn finish(self, code_version: Option<CodeVersion>) -> Result<(PathBuf, crate::RunMetrics)> {
        let cfg = self.cfg;
        let (best_epoch, epochs_run) = (self.progress.best_epoch, self.progress.epochs_done);
        let dir = &self.dir;
        let mut varmap = self.varmap;
        varmap.load(dir.file(BEST_CHECKPOINT))?;
        let val_eval = evaluate(self.model.as_ref(), &self.val, self.data, &cfg.wing)?;
        let test_eval = evaluate(self.model.as_ref(), &self.test, self.data, &cfg.wing)?;
        let metrics = crate::RunMetrics {
            experiment: cfg.experiment.clone(),
            dataset: cfg.dataset.clone(),
            model: cfg.model.clone(),
            method: Some(cfg.method_id().to_string()),
            grid_point: cfg.grid_point.clone(),
            seed: cfg.seed,
            split: self.split.name.clone(),
            // The fold of a k-fold split; 0 for other splits (as records have always said).
            fold: Some(
                self.split
                    .name
                    .strip_prefix("fold-")
                    .and_then(|f| f.parse().ok())
                    .unwrap_or(0),
            ),
            run_id: self.run_id.clone(),
            best_epoch,
            epochs_run,
            train_seconds: self.progress.elapsed_seconds,
            test: test_eval.metric_set(),
            validation: Some(val_eval.metric_set()),
            class_names: self.data.class_names(),
            confusion_matrix: test_eval.fer.as_ref().map(|m| m.confusion_matrix.clone()),
            provenance: Some(provenance_of_this_process(code_version, self.device)),
            // `source` is where a reader found the record; the writer leaves it empty, so a
            // run trained now equals the same run read back.
            source: std::path::PathBuf::new(),
        };
        dir.write(
            "predictions.csv",
            predictions_csv(&test_eval.predictions, &self.data.class_names()).as_bytes(),
        )?;
        let json = serde_json::to_string_pretty(&metrics)
            .map_err(|e| TrainError::Config(format!("metrics.json: {e}")))?;
        dir.write(fer_runs::METRICS_FILE, json.as_bytes())?;
        dir.mark_done()?;
        // The resume state is no longer needed once the run is done.
        for name in [
            last_checkpoint(epochs_run),
            optimizer_state(epochs_run),
            PROGRESS_FILE.to_string(),
        ] {
            remove_resume_file(dir, &name);
        }
        Ok((dir.path().to_path_buf(), metrics))
    }
}
