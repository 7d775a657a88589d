//! `cargo xtask models`: every registered model with its size and cost (paper Table 10 asks
//! for inference time; this adds parameters, multiply-accumulates and a training step).

use anyhow::{Context, Result};
use candle_core::{DType, Tensor};
use clap::Args;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use fer_models::{mac_counter, seeded_var_builder, ModelConfig};

/// List every registered model (the paper's and add-on crates') with its trainable parameter
/// count and its multiply-accumulates per image, both at the paper's settings (100x100, 7
/// classes, the paper's head widths), and the median time of a forward + backward pass for a
/// batch on the chosen device. Writes results/models.csv.
#[derive(Args)]
pub struct ModelsArgs {
    /// Settings preset: `paper` (the paper's text) or `reference-code` (thuiar/cmcnn: no ReLU
    /// after the FER embedding, 3x3 + batch-norm SCAM).
    #[arg(long, default_value = "paper")]
    preset: String,
    /// Input side for parameters, MACs and timing.
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Batch size of the timed forward + backward pass.
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Timed repetitions after one warm-up (the median is reported).
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Skip the timing (parameters and MACs only, a few seconds).
    #[arg(long)]
    no_timing: bool,
    /// Only these models (comma-separated registry names).
    #[arg(long, value_delimiter = ',')]
    models: Vec<String>,
    /// `cpu`, `cuda` or `cuda:N`.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Where to write models.csv (default: results/models.csv).
    #[arg(long)]
    out: Option<PathBuf>,
}

struct Row {
    name: String,
    tasks: String,
    parameters: usize,
    macs: u64,
    seconds: Option<f64>,
    summary: String,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

pub fn run(args: ModelsArgs) -> Result<()> {
    let device = fer_experiments::parse_device(&args.device)?;
    let registry = fer_catalog::model_registry();
    for m in &args.models {
        registry.get(m)?;
    }
    anyhow::ensure!(
        args.batch >= 2,
        "--batch must be at least 2 (batch norm in training)"
    );
    anyhow::ensure!(args.repeats >= 1, "--repeats must be at least 1");
    let mut cfg = match args.preset.as_str() {
        "paper" => ModelConfig::paper(),
        "reference-code" => ModelConfig::reference_code(),
        other => anyhow::bail!("unknown --preset '{other}' (use paper or reference-code)"),
    };
    cfg.input_size = args.size;
    cfg.validate()?;
    let mut rows = Vec::new();
    for entry in registry.entries() {
        if !args.models.is_empty() && !args.models.iter().any(|m| m == entry.name) {
            continue;
        }
        let (varmap, vb) = seeded_var_builder(0, DType::F32, &device);
        let model = (entry.build)(&cfg, vb).with_context(|| format!("building {}", entry.name))?;
        let parameters = fer_models::parameter_count::trainable_parameter_count(&varmap);
        let one = Tensor::zeros(
            (1, cfg.in_channels, args.size, args.size),
            DType::F32,
            &device,
        )?;
        let (out, macs) = mac_counter::count(|| model.forward_t(&one, false));
        out?;
        let seconds = if args.no_timing {
            None
        } else {
            let x = Tensor::randn(
                0f32,
                1.0,
                (args.batch, cfg.in_channels, args.size, args.size),
                &device,
            )?;
            let mut times = Vec::new();
            for i in 0..=args.repeats {
                let t0 = Instant::now();
                let out = model.forward_t(&x, true)?;
                let mut loss = Tensor::new(0f32, &device)?;
                for t in [&out.expression_logits, &out.landmarks]
                    .into_iter()
                    .flatten()
                {
                    loss = (loss + t.sqr()?.mean_all()?)?;
                }
                let grads = loss.backward()?;
                device.synchronize()?;
                drop(grads);
                if i > 0 {
                    times.push(t0.elapsed().as_secs_f64());
                }
            }
            Some(median(times))
        };
        let row = Row {
            name: entry.name.to_string(),
            tasks: format!("{:?}", model.tasks()).to_lowercase(),
            parameters,
            macs,
            seconds,
            summary: entry.summary.to_string(),
        };
        println!(
            "{:<16} {:>5} {:>13} params {:>8.2} GMAC/image{}",
            row.name,
            row.tasks,
            row.parameters,
            row.macs as f64 / 1e9,
            row.seconds
                .map(|s| format!("  fwd+bwd {s:>7.3} s / batch {}", args.batch))
                .unwrap_or_default()
        );
        rows.push(row);
    }
    let mut csv = String::from(
        "model,tasks,parameters,macs_per_image,input_size,batch,device,fwd_bwd_seconds,train_images_per_second,summary\n",
    );
    for r in &rows {
        let _ = writeln!(
            csv,
            "{},{},{},{},{},{},{},{},{},\"{}\"",
            r.name,
            r.tasks,
            r.parameters,
            r.macs,
            args.size,
            args.batch,
            args.device,
            r.seconds.map(|s| format!("{s:.4}")).unwrap_or_default(),
            r.seconds
                .map(|s| format!("{:.2}", args.batch as f64 / s))
                .unwrap_or_default(),
            r.summary.replace('"', "'")
        );
    }
    let out = match args.out {
        Some(p) => p,
        None => crate::workspace::results_dir().join("models.csv"),
    };
    fer_train::run_dir::write_atomic(&out, csv.as_bytes())?;
    println!("wrote {}", out.display());
    Ok(())
}
