//! Times the parts of one training step of a registered model (forward, backward, optimiser)
//! on random data: `cargo run --release -p fer-train --example step_timing -- [model] [size] [batch] [steps] [keep-freed-memory 0|1]`.

use candle_core::{DType, Device, Tensor};
use fer_models::{seeded_var_builder, ModelConfig, ModelRegistry};
use fer_train::{cross_entropy, wing_loss, Adam, AdamConfig, WingLossConfig};
use std::time::Instant;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let model_name = args.get(1).map(String::as_str).unwrap_or("base-dcnn-fer");
    let size: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(48);
    let batch: usize = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(32);
    let steps: usize = args.get(4).map(|s| s.parse()).transpose()?.unwrap_or(5);
    if args.get(5).map(String::as_str) == Some("1") {
        println!(
            "keep_freed_memory: {}",
            fer_train::allocator::keep_freed_memory()
        );
    }
    let dev = Device::Cpu;
    let mut cfg = ModelConfig::paper();
    cfg.input_size = size;
    let (varmap, vb) = seeded_var_builder(1, DType::F32, &dev);
    let model = ModelRegistry::with_paper_models().build(model_name, &cfg, vb)?;
    let mut opt = Adam::new(varmap.all_vars(), AdamConfig::paper());
    let x = Tensor::randn(0f32, 1.0, (batch, 1, size, size), &dev)?;
    let labels = Tensor::from_vec((0..batch as u32).map(|i| i % 7).collect(), batch, &dev)?;
    let lms = Tensor::randn(20f32, 5.0, (batch, 68, 2), &dev)?;
    for step in 0..steps {
        let t0 = Instant::now();
        let out = model.forward_t(&x, true)?;
        let loss = match (&out.expression_logits, &out.landmarks) {
            (Some(l), _) => cross_entropy(l, &labels)?,
            (None, Some(p)) => wing_loss(p, &lms, None, &WingLossConfig::default())?,
            _ => anyhow::bail!("no output"),
        };
        let _ = loss.to_scalar::<f32>()?;
        let t1 = Instant::now();
        let grads = loss.backward()?;
        let t2 = Instant::now();
        opt.step(&grads)?;
        let t3 = Instant::now();
        println!(
            "step {step}: forward {:.3} s, backward {:.3} s, optimiser {:.3} s, total {:.3} s",
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
            (t3 - t2).as_secs_f64(),
            (t3 - t0).as_secs_f64()
        );
    }
    Ok(())
}
