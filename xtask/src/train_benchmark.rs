//! `cargo xtask bench train`: inference and training-step throughput of the paper's models
//! (BaseDCNN-FER, CMCNN, ResNet-18) at the paper's input (1 x 100 x 100, 4.2) and batch 32,
//! with the step split into forward (with the loss), backward and optimiser (Adam, 4.4).
//! Each measurement is the median of the timed passes after warm-up passes. When PyTorch
//! imports, bench/torch_reference.py times the same networks on the same device right after,
//! under each of its settings (default Adam; fused Adam; channels_last; bf16 autocast), and
//! the CSV compares ours with PyTorch at its best. Also measured: the machine's fp32 GEMM
//! rate (the peak a training step is judged against), each step's achieved GFLOP/s, and the
//! peak resident memory while a model is timed.

use anyhow::{bail, Context, Result};
use candle_core::{DType, Device, Tensor};
use fer_models::ops::matmul_precision::{autocast, Precision};
use fer_models::seeded_var_builder;
use fer_train::{cross_entropy, wing_loss, Adam, AdamConfig, WingLossConfig};
use std::time::Instant;

/// What is timed for one model, in seconds per batch (medians).
#[derive(Debug, Clone, Copy, serde::Serialize, serde::Deserialize)]
pub struct ModelTimings {
    pub parameters: usize,
    pub inference_s: f64,
    pub forward_s: f64,
    pub backward_s: f64,
    pub optimiser_s: f64,
    pub step_s: f64,
    /// Peak resident memory while the model was built and timed (MB), where known.
    pub peak_rss_mb: Option<f64>,
}

/// The settings of one benchmark run.
#[derive(Debug, Clone)]
pub struct TrainBenchSettings {
    pub models: Vec<String>,
    pub batch: usize,
    pub size: usize,
    pub passes: usize,
    pub warmup: usize,
    /// Precision of our convolutions and linear layers (`--precision`; PyTorch's side always
    /// times every one of its settings).
    pub precision: Precision,
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

/// Linux: resets the process's peak resident set (VmHWM) to its current size, so the next
/// reading is the peak of what runs in between.
pub fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The process's peak resident set since the last reset (MB), on Linux.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// The machine's fp32 multiply rate as our matrix multiply reaches it (GFLOP/s): the median
/// of square products of side `n` on `device` with every thread candle uses.
pub fn gemm_gflops(device: &Device, n: usize, passes: usize) -> Result<f64> {
    let a = Tensor::randn(0f32, 1.0, (n, n), device)?;
    let b = Tensor::randn(0f32, 1.0, (n, n), device)?;
    a.matmul(&b)?;
    let mut times = Vec::new();
    for _ in 0..passes.max(3) {
        let start = Instant::now();
        let c = a.matmul(&b)?;
        times.push(elapsed(start, device)?);
        drop(c);
    }
    Ok(2.0 * (n as f64).powi(3) / median(times) / 1e9)
}

/// Floating-point operations of one training step of `name` on a batch: forward MACs (counted
/// by fer-models' counter) x 2 FLOPs x 3 (the backward pass costs about twice the forward).
pub fn training_flops(name: &str, s: &TrainBenchSettings) -> Result<f64> {
    Ok(inference_flops(name, s)? * 3.0)
}

/// Floating-point operations of one forward pass of `name` on a batch (2 per MAC).
pub fn inference_flops(name: &str, s: &TrainBenchSettings) -> Result<f64> {
    let registry = fer_catalog::model_registry();
    let mut cfg = fer_models::ModelConfig::paper();
    cfg.input_size = s.size;
    let (_varmap, vb) = seeded_var_builder(0, DType::F32, &Device::Cpu);
    let model = registry
        .build(name, &cfg, vb)
        .with_context(|| format!("building {name}"))?;
    let x = Tensor::zeros(
        (1, cfg.in_channels, s.size, s.size),
        DType::F32,
        &Device::Cpu,
    )?;
    let (out, macs) = fer_models::mac_counter::count(|| model.forward_t(&x, false));
    out?;
    Ok(2.0 * macs as f64 * s.batch as f64)
}

/// Times one registered model on random inputs (seeded, so every run times the same numbers).
pub fn time_model(name: &str, s: &TrainBenchSettings, device: &Device) -> Result<ModelTimings> {
    reset_peak_rss();
    let _precision = autocast(s.precision)?;
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
        peak_rss_mb: peak_rss_mb(),
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

/// One model's PyTorch timings under each setting it was timed with (`default`, `fused`,
/// `fused_cl`, `bf16`, `bf16_cl`); an older JSON without settings gives its one as `default`.
pub fn torch_variants(
    json: &serde_json::Value,
    model: &str,
) -> std::collections::BTreeMap<String, ModelTimings> {
    let mut out = std::collections::BTreeMap::new();
    let batch = json.get("batch").and_then(|v| v.as_f64());
    let Some(m) = json.get("models").and_then(|m| m.get(model)) else {
        return out;
    };
    let parameters = m.get("parameters").and_then(|v| v.as_u64());
    match m.get("variants").and_then(|v| v.as_object()) {
        Some(vs) => {
            for (name, v) in vs {
                if let Some(t) = timings_of(v, batch, parameters) {
                    out.insert(name.clone(), t);
                }
            }
        }
        None => {
            if let Some(t) = timings_of(m, batch, parameters) {
                out.insert("default".to_string(), t);
            }
        }
    }
    out
}

/// The fastest of PyTorch's settings by `key` among `names`: (setting, timings).
pub fn fastest<'a>(
    variants: &'a std::collections::BTreeMap<String, ModelTimings>,
    names: &[&str],
    key: impl Fn(&ModelTimings) -> f64,
) -> Option<(&'a str, &'a ModelTimings)> {
    variants
        .iter()
        .filter(|(n, _)| names.contains(&n.as_str()))
        .min_by(|a, b| key(a.1).total_cmp(&key(b.1)))
        .map(|(n, t)| (n.as_str(), t))
}

/// The words for a PyTorch setting in the CSV.
pub fn setting_words(name: &str) -> &'static str {
    match name {
        "default" => "default Adam; channels-first; fp32",
        "fused" => "fused Adam; channels-first; fp32",
        "fused_cl" => "fused Adam; channels_last; fp32",
        "bf16" => "fused Adam; channels-first; bf16 autocast",
        "bf16_cl" => "fused Adam; channels_last; bf16 autocast",
        _ => "unknown setting",
    }
}

fn timings_of(
    m: &serde_json::Value,
    batch: Option<f64>,
    parameters: Option<u64>,
) -> Option<ModelTimings> {
    let f = |k: &str| m.get(k).and_then(|v| v.as_f64());
    let inference_s = match (f("inference_s"), batch, f("inference_images_per_s")) {
        (Some(s), _, _) => s,
        (None, Some(b), Some(r)) => b / r,
        _ => return None,
    };
    Some(ModelTimings {
        parameters: m
            .get("parameters")
            .and_then(|v| v.as_u64())
            .or(parameters)? as usize,
        inference_s,
        forward_s: f("forward_s")?,
        backward_s: f("backward_s")?,
        optimiser_s: f("optimiser_s")?,
        step_s: f("step_s")?,
        peak_rss_mb: f("peak_rss_mb"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pytorch_at_its_best_is_the_fastest_fp32_setting() {
        let t = |step: f64, inf: f64| {
            serde_json::json!({"parameters": 10, "inference_s": inf, "forward_s": 0.1,
                "backward_s": 0.2, "optimiser_s": 0.05, "step_s": step, "peak_rss_mb": 100.0})
        };
        let json = serde_json::json!({"batch": 32, "models": {"cmcnn": {
            "parameters": 10, "inference_s": 1.0, "forward_s": 0.1, "backward_s": 0.2,
            "optimiser_s": 0.5, "step_s": 4.0,
            "variants": {"default": t(4.0, 1.0), "fused": t(3.2, 1.1), "fused_cl": t(3.1, 1.2),
                         "bf16": t(2.0, 0.6), "bf16_cl": t(1.9, 0.7)}}}});
        let v = torch_variants(&json, "cmcnn");
        assert_eq!(v.len(), 5);
        let fp32 = ["fused", "fused_cl"];
        let (name, best) = fastest(&v, &fp32, |t| t.step_s).unwrap();
        assert_eq!((name, best.step_s), ("fused_cl", 3.1));
        // Inference has its own fastest setting.
        assert_eq!(fastest(&v, &fp32, |t| t.inference_s).unwrap().0, "fused");
        assert_eq!(
            fastest(&v, &["bf16", "bf16_cl"], |t| t.step_s).unwrap().0,
            "bf16_cl"
        );
        assert_eq!(best.peak_rss_mb, Some(100.0));
        // A JSON from before the settings: its one timing is the default.
        let old = serde_json::json!({"batch": 32, "models": {"hps": {
            "parameters": 3, "inference_images_per_s": 64.0, "forward_s": 0.1,
            "backward_s": 0.2, "optimiser_s": 0.05, "step_s": 0.4}}});
        let v = torch_variants(&old, "hps");
        assert_eq!(v.keys().collect::<Vec<_>>(), vec!["default"]);
        assert_eq!(v["default"].inference_s, 0.5);
        assert!(torch_variants(&old, "nope").is_empty());
    }
}
