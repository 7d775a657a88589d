//! Training losses: cross-entropy for FER, the wing loss of Feng et al. (2018) for FLD
//! (paper eq. 14, ω = 10, ε = 2), and the total loss_E + λ·loss_L (paper eq. 16).

use candle_core::{DType, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::Result;

/// Parameters of the wing loss (paper eq. 14).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WingLossConfig {
    /// Width of the logarithmic part (ω).
    pub omega: f64,
    /// Curvature of the logarithmic part (ε).
    pub epsilon: f64,
}

impl Default for WingLossConfig {
    /// The paper's values, following Feng et al.: ω = 10, ε = 2.
    fn default() -> Self {
        Self {
            omega: 10.0,
            epsilon: 2.0,
        }
    }
}

impl WingLossConfig {
    /// M = ω - ω ln(1 + ω/ε), which joins the two pieces continuously.
    pub fn m(&self) -> f64 {
        self.omega - self.omega * (self.omega / self.epsilon).ln_1p()
    }
}

/// Mean wing loss over all coordinates of the samples whose `mask` is 1.
///
/// Per coordinate, with x = |ŷ - y|: ω ln(1 + x/ε) if x < ω, else x - M (eq. 14).
/// |·| is written as d·sign(d) so that its gradient at 0 is 0, as PyTorch's.
///
/// # Shapes
/// `pred`, `target`: (B, 68, 2); `mask`: (B,) of 0/1.
pub fn wing_loss(
    pred: &Tensor,
    target: &Tensor,
    mask: Option<&Tensor>,
    cfg: &WingLossConfig,
) -> Result<Tensor> {
    let d = (pred - target)?;
    let x = (&d * d.sign()?)?;
    let log_part = ((&x / cfg.epsilon)? + 1.0)?.log()?.affine(cfg.omega, 0.0)?;
    let lin_part = (&x - cfg.m())?;
    let per = x.lt(cfg.omega)?.where_cond(&log_part, &lin_part)?;
    match mask {
        None => Ok(per.mean_all()?),
        Some(m) => {
            let dims = per.dims().to_vec();
            let per_coord: usize = dims.iter().skip(1).product();
            let m = m.to_dtype(per.dtype())?;
            let per_sample = per.flatten_from(1)?.sum(1)?; // (B,)
            let total = (per_sample * &m)?.sum_all()?;
            let count = (m.sum_all()? * per_coord as f64)?;
            // Avoid 0/0 for a batch without any landmarks: the loss is 0 then.
            let count = count.maximum(1.0)?;
            Ok(total.div(&count)?)
        }
    }
}

/// Mean cross-entropy of FER logits against label indices.
///
/// # Shapes
/// `logits`: (B, C); `labels`: (B,) u32.
pub fn cross_entropy(logits: &Tensor, labels: &Tensor) -> Result<Tensor> {
    let labels = if labels.dtype() == DType::U32 {
        labels.clone()
    } else {
        labels.to_dtype(DType::U32)?
    };
    Ok(candle_nn::loss::cross_entropy(logits, &labels)?)
}

// Expected values are pasted exactly as PyTorch / scikit-learn printed them.
#[cfg(test)]
#[allow(clippy::excessive_precision)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    // Expected values from PyTorch 2.15 (float64):
    // import math, torch
    // omega, eps = 10.0, 2.0
    // C = omega - omega * math.log1p(omega / eps)
    // def wing(x):
    //     a = x.abs()
    //     return torch.where(a < omega, omega * torch.log1p(a / eps), a - C)
    // pred = torch.tensor([[0.5, -3.0], [12.0, -25.0], [9.99, 10.01], [0.0, 1e-3]],
    //                     dtype=torch.float64, requires_grad=True)
    // loss = wing(pred - torch.zeros_like(pred)).mean(); loss.backward()
    // loss = 12.508922942992072
    // grad = [0.5, -0.25, 0.125, -0.125, 0.1042535446205171, 0.125, 0.0, 0.6246876561719141]
    // C = -7.917594692280549
    #[test]
    fn wing_loss_matches_pytorch_on_both_sides_of_omega() {
        let dev = Device::Cpu;
        let vals = [0.5, -3.0, 12.0, -25.0, 9.99, 10.01, 0.0, 1e-3];
        let pred =
            Var::from_tensor(&Tensor::from_vec(vals.to_vec(), (4, 2), &dev).unwrap()).unwrap();
        let target = Tensor::zeros((4, 2), DType::F64, &dev).unwrap();
        let cfg = WingLossConfig::default();
        assert!((cfg.m() - -7.917594692280549).abs() < 1e-12);
        let loss = wing_loss(pred.as_tensor(), &target, None, &cfg).unwrap();
        let l = loss.to_scalar::<f64>().unwrap();
        assert!((l - 12.508922942992072).abs() < 1e-12, "loss {l}");
        let g: Vec<f64> = loss
            .backward()
            .unwrap()
            .get(pred.as_tensor())
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        let expected = [
            0.5,
            -0.25,
            0.125,
            -0.125,
            0.1042535446205171,
            0.125,
            0.0,
            0.6246876561719141,
        ];
        for (a, b) in g.iter().zip(expected.iter()) {
            assert!((a - b).abs() < 1e-12, "grad {g:?}");
        }
    }

    #[test]
    fn masked_wing_loss_ignores_samples_without_landmarks() {
        let dev = Device::Cpu;
        let pred = Tensor::from_vec(vec![1.0f32, 1.0, 50.0, 50.0], (2, 1, 2), &dev).unwrap();
        let target = Tensor::zeros((2, 1, 2), DType::F32, &dev).unwrap();
        let mask = Tensor::from_vec(vec![1.0f32, 0.0], 2, &dev).unwrap();
        let cfg = WingLossConfig::default();
        let l = wing_loss(&pred, &target, Some(&mask), &cfg)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        let expected = 10.0f32 * 1.5f32.ln();
        assert!((l - expected).abs() < 1e-5, "{l} vs {expected}");
        let none = Tensor::zeros(2, DType::F32, &dev).unwrap();
        let l0 = wing_loss(&pred, &target, Some(&none), &cfg)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert_eq!(l0, 0.0);
    }

    // import torch, torch.nn.functional as Fn
    // logits = torch.tensor([[2.0,1.0,0.1],[0.5,2.5,-1.0],[0.0,0.0,0.0],[-1.0,3.0,0.2]],
    //                       dtype=torch.float64, requires_grad=True)
    // loss = Fn.cross_entropy(logits, torch.tensor([0, 1, 2, 2])); loss.backward()
    // loss = 1.136242922429552
    // grad[0] = [-0.08524971527850803, 0.060608242676178474, 0.02464147260232955]
    // grad[3] = [0.004243166218504103, 0.2316690258134564, -0.23591219203196048]
    #[test]
    fn cross_entropy_matches_pytorch() {
        let dev = Device::Cpu;
        let logits = Var::from_tensor(
            &Tensor::from_vec(
                vec![
                    2.0f64, 1.0, 0.1, 0.5, 2.5, -1.0, 0.0, 0.0, 0.0, -1.0, 3.0, 0.2,
                ],
                (4, 3),
                &dev,
            )
            .unwrap(),
        )
        .unwrap();
        let labels = Tensor::from_vec(vec![0u32, 1, 2, 2], 4, &dev).unwrap();
        let loss = cross_entropy(logits.as_tensor(), &labels).unwrap();
        assert!((loss.to_scalar::<f64>().unwrap() - 1.136242922429552).abs() < 1e-12);
        let g: Vec<Vec<f64>> = loss
            .backward()
            .unwrap()
            .get(logits.as_tensor())
            .unwrap()
            .to_vec2()
            .unwrap();
        let e0 = [
            -0.08524971527850803,
            0.060608242676178474,
            0.02464147260232955,
        ];
        let e3 = [
            0.004243166218504103,
            0.2316690258134564,
            -0.23591219203196048,
        ];
        for j in 0..3 {
            assert!((g[0][j] - e0[j]).abs() < 1e-12 && (g[3][j] - e3[j]).abs() < 1e-12);
        }
    }
}
