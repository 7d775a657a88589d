//! `cargo xtask bench train`: inference and training-step throughput of the paper's models
//! (BaseDCNN-FER, CMCNN, ResNet-18) at the paper's input (1 x 100 x 100, 4.2) and batch 32,
//! with the step split into forward (with the loss), backward and optimiser (Adam, 4.4).
//! Each measurement is the median of the timed passes after warm-up passes. When PyTorch
//! imports, bench/torch_reference.py times the same networks on the same device right after,
//! and the CSV holds both and their ratio.

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use fer_models::seeded_var_builder;
use fer_train::{cross_entropy, wing_loss, Adam, AdamConfig, WingLossConfig};
use std::time::Instant;

/// What is timed for one model, in seconds per batch (medians).
#[derive(Debug, Clone, Copy)]
pub struct ModelTimings {
    pub parameters: usize,
    pub inference_s: f64,
    pub forward_s: f64,
    pub backward_s: f64,
    pub optimiser_s: f64,
    pub step_s: f64,
}

/// The settings of one benchmark run.
#[derive(Debug, Clone)]
pub struct TrainBenchSettings {
    pub models: Vec<String>,
    pub batch: usize,
    pub size: usize,
    pub passes: usize,
    pub warmup: usize,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// Seconds since `start`, after the device has finished its queued work.
fn elapsed(start: Instant, device: &Device) -> Result<f64> {
    device.synchronize()?;
    Ok(start.elapsed().as_secs_f64())
}

/// Times one registered model on random inputs (seeded, so every run times the same numbers).
pub fn time_model(name: &str, s: &TrainBenchSettings, device: &Device) -> Result<ModelTimings> {
    let registry = fer_catalog::model_registry();
    let mut cfg = fer_models::ModelConfig::paper();
    cfg.input_size = s.size;
    let (varmap, vb) = seeded_var_builder(0, DType::F32, device);
    let model = registry
        .build(name, &cfg, vb)
        .with_context(|| format!("building {name}"))?;
    // Compared with PyTorch's `parameters()` to show both sides time the same network.
    let parameters = fer_models::parameter_count::trainable_parameter_count(&varmap);
    let mut opt = Adam::new(varmap.all_vars(), AdamConfig::paper());
    let b = s.batch;
    let x = Tensor::randn(0f32, 1.0, (b, cfg.in_channels, s.size, s.size), device)?;
    let labels = Tensor::from_vec((0..b as u32).map(|i| i % 7).collect(), b, device)?;
    let landmarks = (Tensor::randn(0f32, 5.0, (b, cfg.num_landmarks, 2), device)? + 20.0)?;

    let mut inference = Vec::new();
    for pass in 0..s.warmup + s.passes {
        let start = Instant::now();
        let out = model.forward_t(&x, false)?;
        if let Some(l) = &out.expression_logits {
            l.to_vec2::<f32>()?;
        }
        let t = elapsed(start, device)?;
        if pass >= s.warmup {
            inference.push(t);
        }
    }

    let (mut fwd, mut bwd, mut optim, mut step) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for pass in 0..s.warmup + s.passes {
        let t0 = Instant::now();
        let out = model.forward_t(&x, true)?;
        let loss = match (&out.expression_logits, &out.landmarks) {
            (Some(l), Some(p)) => {
                (cross_entropy(l, &labels)?
                    + wing_loss(p, &landmarks, None, &WingLossConfig::default())?)?
            }
            (Some(l), None) => cross_entropy(l, &labels)?,
            (None, Some(p)) => wing_loss(p, &landmarks, None, &WingLossConfig::default())?,
            (None, None) => bail!("{name} returned no output"),
        };
        loss.to_scalar::<f32>()?;
        let f = elapsed(t0, device)?;
        let t1 = Instant::now();
        let grads = loss.backward()?;
        let bk = elapsed(t1, device)?;
        let t2 = Instant::now();
        opt.step(&grads)?;
        let o = elapsed(t2, device)?;
        if pass >= s.warmup {
            fwd.push(f);
            bwd.push(bk);
            optim.push(o);
            step.push(f + bk + o);
        }
    }
    Ok(ModelTimings {
        parameters,
        inference_s: median(inference),
        forward_s: median(fwd),
        backward_s: median(bwd),
        optimiser_s: median(optim),
        step_s: median(step),
    })
}

/// PyTorch's timings from bench/torch_reference.py's JSON, by model name; None (with a
/// message saying why) when the script cannot run or torch does not import.
pub fn torch_reference(
    python: &str,
    s: &TrainBenchSettings,
    device: &str,
) -> Option<(serde_json::Value, String)> {
    let script = crate::workspace::root().join("bench/torch_reference.py");
    let out = std::process::Command::new(python)
        .arg(&script)
        .args(["--device", device])
        .args(["--batch", &s.batch.to_string()])
        .args(["--size", &s.size.to_string()])
        .args(["--passes", &s.passes.to_string()])
        .args(["--warmup", &s.warmup.to_string()])
        .args(["--models", &s.models.join(",")])
        .stderr(std::process::Stdio::inherit())
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            eprintln!("cannot run {python}: {e}; no PyTorch reference");
            return None;
        }
    };
    if !out.status.success() {
        eprintln!(
            "bench/torch_reference.py failed (is torch importable by {python}?); no PyTorch reference"
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    match serde_json::from_str::<serde_json::Value>(text.trim()) {
        Ok(v) => {
            let version = v
                .get("torch")
                .and_then(|t| t.as_str())
                .unwrap_or("?")
                .to_string();
            Some((v, version))
        }
        Err(e) => {
            eprintln!("bench/torch_reference.py printed no JSON ({e}); no PyTorch reference");
            None
        }
    }
}

/// One model's PyTorch timings from the reference JSON.
pub fn torch_timings(json: &serde_json::Value, model: &str) -> Option<ModelTimings> {
    let m = json.get("models")?.get(model)?;
    let f = |k: &str| m.get(k).and_then(|v| v.as_f64());
    let batch = json.get("batch").and_then(|v| v.as_f64());
    let inference_s = match (f("inference_s"), batch, f("inference_images_per_s")) {
        (Some(s), _, _) => s,
        (None, Some(b), Some(r)) => b / r,
        _ => return None,
    };
    Some(ModelTimings {
        parameters: m.get("parameters").and_then(|v| v.as_u64())? as usize,
        inference_s,
        forward_s: f("forward_s")?,
        backward_s: f("backward_s")?,
        optimiser_s: f("optimiser_s")?,
        step_s: f("step_s")?,
    })
}
