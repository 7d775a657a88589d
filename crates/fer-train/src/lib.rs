//! fer-train: losses (cross-entropy, wing loss eq. 14), metrics (eqs. 17-22), Adam with L2
//! weight decay, the training loop of paper 4.4 and run directories.

pub mod adam;
pub mod allocator;
pub mod error;
pub mod evaluation;
pub mod history_log;
pub mod inference;
pub mod losses;
pub mod metrics;
pub mod predictions_csv;
pub mod progress_display;
pub mod run_dir;
pub mod run_provenance;
pub mod run_record;
pub mod step_log;
pub mod train_config;
pub mod trained_model;
pub mod trainer;
pub mod training_observer;
pub mod training_progress;
pub mod training_session;
pub mod weighting;

pub use adam::{Adam, AdamConfig};
pub use error::{Result, TrainError};
pub use evaluation::{evaluate, Evaluation, MetricSet, Prediction};
pub use fer_runs::{RunProvenance, RunRecord};
pub use inference::{decode_outputs, predict_dataset, DecodedBatch, FacePrediction};
pub use losses::{cross_entropy, wing_loss, WingLossConfig};
pub use metrics::{classification_metrics, nrmse, ClassificationMetrics};
pub use predictions_csv::{predictions_csv, score_predictions_csv, ScoreOptions, ScoreReport};
pub use run_dir::{run_id, write_atomic, RunDir, DONE_MARKER};
pub use run_provenance::{provenance_of_this_process, CodeVersion};
pub use run_record::{check_finished_record, check_record_files, RECORD_FILES};
pub use train_config::{PretrainedWeights, TrainConfig};
pub use trained_model::{ModelSource, TrainedModel};
pub use trainer::{load_model, train_run, RunMetrics, RunOutcome, TrainOptions};
pub use training_observer::{EpochReport, StepReport, TrainingObserver};
pub use training_session::{EpochResult, TrainingSession};
pub use weighting::WeightingConfig;
