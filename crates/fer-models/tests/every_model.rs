//! Properties every registered model must have (shapes, gradients reaching every parameter),
//! and the equivalences that tie the multi-task models to their parts: CMCNN with α, β fixed
//! at (1, 0) is the channel-only model, and cross-stitch units at identity are two
//! independent single-task columns.
#![allow(clippy::unwrap_used)]

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use fer_models::{seeded_var_builder, ModelConfig, ModelRegistry, MultiTaskModel};

/// Small heads: the FC layers dominate the cost and are not what these tests are about.
fn small_config(size: usize) -> ModelConfig {
    let mut cfg = ModelConfig::paper();
    cfg.input_size = size;
    cfg.fer_head.hidden = 32;
    cfg.fer_head.embedding = 16;
    cfg.fld_head.hidden = 32;
    cfg
}

fn input(b: usize, size: usize, seed: f64) -> Tensor {
    let n = b * size * size;
    let v: Vec<f32> = (0..n)
        .map(|i| ((i as f64 * 0.173 + seed).sin() * 0.9) as f32)
        .collect();
    Tensor::from_vec(v, (b, 1, size, size), &Device::Cpu).unwrap()
}

fn build(name: &str, cfg: &ModelConfig, seed: u64) -> (VarMap, Box<dyn MultiTaskModel>) {
    let (varmap, vb) = seeded_var_builder(seed, DType::F32, &Device::Cpu);
    let model = ModelRegistry::with_paper_models()
        .build(name, cfg, vb)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    (varmap, model)
}

#[test]
fn every_model_returns_the_right_shapes_at_48_and_100_px() {
    let registry = ModelRegistry::with_paper_models();
    for size in [48, 100] {
        let cfg = small_config(size);
        for name in registry.names() {
            let (_, model) = build(name, &cfg, 1);
            // Training mode at 48 px (batch statistics), inference at 100 px.
            let train = size == 48;
            let out = model.forward_t(&input(2, size, 0.0), train).unwrap();
            let tasks = model.tasks();
            match &out.expression_logits {
                Some(l) => assert_eq!(l.dims(), &[2, 7], "{name} @ {size}: logits"),
                None => assert!(!tasks.has_fer(), "{name}: FER model without logits"),
            }
            match &out.landmarks {
                Some(l) => assert_eq!(l.dims(), &[2, 68, 2], "{name} @ {size}: landmarks"),
                None => assert!(!tasks.has_fld(), "{name}: FLD model without landmarks"),
            }
            if let Some(e) = &out.fer_embedding {
                assert_eq!(e.dim(0).unwrap(), 2, "{name}: embedding batch");
            }
            assert!(!out.attention_maps.is_empty(), "{name}: no attention map");
            for m in &out.attention_maps {
                assert_eq!(m.rank(), 3, "{name}: attention map {:?}", m.dims());
                assert_eq!(m.dim(0).unwrap(), 2);
            }
        }
    }
}

/// One backward pass of cross-entropy + L1 landmark loss; returns (variable name, gradient)
/// for every trainable variable (batch-norm running statistics excluded).
fn gradients(name: &str, train: bool) -> Vec<(String, Option<Vec<f32>>)> {
    // ResNet-18 halves the input five times: at 32 px its last Co-ATT unit would see 1x1 maps
    // (a CCAM embedding of D = 1, whose single ReLU unit is easily dead); 100 px gives 4x4.
    let size = if name.contains("resnet") { 100 } else { 32 };
    let cfg = small_config(size);
    let labels = Tensor::new(&[0u32, 3, 6, 2], &Device::Cpu).unwrap();
    let target = Tensor::full(10f32, (4, 68, 2), &Device::Cpu).unwrap();
    let (varmap, model) = build(name, &cfg, 7);
    let out = model.forward_t(&input(4, size, 1.0), train).unwrap();
    let mut loss = Tensor::new(0f32, &Device::Cpu).unwrap();
    if let Some(logits) = &out.expression_logits {
        loss = (loss + candle_nn::loss::cross_entropy(logits, &labels).unwrap()).unwrap();
    }
    if let Some(lm) = &out.landmarks {
        let l1 = (lm - &target).unwrap().abs().unwrap().mean_all().unwrap();
        loss = (loss + l1).unwrap();
    }
    let grads = loss.backward().unwrap();
    let data = varmap.data().lock().unwrap();
    data.iter()
        .filter(|(n, _)| !n.ends_with("running_mean") && !n.ends_with("running_var"))
        .map(|(n, var)| {
            let g = grads
                .get(var.as_tensor())
                .map(|g| g.flatten_all().unwrap().to_vec1::<f32>().unwrap());
            (n.clone(), g)
        })
        .collect()
}

#[test]
fn one_backward_pass_reaches_every_trainable_parameter() {
    // In training mode every parameter must get a finite gradient. A bias feeding a batch
    // norm gets an exactly-zero one there (the batch mean removes it), so "not all zeros" is
    // checked in inference mode, where batch norm uses running statistics and every
    // parameter influences the output.
    for name in ModelRegistry::with_paper_models().names() {
        for train in [true, false] {
            let grads = gradients(name, train);
            assert!(grads.len() > 10, "{name}: only {} parameters", grads.len());
            for (var_name, g) in grads {
                let g = g.unwrap_or_else(|| {
                    panic!("{name} (train={train}): no gradient for {var_name} (detached?)")
                });
                assert!(
                    g.iter().all(|x| x.is_finite()),
                    "{name}: non-finite gradient for {var_name}"
                );
                if !train {
                    assert!(
                        g.iter().any(|&x| x != 0.0),
                        "{name}: all-zero gradient for {var_name}"
                    );
                }
            }
        }
    }
}

/// Copies every variable of `to` from `from` under the name `rename(name)`; with
/// `allow_missing`, variables `from` lacks keep their values.
fn copy_vars(from: &VarMap, to: &VarMap, rename: impl Fn(&str) -> String, allow_missing: bool) {
    let src = from.data().lock().unwrap();
    for (name, var) in to.data().lock().unwrap().iter() {
        let other = rename(name);
        match src.get(&other) {
            Some(s) => var.set(s.as_tensor()).unwrap(),
            None if allow_missing => {}
            None => panic!("no variable {other} for {name}"),
        }
    }
}

fn max_abs_diff(a: &Tensor, b: &Tensor) -> f32 {
    (a - b)
        .unwrap()
        .abs()
        .unwrap()
        .flatten_all()
        .unwrap()
        .max(0)
        .unwrap()
        .to_scalar()
        .unwrap()
}

#[test]
fn cmcnn_with_mixing_fixed_at_one_zero_is_the_channel_only_model() {
    let mut cfg = small_config(32);
    cfg.co_attention = cfg.co_attention.clone().fixed_beta(1.0, 0.0);
    let (full_vars, full) = build("cmcnn", &cfg, 3);
    let (c_vars, channel_only) = build("cmcnn-c", &cfg, 4);
    copy_vars(&full_vars, &c_vars, |n| n.to_string(), false);
    let x = input(4, 32, 2.0);
    for train in [true, false] {
        let a = full.forward_t(&x, train).unwrap();
        let b = channel_only.forward_t(&x, train).unwrap();
        let d_fer = max_abs_diff(
            a.expression_logits.as_ref().unwrap(),
            b.expression_logits.as_ref().unwrap(),
        );
        let d_fld = max_abs_diff(a.landmarks.as_ref().unwrap(), b.landmarks.as_ref().unwrap());
        assert!(
            d_fer < 1e-5 && d_fld < 1e-4,
            "train={train}: {d_fer} {d_fld}"
        );
    }
    // The fixed mixing is reported with its fixed values (α1 = β1 = 1, α2 = β2 = 0).
    let mix = full.mixing_parameters().unwrap();
    assert_eq!(mix.len(), 24);
    assert!(mix
        .iter()
        .all(|p| (p.value - if p.name.ends_with('1') { 1.0 } else { 0.0 }).abs() < 1e-7));
    // Sanity: the default trainable mixing gives a different model.
    let mut trainable = small_config(32);
    trainable.co_attention.mixing.trainable = true;
    let (t_vars, t_model) = build("cmcnn", &trainable, 3);
    copy_vars(&full_vars, &t_vars, |n| n.to_string(), true);
    let c = t_model.forward_t(&x, false).unwrap();
    let b = channel_only.forward_t(&x, false).unwrap();
    assert!(
        max_abs_diff(
            c.expression_logits.as_ref().unwrap(),
            b.expression_logits.as_ref().unwrap()
        ) > 1e-4
    );
}

#[test]
fn cross_stitch_at_identity_is_two_independent_columns() {
    let mut cfg = small_config(32);
    cfg.cross_stitch.self_weight = 1.0;
    cfg.cross_stitch.other_weight = 0.0;
    // CSN's FLD hidden layer takes the FER head's width; give the single-task model the same.
    cfg.fld_head.hidden = cfg.fer_head.hidden;
    let (csn_vars, csn) = build("csn", &cfg, 5);
    let (fer_vars, fer) = build("base-dcnn-fer", &cfg, 6);
    let (fld_vars, fld) = build("base-dcnn-fld", &cfg, 8);
    copy_vars(&csn_vars, &fer_vars, |n| format!("fer_net.{n}"), false);
    copy_vars(&csn_vars, &fld_vars, |n| format!("fld_net.{n}"), false);
    let x = input(4, 32, 3.0);
    for train in [true, false] {
        let a = csn.forward_t(&x, train).unwrap();
        let e = fer.forward_t(&x, train).unwrap();
        let l = fld.forward_t(&x, train).unwrap();
        let d_fer = max_abs_diff(
            a.expression_logits.as_ref().unwrap(),
            e.expression_logits.as_ref().unwrap(),
        );
        let d_fld = max_abs_diff(a.landmarks.as_ref().unwrap(), l.landmarks.as_ref().unwrap());
        assert!(
            d_fer < 1e-5 && d_fld < 1e-4,
            "train={train}: {d_fer} {d_fld}"
        );
    }
    // With Misra's start (0.9, 0.1) the columns do interact.
    let (mixed_vars, mixed) = build("csn", &small_config(32), 5);
    let _ = mixed_vars;
    let a = mixed.forward_t(&x, false).unwrap();
    assert_eq!(mixed.mixing_parameters().unwrap().len(), 28);
    let e = fer.forward_t(&x, false).unwrap();
    assert!(
        max_abs_diff(
            a.expression_logits.as_ref().unwrap(),
            e.expression_logits.as_ref().unwrap()
        ) > 1e-4
    );
}

fn trainable_parameters(varmap: &VarMap) -> usize {
    varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .filter(|(n, _)| !n.ends_with("running_mean") && !n.ends_with("running_var"))
        .map(|(_, v)| v.elem_count())
        .sum()
}

// Parameter counts of the reference implementation (thuiar/cmcnn, models/*.py unmodified) at
// 100 px with CK+'s settings, from PyTorch:
//
// import sys, types
// sys.path.insert(0, "cmcnn")  # the reference repository
// from models.CMCNN import CMCNN
// from models.FER_DCNN import FER_DCNN
// from models.LM_DCNN import LM_DCNN
// args = types.SimpleNamespace(e_ratio=0.5, alphaBetas=[[0.5, 0.5]], fer_embedding=128,
//     lm_embedding=2048, num_landmarks=68, fer_num_classes=7, embedding_size=128)
// for cls in (CMCNN, FER_DCNN, LM_DCNN):
//     print(cls.__name__, sum(p.numel() for p in cls(args).parameters()))
// # CMCNN 162818543, FER_DCNN 5921063, LM_DCNN 5937704 (e_ratio 0.2: CMCNN 155579727)
#[test]
fn parameter_counts_equal_the_reference_implementations() {
    use fer_models::io::reference_checkpoint::ReferenceModel;
    for (kind, lm, e_ratio, want) in [
        (ReferenceModel::Cmcnn, 2048, 0.5, 162_818_543),
        (ReferenceModel::Cmcnn, 2048, 0.2, 155_579_727),
        (ReferenceModel::FerDcnn, 128, 0.5, 5_921_063),
        (ReferenceModel::LmDcnn, 128, 0.5, 5_937_704),
    ] {
        let cfg = kind.model_config(7, 128, lm, e_ratio);
        let (varmap, _model) = build(kind.registry_name(), &cfg, 0);
        assert_eq!(
            trainable_parameters(&varmap),
            want,
            "{kind:?} e_ratio {e_ratio}"
        );
    }
}
