//! Tests of the MTAN add-on baseline (Liu, Johns & Davison, CVPR 2019) on BaseDCNN: output
//! shapes at the paper's 100 px and at 48 px, registration, the parameter count, and that every
//! trainable variable takes part in the multi-task loss (no unused parameters).

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;

use fer_models::nn::base_dcnn::BaseDcnn;
use fer_models::ops::max_pool::max_pool2d;
use fer_models::{
    seeded_var_builder, ModelConfig, ModelError, ModelRegistry, MultiTaskModel, Result, Tasks,
};
use fer_mtan::{Mtan, MtanConfig};

/// A batch of inputs in [-1, 1], as the loader produces, set by formula so that every run of
/// the tests sees the same data.
fn images(batch: usize, size: usize) -> Result<Tensor> {
    let n = batch * size * size;
    let v: Vec<f32> = (0..n).map(|i| (0.137 * i as f32).sin()).collect();
    Ok(Tensor::from_vec(v, (batch, 1, size, size), &Device::Cpu)?)
}

/// A configuration small enough for fast tests: 32 px and narrow heads.
fn small_config() -> ModelConfig {
    let mut cfg = ModelConfig::paper();
    cfg.input_size = 32;
    cfg.fer_head.hidden = 16;
    cfg.fer_head.embedding = 8;
    cfg.fld_head.hidden = 16;
    cfg
}

fn missing(what: &str) -> ModelError {
    ModelError::Config(format!("missing {what}"))
}

/// Trainable variables with their names, sorted: the VarMap also holds the batch-norm running
/// statistics (`FusedBatchNorm` keeps them as `Var`s so that their updates are saved), which
/// the forward pass updates and no gradient reaches.
fn trainable(varmap: &VarMap) -> Result<Vec<(String, Tensor)>> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| ModelError::Config("VarMap lock poisoned".to_string()))?;
    let mut vars: Vec<(String, Tensor)> = data
        .iter()
        .filter(|(name, _)| !name.ends_with("running_mean") && !name.ends_with("running_var"))
        .map(|(name, var)| (name.clone(), var.as_tensor().clone()))
        .collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(vars)
}

fn parameter_count(varmap: &VarMap) -> Result<usize> {
    Ok(trainable(varmap)?.iter().map(|(_, t)| t.elem_count()).sum())
}

fn check_shapes(model: &Mtan, cfg: &ModelConfig, batch: usize, train: bool) -> Result<()> {
    let out = model.forward_t(&images(batch, cfg.input_size)?, train)?;
    let s = BaseDcnn::feature_sizes(cfg.input_size)[5];
    let logits = out.expression_logits.ok_or_else(|| missing("logits"))?;
    assert_eq!(logits.dims(), &[batch, cfg.num_classes]);
    let landmarks = out.landmarks.ok_or_else(|| missing("landmarks"))?;
    assert_eq!(landmarks.dims(), &[batch, cfg.num_landmarks, 2]);
    let embedding = out.fer_embedding.ok_or_else(|| missing("embedding"))?;
    assert_eq!(embedding.dims(), &[batch, cfg.fer_head.embedding]);
    assert_eq!(out.attention_maps.len(), 1);
    let map = &out.attention_maps[0];
    assert_eq!(map.dims(), &[batch, s, s]);
    // A channel mean of sigmoid masks lies in (0, 1).
    let values: Vec<f32> = map.flatten_all()?.to_vec1()?;
    assert!(values.iter().all(|v| *v > 0.0 && *v < 1.0));
    Ok(())
}

#[test]
fn shapes_at_48_px() -> Result<()> {
    let mut cfg = ModelConfig::paper();
    cfg.input_size = 48;
    let (_varmap, vb) = seeded_var_builder(1, DType::F32, &Device::Cpu);
    let model = Mtan::new(&cfg, vb)?;
    assert_eq!(model.tasks(), Tasks::Both);
    check_shapes(&model, &cfg, 2, true)?;
    check_shapes(&model, &cfg, 2, false)
}

/// The paper's setting (100 px, 7 classes, the reference code's head widths); also pins the
/// parameter count.
#[test]
fn shapes_and_parameter_count_at_100_px() -> Result<()> {
    let cfg = ModelConfig::paper();
    let (varmap, vb) = seeded_var_builder(1, DType::F32, &Device::Cpu);
    let model = Mtan::new(&cfg, vb)?;
    check_shapes(&model, &cfg, 2, false)?;
    // BaseDCNN 1,201,440 + masks 2 x 532,928 + shared f blocks 1,791,264
    // + FER head 73,991,287 + FLD head 75,778,184, counted by this Python from the layer list
    // (the module docstring's; weights and biases of every conv and linear layer, γ and β of
    // every batch norm):
    //   C = [64, 96, 128, 128, 256, 256]
    //   conv = lambda i, o, k: o * i * k * k + o; bn = lambda c: 2 * c; lin = lambda i, o: o * i + o
    //   base = sum(conv(ci, co, 3) + bn(co) for ci, co in zip([1] + C[:-1], C))
    //   masks = sum(conv(c if j == 0 else 2 * c, c, 1) + bn(c) + conv(c, c, 1) + bn(c)
    //               for j, c in enumerate(C))
    //   f = sum(conv(c, C[min(j + 1, 5)], 3) + bn(C[min(j + 1, 5)]) for j, c in enumerate(C))
    //   flat = 256 * 12 * 12
    //   fer = lin(flat, 2000) + bn(2000) + lin(2000, 128) + bn(128) + lin(128, 7)
    //   fld = lin(flat, 2048) + lin(2048, 136)
    //   print(base, masks, f, fer, fld, base + 2 * masks + f + fer + fld)
    //   -> 1201440 532928 1791264 73991287 75778184 153828031
    assert_eq!(parameter_count(&varmap)?, 153_828_031);
    Ok(())
}

#[test]
fn task_specific_f_adds_one_set_of_f_blocks() -> Result<()> {
    let cfg = small_config();
    let (shared_map, vb) = seeded_var_builder(1, DType::F32, &Device::Cpu);
    Mtan::new(&cfg, vb)?;
    let (own_map, vb) = seeded_var_builder(1, DType::F32, &Device::Cpu);
    let own = MtanConfig {
        task_specific_f: true,
    };
    Mtan::with_config(&cfg, &own, vb)?;
    assert_eq!(
        parameter_count(&own_map)? - parameter_count(&shared_map)?,
        1_791_264
    );
    Ok(())
}

#[test]
fn register_adds_mtan() -> Result<()> {
    let mut registry = ModelRegistry::with_paper_models();
    fer_mtan::register(&mut registry);
    assert!(registry.names().contains(&"mtan"));
    let (_varmap, vb) = seeded_var_builder(1, DType::F32, &Device::Cpu);
    let model = registry.build("mtan", &small_config(), vb)?;
    assert_eq!(model.tasks(), Tasks::Both);
    Ok(())
}

/// MTAN's settings travel in the run's config: `model_config.addons.mtan` (from config.yaml or
/// an experiment YAML) reaches the model built through the registry, a config without them
/// writes no `addons` key (so run ids of existing configs do not change), and a misspelt
/// setting is an error naming it.
#[test]
fn settings_travel_in_the_model_config() -> Result<()> {
    let mut registry = ModelRegistry::with_paper_models();
    fer_mtan::register(&mut registry);
    let plain = small_config();
    let yaml = serde_yaml::to_string(&plain).map_err(|e| ModelError::Config(e.to_string()))?;
    assert!(!yaml.contains("addons"), "{yaml}");

    let with: ModelConfig = serde_yaml::from_str(&format!(
        "{yaml}addons:\n  mtan:\n    task_specific_f: true\n"
    ))
    .map_err(|e| ModelError::Config(e.to_string()))?;
    let (shared_map, vb) = seeded_var_builder(1, DType::F32, &Device::Cpu);
    registry.build("mtan", &plain, vb)?;
    let (own_map, vb) = seeded_var_builder(1, DType::F32, &Device::Cpu);
    registry.build("mtan", &with, vb)?;
    assert_eq!(
        parameter_count(&own_map)? - parameter_count(&shared_map)?,
        1_791_264,
        "task_specific_f from the config gives every task its own f blocks"
    );

    let typo: ModelConfig = serde_yaml::from_str(&format!(
        "{yaml}addons:\n  mtan:\n    task_specfic_f: true\n"
    ))
    .map_err(|e| ModelError::Config(e.to_string()))?;
    let (_map, vb) = seeded_var_builder(1, DType::F32, &Device::Cpu);
    let err = registry
        .build("mtan", &typo, vb)
        .err()
        .ok_or_else(|| missing("an error for a misspelt setting"))?
        .to_string();
    assert!(
        err.contains("model_config.addons.mtan") && err.contains("task_specfic_f"),
        "{err}"
    );
    Ok(())
}

/// The BaseDCNN accessors that MTAN reads: pooling the unpooled output gives `forward_t`.
#[test]
fn unpooled_component_output_matches_forward() -> Result<()> {
    let (_varmap, vb) = seeded_var_builder(1, DType::F32, &Device::Cpu);
    let backbone = BaseDcnn::new(1, 32, 1e-3, vb)?;
    let x = images(2, 32)?;
    let c = backbone.component(0);
    assert!(c.pools());
    assert!(!backbone.component(2).pools());
    let pooled = c.forward_t(&x, false)?;
    let unpooled = c.forward_unpooled_t(&x, false)?;
    assert_eq!(unpooled.dims(), &[2, 64, 32, 32]);
    let diff = (pooled - max_pool2d(&unpooled, 2)?)?
        .abs()?
        .max_all()?
        .to_scalar::<f32>()?;
    assert_eq!(diff, 0.0);
    Ok(())
}

/// Whether `name` is the bias of a layer that feeds a batch norm directly (every convolution
/// here, and the FER head's first two linears). In training mode the batch norm subtracts the
/// batch mean, so such a bias has a gradient of exactly zero in exact arithmetic (float rounding
/// leaves about 1e-8): a zero there says nothing about unused parameters.
fn bias_before_batch_norm(name: &str) -> bool {
    let Some(layer) = name.strip_suffix(".bias") else {
        return false;
    };
    let last = layer.rsplit('.').next().unwrap_or(layer);
    last.contains("conv") || last == "fer_fc1" || last == "fer_fc2"
}

/// One backward pass of the multi-task loss (cross-entropy + L1 landmark loss) must reach every
/// trainable variable with a finite gradient that is not all zeros: in training mode for every
/// variable but the biases of `bias_before_batch_norm`, and in evaluation mode (batch norm with
/// running statistics, the same graph) for every variable.
fn assert_every_variable_gets_a_gradient(mtan: MtanConfig) -> Result<()> {
    let cfg = small_config();
    let (varmap, vb) = seeded_var_builder(7, DType::F32, &Device::Cpu);
    let model = Mtan::with_config(&cfg, &mtan, vb)?;
    let batch = 4;
    let x = images(batch, cfg.input_size)?;
    let labels = Tensor::new(&[0u32, 3, 5, 6], &Device::Cpu)?;
    let target: Vec<f32> = (0..batch * 68 * 2)
        .map(|i| 15.5 + 15.0 * (0.71 * i as f32).cos())
        .collect();
    let target = Tensor::from_vec(target, (batch, 68, 2), &Device::Cpu)?;
    let vars = trainable(&varmap)?;
    assert!(!vars.is_empty());
    for train in [true, false] {
        let out = model.forward_t(&x, train)?;
        let logits = out.expression_logits.ok_or_else(|| missing("logits"))?;
        let landmarks = out.landmarks.ok_or_else(|| missing("landmarks"))?;
        let ce = candle_nn::loss::cross_entropy(&logits, &labels)?;
        let l1 = (landmarks - &target)?.abs()?.mean_all()?;
        let grads = (ce + l1)?.backward()?;
        for (name, var) in &vars {
            let g = grads
                .get(var)
                .ok_or_else(|| missing(&format!("gradient of {name} (train = {train})")))?;
            let values: Vec<f32> = g.flatten_all()?.to_vec1()?;
            assert!(
                values.iter().all(|v| v.is_finite()),
                "non-finite gradient for {name} (train = {train})"
            );
            if !(train && bias_before_batch_norm(name)) {
                assert!(
                    values.iter().any(|v| *v != 0.0),
                    "all-zero gradient for {name} (train = {train})"
                );
            }
        }
    }
    Ok(())
}

#[test]
fn every_variable_gets_a_gradient() -> Result<()> {
    assert_every_variable_gets_a_gradient(MtanConfig::paper())
}

#[test]
fn every_variable_gets_a_gradient_with_task_specific_f() -> Result<()> {
    assert_every_variable_gets_a_gradient(MtanConfig {
        task_specific_f: true,
    })
}
