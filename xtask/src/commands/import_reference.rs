//! `cargo xtask import-reference`: converts a checkpoint of the reference implementation
//! (thuiar/cmcnn) into this framework's parameter names (fer_models::io::reference_checkpoint).

use anyhow::{Context, Result};
use candle_core::{DType, Device};
use clap::Args;
use std::path::PathBuf;

use fer_models::io::reference_checkpoint::{import_reference_checkpoint, ReferenceModel};
use fer_models::seeded_var_builder;

/// Import a reference-implementation checkpoint (its FER_DCNN, LM_DCNN or CMCNN state dict, as
/// .pth/.pt or safetensors) by the documented parameter-name mapping, and write it as
/// `model.safetensors` with our names plus `model_config.yaml` (the settings to rebuild the
/// model with, e.g. `fer_train::load_model`). Sizes must be the reference's for that dataset
/// (config.py: CK+ uses embedding 128, lm-embedding 2048, e-ratio 0.5).
#[derive(Args)]
pub struct ImportReferenceArgs {
    /// fer_dcnn, lm_dcnn or cmcnn (the reference's --modelName).
    #[arg(long)]
    kind: String,
    /// The reference checkpoint.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Output folder (created; existing files there are replaced).
    #[arg(long)]
    out: PathBuf,
    /// Number of expression classes (7 for CK+, RAF-DB, SFEW2; 6 for Oulu-CASIA).
    #[arg(long, default_value_t = 7)]
    classes: usize,
    /// FER embedding: `embedding_size` (FER_DCNN) or `fer_embedding` (CMCNN).
    #[arg(long, default_value_t = 128)]
    embedding: usize,
    /// FLD hidden width: `lm_embedding` (CMCNN) or `embedding_size` (LM_DCNN).
    #[arg(long, default_value_t = 2048)]
    lm_embedding: usize,
    /// δ of the CCAM, the reference's `e_ratio` (CMCNN only).
    #[arg(long, default_value_t = 0.5)]
    e_ratio: f64,
}

pub fn run(args: ImportReferenceArgs) -> Result<()> {
    let kind = ReferenceModel::parse(&args.kind)?;
    anyhow::ensure!(
        args.checkpoint.is_file(),
        "checkpoint {} does not exist",
        args.checkpoint.display()
    );
    let cfg = kind.model_config(
        args.classes,
        args.embedding,
        args.lm_embedding,
        args.e_ratio,
    );
    let (varmap, vb) = seeded_var_builder(0, DType::F32, &Device::Cpu);
    let registry = fer_catalog::model_registry();
    let _model = registry.build(kind.registry_name(), &cfg, vb)?;
    let report = import_reference_checkpoint(&varmap, &args.checkpoint, kind)
        .with_context(|| format!("importing {}", args.checkpoint.display()))?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let weights = args.out.join("model.safetensors");
    let tmp = args.out.join(".model.safetensors.tmp");
    varmap.save(&tmp)?;
    std::fs::rename(&tmp, &weights)?;
    let yaml = format!(
        "# Imported from {} ({:?}); build with registry name '{}'.\nmodel: {}\nmodel_config:\n{}",
        args.checkpoint.display(),
        kind,
        kind.registry_name(),
        kind.registry_name(),
        serde_yaml::to_string(&cfg)?
            .lines()
            .map(|l| format!("  {l}\n"))
            .collect::<String>()
    );
    fer_train::write_atomic(&args.out.join("model_config.yaml"), yaml.as_bytes())?;
    println!(
        "imported {} tensors into '{}' ({} reference entries unused); wrote {} and model_config.yaml",
        report.loaded.len(),
        kind.registry_name(),
        report.unused.len(),
        weights.display()
    );
    for u in &report.unused {
        println!("  unused: {u}");
    }
    Ok(())
}
