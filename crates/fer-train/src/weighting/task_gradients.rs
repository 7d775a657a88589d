//! `TaskGradients`: each task's gradient of every parameter, from one backward pass per task
//! (one more than the weighted sum needs), their Gram matrix over the shared parameters, and
//! the combined gradient a `StepWeights` asks for.
//!
//! Which parameters are shared is read off the graph, not listed per model: a parameter is
//! shared when both task losses depend on it, i.e. when both backward passes give it a
//! gradient. That is HPS's BaseDCNN trunk (`baseDCNN.*`); both columns and every unit of CSN
//! (`fer_net.*`, `fld_net.*`, `cross_stitch.*`), PS-MCNN (`fer_net.*`, `fld_net.*`,
//! `shared_net.*`) and CMCNN (`fer_net.*`, `fld_net.*`, `co_att.*`), whose columns exchange
//! features at every layer; and MTAN's shared network (its attention modules,
//! `encoder_att.{fer,fld}.*`, feed one task each and are task-specific). The task heads
//! (`fer_feature.*`, `fer_out.*`, `lm_feature.*`, `lm_out.*`) are task-specific, except CSN's
//! hidden layers `fer_feature.*` and `lm_feature.*`, which its cross-stitch unit
//! `cross_stitch.fc1` mixes, so that both losses reach them.

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use crate::error::Result;
use crate::weighting::task_weighting::StepWeights;

/// The two tasks' gradients of the model's variables.
pub struct TaskGradients {
    fer: GradStore,
    fld: GradStore,
    /// Per variable (in the caller's order): whether both losses reach it.
    shared: Vec<bool>,
    /// [g_fer·g_fer, g_fer·g_fld, g_fld·g_fld] over the shared variables.
    pub gram: [f64; 3],
}

impl TaskGradients {
    /// One backward pass per loss; the forward graph is kept between them.
    pub fn compute(vars: &[Var], loss_fer: &Tensor, loss_fld: &Tensor) -> Result<Self> {
        let fer = loss_fer.backward()?;
        let fld = loss_fld.backward()?;
        let mut shared = Vec::with_capacity(vars.len());
        let mut gram = [0.0f64; 3];
        for v in vars {
            let (a, b) = (fer.get(v.as_tensor()), fld.get(v.as_tensor()));
            let both = a.is_some() && b.is_some();
            shared.push(both);
            if let (Some(a), Some(b)) = (a, b) {
                let dot = |x: &Tensor, y: &Tensor| -> Result<f64> {
                    Ok((x * y)?
                        .sum_all()?
                        .to_dtype(candle_core::DType::F64)?
                        .to_scalar::<f64>()?)
                };
                gram[0] += dot(a, a)?;
                gram[1] += dot(a, b)?;
                gram[2] += dot(b, b)?;
            }
        }
        Ok(Self {
            fer,
            fld,
            shared,
            gram,
        })
    }

    /// Whether the `i`-th variable is shared by the two tasks.
    pub fn is_shared(&self, i: usize) -> bool {
        self.shared.get(i).copied().unwrap_or(false)
    }

    /// The gradient of the update: `w.shared` combines the two gradients of a shared variable,
    /// `w.specific` scales a head's gradient.
    pub fn combine(self, vars: &[Var], w: &StepWeights) -> Result<GradStore> {
        let Self {
            mut fer, mut fld, ..
        } = self;
        let scaled = |g: Tensor, s: f64| -> Result<Tensor> {
            Ok(if s == 1.0 { g } else { g.affine(s, 0.0)? })
        };
        // A variable with both gradients is shared (how `compute` found it).
        for v in vars {
            let t = v.as_tensor();
            let (a, b) = (fer.remove(t), fld.remove(t));
            let g = match (a, b) {
                (Some(a), Some(b)) => (scaled(a, w.shared[0])? + scaled(b, w.shared[1])?)?,
                (Some(a), None) => scaled(a, w.specific[0])?,
                (None, Some(b)) => scaled(b, w.specific[1])?,
                (None, None) => continue,
            };
            fer.insert(t, g);
        }
        Ok(fer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    /// L_fer = Σ (s ⊙ a)², L_fld = Σ s ⊙ b with s shared and a, b the heads: ∇_s L_fer =
    /// 2 s ⊙ a², ∇_s L_fld = b, ∇_a L_fer = 2 a ⊙ s², ∇_b L_fld = s.
    #[test]
    fn shared_variables_are_those_both_losses_reach_and_are_combined_by_weight() {
        let dev = Device::Cpu;
        let var = |v: &[f64]| Var::from_tensor(&Tensor::new(v, &dev).unwrap()).unwrap();
        let (s, a, b) = (var(&[1.0, -2.0]), var(&[0.5, 3.0]), var(&[4.0, -1.0]));
        let l_fer = (s.as_tensor() * a.as_tensor())
            .unwrap()
            .sqr()
            .unwrap()
            .sum_all()
            .unwrap();
        let l_fld = (s.as_tensor() * b.as_tensor()).unwrap().sum_all().unwrap();
        let vars = vec![s.clone(), a.clone(), b.clone()];
        let g = TaskGradients::compute(&vars, &l_fer, &l_fld).unwrap();
        assert!(g.is_shared(0) && !g.is_shared(1) && !g.is_shared(2));
        // g_fer = [0.5, -36], g_fld = [4, -1].
        assert_eq!(g.gram, [0.25 + 1296.0, 2.0 + 36.0, 17.0]);
        let w = StepWeights {
            shared: [0.5, 2.0],
            specific: [3.0, 1.0],
            loss_offset: 0.0,
            shared_any_sign: false,
        };
        let store = g.combine(&vars, &w).unwrap();
        let get = |v: &Var| -> Vec<f64> { store.get(v.as_tensor()).unwrap().to_vec1().unwrap() };
        assert_eq!(get(&s), vec![0.5 * 0.5 + 2.0 * 4.0, 0.5 * -36.0 - 2.0]);
        // ∇_a L_fer = 2 a s² = [1, 24], times 3; ∇_b L_fld = s, times 1.
        assert_eq!(get(&a), vec![3.0, 72.0]);
        assert_eq!(get(&b), vec![1.0, -2.0]);
    }
}
