//! Adam with L2 weight decay added to the gradient, as PyTorch's `Adam(weight_decay=...)`
//! (not AdamW): the paper trains with Adam, lr 0.01, weight decay 0.005 (4.4); the reference
//! code also sets eps = 0.1, which is why epsilon is a setting here.

use candle_core::{backprop::GradStore, Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::error::Result;
use fer_models::ops::fused_adam::{fused_adam_update, fused_adam_update_host, AdamStepConstants};

/// Adam's settings.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// L2 penalty coefficient, added to the gradient as `g + weight_decay * p`.
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        Self::paper()
    }
}

impl AdamConfig {
    /// Paper 4.4: lr 0.01, weight decay 0.005; PyTorch's default betas and eps.
    pub fn paper() -> Self {
        Self {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.005,
        }
    }

    /// The reference code's optimiser: as the paper, with eps = 0.1.
    pub fn reference_code() -> Self {
        Self {
            eps: 0.1,
            ..Self::paper()
        }
    }
}

/// The optimiser state: first and second moments per variable.
pub struct Adam {
    /// Names of the variables (their VarMap names), the keys of the saved state.
    names: Vec<String>,
    vars: Vec<Var>,
    m: Vec<Option<Tensor>>,
    v: Vec<Option<Tensor>>,
    /// The moments of f32 CPU variables under the fused kernel, in buffers of our own: the
    /// one-pass update writes them where they are (see `fused_adam_update_host`). A variable
    /// has its moments here or in `m`/`v`, never both.
    host: Vec<Option<(Vec<f32>, Vec<f32>)>>,
    step: usize,
    cfg: AdamConfig,
    /// Whether CPU variables use the in-place kernel of fer-models' `ops::fused_adam` (the
    /// default) rather than candle's tensor operations; the two agree to float rounding
    /// (tested below).
    fused: bool,
}

impl Adam {
    pub fn new(vars: Vec<Var>, cfg: AdamConfig) -> Self {
        let named = vars
            .into_iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect();
        Self::with_names(named, cfg)
    }

    /// An optimiser over named variables, whose state can be saved and resumed by name.
    pub fn with_names(named: Vec<(String, Var)>, cfg: AdamConfig) -> Self {
        let n = named.len();
        let (names, vars) = named.into_iter().unzip();
        Self {
            names,
            vars,
            m: vec![None; n],
            v: vec![None; n],
            host: vec![None; n],
            step: 0,
            cfg,
            fused: true,
        }
    }

    /// Uses candle's tensor operations on every device (the reference path of the fused
    /// kernel's test).
    pub fn without_fused_kernel(mut self) -> Self {
        self.fused = false;
        self
    }

    pub fn learning_rate(&self) -> f64 {
        self.cfg.lr
    }

    pub fn set_learning_rate(&mut self, lr: f64) {
        self.cfg.lr = lr;
    }

    pub fn step_count(&self) -> usize {
        self.step
    }

    /// Saves the moments as safetensors (`m.<name>`, `v.<name>`), atomically; the step count
    /// is the caller's to keep (the trainer's progress file).
    pub fn save_state(&self, path: &std::path::Path) -> Result<()> {
        self.save_state_with(path, &[])
    }

    /// [`Adam::save_state`] with named numbers beside the moments (`extra.<name>`, f64): the
    /// state of the loss weighting, so that it is committed with the optimiser's, atomically.
    pub fn save_state_with(&self, path: &std::path::Path, extra: &[(String, f64)]) -> Result<()> {
        let mut tensors = std::collections::HashMap::new();
        for (name, value) in extra {
            tensors.insert(
                format!("extra.{name}"),
                Tensor::new(&[*value], &candle_core::Device::Cpu)?,
            );
        }
        for (i, name) in self.names.iter().enumerate() {
            if let Some(m) = &self.m[i] {
                tensors.insert(format!("m.{name}"), m.clone());
            }
            if let Some(v) = &self.v[i] {
                tensors.insert(format!("v.{name}"), v.clone());
            }
            if let Some((m, v)) = &self.host[i] {
                let p = self.vars[i].as_tensor();
                tensors.insert(
                    format!("m.{name}"),
                    Tensor::from_slice(m, p.shape(), p.device())?,
                );
                tensors.insert(
                    format!("v.{name}"),
                    Tensor::from_slice(v, p.shape(), p.device())?,
                );
            }
        }
        // A dot name, so that a kill's leftover is removed with the other temporary files.
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let tmp = path.with_file_name(format!(".{name}.tmp"));
        fer_runs::fault_injection::step(|| format!("create {}", tmp.display()));
        candle_core::safetensors::save(&tensors, &tmp)
            .map_err(|e| crate::TrainError::writing(&tmp, e))?;
        fer_runs::fault_injection::step(|| format!("rename to {}", path.display()));
        std::fs::rename(&tmp, path).map_err(|e| crate::TrainError::io(path, e))?;
        Ok(())
    }

    /// The named numbers saved by [`Adam::save_state_with`].
    pub fn load_extra(path: &std::path::Path) -> Result<std::collections::BTreeMap<String, f64>> {
        let tensors = candle_core::safetensors::load(path, &candle_core::Device::Cpu)?;
        let mut out = std::collections::BTreeMap::new();
        for (name, t) in tensors {
            if let Some(key) = name.strip_prefix("extra.") {
                let v = t
                    .flatten_all()?
                    .to_dtype(candle_core::DType::F64)?
                    .to_vec1::<f64>()?;
                if let [value] = v.as_slice() {
                    out.insert(key.to_string(), *value);
                }
            }
        }
        Ok(out)
    }

    /// Restores moments saved by [`Adam::save_state`] and the step count.
    pub fn load_state(&mut self, path: &std::path::Path, step: usize) -> Result<()> {
        let device = match self.vars.first() {
            Some(v) => v.device().clone(),
            None => candle_core::Device::Cpu,
        };
        let mut tensors = candle_core::safetensors::load(path, &device)?;
        for (i, name) in self.names.iter().enumerate() {
            self.m[i] = tensors.remove(&format!("m.{name}"));
            self.v[i] = tensors.remove(&format!("v.{name}"));
            // Taken into host buffers again at the next step.
            self.host[i] = None;
        }
        self.step = step;
        Ok(())
    }

    /// One update of every variable that has a gradient (variables outside the graph, such
    /// as batch norm's running statistics, are left alone).
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.step += 1;
        let t = self.step as i32;
        let c = self.cfg;
        let bias1 = 1.0 - c.beta1.powi(t);
        let bias2 = 1.0 - c.beta2.powi(t);
        let step_size = c.lr / bias1;
        let constants = AdamStepConstants {
            beta1: c.beta1,
            beta2: c.beta2,
            eps: c.eps,
            weight_decay: c.weight_decay,
            step_size,
            bias2,
        };
        for (i, var) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let p = var.as_tensor();
            if self.fused
                && p.device().is_cpu()
                && p.is_contiguous()
                && p.dtype() == candle_core::DType::F32
            {
                // Moments start at zero, as PyTorch's; a resumed state moves into host
                // buffers once.
                let (mut m, mut v) = match self.host[i].take() {
                    Some(h) => h,
                    None => match (self.m[i].take(), self.v[i].take()) {
                        (Some(m), Some(v)) => (
                            m.flatten_all()?.to_vec1::<f32>()?,
                            v.flatten_all()?.to_vec1::<f32>()?,
                        ),
                        _ => (vec![0.0; p.elem_count()], vec![0.0; p.elem_count()]),
                    },
                };
                fused_adam_update_host(p, g, &mut m, &mut v, &constants)?;
                self.host[i] = Some((m, v));
                continue;
            }
            if self.fused && p.device().is_cpu() && p.is_contiguous() {
                // Moments start at zero, as PyTorch's; updated in place from then on.
                let m = match &self.m[i] {
                    Some(m) => m.clone(),
                    None => p.zeros_like()?,
                };
                let v = match &self.v[i] {
                    Some(v) => v.clone(),
                    None => p.zeros_like()?,
                };
                fused_adam_update(p, g, &m, &v, &constants)?;
                self.m[i] = Some(m);
                self.v[i] = Some(v);
                continue;
            }
            // Detached: the optimiser state must not keep this step's graph alive.
            let g = if c.weight_decay != 0.0 {
                (g + (p * c.weight_decay)?)?.detach()
            } else {
                g.detach()
            };
            let m = match &self.m[i] {
                Some(m) => ((m * c.beta1)? + (&g * (1.0 - c.beta1))?)?,
                None => (&g * (1.0 - c.beta1))?,
            };
            let v = match &self.v[i] {
                Some(v) => ((v * c.beta2)? + (g.sqr()? * (1.0 - c.beta2))?)?,
                None => (g.sqr()? * (1.0 - c.beta2))?,
            };
            let denom = ((v.sqrt()? / bias2.sqrt())? + c.eps)?;
            let update = ((&m / denom)? * step_size)?;
            var.set(&(p - update)?)?;
            self.m[i] = Some(m.detach());
            self.v[i] = Some(v.detach());
        }
        Ok(())
    }
}

// Expected values are pasted exactly as PyTorch / scikit-learn printed them.
#[cfg(test)]
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    /// Runs three steps with fixed gradients through a linear "loss" sum(g * p).
    fn run(cfg: AdamConfig) -> Vec<Vec<f32>> {
        let dev = Device::Cpu;
        let p = Var::from_tensor(
            &Tensor::from_vec(vec![0.5f32, -1.0, 2.0, 0.0, -0.25], 5, &dev).unwrap(),
        )
        .unwrap();
        let gs = [
            [0.1f32, -0.2, 0.3, 0.0, 1.0],
            [-0.5, 0.4, 0.0, 0.2, 1.0],
            [0.05, 0.05, -0.05, -0.1, 1.0],
        ];
        let mut opt = Adam::new(vec![p.clone()], cfg);
        let mut out = Vec::new();
        for g in gs {
            let gt = Tensor::from_vec(g.to_vec(), 5, &dev).unwrap();
            let loss = (p.as_tensor() * gt).unwrap().sum_all().unwrap();
            opt.step(&loss.backward().unwrap()).unwrap();
            out.push(p.as_tensor().to_vec1::<f32>().unwrap());
        }
        out
    }

    fn assert_close(got: &[f32], want: &[f32]) {
        for (a, b) in got.iter().zip(want) {
            assert!(
                (a - b).abs() <= 2e-7 + 2e-6 * b.abs(),
                "{got:?} vs {want:?}"
            );
        }
    }

    // PyTorch 2.15:
    // p = torch.tensor([0.5, -1.0, 2.0, 0.0, -0.25], dtype=torch.float32, requires_grad=True)
    // opt = torch.optim.Adam([p], lr=lr, betas=(0.9, 0.999), eps=eps, weight_decay=0.005)
    // for g in [[0.1,-0.2,0.3,0.0,1.0], [-0.5,0.4,0.0,0.2,1.0], [0.05,0.05,-0.05,-0.1,1.0]]:
    //     p.grad = torch.tensor(g); opt.step(); print(p)
    // lr=0.01 eps=0.1:
    //   [0.49493828, -0.99327868, 1.992439, 0, -0.25908989]
    //   [0.49958262, -0.99595034, 1.9876754, -0.0043595047, -0.26817974]
    //   [0.50250083, -0.99836582, 1.9847809, -0.0056475857, -0.27726954]
    // lr=0.001 eps=1e-8:
    //   [0.49900001, -0.99900001, 1.999, 0, -0.25099999]
    //   [0.4995937, -0.99935204, 1.9983063, -0.00074413687, -0.25199997]
    //   [0.4999845, -0.99968708, 1.9978563, -0.00097276492, -0.25299996]
    #[test]
    fn matches_pytorch_adam_with_weight_decay() {
        let got = run(AdamConfig {
            lr: 0.01,
            eps: 0.1,
            ..AdamConfig::paper()
        });
        assert_close(
            &got[0],
            &[0.49493828, -0.99327868, 1.992439, 0.0, -0.25908989],
        );
        assert_close(
            &got[1],
            &[
                0.49958262,
                -0.99595034,
                1.9876754,
                -0.0043595047,
                -0.26817974,
            ],
        );
        assert_close(
            &got[2],
            &[
                0.50250083,
                -0.99836582,
                1.9847809,
                -0.0056475857,
                -0.27726954,
            ],
        );
        let got = run(AdamConfig {
            lr: 0.001,
            eps: 1e-8,
            ..AdamConfig::paper()
        });
        assert_close(&got[0], &[0.49900001, -0.99900001, 1.999, 0.0, -0.25099999]);
        assert_close(
            &got[1],
            &[
                0.4995937,
                -0.99935204,
                1.9983063,
                -0.00074413687,
                -0.25199997,
            ],
        );
        assert_close(
            &got[2],
            &[
                0.4999845,
                -0.99968708,
                1.9978563,
                -0.00097276492,
                -0.25299996,
            ],
        );
    }

    /// Five steps of the fused kernel against candle's tensor operations on a 300 x 200
    /// weight (several parallel chunks), with a gradient that flows through a transpose, in
    /// f32 and f64.
    #[test]
    fn fused_kernel_matches_tensor_operations() {
        for dtype in [candle_core::DType::F32, candle_core::DType::F64] {
            let dev = Device::Cpu;
            let init = Tensor::arange(0u32, 60_000, &dev)
                .unwrap()
                .to_dtype(dtype)
                .unwrap()
                .affine(0.37, 0.0)
                .unwrap()
                .sin()
                .unwrap()
                .reshape((300, 200))
                .unwrap();
            let cfg = AdamConfig::paper();
            let mut results = Vec::new();
            for fused in [true, false] {
                let p = Var::from_tensor(&init).unwrap();
                let mut opt = Adam::new(vec![p.clone()], cfg);
                if !fused {
                    opt = opt.without_fused_kernel();
                }
                for step in 0..5 {
                    // loss = sum(p * cos(p)ᵀᵀ * (step + 1)): a gradient that changes each step.
                    let w = (p.as_tensor().t().unwrap().cos().unwrap() * (step as f64 + 1.0))
                        .unwrap()
                        .detach();
                    let loss = p
                        .as_tensor()
                        .t()
                        .unwrap()
                        .mul(&w)
                        .unwrap()
                        .sum_all()
                        .unwrap();
                    let grads = loss.backward().unwrap();
                    opt.step(&grads).unwrap();
                }
                results.push(
                    p.as_tensor()
                        .to_dtype(candle_core::DType::F64)
                        .unwrap()
                        .flatten_all()
                        .unwrap()
                        .to_vec1::<f64>()
                        .unwrap(),
                );
            }
            let tol = if dtype == candle_core::DType::F32 {
                1e-6
            } else {
                1e-13
            };
            for (a, b) in results[0].iter().zip(&results[1]) {
                assert!(
                    (a - b).abs() <= tol * (1.0 + b.abs()),
                    "{dtype:?}: {a} vs {b}"
                );
            }
            // The update moved the weights (a check that the test can fail).
            let init = init
                .flatten_all()
                .unwrap()
                .to_dtype(candle_core::DType::F64)
                .unwrap();
            let init = init.to_vec1::<f64>().unwrap();
            assert!(results[0]
                .iter()
                .zip(&init)
                .any(|(a, b)| (a - b).abs() > 1e-3));
        }
    }
}
