//! `cagrad`: conflict-averse gradient descent (Liu, Liu, Jin, Stone & Liu, NeurIPS 2021,
//! Algorithm 1) on the shared parameters, as LibMTL's `CAGrad` with `rescale = 1`: with
//! g_0 = (g_1 + g_2)/2 and g_w = w g_1 + (1 - w) g_2, find w in [0, 1] minimising
//! g_w·g_0 + c |g_0| |g_w|, then update along (g_0 + c |g_0| / |g_w| · g_w) / (1 + c²).
//! For two tasks the simplex is the segment [0, 1] and the objective is convex in w (a linear
//! term plus the norm of an affine function), so bisection on its derivative finds the exact
//! minimiser without a solver (LibMTL's SLSQP stops about 1e-5 from it).

use crate::error::{Result, TrainError};
use crate::weighting::task_weighting::{
    non_negative, StepInput, StepWeights, TaskWeighting, WeightingEntry, WeightingParam,
};

pub const ENTRY: WeightingEntry = WeightingEntry {
    name: "cagrad",
    summary: "CAGrad: the update that best improves the worse task near the mean gradient (Liu et al., NeurIPS 2021)",
    needs_gradients: true,
    needs_losses_after_update: false,
    constant: false,
    params: &[WeightingParam {
        name: "c",
        default: 0.5,
        range: ">= 0",
        valid: non_negative,
    }],
    build: |w, _| Ok(Box::new(CaGrad { c: w.param("c") })),
};

#[derive(Debug, Clone, Copy)]
pub struct CaGrad {
    /// The radius of the ball around g_0, relative to |g_0| (LibMTL's `calpha`).
    pub c: f64,
}

/// The minimiser w of CAGrad's objective on [0, 1] and the coefficients of g_1 and g_2 in
/// the update, from the Gram matrix [g_1·g_1, g_1·g_2, g_2·g_2]. The 1e-8 terms are LibMTL's.
pub fn cagrad_coefficients([g11, g12, g22]: [f64; 3], c: f64) -> (f64, [f64; 2]) {
    let g0_norm = ((g11 + 2.0 * g12 + g22) / 4.0 + 1e-8).sqrt();
    let radius = c * g0_norm + 1e-8;
    // q(w) = |g_w|² and the objective's derivative f'(w) = d(g_w·g_0)/dw + radius q'/(2√q).
    let q = |w: f64| w * w * g11 + 2.0 * w * (1.0 - w) * g12 + (1.0 - w) * (1.0 - w) * g22;
    let dq = |w: f64| 2.0 * w * g11 + 2.0 * (1.0 - 2.0 * w) * g12 - 2.0 * (1.0 - w) * g22;
    let slope = 0.5 * ((g11 + g12) - (g12 + g22));
    let derivative = |w: f64| slope + radius * dq(w) / (2.0 * (q(w).max(0.0) + 1e-8).sqrt());
    let w = minimum_of_convex(derivative);
    let gw_norm = q(w).max(0.0).sqrt();
    let scale = radius / (gw_norm + 1e-8);
    let rescale = 1.0 + c * c;
    (
        w,
        [
            (0.5 + scale * w) / rescale,
            (0.5 + scale * (1.0 - w)) / rescale,
        ],
    )
}

/// The minimiser on [0, 1] of a convex function given its derivative: an end where the
/// derivative points outwards, else the root of the (non-decreasing) derivative by bisection,
/// to the resolution of f64.
fn minimum_of_convex(derivative: impl Fn(f64) -> f64) -> f64 {
    if derivative(0.0) >= 0.0 {
        return 0.0;
    }
    if derivative(1.0) <= 0.0 {
        return 1.0;
    }
    let (mut lo, mut hi) = (0.0f64, 1.0f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if mid <= lo || mid >= hi {
            break;
        }
        if derivative(mid) < 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

impl TaskWeighting for CaGrad {
    fn weights(&mut self, step: &StepInput) -> Result<StepWeights> {
        let gram = step
            .gram
            .ok_or_else(|| TrainError::Config("cagrad needs the task gradients".into()))?;
        Ok(StepWeights::of_shared_gradients(
            cagrad_coefficients(gram, self.c).1,
        ))
    }
}
