//! `aligned-mtl`: Aligned-MTL (Senushkin, Patakin, Kuznetsov & Konushin, "Independent
//! component alignment for multi-task learning", CVPR 2023, Algorithm 1) on the shared
//! parameters, as LibMTL's `Aligned_MTL`: with M = G Gᵀ the Gram matrix of the task gradients
//! and M = V Λ Vᵀ, the aligned gradients have the condition number 1 of an orthogonal system
//! scaled by the smallest singular value, and the update is Σ_i α_i g_i with
//! α = √λ_min · V Λ^{-1/2} Vᵀ 1 (eigenvalues below λ_max · 2 · ε_f32 are dropped, LibMTL's
//! rank tolerance). For two tasks M is 2x2 and its eigen-decomposition has a closed form.
//! α is not a weighting in the usual sense: when one task's gradient points nearly along a
//! much larger one (cosine above about 0.7) the larger one's α turns negative, and both are 0
//! when both gradients are; the run checks only that α is finite.

use crate::error::{Result, TrainError};
use crate::weighting::task_weighting::{StepInput, StepWeights, TaskWeighting, WeightingEntry};

pub const ENTRY: WeightingEntry = WeightingEntry {
    name: "aligned-mtl",
    summary:
        "Aligned-MTL: aligns the task gradients' principal components (Senushkin et al., CVPR 2023)",
    needs_gradients: true,
    needs_losses_after_update: false,
    constant: false,
    params: &[],
    build: |_, _| Ok(Box::new(AlignedMtl)),
};

#[derive(Debug, Clone, Copy)]
pub struct AlignedMtl;

/// The eigenvalues (descending) and unit eigenvectors of the symmetric 2x2 matrix
/// [[a, b], [b, d]].
fn symmetric_eigen(a: f64, b: f64, d: f64) -> ([f64; 2], [[f64; 2]; 2]) {
    let mean = (a + d) / 2.0;
    let radius = (((a - d) / 2.0).powi(2) + b * b).sqrt();
    let (l1, l2) = (mean + radius, mean - radius);
    // An eigenvector of l1: (b, l1 - a) or (l1 - d, b), whichever is the better conditioned.
    let v1 = if (l1 - a).abs() + b.abs() >= (l1 - d).abs() + b.abs() && b != 0.0 {
        [b, l1 - a]
    } else if b != 0.0 {
        [l1 - d, b]
    } else if a >= d {
        [1.0, 0.0]
    } else {
        [0.0, 1.0]
    };
    let n = (v1[0] * v1[0] + v1[1] * v1[1]).sqrt();
    let v1 = [v1[0] / n, v1[1] / n];
    ([l1, l2], [v1, [-v1[1], v1[0]]])
}

/// α of Aligned-MTL from the Gram matrix [g_1·g_1, g_1·g_2, g_2·g_2].
pub fn aligned_mtl_coefficients([g11, g12, g22]: [f64; 3]) -> [f64; 2] {
    let ([l1, l2], [v1, v2]) = symmetric_eigen(g11, g12, g22);
    // LibMTL's rank tolerance, λ_max · n · eps, with float32's eps: its gradients, like ours,
    // are f32, so an eigenvalue below that is rounding (the reference tests' float64 cases
    // are far from it).
    let tol = l1 * 2.0 * f32::EPSILON as f64;
    let mut pairs = vec![(l1, v1)];
    if l2 > tol {
        pairs.push((l2, v2));
    }
    if l1 <= tol {
        return [0.0, 0.0];
    }
    let l_min = pairs.last().map_or(0.0, |p| p.0);
    // α_j = √λ_min Σ_k λ_k^{-1/2} V_jk (Σ_i V_ik).
    let mut alpha = [0.0; 2];
    for (l, v) in &pairs {
        let col_sum = v[0] + v[1];
        for j in 0..2 {
            alpha[j] += l_min.sqrt() / l.sqrt() * v[j] * col_sum;
        }
    }
    alpha
}

impl TaskWeighting for AlignedMtl {
    fn weights(&mut self, step: &StepInput) -> Result<StepWeights> {
        let gram = step
            .gram
            .ok_or_else(|| TrainError::Config("aligned-mtl needs the task gradients".into()))?;
        Ok(StepWeights::of_signed_shared_gradients(
            aligned_mtl_coefficients(gram),
        ))
    }
}
