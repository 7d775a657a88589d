//! Whole-model parity of the multi-task models against PyTorch: hps (paper 4.2), csn (Misra et
//! al. 2016), ps-mcnn (Cao et al. 2018), cmcnn (paper 3.1-3.3, eqs. 1-13) and the add-on mtan
//! (Liu et al. 2019, eq. 2), each built from the catalogue exactly as `cargo xtask train` builds
//! it.
//!
//! Their parts have their own tests (BaseDCNN's layers, the heads, CCAM/SCAM, the cross-stitch
//! mixing); this one checks how each model wires them: which column feeds which unit, the
//! concatenation orders, which parameters are shared, the parameter names (a checkpoint's keys)
//! and that the batch-norm running statistics move as PyTorch's do.
//!
//! The expected values come from `tests/data/whole_model_parity.py`, an independent functional
//! PyTorch 2.15 version of the five models (its docstring says what each does), run as
//! `python3 crates/fer-catalog/tests/data/whole_model_parity.py > crates/fer-catalog/tests/data/whole_model_parity.json`.
//! Both sides set every trainable parameter by one formula in sorted-name order, so a parameter
//! with another name or shape here fails the name check before any number is compared.
//! Everything runs in float64 at 16 px with narrow heads, so the tolerances are near rounding.

use std::collections::BTreeMap;

use anyhow::{anyhow, ensure, Context, Result};
use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use fer_models::{seeded_var_builder, ModelConfig};
use serde_json::Value;

const EXPECTED: &str = include_str!("data/whole_model_parity.json");

fn field<'a>(v: &'a Value, key: &str) -> Result<&'a Value> {
    v.get(key)
        .ok_or_else(|| anyhow!("expected values lack `{key}`"))
}

fn number(v: &Value, key: &str) -> Result<f64> {
    field(v, key)?
        .as_f64()
        .ok_or_else(|| anyhow!("`{key}` is not a number"))
}

fn numbers(v: &Value, key: &str) -> Result<Vec<f64>> {
    field(v, key)?
        .as_array()
        .ok_or_else(|| anyhow!("`{key}` is not a list"))?
        .iter()
        .map(|x| {
            x.as_f64()
                .ok_or_else(|| anyhow!("`{key}` holds a non-number"))
        })
        .collect()
}

fn count(v: &Value, key: &str) -> Result<usize> {
    Ok(number(v, key)? as usize)
}

/// The configuration of the Python script: the paper's preset at 16 px with narrow heads.
fn config(expected: &Value) -> Result<ModelConfig> {
    let mut cfg = ModelConfig::paper();
    cfg.input_size = count(expected, "size")?;
    cfg.num_classes = count(expected, "classes")?;
    cfg.num_landmarks = count(expected, "landmarks")?;
    cfg.fer_head.hidden = count(expected, "fer_hidden")?;
    cfg.fer_head.embedding = count(expected, "fer_embedding")?;
    cfg.fld_head.hidden = count(expected, "fld_hidden")?;
    Ok(cfg)
}

/// Trainable variables by name: the VarMap also holds the batch-norm running statistics
/// (`running_mean`, `running_var`), which PyTorch keeps as buffers, not parameters.
fn trainable(varmap: &VarMap) -> BTreeMap<String, candle_core::Var> {
    let data = varmap
        .data()
        .lock()
        .expect("the VarMap lock is never poisoned here");
    data.iter()
        .filter(|(name, _)| !name.contains(".running_"))
        .map(|(name, var)| (name.clone(), var.clone()))
        .collect()
}

/// value[i] = 0.5 sin(0.37 i + 0.91 k) / sqrt(fan) for the k-th trainable parameter in sorted
/// name order, fan = elements / first dimension (the script's `Model.fill`).
fn fill_by_formula(params: &BTreeMap<String, candle_core::Var>) -> Result<()> {
    for (k, (_, var)) in params.iter().enumerate() {
        let dims = var.dims().to_vec();
        let n = var.elem_count();
        let fan = (n / dims[0]) as f64;
        let v: Vec<f64> = (0..n)
            .map(|i| 0.5 * (0.37 * i as f64 + 0.91 * k as f64).sin() / fan.sqrt())
            .collect();
        var.set(&Tensor::from_vec(v, dims, &Device::Cpu)?)?;
    }
    Ok(())
}

/// A vector of `n` values f(i), as the script's `weights`.
fn by_index(n: usize, f: impl Fn(f64) -> f64) -> Result<Tensor> {
    let v: Vec<f64> = (0..n).map(|i| f(i as f64)).collect();
    Ok(Tensor::from_vec(v, n, &Device::Cpu)?)
}

fn close(got: f64, want: f64, tol: f64, what: &str) -> Result<()> {
    ensure!(
        (got - want).abs() <= tol,
        "{what}: got {got:.15e}, PyTorch {want:.15e} (|diff| {:.3e} > {tol:.1e})",
        (got - want).abs()
    );
    Ok(())
}

fn close_all(got: &[f64], want: &[f64], what: &str) -> Result<()> {
    ensure!(
        got.len() == want.len(),
        "{what}: {} values, PyTorch {}",
        got.len(),
        want.len()
    );
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        close(g, w, 1e-9 * (1.0 + w.abs()), &format!("{what}[{i}]"))?;
    }
    Ok(())
}

fn check_model(name: &str) -> Result<()> {
    let all: Value = serde_json::from_str(EXPECTED).context("whole_model_parity.json")?;
    let want = field(field(&all, "models")?, name)?;
    let cfg = config(&all)?;
    let (batch, size) = (count(&all, "batch")?, cfg.input_size);

    let (varmap, vb) = seeded_var_builder(0, DType::F64, &Device::Cpu);
    let model = fer_catalog::model_registry().build(name, &cfg, vb)?;
    let params = trainable(&varmap);

    // Same parameters, same shapes, before any number.
    let want_params = field(want, "params")?
        .as_object()
        .ok_or_else(|| anyhow!("`params` is not a map"))?;
    let ours: Vec<(String, Vec<usize>)> = params
        .iter()
        .map(|(n, v)| (n.clone(), v.dims().to_vec()))
        .collect();
    let theirs: Vec<(String, Vec<usize>)> = want_params
        .iter()
        .map(|(n, shape)| {
            let dims = shape
                .as_array()
                .map(|d| {
                    d.iter()
                        .filter_map(|x| x.as_u64())
                        .map(|x| x as usize)
                        .collect()
                })
                .unwrap_or_default();
            (n.clone(), dims)
        })
        .collect();
    ensure!(
        ours == theirs,
        "{name}: parameters differ from the PyTorch model's\nours:    {ours:?}\nPyTorch: {theirs:?}"
    );
    fill_by_formula(&params)?;

    let n_in = batch * size * size;
    let x = by_index(n_in, |i| (0.13 * i).sin() + 0.2)?.reshape((batch, 1, size, size))?;

    // Training-mode forward, then the gradient of a fixed linear function of both outputs.
    let out = model.forward_t(&x, true)?;
    let logits = out
        .expression_logits
        .ok_or_else(|| anyhow!("{name} has no FER output"))?;
    let landmarks = out
        .landmarks
        .ok_or_else(|| anyhow!("{name} has no FLD output"))?;
    let logits_flat = logits.flatten_all()?;
    let landmarks_flat = landmarks.flatten_all()?;
    close_all(
        &logits_flat.to_vec1::<f64>()?,
        &numbers(want, "train_logits")?,
        &format!("{name} training-mode logits"),
    )?;
    let lm: Vec<f64> = landmarks_flat.to_vec1()?;
    let lm_sum: f64 = lm.iter().sum();
    let lm_sumsq: f64 = lm.iter().map(|v| v * v).sum();
    let want_sumsq = number(want, "train_landmarks_sumsq")?;
    close(
        lm_sum,
        number(want, "train_landmarks_sum")?,
        1e-9 * (1.0 + want_sumsq.sqrt()),
        &format!("{name} landmark sum"),
    )?;
    close(
        lm_sumsq,
        want_sumsq,
        1e-9 * (1.0 + want_sumsq),
        &format!("{name} landmark sum of squares"),
    )?;
    close_all(
        &lm[..2],
        &numbers(want, "train_landmarks_first")?,
        &format!("{name} first landmark"),
    )?;

    let w_logits = by_index(logits_flat.elem_count(), |i| (0.7 * i).cos())?;
    let w_landmarks = by_index(landmarks_flat.elem_count(), |i| (0.3 * i + 0.5).sin())?;
    let loss =
        ((&logits_flat * &w_logits)?.sum_all()? + (&landmarks_flat * &w_landmarks)?.sum_all()?)?;
    let want_loss = number(want, "loss")?;
    close(
        loss.to_scalar::<f64>()?,
        want_loss,
        1e-9 * (1.0 + want_loss.abs()),
        &format!("{name} loss"),
    )?;
    let grads = loss.backward()?;
    let want_grads = field(want, "grads")?;
    for (pname, var) in &params {
        let g = grads
            .get(var.as_tensor())
            .ok_or_else(|| anyhow!("{name}: `{pname}` received no gradient"))?
            .flatten_all()?;
        let n = g.elem_count();
        let dot = (&g * by_index(n, |i| (0.11 * i).cos())?)?
            .sum_all()?
            .to_scalar::<f64>()?;
        let sumsq = g.sqr()?.sum_all()?.to_scalar::<f64>()?;
        let w = numbers(want_grads, pname)?;
        // |dot| <= |g| sqrt(n): its rounding error scales with that bound, not with dot itself
        // (conv biases before a batch norm have gradients that are zero up to rounding).
        let scale = w[1].sqrt() * (n as f64).sqrt();
        close(
            dot,
            w[0],
            1e-9 * scale + 1e-13,
            &format!("{name} grad {pname} · cos"),
        )?;
        close(
            sumsq,
            w[1],
            1e-8 * w[1] + 1e-24,
            &format!("{name} grad {pname} |g|²"),
        )?;
    }

    // Evaluation mode after that one training forward: the running statistics it left.
    let eval = model.forward_t(&x, false)?;
    let eval_logits = eval
        .expression_logits
        .ok_or_else(|| anyhow!("{name} has no FER output"))?
        .flatten_all()?
        .to_vec1::<f64>()?;
    close_all(
        &eval_logits,
        &numbers(want, "eval_logits")?,
        &format!("{name} evaluation-mode logits"),
    )?;
    let eval_lm_sum = eval
        .landmarks
        .ok_or_else(|| anyhow!("{name} has no FLD output"))?
        .sum_all()?
        .to_scalar::<f64>()?;
    close(
        eval_lm_sum,
        number(want, "eval_landmarks_sum")?,
        1e-9 * (1.0 + want_sumsq.sqrt()),
        &format!("{name} evaluation-mode landmark sum"),
    )?;
    Ok(())
}

#[test]
fn hps_matches_pytorch() -> Result<()> {
    check_model("hps")
}

#[test]
fn csn_matches_pytorch() -> Result<()> {
    check_model("csn")
}

#[test]
fn ps_mcnn_matches_pytorch() -> Result<()> {
    check_model("ps-mcnn")
}

#[test]
fn cmcnn_matches_pytorch() -> Result<()> {
    check_model("cmcnn")
}

#[test]
fn mtan_matches_pytorch() -> Result<()> {
    check_model("mtan")
}
