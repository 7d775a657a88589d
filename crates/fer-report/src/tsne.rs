//! `tsne` / `TsneConfig` / `joint_probabilities`: exact t-SNE (van der Maaten & Hinton 2008,
//! the paper's ref. [49]) for the paper's Fig. 2, "T-SNE visualization of the outputs in the
//! final hidden layer of the BaseDCNN and our approach" (Section 5.4).
//!
//! Exact means O(N²) time and memory per iteration, with no Barnes-Hut approximation: meant
//! for up to a few thousand points (CK+'s 981 samples of Fig. 2 take seconds; RAF-DB's
//! 15,339 should be subsampled, a dense N x N matrix of them needs 1.9 GB).
//!
//! Settings follow scikit-learn's `TSNE(method="exact", init="random",
//! learning_rate="auto")`, so our pictures are comparable to those made with the tool most
//! readers use:
//! - p_j|i: Gaussian over squared Euclidean distances, precision found per point by the
//!   binary search of scikit-learn's `_binary_search_perplexity` (at most 100 halvings,
//!   stop when the entropy is within 1e-5 nats of ln(perplexity));
//! - p_ij = (p_j|i + p_i|j) / Σ, floored at machine epsilon; q_ij Student-t with one degree
//!   of freedom, also floored;
//! - gradient descent with early exaggeration (12 for the first 250 iterations), momentum 0.5
//!   then 0.8, delta-bar-delta gains (+0.2 where the gradient still opposes the last update,
//!   i.e. descent goes on the same way; x0.8 where it flipped; at least 0.01), learning rate
//!   max(N / exaggeration / 4, 50).
//!
//! Where the two reference implementations differ we take the original (`tsne.m`): gains and
//! momentum buffer carry over from the exaggerated phase instead of being reset, and every
//! iteration runs (no early stop on a small gradient), so a run's length does not depend on
//! floating-point noise. Row sums are reduced in a fixed order, so the output depends on the
//! seed only, not on the number of rayon threads.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::report_error::{ReportError, Result};

/// Floor of p_ij and q_ij, numpy's `finfo(float64).eps` as in scikit-learn: keeps log(p/q)
/// finite for pairs that are practically never neighbours.
const MACHINE_EPSILON: f64 = f64::EPSILON;
/// Stand-in for a zero row sum in the binary search (a point far from everything at a huge
/// precision), so the division stays finite; the value scikit-learn uses.
const EPSILON_SUM: f64 = 1e-8;
/// Entropy tolerance of the precision search, in nats.
const PERPLEXITY_TOLERANCE: f64 = 1e-5;
/// Halvings of the precision search per point.
const SEARCH_STEPS: usize = 100;
/// Standard deviation of the random initial embedding (as in `tsne.m` and scikit-learn).
const INIT_STD: f64 = 1e-4;
const MOMENTUM_EXAGGERATED: f64 = 0.5;
const MOMENTUM_FINAL: f64 = 0.8;
const MIN_GAIN: f64 = 0.01;

/// t-SNE settings; `Default` is scikit-learn's (and the 2008 paper's) choice.
#[derive(Debug, Clone, PartialEq)]
pub struct TsneConfig {
    /// Effective number of neighbours, e^entropy of each p_.|i (default 30). [`tsne`] clamps
    /// it to (N - 1) / 3, the largest value for which the 3 x perplexity nearest neighbours
    /// that scikit-learn's Barnes-Hut variant looks at exist; a point cannot have more than
    /// N - 1 neighbours, so a larger value would only saturate the search. (scikit-learn
    /// itself rejects perplexity >= N instead of clamping.)
    pub perplexity: f64,
    /// Total gradient-descent iterations, exaggerated ones included (default 1000).
    pub iterations: usize,
    /// Factor on P during the first iterations, which lets clusters form and move apart
    /// before they settle (default 12).
    pub early_exaggeration: f64,
    /// Iterations with exaggeration and momentum 0.5 (default 250).
    pub exaggeration_iterations: usize,
    /// Step size; `None` = max(N / early_exaggeration / 4, 50) (scikit-learn's "auto").
    pub learning_rate: Option<f64>,
    /// Seed of the random initial embedding (ChaCha8).
    pub seed: u64,
}

impl Default for TsneConfig {
    fn default() -> Self {
        Self {
            perplexity: 30.0,
            iterations: 1000,
            early_exaggeration: 12.0,
            exaggeration_iterations: 250,
            learning_rate: None,
            seed: 0,
        }
    }
}

fn tsne_error(message: String) -> ReportError {
    ReportError::Tsne { message }
}

/// The symmetric joint probabilities P of t-SNE for a matrix of squared distances, at the
/// given `perplexity` (not clamped here: [`tsne`] clamps it). Row i is p_i., the diagonal is
/// 0 and every other entry at least machine epsilon; the entries sum to about 1.
///
/// Errors if the matrix is not square, has fewer than 2 rows, holds a negative or non-finite
/// value, or if `perplexity` is not a positive number.
pub fn joint_probabilities(sq_dist: &[Vec<f64>], perplexity: f64) -> Result<Vec<Vec<f64>>> {
    let n = sq_dist.len();
    if n < 2 {
        return Err(tsne_error(format!("{n} points; t-SNE needs at least 2")));
    }
    if let Some((i, row)) = sq_dist.iter().enumerate().find(|(_, r)| r.len() != n) {
        return Err(tsne_error(format!(
            "distance matrix not square: {n} rows but row {i} has {} columns",
            row.len()
        )));
    }
    for (i, row) in sq_dist.iter().enumerate() {
        if let Some((j, d)) = row
            .iter()
            .enumerate()
            .find(|(_, d)| !d.is_finite() || **d < 0.0)
        {
            return Err(tsne_error(format!(
                "squared distance [{i}][{j}] is {d}; expected a finite value >= 0"
            )));
        }
    }
    check_perplexity(perplexity)?;
    let flat: Vec<f64> = sq_dist.iter().flatten().copied().collect();
    let p = joint_probabilities_flat(flat, n, perplexity);
    Ok(p.chunks(n).map(<[f64]>::to_vec).collect())
}

fn check_perplexity(perplexity: f64) -> Result<()> {
    if !perplexity.is_finite() || perplexity <= 0.0 {
        return Err(tsne_error(format!(
            "perplexity {perplexity}; expected a positive number"
        )));
    }
    Ok(())
}

/// P from a row-major n x n squared-distance buffer, reusing the buffer: each row is turned
/// into p_.|i in place, then the matrix is symmetrised in place (a few thousand points make
/// each copy of the matrix tens of MB).
fn joint_probabilities_flat(mut m: Vec<f64>, n: usize, perplexity: f64) -> Vec<f64> {
    let desired_entropy = perplexity.ln();
    m.par_chunks_mut(n)
        .enumerate()
        .for_each(|(i, row)| conditional_row(row, i, desired_entropy));
    // Σ over the full (p_j|i + p_i|j) matrix, = 2 Σ p_j|i; summed in row order so the result
    // does not depend on threading.
    let total = (2.0 * m.iter().sum::<f64>()).max(MACHINE_EPSILON);
    for i in 0..n {
        m[i * n + i] = 0.0;
        for j in i + 1..n {
            let p = ((m[i * n + j] + m[j * n + i]) / total).max(MACHINE_EPSILON);
            m[i * n + j] = p;
            m[j * n + i] = p;
        }
    }
    m
}

/// Replaces the squared distances `row` of point `i` by p_j|i = exp(-β d_ij) / Σ_k, with the
/// precision β chosen by bisection (doubling / halving while unbounded) so that the entropy
/// of the row is ln(perplexity).
fn conditional_row(row: &mut [f64], i: usize, desired_entropy: f64) {
    let dist = row.to_vec();
    let (mut beta, mut beta_min, mut beta_max) = (1.0_f64, f64::NEG_INFINITY, f64::INFINITY);
    for _ in 0..SEARCH_STEPS {
        let mut sum = 0.0;
        for (j, (p, &d)) in row.iter_mut().zip(&dist).enumerate() {
            *p = if j == i { 0.0 } else { (-d * beta).exp() };
            sum += *p;
        }
        if sum == 0.0 {
            sum = EPSILON_SUM;
        }
        let mut weighted = 0.0;
        for (p, &d) in row.iter_mut().zip(&dist) {
            *p /= sum;
            weighted += d * *p;
        }
        // H = ln Σ exp(-β d) + β E[d], the entropy of the normalised row in nats.
        let diff = sum.ln() + beta * weighted - desired_entropy;
        if diff.abs() <= PERPLEXITY_TOLERANCE {
            break;
        }
        if diff > 0.0 {
            // Too flat: sharpen.
            beta_min = beta;
            beta = if beta_max == f64::INFINITY {
                beta * 2.0
            } else {
                (beta + beta_max) / 2.0
            };
        } else {
            beta_max = beta;
            beta = if beta_min == f64::NEG_INFINITY {
                beta / 2.0
            } else {
                (beta + beta_min) / 2.0
            };
        }
    }
}

/// Embeds `points` (one feature vector each, e.g. the FER branch's last hidden layer) in 2-D.
///
/// The perplexity is clamped to (N - 1) / 3 when smaller inputs could not support it (see
/// [`TsneConfig::perplexity`]). Errors for fewer than 2 points, vectors of different lengths
/// or of length 0, non-finite values (the message names point and dimension), and settings
/// that are not positive numbers.
pub fn tsne(points: &[Vec<f32>], cfg: &TsneConfig) -> Result<Vec<[f64; 2]>> {
    let n = points.len();
    if n < 2 {
        return Err(tsne_error(format!("{n} points; t-SNE needs at least 2")));
    }
    let dim = points[0].len();
    if dim == 0 {
        return Err(tsne_error("points have 0 dimensions".into()));
    }
    for (i, p) in points.iter().enumerate() {
        if p.len() != dim {
            return Err(tsne_error(format!(
                "ragged input: point 0 has {dim} dimensions but point {i} has {}",
                p.len()
            )));
        }
        if let Some((d, v)) = p.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(tsne_error(format!("point {i}, dimension {d} is {v}")));
        }
    }
    check_perplexity(cfg.perplexity)?;
    if !cfg.early_exaggeration.is_finite() || cfg.early_exaggeration <= 0.0 {
        return Err(tsne_error(format!(
            "early exaggeration {}; expected a positive number",
            cfg.early_exaggeration
        )));
    }
    let learning_rate = match cfg.learning_rate {
        Some(lr) if !lr.is_finite() || lr <= 0.0 => {
            return Err(tsne_error(format!(
                "learning rate {lr}; expected a positive number"
            )))
        }
        Some(lr) => lr,
        None => (n as f64 / cfg.early_exaggeration / 4.0).max(50.0),
    };
    let perplexity = cfg.perplexity.min((n - 1) as f64 / 3.0);

    let mut sq = vec![0.0_f64; n * n];
    sq.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        for (j, d) in row.iter_mut().enumerate() {
            *d = points[i]
                .iter()
                .zip(&points[j])
                .map(|(&a, &b)| {
                    let t = f64::from(a) - f64::from(b);
                    t * t
                })
                .sum();
        }
    });
    let p = joint_probabilities_flat(sq, n, perplexity);

    let mut y = initial_embedding(n, cfg.seed);
    let mut update = vec![[0.0_f64; 2]; n];
    let mut gains = vec![[1.0_f64; 2]; n];
    let mut grad = vec![[0.0_f64; 2]; n];
    for it in 0..cfg.iterations {
        let exaggerated = it < cfg.exaggeration_iterations;
        let (exaggeration, momentum) = if exaggerated {
            (cfg.early_exaggeration, MOMENTUM_EXAGGERATED)
        } else {
            (1.0, MOMENTUM_FINAL)
        };
        kl_gradient(&p, &y, exaggeration, &mut grad);
        for i in 0..n {
            for c in 0..2 {
                let g = grad[i][c];
                // Delta-bar-delta: grow the step where the gradient points against the last
                // move (the descent keeps going the same way), shrink it where it oscillates.
                gains[i][c] = if update[i][c] * g < 0.0 {
                    gains[i][c] + 0.2
                } else {
                    gains[i][c] * 0.8
                }
                .max(MIN_GAIN);
                update[i][c] = momentum * update[i][c] - learning_rate * gains[i][c] * g;
                y[i][c] += update[i][c];
            }
        }
    }
    Ok(y)
}

/// N(0, INIT_STD²) coordinates from a ChaCha8 stream (Box-Muller, one pair per point), so a
/// seed gives the same start on every platform.
fn initial_embedding(n: usize, seed: u64) -> Vec<[f64; 2]> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            // 1 - U lies in (0, 1], so the logarithm is finite.
            let u1: f64 = 1.0 - rng.gen::<f64>();
            let u2: f64 = rng.gen::<f64>();
            let r = (-2.0 * u1.ln()).sqrt() * INIT_STD;
            let angle = std::f64::consts::TAU * u2;
            [r * angle.cos(), r * angle.sin()]
        })
        .collect()
}

/// Gradient of KL(exaggeration · P || Q) with respect to the embedding:
/// ∂C/∂y_i = 4 Σ_j (p_ij - q_ij) (1 + |y_i - y_j|²)⁻¹ (y_i - y_j).
fn kl_gradient(p: &[f64], y: &[[f64; 2]], exaggeration: f64, grad: &mut [[f64; 2]]) {
    let n = y.len();
    let student = |i: usize, j: usize| {
        let dx = y[i][0] - y[j][0];
        let dy = y[i][1] - y[j][1];
        (1.0 / (1.0 + dx * dx + dy * dy), dx, dy)
    };
    // Normaliser of Q, from per-row sums added in row order (deterministic).
    let row_sums: Vec<f64> = (0..n)
        .into_par_iter()
        .map(|i| (0..n).filter(|&j| j != i).map(|j| student(i, j).0).sum())
        .collect();
    let z = row_sums.iter().sum::<f64>().max(MACHINE_EPSILON);
    grad.par_iter_mut().enumerate().for_each(|(i, g)| {
        let p_row = &p[i * n..(i + 1) * n];
        let (mut gx, mut gy) = (0.0, 0.0);
        for (j, &p_ij) in p_row.iter().enumerate() {
            if j == i {
                continue;
            }
            let (num, dx, dy) = student(i, j);
            let q = (num / z).max(MACHINE_EPSILON);
            let m = (exaggeration * p_ij - q) * num;
            gx += m * dx;
            gy += m * dy;
        }
        *g = [4.0 * gx, 4.0 * gy];
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// KL(P || Q) with the same flooring of q as the gradient.
    fn kl_divergence(p: &[f64], y: &[[f64; 2]]) -> f64 {
        let n = y.len();
        let mut num = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    let dx = y[i][0] - y[j][0];
                    let dy = y[i][1] - y[j][1];
                    num[i * n + j] = 1.0 / (1.0 + dx * dx + dy * dy);
                }
            }
        }
        let z: f64 = num.iter().sum();
        (0..n * n)
            .filter(|k| k / n != k % n)
            .map(|k| {
                let q = (num[k] / z).max(MACHINE_EPSILON);
                p[k] * (p[k] / q).ln()
            })
            .sum()
    }

    #[test]
    fn gradient_matches_finite_differences_of_kl() {
        let n = 6;
        let pts: Vec<Vec<f64>> = (0..n)
            .map(|i| vec![i as f64, (i * i % 5) as f64, (i % 2) as f64])
            .collect();
        let sq: Vec<f64> = (0..n * n)
            .map(|k| {
                let (a, b) = (&pts[k / n], &pts[k % n]);
                a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
            })
            .collect();
        let p = joint_probabilities_flat(sq, n, 1.5);
        let y: Vec<[f64; 2]> = (0..n)
            .map(|i| [(i as f64 * 0.7).sin(), (i as f64 * 1.3).cos()])
            .collect();
        let mut grad = vec![[0.0; 2]; n];
        kl_gradient(&p, &y, 1.0, &mut grad);
        let h = 1e-6;
        for i in 0..n {
            for c in 0..2 {
                let mut plus = y.clone();
                plus[i][c] += h;
                let mut minus = y.clone();
                minus[i][c] -= h;
                let numeric = (kl_divergence(&p, &plus) - kl_divergence(&p, &minus)) / (2.0 * h);
                assert!(
                    (numeric - grad[i][c]).abs() < 1e-6,
                    "point {i} coord {c}: analytic {} numeric {numeric}",
                    grad[i][c]
                );
            }
        }
    }

    #[test]
    fn conditional_rows_hit_the_perplexity() {
        let dist: Vec<f64> = (0..20).map(|j| (j as f64 - 7.0).powi(2) * 0.3).collect();
        let mut row = dist.clone();
        conditional_row(&mut row, 7, 5.0_f64.ln());
        let entropy: f64 = row.iter().filter(|&&p| p > 0.0).map(|&p| -p * p.ln()).sum();
        assert_eq!(row[7], 0.0);
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(
            (entropy.exp() - 5.0).abs() < 1e-3,
            "perplexity {}",
            entropy.exp()
        );
    }
}
