//! `ScalarAdam`: Adam on a handful of f64 numbers (the learnable task weights of uncertainty
//! weighting, GradNorm and FAMO), with PyTorch's `Adam(weight_decay=...)` arithmetic: L2 decay
//! added to the gradient, bias-corrected moments, eps added to the corrected root.

use std::collections::BTreeMap;

use crate::adam::AdamConfig;
use crate::error::Result;
use crate::weighting::task_weighting::state_value;

/// Parameters and their Adam state.
#[derive(Debug, Clone, PartialEq)]
pub struct ScalarAdam {
    pub params: Vec<f64>,
    m: Vec<f64>,
    v: Vec<f64>,
    steps: u32,
    cfg: AdamConfig,
}

impl ScalarAdam {
    pub fn new(initial: Vec<f64>, cfg: AdamConfig) -> Self {
        let n = initial.len();
        Self {
            params: initial,
            m: vec![0.0; n],
            v: vec![0.0; n],
            steps: 0,
            cfg,
        }
    }

    /// One update with gradient `grad`, at learning rate `lr`.
    pub fn step(&mut self, grad: &[f64], lr: f64) {
        self.steps += 1;
        let c = self.cfg;
        let t = self.steps as i32;
        let bias1 = 1.0 - c.beta1.powi(t);
        let bias2 = 1.0 - c.beta2.powi(t);
        let state = self
            .params
            .iter_mut()
            .zip(self.m.iter_mut().zip(&mut self.v));
        for ((p, (m, v)), g) in state.zip(grad) {
            let g = g + c.weight_decay * *p;
            *m = c.beta1 * *m + (1.0 - c.beta1) * g;
            *v = c.beta2 * *v + (1.0 - c.beta2) * g * g;
            let denom = (v.sqrt() / bias2.sqrt()) + c.eps;
            *p -= lr / bias1 * *m / denom;
        }
    }

    /// The state under `prefix` (`<prefix>.p0`, `.m0`, `.v0`, ..., `.steps`).
    pub fn state(&self, prefix: &str) -> Vec<(String, f64)> {
        let mut out = vec![(format!("{prefix}.steps"), self.steps as f64)];
        for i in 0..self.params.len() {
            out.push((format!("{prefix}.p{i}"), self.params[i]));
            out.push((format!("{prefix}.m{i}"), self.m[i]));
            out.push((format!("{prefix}.v{i}"), self.v[i]));
        }
        out
    }

    pub fn load_state(&mut self, prefix: &str, state: &BTreeMap<String, f64>) -> Result<()> {
        self.steps = state_value(state, &format!("{prefix}.steps"))? as u32;
        for i in 0..self.params.len() {
            self.params[i] = state_value(state, &format!("{prefix}.p{i}"))?;
            self.m[i] = state_value(state, &format!("{prefix}.m{i}"))?;
            self.v[i] = state_value(state, &format!("{prefix}.v{i}"))?;
        }
        Ok(())
    }
}

/// softmax of a short vector, shifted by its maximum.
pub fn softmax(x: &[f64]) -> Vec<f64> {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = x.iter().map(|v| (v - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// The vector-Jacobian product of softmax: ∂(Σ_i u_i softmax(x)_i)/∂x_j = s_j (u_j - Σ_i u_i s_i).
pub fn softmax_vjp(s: &[f64], u: &[f64]) -> Vec<f64> {
    let dot: f64 = s.iter().zip(u).map(|(a, b)| a * b).sum();
    s.iter().zip(u).map(|(sj, uj)| sj * (uj - dot)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // PyTorch 2.15, float64:
    // import torch
    // p = torch.tensor([0.5, -1.0], dtype=torch.float64, requires_grad=True)
    // opt = torch.optim.Adam([p], lr=0.1, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    // for g in ([0.3, -2.0], [-0.1, 0.5], [0.2, 0.2]):
    //     p.grad = torch.tensor(g, dtype=torch.float64); opt.step()
    // print(p.tolist())
    // [0.29701559500362, -0.8219667786658046]
    #[test]
    fn three_steps_equal_pytorch_adam_with_weight_decay() {
        let cfg = AdamConfig {
            lr: 0.1,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.01,
        };
        let mut a = ScalarAdam::new(vec![0.5, -1.0], cfg);
        for g in [[0.3, -2.0], [-0.1, 0.5], [0.2, 0.2]] {
            a.step(&g, 0.1);
        }
        let expected = [0.29701559500362, -0.8219667786658046];
        for (p, e) in a.params.iter().zip(expected) {
            assert!((p - e).abs() < 1e-14, "{:?}", a.params);
        }
        let mut b = ScalarAdam::new(vec![0.0, 0.0], cfg);
        b.load_state("x", &a.state("x").into_iter().collect())
            .unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn softmax_and_its_vjp_match_finite_differences() {
        let x = [0.3, -0.2, 1.0];
        let u = [1.5, -0.5, 0.25];
        let s = softmax(&x);
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        let g = softmax_vjp(&s, &u);
        for j in 0..3 {
            let f = |d: f64| {
                let mut y = x;
                y[j] += d;
                softmax(&y).iter().zip(&u).map(|(a, b)| a * b).sum::<f64>()
            };
            let fd = (f(1e-6) - f(-1e-6)) / 2e-6;
            assert!((fd - g[j]).abs() < 1e-8, "{j}: {fd} vs {}", g[j]);
        }
    }
}
