//! CPU/CUDA parity of the paper models (issue 6): the same seeded BaseDCNN-FER and CMCNN,
//! built once on the CPU and once on CUDA device 0, give the same training-mode outputs and
//! the same gradients of one loss. On the CPU the convolutions, batch norms and max pools run
//! through fer-models' fused custom ops; on CUDA through candle's own kernels, so this is the
//! check that both paths compute the same network.
//!
//! Compiled only with `--features cuda`. Without a usable CUDA device the tests print SKIP
//! and pass, unless FER_REQUIRE_GPU=1 (bench/gpu.sh sets it), where they fail.
#![cfg(feature = "cuda")]
#![allow(clippy::unwrap_used)]

use candle_core::{DType, Device, Tensor};
use candle_nn::VarMap;
use fer_models::{seeded_var_builder, ModelConfig, ModelRegistry, MultiTaskModel};

const BATCH: usize = 4;
const SIZE: usize = 48;
/// Relative tolerance, on the scale of the compared tensor: float32 sums in another order
/// (cuBLAS tiles, other reduction trees) differ by a few ulps per addition, far below this.
const RTOL: f32 = 1e-3;

/// CUDA device 0, or None (after printing why) when there is none and none is required.
fn cuda_device(test: &str) -> Option<Device> {
    let required = std::env::var("FER_REQUIRE_GPU").is_ok_and(|v| v == "1");
    let device = if candle_core::utils::cuda_is_available() {
        // The first line only: candle appends a backtrace to driver errors.
        Device::new_cuda(0).map_err(|e| e.to_string().lines().next().unwrap_or("").to_string())
    } else {
        Err("candle was built without CUDA".to_string())
    };
    match device {
        Ok(d) => Some(d),
        Err(e) if required => panic!("{test}: FER_REQUIRE_GPU=1 but no CUDA device: {e}"),
        Err(e) => {
            println!("SKIP {test}: no CUDA device ({e}); set FER_REQUIRE_GPU=1 to fail instead");
            None
        }
    }
}

/// The paper configuration at 48 px.
fn config() -> ModelConfig {
    let mut cfg = ModelConfig::paper();
    cfg.input_size = SIZE;
    cfg
}

/// A deterministic input batch in [-0.9, 0.9], made on the CPU and copied to `device`.
fn input(device: &Device) -> Tensor {
    let n = BATCH * SIZE * SIZE;
    let v: Vec<f32> = (0..n)
        .map(|i| ((i as f64 * 0.173).sin() * 0.9) as f32)
        .collect();
    Tensor::from_vec(v, (BATCH, 1, SIZE, SIZE), &Device::Cpu)
        .unwrap()
        .to_device(device)
        .unwrap()
}

/// What one training-mode pass of a model gives on one device, read back to the CPU.
struct Pass {
    logits: Option<Vec<f32>>,
    landmarks: Option<Vec<f32>>,
    /// (variable name, gradient) for every trainable variable, sorted by name.
    gradients: Vec<(String, Vec<f32>)>,
}

fn to_vec(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

/// Builds `name` from seed 11 on `device`, runs forward_t(x, true) and the backward pass of
/// cross-entropy + mean L1 landmark error.
fn run(name: &str, device: &Device) -> Pass {
    // The seeded builder draws every initial value on the CPU (ChaCha8, f64) and only then
    // copies it to the device, so both devices start from bit-identical weights.
    let (varmap, vb) = seeded_var_builder(11, DType::F32, device);
    let model: Box<dyn MultiTaskModel> = ModelRegistry::with_paper_models()
        .build(name, &config(), vb)
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    let out = model.forward_t(&input(device), true).unwrap();

    let labels = Tensor::new(&[0u32, 3, 6, 2], device).unwrap();
    let target = Tensor::full(10f32, (BATCH, 68, 2), device).unwrap();
    let mut loss = Tensor::new(0f32, device).unwrap();
    if let Some(logits) = &out.expression_logits {
        loss = (loss + candle_nn::loss::cross_entropy(logits, &labels).unwrap()).unwrap();
    }
    if let Some(lm) = &out.landmarks {
        let l1 = (lm - &target).unwrap().abs().unwrap().mean_all().unwrap();
        loss = (loss + l1).unwrap();
    }
    let grads = loss.backward().unwrap();
    Pass {
        logits: out.expression_logits.as_ref().map(to_vec),
        landmarks: out.landmarks.as_ref().map(to_vec),
        gradients: trainable_gradients(&varmap, &grads),
    }
}

fn trainable_gradients(
    varmap: &VarMap,
    grads: &candle_core::backprop::GradStore,
) -> Vec<(String, Vec<f32>)> {
    let data = varmap.data().lock().unwrap();
    let mut out: Vec<(String, Vec<f32>)> = data
        .iter()
        .filter(|(n, _)| !n.ends_with("running_mean") && !n.ends_with("running_var"))
        .filter_map(|(n, var)| grads.get(var.as_tensor()).map(|g| (n.clone(), to_vec(g))))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn max_abs(v: &[f32]) -> f32 {
    v.iter().fold(0f32, |m, x| m.max(x.abs()))
}

/// Largest |cuda - cpu|, and whether it is within RTOL of `scale`.
fn compare(cpu: &[f32], cuda: &[f32], scale: f32) -> (f32, bool) {
    assert_eq!(cpu.len(), cuda.len());
    let diff = cpu
        .iter()
        .zip(cuda)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    (diff, diff.is_finite() && diff <= RTOL * scale)
}

fn check_model(name: &str) {
    let test = format!("cuda_parity {name}");
    let Some(gpu) = cuda_device(&test) else {
        return;
    };
    let cpu = run(name, &Device::Cpu);
    let cuda = run(name, &gpu);
    let mut failures = Vec::new();

    for (what, a, b) in [
        ("expression_logits", &cpu.logits, &cuda.logits),
        ("landmarks", &cpu.landmarks, &cuda.landmarks),
    ] {
        match (a, b) {
            (Some(a), Some(b)) => {
                let (diff, ok) = compare(a, b, max_abs(a).max(1e-6));
                println!(
                    "{name} {what}: max |cuda - cpu| = {diff:.3e} (max |cpu| {:.3e})",
                    max_abs(a)
                );
                if !ok {
                    failures.push(format!("{what}: max diff {diff:.3e}"));
                }
            }
            (None, None) => {}
            _ => failures.push(format!("{what}: present on one device only")),
        }
    }

    // Every trainable variable's gradient. Each is compared on its own scale, floored at a
    // small share of the model's largest gradient: a bias that feeds a training-mode batch
    // norm has a gradient that is zero in exact arithmetic, i.e. rounding noise on both sides.
    let names_cpu: Vec<&String> = cpu.gradients.iter().map(|(n, _)| n).collect();
    let names_cuda: Vec<&String> = cuda.gradients.iter().map(|(n, _)| n).collect();
    assert_eq!(names_cpu, names_cuda, "{name}: different sets of gradients");
    assert!(
        cpu.gradients.len() > 10,
        "{name}: only {} gradients",
        cpu.gradients.len()
    );
    let model_scale = cpu
        .gradients
        .iter()
        .fold(0f32, |m, (_, g)| m.max(max_abs(g)));
    let mut worst = (String::new(), 0f32);
    for ((var, a), (_, b)) in cpu.gradients.iter().zip(&cuda.gradients) {
        let scale = max_abs(a).max(0.1 * model_scale);
        let (diff, ok) = compare(a, b, scale);
        if diff / scale > worst.1 {
            worst = (var.clone(), diff / scale);
        }
        if !ok {
            failures.push(format!(
                "gradient of {var}: max diff {diff:.3e}, max |cpu| {:.3e}",
                max_abs(a)
            ));
        }
    }
    println!(
        "{name}: {} gradients compared, worst relative difference {:.3e} ({})",
        cpu.gradients.len(),
        worst.1,
        worst.0
    );
    assert!(
        failures.is_empty(),
        "{name}: CPU and CUDA differ:\n{}",
        failures.join("\n")
    );
}

#[test]
fn base_dcnn_fer_matches_cpu_on_cuda() {
    check_model("base-dcnn-fer");
}

#[test]
fn cmcnn_matches_cpu_on_cuda() {
    check_model("cmcnn");
}
