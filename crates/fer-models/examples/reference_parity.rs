//! Parity of our `cmcnn`, `base-dcnn-fer` and `base-dcnn-fld` with the reference PyTorch
//! implementation (thuiar/cmcnn), through `reference_checkpoint`: imports the state dict that
//! `reference_parity.py` saved from the reference's own model code and compares outputs on the
//! same input, in inference and in training mode (batch statistics).
//!
//! Usage: `python reference_parity.py DIR` (with torch and safetensors), then
//! `cargo run --release -p fer-models --example reference_parity -- DIR`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use candle_core::{DType, Device, Tensor};
use fer_models::io::reference_checkpoint::{import_reference_checkpoint, ReferenceModel};
use fer_models::{seeded_var_builder, ModelRegistry};

fn max_abs_diff(a: &Tensor, b: &Tensor) -> Result<f32> {
    Ok((a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar()?)
}

fn main() -> Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .context("usage: reference_parity DIR (the folder reference_parity.py wrote)")?,
    );
    for (kind, lm_embedding) in [("cmcnn", 2048), ("fer_dcnn", 128), ("lm_dcnn", 128)] {
        let model_kind = ReferenceModel::parse(kind)?;
        let cfg = model_kind.model_config(7, 128, lm_embedding, 0.5);
        let (varmap, vb) = seeded_var_builder(0, DType::F32, &Device::Cpu);
        let model =
            ModelRegistry::with_paper_models().build(model_kind.registry_name(), &cfg, vb)?;
        let report =
            import_reference_checkpoint(&varmap, &dir.join(format!("{kind}.pth")), model_kind)?;
        let expected = candle_core::safetensors::load(
            dir.join(format!("{kind}_outputs.safetensors")),
            &Device::Cpu,
        )?;
        let x = expected.get("input").context("no input")?;
        for mode in ["eval", "train"] {
            let out = model.forward_t(x, mode == "train")?;
            let mut line = format!(
                "{kind:>8} ({} tensors imported, {} unused) {mode:>5}:",
                report.loaded.len(),
                report.unused.len()
            );
            for (key, got) in [
                ("fer_output", &out.expression_logits),
                ("lm_output", &out.landmarks),
            ] {
                if let (Some(want), Some(got)) = (expected.get(&format!("{mode}.{key}")), got) {
                    let scale: f32 = want.abs()?.flatten_all()?.max(0)?.to_scalar()?;
                    line += &format!(
                        "  {key} max |Δ| {:.2e} (max |value| {scale:.3})",
                        max_abs_diff(got, want)?
                    );
                }
            }
            println!("{line}");
        }
    }
    Ok(())
}
