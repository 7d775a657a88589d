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
    pub train_images: usize,
    pub steps: usize,
    pub seconds: f64,
}

/// Times one epoch of each method on `dataset` (a manifest name) at `size` px.
pub fn time_epochs(
    dataset: &str,
    size: u32,
    methods: &[String],
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
    for method in methods {
        let mut cfg = TrainConfig::paper("bench-epoch", &manifest.name, method, &split.name, 1);
        cfg.model_config.input_size = size as usize;
        cfg.model_config.num_classes = manifest.classes.len();
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
        session.run_epoch(&mut [])?;
        device.synchronize()?;
        let seconds = start.elapsed().as_secs_f64();
        println!("{method:<14} {steps:>3} steps + validation: {seconds:.1} s");
        out.push(EpochTiming {
            method: method.clone(),
            train_images: split.train.len(),
            steps,
            seconds,
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

/// Writes the CSV under `out_dir`.
pub fn write_epoch_csv(out_dir: &Path, device: &str, csv: &str) -> Result<std::path::PathBuf> {
    let path = out_dir.join(format!("epoch-{device}.csv"));
    fer_train::run_dir::write_atomic(&path, csv.as_bytes())?;
    Ok(path)
}
