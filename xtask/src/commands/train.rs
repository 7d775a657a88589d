//! `cargo xtask train`: one training run of one model on one dataset.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::PathBuf;

use fer_data::FaceDataset;
use fer_experiments::dataset_loading::report_skipped;
use fer_experiments::parse_device;
use fer_train::{train_run, TrainConfig, TrainOptions};

use crate::workspace;

/// Train one registered model on one dataset (a manifest under data-manifests/ or a path to a
/// manifest YAML) with the paper's settings (4.4), on one split of the manifest's protocol,
/// and write its run directory under results/<experiment>/<dataset>/<model>/<run-id>/.
#[derive(Args)]
pub struct TrainArgs {
    /// Dataset manifest: a name in data-manifests/ (e.g. synthfer, ckplus48) or a YAML path.
    #[arg(long)]
    dataset: String,
    /// Registered model name (see the list in the error message of an unknown name).
    #[arg(long)]
    model: String,
    /// Input size in pixels (100 as the paper; 48 for 48x48 data without upsampling), 16-512.
    #[arg(long, default_value_t = 48, value_parser = |t: &str| crate::commands::reproduce::parse_size(t).map(|s| s as u32))]
    size: u32,
    #[arg(long, default_value_t = 50)]
    epochs: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Which split of the protocol (fold index for k-fold protocols).
    #[arg(long, default_value_t = 0)]
    fold: usize,
    /// Experiment name: the first folder under results/.
    #[arg(long, default_value = "train")]
    experiment: String,
    /// Dataset root, replacing the manifest's (and its environment variable).
    #[arg(long)]
    data_root: Option<PathBuf>,
    #[arg(long)]
    results: Option<PathBuf>,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Adam's learning rate (paper: 0.01).
    #[arg(long, default_value_t = 0.01)]
    lr: f64,
    /// Adam's epsilon (the reference code's 0.1; PyTorch's default is 1e-8).
    #[arg(long, default_value_t = 0.1)]
    adam_eps: f64,
    /// Start from pretrained weights: a safetensors file, or hf:<owner>/<repo>/<file> from the
    /// local Hugging Face hub cache (nothing is downloaded).
    #[arg(long)]
    pretrained: Option<String>,
    /// Prefix(es) of the model's variables to load the pretrained file into (repeatable;
    /// default: none, i.e. the whole model; `fer_net.` and `fld_net.` for both columns of
    /// cmcnn-resnet18).
    #[arg(long)]
    pretrained_prefix: Vec<String>,
    /// Drop class folders whose names are no expression instead of stopping (as
    /// `ignore_unknown_classes: true` in the manifest).
    #[arg(long)]
    ignore_unknown_classes: bool,
    /// Precision of the convolutions' and linear layers' multiplications: fp32 (the paper's)
    /// or bf16 (fp32 accumulation; AVX-512 BF16 processors only). Recorded in config.yaml and
    /// the run id.
    #[arg(long, default_value = "fp32", value_parser = crate::commands::reproduce::parse_precision)]
    precision: fer_models::ops::matmul_precision::Precision,
    /// How a multi-task model's two losses become one update: fixed (loss_E + λ loss_L, the
    /// paper's), uncertainty, dwa, rlw, gradnorm, famo, pcgrad, cagrad or aligned-mtl, with
    /// their papers' settings. Recorded in config.yaml and the run id.
    #[arg(long, default_value = "fixed", value_parser = crate::commands::reproduce::parse_weighting)]
    weighting: fer_train::WeightingConfig,
}

pub fn run(args: TrainArgs) -> Result<()> {
    let ctx = workspace::context();
    ctx.registry.get(&args.model)?;
    let device = parse_device(&args.device)?;
    let mut manifest = ctx.workspace.load_manifest(&args.dataset)?;
    manifest.ignore_unknown_classes |= args.ignore_unknown_classes;
    let root = args
        .data_root
        .clone()
        .or_else(|| ctx.workspace.resolve(manifest.resolved_root()));
    let data = FaceDataset::load(&manifest, root.as_deref(), args.size, None)?;
    report_skipped(&data);
    let splits = manifest
        .protocol
        .splits(&data.subjects(), &data.split_hints(), args.seed)?;
    let n_splits = splits.len();
    let split = splits.into_iter().nth(args.fold).with_context(|| {
        format!(
            "--fold {} but the protocol has {n_splits} splits",
            args.fold
        )
    })?;
    let mut cfg = TrainConfig::paper(
        &args.experiment,
        &manifest.name,
        &args.model,
        &split.name,
        args.seed,
    );
    cfg.model_config.input_size = args.size as usize;
    cfg.model_config.num_classes = manifest.classes.len();
    cfg.max_epochs = args.epochs;
    cfg.optimizer.lr = args.lr;
    cfg.optimizer.eps = args.adam_eps;
    cfg.precision = args.precision;
    cfg.weighting = fer_train::weighting::resolved(&args.weighting)?;
    if let Some(source) = args.pretrained {
        let prefixes = if args.pretrained_prefix.is_empty() {
            vec![String::new()]
        } else {
            args.pretrained_prefix
        };
        cfg.pretrained = Some(fer_train::PretrainedWeights { source, prefixes });
    } else if !args.pretrained_prefix.is_empty() {
        bail!("--pretrained-prefix needs --pretrained");
    }
    let results = args.results.unwrap_or_else(|| ctx.workspace.results_dir());
    println!(
        "{}: {} images; {} {} train / {} validation / {} test",
        manifest.name,
        data.len(),
        split.name,
        split.train.len(),
        split.val.len(),
        split.test.len()
    );
    let out = train_run(
        &cfg,
        &data,
        &split,
        &ctx.registry,
        &device,
        &results,
        TrainOptions {
            show_progress: true,
            stop_after_epochs: None,
            code_version: ctx.code_version,
            ..Default::default()
        },
    )?;
    println!("{}", serde_json::to_string_pretty(&out.metrics.test)?);
    println!("run directory: {}", out.run_dir.display());
    Ok(())
}
