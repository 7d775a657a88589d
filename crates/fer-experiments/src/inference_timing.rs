//! Table 10 of Yu & Xu 2021 (5.5): inference time per batch of 32 for every method, measured
//! on this machine side by side in one process (median of repeated forward passes in inference
//! mode after a warm-up), beside the times the paper reports on its GPU.

use crate::error::{Context, Result};
use candle_core::{DType, Device, Tensor};
use std::fmt::Write as _;
use std::path::Path;
use std::time::Instant;

use fer_models::{seeded_var_builder, ModelRegistry};

use crate::experiment_spec::ExperimentSpec;
use crate::run_plan::RunPlan;

/// Timed repetitions after one warm-up.
const REPEATS: usize = 5;

/// Times every method of the plan and writes summary.csv and table.md to `out_dir`.
pub fn run(
    spec: &ExperimentSpec,
    plan: &RunPlan,
    device: &Device,
    out_dir: &Path,
    registry: &ModelRegistry,
) -> Result<()> {
    let batch = spec.batch.unwrap_or(32);
    let slot = plan
        .datasets
        .first()
        .context("an inference-time experiment needs its dataset entry")?;
    let paper = spec.paper_results.get(&slot.slot.key);
    // One run per method: the plan's first config of each method carries its settings.
    let mut seen = Vec::new();
    let mut csv =
        String::from("method,model,input_size,batch,device,median_ms,paper_ms,ratio_to_paper\n");
    let mut md = format!(
        "# {}\n\nPaper: Yu & Xu 2021, {}. Median of {REPEATS} forward passes of a batch of {batch} in inference mode after one warm-up, on {:?}, measured in one process. The paper's times come from its own (GPU) machine: compare the ordering of methods, not the values.\n\n| Method | ms / batch (ours) | ms / batch (paper) |\n|:--|--:|--:|\n",
        spec.title, spec.paper_section, device
    );
    let names = fer_report::MethodNames::new(registry.display_names());
    for run in &plan.runs {
        let cfg = &run.config;
        let id = cfg.method_id().to_string();
        if seen.contains(&id) {
            continue;
        }
        seen.push(id.clone());
        let (_varmap, vb) = seeded_var_builder(0, DType::F32, device);
        let model = registry
            .build(&cfg.model, &cfg.model_config, vb)
            .with_context(|| format!("building {}", cfg.model))?;
        let size = cfg.model_config.input_size;
        let x = Tensor::randn(
            0f32,
            1.0,
            (batch, cfg.model_config.in_channels, size, size),
            device,
        )?;
        let mut times = Vec::new();
        for i in 0..=REPEATS {
            let t0 = Instant::now();
            let out = model.forward_t(&x, false)?;
            for t in [&out.expression_logits, &out.landmarks]
                .into_iter()
                .flatten()
            {
                // Reading a value back waits for the device to finish.
                let _ = t.sum_all()?.to_scalar::<f32>()?;
            }
            if i > 0 {
                times.push(t0.elapsed().as_secs_f64() * 1e3);
            }
        }
        times.sort_by(|a, b| a.total_cmp(b));
        let ms = times[times.len() / 2];
        let paper_ms = paper
            .and_then(|p| p.get(&id))
            .and_then(|m| m.get("time_ms"))
            .copied();
        println!("{id:<22} {ms:>10.1} ms / batch {batch}");
        let _ = writeln!(
            csv,
            "{id},{},{size},{batch},{device:?},{ms:.2},{},{}",
            cfg.model,
            paper_ms.map(|p| p.to_string()).unwrap_or_default(),
            paper_ms
                .map(|p| format!("{:.2}", ms / p))
                .unwrap_or_default()
        );
        let _ = writeln!(
            md,
            "| {} | {ms:.1} | {} |",
            names.get(&id),
            paper_ms
                .map(|p| format!("{p:.2}"))
                .unwrap_or_else(|| "-".into())
        );
    }
    fer_train::write_atomic(&out_dir.join("summary.csv"), csv.as_bytes())?;
    fer_train::write_atomic(&out_dir.join("table.md"), md.as_bytes())?;
    println!("written: {}/summary.csv, table.md", out_dir.display());
    Ok(())
}
