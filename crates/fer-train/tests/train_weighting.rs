//! Every loss-weighting method trains HPS and CMCNN on SynthFER (both losses fall), writes its
//! weights to steps.csv, is recorded in config.yaml (so in the run id), resumes bit for bit
//! after an interruption, and is refused on a single-task model before a run folder exists.

mod common;

use anyhow::Result;
use candle_core::Device;
use fer_data::{FaceDataset, Split};
use fer_models::ModelRegistry;
use fer_train::{train_run, TrainConfig, TrainOptions, WeightingConfig};
use std::path::{Path, PathBuf};

const SIZE: u32 = 32;

fn dataset() -> Result<(FaceDataset, Split)> {
    // About 105 training images: 7 updates of 16 per epoch.
    common::synthfer_holdout(30, 5, SIZE, 7, 0.15)
}

fn config(model: &str, method: &str, epochs: usize) -> TrainConfig {
    let mut c = TrainConfig::paper("w-test", "synthfer", model, "holdout", 1);
    c.model_config.input_size = SIZE as usize;
    c.model_config.num_classes = 7;
    c.model_config.fer_head.hidden = 64;
    c.model_config.fer_head.embedding = 16;
    c.model_config.fld_head.hidden = 64;
    c.batch_size = 16;
    c.max_epochs = epochs;
    c.patience = epochs;
    c.weighting = fer_train::weighting::resolved(&WeightingConfig::named(method))
        .expect("a registered method");
    c
}

fn temp_results(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("fer-weighting-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn opts() -> TrainOptions {
    TrainOptions {
        show_progress: false,
        stop_after_epochs: None,
        ..Default::default()
    }
}

/// history.csv's (train_loss_fer, train_loss_fld) per epoch.
fn epoch_losses(run_dir: &Path) -> Result<Vec<(f64, f64)>> {
    let text = std::fs::read_to_string(run_dir.join("history.csv"))?;
    Ok(text
        .lines()
        .skip(1)
        .map(|l| {
            let c: Vec<f64> = l
                .split(',')
                .map(|v| v.parse().unwrap_or(f64::NAN))
                .collect();
            (c[2], c[3])
        })
        .collect())
}

/// The logged weights against each method's formula, recomputed here from the run's own
/// logs (steps.csv and history.csv write six decimals, hence the 1e-4):
/// - DWA (Liu et al. 2019, LibMTL's `DWA`): from the third epoch, 2 softmax(r / 2) with
///   r_k = L_k(e-1) / L_k(e-2), the mean training losses of the two epochs before; 1 before;
/// - FAMO (Liu et al. 2023, eq. 4 with ξ = 0 at the first update): w_k = z_k / (c (L_k + ε)),
///   z = (1/2, 1/2), c = Σ z_j / (L_j + ε), from the first step's two losses;
/// - RLW (Lin et al. 2022): a softmax, so the two weights sum to 1;
/// - GradNorm (Chen et al. 2018): the weights, 2 softmax(θ) here, sum to the task count, 2.
fn check_logged_weights(
    method: &str,
    run_dir: &Path,
    rows: &[Vec<f64>],
    header: &[&str],
) -> Result<()> {
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .ok_or_else(|| anyhow::anyhow!("steps.csv lacks {name}"))
    };
    let (epoch, lf, ll) = (col("epoch")?, col("loss_fer")?, col("loss_fld")?);
    let (wf, wl) = (col("weighting.fer")?, col("weighting.fld")?);
    let close = |got: f64, want: f64, what: &str| {
        anyhow::ensure!(
            (got - want).abs() <= 1e-4,
            "{method} {what}: logged {got}, formula {want}"
        );
        Ok(())
    };
    match method {
        "dwa" => {
            let losses = epoch_losses(run_dir)?;
            for r in rows {
                let e = r[epoch] as usize; // 1-based
                let want = if e >= 3 {
                    let (before, last) = (losses[e - 3], losses[e - 2]);
                    let a = last.0 / before.0 / 2.0;
                    let b = last.1 / before.1 / 2.0;
                    let m = a.max(b);
                    let (ea, eb) = ((a - m).exp(), (b - m).exp());
                    [2.0 * ea / (ea + eb), 2.0 * eb / (ea + eb)]
                } else {
                    [1.0, 1.0]
                };
                close(r[wf], want[0], &format!("epoch {e} FER weight"))?;
                close(r[wl], want[1], &format!("epoch {e} FLD weight"))?;
            }
            anyhow::ensure!(rows.iter().any(|r| r[epoch] >= 3.0), "no third epoch");
        }
        "famo" => {
            let first = &rows[0];
            let (d0, d1) = (first[lf] + 1e-8, first[ll] + 1e-8);
            let c = 0.5 / d0 + 0.5 / d1;
            close(first[wf], 0.5 / (c * d0), "first FER weight")?;
            close(first[wl], 0.5 / (c * d1), "first FLD weight")?;
        }
        "rlw" | "gradnorm" => {
            let total = if method == "rlw" { 1.0 } else { 2.0 };
            for r in rows {
                close(r[wf] + r[wl], total, "sum of the weights")?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[test]
fn every_method_trains_hps_and_cmcnn_and_logs_its_weights() -> Result<()> {
    fer_train::allocator::keep_freed_memory();
    let (data, split) = dataset()?;
    let registry = ModelRegistry::with_paper_models();
    let root = temp_results("all");
    for entry in fer_train::weighting::METHODS {
        for model in ["hps", "cmcnn"] {
            // Three epochs: DWA's weights move from the third, GradNorm's from the second.
            let cfg = config(model, entry.name, 3);
            let out = train_run(&cfg, &data, &split, &registry, &Device::Cpu, &root, opts())?;
            let losses = epoch_losses(&out.run_dir)?;
            let (first, last) = (losses[0], losses[losses.len() - 1]);
            eprintln!("{model} {}: losses per epoch {losses:?}", entry.name);
            assert!(
                last.0 < first.0 && last.1 < first.1,
                "{model} under {}: the losses did not both fall: {losses:?}",
                entry.name
            );
            let yaml = std::fs::read_to_string(out.run_dir.join("config.yaml"))?;
            let steps = std::fs::read_to_string(out.run_dir.join("steps.csv"))?;
            let header: Vec<&str> = steps.lines().next().unwrap_or("").split(',').collect();
            if entry.name == "fixed" {
                assert!(!yaml.lines().any(|l| l.starts_with("weighting:")), "{yaml}");
                assert!(!header.contains(&"weighting.fer"));
                continue;
            }
            assert!(yaml.contains(&format!("method: {}", entry.name)), "{yaml}");
            let col = |name: &str| header.iter().position(|h| *h == name);
            let (wf, wl) = (col("weighting.fer").unwrap(), col("weighting.fld").unwrap());
            assert_eq!(
                col("gradients.cos").is_some(),
                entry.needs_gradients,
                "{header:?}"
            );
            let rows: Vec<Vec<f64>> = steps
                .lines()
                .skip(1)
                .map(|l| {
                    l.split(',')
                        .map(|v| v.parse().unwrap_or(f64::NAN))
                        .collect()
                })
                .collect();
            assert!(rows.len() >= 12, "{} steps", rows.len());
            for r in &rows {
                // Aligned-MTL's α may be zero or negative (see aligned_mtl.rs); every other
                // method's weights are positive.
                if entry.name == "aligned-mtl" {
                    assert!(r[wf].is_finite() && r[wl].is_finite(), "{r:?}");
                } else {
                    assert!(r[wf] > 0.0 && r[wl] > 0.0, "{}: {r:?}", entry.name);
                }
            }
            check_logged_weights(entry.name, &out.run_dir, &rows, &header)?;
            // Methods whose weights change do change them (fixed and PCGrad on agreeing
            // gradients may not; every other method moves within three epochs).
            let distinct = rows
                .iter()
                .map(|r| format!("{:.6},{:.6}", r[wf], r[wl]))
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            if !matches!(entry.name, "pcgrad") {
                assert!(distinct > 1, "{}: constant weights", entry.name);
            }
        }
    }
    std::fs::remove_dir_all(&root)?;
    Ok(())
}

/// A run interrupted after an epoch and resumed equals the uninterrupted run, step for step,
/// for every registered method (a new one is covered without being named here): the methods'
/// own state (learned weights, their Adam moments, DWA's loss history, GradNorm's initial
/// losses) is committed with the optimiser's, and RLW's draws, which depend on the seed and
/// the update's index only, continue where they stopped.
#[test]
fn every_method_resumes_bit_for_bit() -> Result<()> {
    let (data, split) = dataset()?;
    let registry = ModelRegistry::with_paper_models();
    for method in fer_train::weighting::METHODS.iter().map(|e| e.name) {
        // Three epochs, stopped after two: DWA's and GradNorm's weights in the third come
        // from the state of the first two.
        let cfg = config("hps", method, 3);
        let (a, b) = (
            temp_results(&format!("{method}-a")),
            temp_results(&format!("{method}-b")),
        );
        let whole = train_run(&cfg, &data, &split, &registry, &Device::Cpu, &a, opts())?;
        let stopped = train_run(
            &cfg,
            &data,
            &split,
            &registry,
            &Device::Cpu,
            &b,
            TrainOptions {
                stop_after_epochs: Some(2),
                ..opts()
            },
        );
        assert!(
            matches!(
                stopped,
                Err(fer_train::TrainError::Interrupted { epochs_done: 2, .. })
            ),
            "{method}: {:?}",
            stopped.err()
        );
        let resumed = train_run(&cfg, &data, &split, &registry, &Device::Cpu, &b, opts())?;
        let read = |d: &Path, f: &str| std::fs::read_to_string(d.join(f));
        assert_eq!(
            read(&whole.run_dir, "steps.csv")?,
            read(&resumed.run_dir, "steps.csv")?,
            "{method}"
        );
        assert_eq!(whole.metrics.test, resumed.metrics.test, "{method}");
        std::fs::remove_dir_all(&a)?;
        std::fs::remove_dir_all(&b)?;
    }
    Ok(())
}

#[test]
fn bad_weighting_settings_are_refused_with_what_to_do() -> Result<()> {
    let (data, split) = dataset()?;
    let registry = ModelRegistry::with_paper_models();
    let root = temp_results("refused");
    // A weighting method on a single-task model: refused before any run folder exists.
    let cfg = config("base-dcnn-fer", "pcgrad", 1);
    let err = train_run(&cfg, &data, &split, &registry, &Device::Cpu, &root, opts())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("weighting 'pcgrad'") && err.contains("FER only"),
        "{err}"
    );
    assert!(!root.exists(), "a run folder was created");

    // Weights that are not positive and finite stop the run, with the step and the values:
    // uncertainty weighting's 1/(2 e^s) overflows from s = -1000.
    let mut cfg = config("hps", "uncertainty", 1);
    cfg.weighting.params.insert("init".into(), -1000.0);
    let err = train_run(&cfg, &data, &split, &registry, &Device::Cpu, &root, opts())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("weighting 'uncertainty' gave the shared FER weight inf at epoch 1 step 1"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&root);

    let unknown = fer_train::weighting::resolved(&WeightingConfig::named("gradvac"))
        .unwrap_err()
        .to_string();
    assert!(
        unknown.contains("unknown weighting method 'gradvac'"),
        "{unknown}"
    );
    for name in fer_train::weighting::method_names() {
        assert!(unknown.contains(name), "{unknown}");
    }
    let mut bad = WeightingConfig::named("dwa");
    bad.params.insert("temprature".into(), 2.0);
    let err = fer_train::weighting::resolved(&bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'temprature'") && err.contains("temperature"),
        "{err}"
    );
    bad.params.clear();
    bad.params.insert("temperature".into(), -1.0);
    let err = fer_train::weighting::resolved(&bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("temperature = -1"), "{err}");
    // The resolved config spells out the defaults; fixed stays out of config.yaml.
    let dwa = fer_train::weighting::resolved(&WeightingConfig::named("dwa"))?;
    assert_eq!(dwa.params.get("temperature"), Some(&2.0));
    assert!(!config("hps", "fixed", 1)
        .to_yaml()?
        .lines()
        .any(|l| l.starts_with("weighting:")));
    assert!(config("hps", "dwa", 1)
        .to_yaml()?
        .contains("weighting:\n  method: dwa\n  params:\n    temperature: 2.0\n"));
    Ok(())
}
