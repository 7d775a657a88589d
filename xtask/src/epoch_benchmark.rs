//! `cargo xtask bench epoch`: the unit the CK+48 campaign pays for (Table 4, issue 14): one
//! epoch (the training updates, then the validation pass) of each of the six Table 4 methods
//! on CK+48 at 48 px, fold 0, seed 1, with the paper's settings (batch 32, Adam, eq. 16's
//! loss), timed from each model's seeded start. Written to results/bench/epoch-<device>.csv
//! with the code version, so a speed change can be read as before and after.

use anyhow::{Context, Result};
use candle_core::Device;
use fer_data::FaceDataset;
use fer_train::{TrainConfig, TrainingSession};
use std::path::Path;
use std::time::Instant;

use crate::workspace;

/// The methods of Table 4, in its order.
pub const TABLE4_METHODS: [&str; 6] = [
    "base-dcnn-fer",
    "base-dcnn-fld",
    "hps",
    "csn",
    "ps-mcnn",
    "cmcnn",
];

/// One method's epoch.
pub struct EpochTiming {
    pub method: String,
    /// The loss weighting it trained under.
    pub weighting: String,
    pub train_images: usize,
    pub steps: usize,
    pub seconds: f64,
    /// The updates alone, without the validation pass.
    pub train_seconds: f64,
}

/// Times one epoch of each method on `dataset` (a manifest name) at `size` px, under each
/// loss weighting of `weightings` in turn (the paper's fixed λ: `[WeightingConfig::default()]`).
pub fn time_epochs(
    dataset: &str,
    size: u32,
    methods: &[String],
    weightings: &[fer_train::WeightingConfig],
    device: &Device,
) -> Result<Vec<EpochTiming>> {
    let ctx = workspace::context();
    let manifest = ctx.workspace.load_manifest(dataset)?;
    let root = ctx.workspace.resolve(manifest.resolved_root());
    let data = FaceDataset::load(&manifest, root.as_deref(), size, None)
        .with_context(|| format!("loading {dataset} (the epoch benchmark needs it)"))?;
    let splits = manifest
        .protocol
        .splits(&data.subjects(), &data.split_hints(), 1)?;
    let split = splits
        .into_iter()
        .next()
        .with_context(|| format!("{dataset} has no split"))?;
    // Nothing of the runs is kept: their directories go to a temporary folder.
    let scratch = std::env::temp_dir().join(format!("fer-bench-epoch-{}", std::process::id()));
    let mut out = Vec::new();
    let runs = methods
        .iter()
        .flat_map(|m| weightings.iter().map(move |w| (m, w)));
    for (method, weighting) in runs {
        let mut cfg = TrainConfig::paper("bench-epoch", &manifest.name, method, &split.name, 1);
        cfg.model_config.input_size = size as usize;
        cfg.model_config.num_classes = manifest.classes.len();
        cfg.weighting = fer_train::weighting::resolved(weighting)?;
        let yaml = cfg.to_yaml()?;
        let id = fer_train::run_id(&yaml);
        let mut session = TrainingSession::build(
            &cfg,
            &data,
            &split,
            &ctx.registry,
            device,
            &scratch,
            &id,
            &yaml,
            None,
        )
        .with_context(|| format!("building {method}"))?;
        let steps = session.steps_per_epoch();
        let start = Instant::now();
        let epoch = session.run_epoch(&mut [])?;
        device.synchronize()?;
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "{method:<14} {:<12} {steps:>3} steps {:.1} s + validation: {seconds:.1} s",
            weighting.method, epoch.report.train_seconds
        );
        out.push(EpochTiming {
            method: method.clone(),
            weighting: weighting.method.clone(),
            train_images: split.train.len(),
            steps,
            seconds,
            train_seconds: epoch.report.train_seconds,
        });
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(out)
}

/// The CSV of `time_epochs`, with a total row.
pub fn epoch_csv(timings: &[EpochTiming], size: u32, device: &str, threads: usize) -> String {
    let version = crate::code_version::current();
    let commit = format!(
        "{}{}",
        version.commit,
        if version.dirty { "-dirty" } else { "" }
    );
    let mut csv =
        String::from("method,device,size,train_images,steps,epoch_seconds,threads,commit\n");
    for t in timings {
        csv.push_str(&format!(
            "{},{device},{size},{},{},{:.2},{threads},{commit}\n",
            t.method, t.train_images, t.steps, t.seconds
        ));
    }
    let total: f64 = timings.iter().map(|t| t.seconds).sum();
    csv.push_str(&format!(
        "all,{device},{size},,,{total:.2},{threads},{commit}\n"
    ));
    csv
}

/// The CSV of `time_epochs` over weightings: per model and method, the seconds per update
/// and their ratio to the same model's `fixed` update.
pub fn weighting_csv(timings: &[EpochTiming], size: u32, device: &str, threads: usize) -> String {
    let version = crate::code_version::current();
    let commit = format!(
        "{}{}",
        version.commit,
        if version.dirty { "-dirty" } else { "" }
    );
    let mut csv = String::from(
        "model,weighting,device,size,steps,train_seconds,seconds_per_step,ratio_to_fixed,epoch_seconds,threads,commit\n",
    );
    for t in timings {
        let per_step = t.train_seconds / t.steps.max(1) as f64;
        let fixed = timings
            .iter()
            .find(|f| f.method == t.method && f.weighting == "fixed")
            .map(|f| f.train_seconds / f.steps.max(1) as f64);
        let ratio = fixed.map_or(String::new(), |f| format!("{:.2}", per_step / f));
        csv.push_str(&format!(
            "{},{},{device},{size},{},{:.2},{per_step:.3},{ratio},{:.2},{threads},{commit}\n",
            t.method, t.weighting, t.steps, t.train_seconds, t.seconds
        ));
    }
    csv
}

/// Writes the CSV under `out_dir`.
pub fn write_epoch_csv(out_dir: &Path, name: &str, csv: &str) -> Result<std::path::PathBuf> {
    let path = out_dir.join(format!("{name}.csv"));
    fer_train::run_dir::write_atomic(&path, csv.as_bytes())?;
    Ok(path)
}
