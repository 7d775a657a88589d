//! `RunWeighting`: a run's weighting method (`TrainConfig::weighting`) with what its entry
//! says it needs, and the update it makes of a two-task model's losses: the gradient of one
//! step, the loss that gradient minimises, and the values steps.csv records. Under `fixed`
//! that update is the paper's eq. 16, loss_E + λ loss_L, built exactly as the trainer always
//! built it, so that `fixed` runs keep their numbers bit for bit.

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};

use crate::error::{Result, TrainError};
use crate::train_config::TrainConfig;
use crate::weighting::{StepInput, TaskGradients, TaskWeighting, WeightingEntry};

/// A run's weighting method and its registry entry, which says what it needs: each task's
/// gradient (one more backward pass per update), the batch's losses after the update (one
/// more forward pass), and whether its weights never change (`fixed`: not logged, not checked
/// at every step).
pub struct RunWeighting {
    /// The method's state (called once per update, in order).
    pub method: Box<dyn TaskWeighting>,
    entry: &'static WeightingEntry,
}

/// What one update of a two-task model produced.
pub struct TwoTaskUpdate {
    pub grads: GradStore,
    /// The loss the gradient minimises (the weighted sum, with uncertainty weighting's
    /// log σ terms).
    pub loss_total: f64,
    /// The values of [`RunWeighting::step_columns`] for this update.
    pub step_values: Vec<f64>,
}

impl RunWeighting {
    /// The method of the run's config, resolved and built.
    pub fn build(cfg: &TrainConfig) -> Result<Self> {
        Ok(Self {
            method: crate::weighting::build(cfg)?,
            entry: crate::weighting::entry(&cfg.weighting.method)?,
        })
    }

    /// Whether the method needs the batch's losses after each update (FAMO).
    pub fn needs_losses_after_update(&self) -> bool {
        self.entry.needs_losses_after_update
    }

    /// The columns steps.csv gets for the weighting: none for constant weights (so a `fixed`
    /// run's steps.csv is as before), the two weights of the shared parameters for the other
    /// methods, and the task gradients' cosine and norms for those that compute them.
    pub fn step_columns(&self) -> Vec<String> {
        if self.entry.constant {
            return Vec::new();
        }
        let mut names = vec!["weighting.fer".to_string(), "weighting.fld".to_string()];
        if self.entry.needs_gradients {
            for n in ["gradients.cos", "gradients.norm_fer", "gradients.norm_fld"] {
                names.push(n.to_string());
            }
        }
        names
    }

    /// One update of a two-task model whose batch losses (`input.losses`) are finite. Weights
    /// that change and are not positive and finite stop the run, naming the step and values.
    pub fn two_task_update(
        &mut self,
        vars: &[Var],
        loss_fer: &Tensor,
        loss_fld: &Tensor,
        mut input: StepInput,
    ) -> Result<TwoTaskUpdate> {
        let [l_fer, l_fld] = input.losses;
        let task_gradients = if self.entry.needs_gradients {
            let g = TaskGradients::compute(vars, loss_fer, loss_fld)?;
            input.gram = Some(g.gram);
            Some(g)
        } else {
            None
        };
        let w = self.method.weights(&input)?;
        let at = format!("epoch {} step {}", input.epoch + 1, input.global_step + 1);
        if !self.entry.constant {
            if let Some((which, value)) = w.first_invalid() {
                return Err(TrainError::Config(format!(
                    "weighting '{}' gave the {which} weight {value} at {at} (weights: shared {:?}, heads {:?}; losses FER {l_fer}, FLD {l_fld}): the run stops rather than train on it; try a lower learning rate or another method",
                    self.entry.name, w.shared, w.specific,
                )));
            }
        }
        let (grads, loss_total) = match task_gradients {
            Some(g) => (
                g.combine(vars, &w)?,
                w.shared[0] * l_fer + w.shared[1] * l_fld + w.loss_offset,
            ),
            None => {
                // A weight of exactly 1 adds no graph node: under `fixed` this is the paper's
                // loss_E + λ loss_L, the same graph (and the same bits) as before the methods.
                let scaled = |l: &Tensor, w: f64| -> Result<Tensor> {
                    Ok(if w == 1.0 { l.clone() } else { (l * w)? })
                };
                let total = (scaled(loss_fer, w.shared[0])? + scaled(loss_fld, w.shared[1])?)?;
                let value = total.to_scalar::<f32>()? as f64;
                if !value.is_finite() {
                    return Err(TrainError::Config(format!(
                        "weighting '{}': the weighted loss became {value} at {at} (weights {:?}; losses FER {l_fer}, FLD {l_fld})",
                        self.entry.name, w.shared
                    )));
                }
                (total.backward()?, value + w.loss_offset)
            }
        };
        let mut step_values = Vec::new();
        if !self.entry.constant {
            step_values.extend([w.shared[0], w.shared[1]]);
            if let Some([g11, g12, g22]) = input.gram {
                let (n1, n2) = (g11.sqrt(), g22.sqrt());
                step_values.extend([g12 / (n1 * n2).max(f64::MIN_POSITIVE), n1, n2]);
            }
        }
        Ok(TwoTaskUpdate {
            grads,
            loss_total,
            step_values,
        })
    }
}
