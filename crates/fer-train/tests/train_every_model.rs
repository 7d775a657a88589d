//! Every model of the catalogue (fer-catalog: the paper's and every add-on baseline crate, so a
//! new baseline is covered without editing this file) trains on SynthFER through the one trainer, and a short training lowers each of its task losses; mixing parameters
//! (α, β, cross-stitch weights) are written to steps.csv after every step and move.

mod common;

use anyhow::{Context, Result};
use candle_core::Device;
use fer_data::{FaceDataset, Split};
use fer_train::{train_run, TrainConfig, TrainOptions};

const SIZE: u32 = 32;
const EPOCHS: usize = 3;

fn dataset() -> Result<(FaceDataset, Split)> {
    // 168 training images.
    common::synthfer_holdout(30, 8, SIZE, 11, 0.15)
}

fn config(model: &str) -> TrainConfig {
    let mut c = TrainConfig::paper("test", "synthfer", model, "holdout", 1);
    c.model_config.input_size = SIZE as usize;
    c.model_config.fer_head.hidden = 128;
    c.model_config.fer_head.embedding = 32;
    c.model_config.fld_head.hidden = 128;
    // Batch 16: ten updates per epoch from 168 training images.
    c.batch_size = 16;
    c.max_epochs = EPOCHS;
    c.patience = EPOCHS;
    c
}

/// Column `name` of a CSV text as numbers.
fn column(csv: &str, name: &str) -> Result<Vec<f64>> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().context("empty csv")?.split(',').collect();
    let i = header
        .iter()
        .position(|h| *h == name)
        .with_context(|| format!("no column {name}"))?;
    lines
        .map(|l| {
            l.split(',')
                .nth(i)
                .context("short row")?
                .parse::<f64>()
                .context("not a number")
        })
        .collect()
}

#[test]
fn every_model_trains_and_lowers_its_task_losses() -> Result<()> {
    fer_train::allocator::keep_freed_memory();
    let (data, split) = dataset()?;
    let registry = fer_catalog::model_registry();
    let root = std::env::temp_dir().join(format!("fer-train-every-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    for name in registry.names() {
        let started = std::time::Instant::now();
        let out = train_run(
            &config(name),
            &data,
            &split,
            &registry,
            &Device::Cpu,
            &root,
            TrainOptions {
                show_progress: false,
                stop_after_epochs: None,
                ..Default::default()
            },
        )
        .with_context(|| format!("training {name}"))?;
        eprintln!(
            "{name}: trained in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let history = std::fs::read_to_string(out.run_dir.join("history.csv"))?;
        let (_, vb) = fer_models::seeded_var_builder(0, candle_core::DType::F32, &Device::Cpu);
        let tasks = registry
            .build(name, &config(name).model_config, vb)?
            .tasks();
        for (task, col) in [
            (tasks.has_fer(), "train_loss_fer"),
            (tasks.has_fld(), "train_loss_fld"),
        ] {
            if !task {
                continue;
            }
            let l = column(&history, col)?;
            eprintln!("{name}: {col} per epoch {l:?}");
            assert!(
                l[EPOCHS - 1] < l[0],
                "{name}: {col} did not fall over {EPOCHS} epochs: {l:?}"
            );
        }
        let steps = std::fs::read_to_string(out.run_dir.join("steps.csv"))?;
        if name == "cmcnn" {
            let beta1 = column(&steps, "co_att.5.beta1")?;
            assert!(beta1.len() >= 10);
            assert!(
                beta1.iter().any(|b| (b - 0.5).abs() > 1e-4),
                "β1 of the last unit never moved from 0.5"
            );
        }
        if name == "csn" {
            // The cross-stitch weights are trained: the last unit's own-task weight leaves its
            // starting 0.9 (Misra et al.) and the other-task weight its 0.1.
            let ee = column(&steps, "cross_stitch.fc1.ee")?;
            let el = column(&steps, "cross_stitch.fc1.el")?;
            assert!(ee.len() >= 10);
            assert!(
                ee.iter().any(|v| (v - 0.9).abs() > 1e-4),
                "cross_stitch.fc1.ee never moved from 0.9"
            );
            assert!(
                el.iter().any(|v| (v - 0.1).abs() > 1e-4),
                "cross_stitch.fc1.el never moved from 0.1"
            );
        }
    }
    std::fs::remove_dir_all(&root)?;
    Ok(())
}
