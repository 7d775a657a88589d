//! The cross-stitch unit of Misra et al. (2016), the building block of `csn` (paper 4.2):
//! a learned 2x2 linear combination of the two tasks' activations at one layer,
//!
//! x̃_E = a_EE x_E + a_EL x_L,    x̃_L = a_LE x_E + a_LL x_L.
//!
//! One unit per layer (Misra et al.'s single-α variant, not the per-channel one). The start
//! is a setting (`CrossStitchConfig`): a_EE = a_LL = 0.9 and a_EL = a_LE = 0.1 as Misra et al.;
//! (1, 0) makes the columns independent. Parameter names `self_weight` (a_EE, a_LL) and
//! `other_weight` (a_EL, a_LE).

use candle_core::Tensor;
use candle_nn::{Init, VarBuilder};

use crate::model_config::CrossStitchConfig;
use crate::multi_task_model::MixingParameter;
use crate::ops::weighted_sum::weighted_sum;

/// One cross-stitch unit.
#[derive(Debug, Clone)]
pub struct CrossStitchUnit {
    self_weight: Tensor,
    other_weight: Tensor,
}

impl CrossStitchUnit {
    pub fn new(cfg: &CrossStitchConfig, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            self_weight: vb.get_with_hints(2, "self_weight", Init::Const(cfg.self_weight))?,
            other_weight: vb.get_with_hints(2, "other_weight", Init::Const(cfg.other_weight))?,
        })
    }

    /// Mixes the FER and FLD activations of one layer (any equal shapes).
    pub fn forward(&self, e: &Tensor, l: &Tensor) -> candle_core::Result<(Tensor, Tensor)> {
        // (a_self, a_other) of task i, as the two weights of one weighted sum.
        let pair = |i: usize| {
            Tensor::cat(
                &[
                    self.self_weight.narrow(0, i, 1)?,
                    self.other_weight.narrow(0, i, 1)?,
                ],
                0,
            )
        };
        let e_new = weighted_sum(e, l, &pair(0)?)?;
        let l_new = weighted_sum(l, e, &pair(1)?)?;
        Ok((e_new, l_new))
    }

    /// a_EE, a_EL, a_LE, a_LL named `{prefix}.ee` etc.
    pub fn mixing_parameters(&self, prefix: &str) -> candle_core::Result<Vec<MixingParameter>> {
        let s = self
            .self_weight
            .to_dtype(candle_core::DType::F32)?
            .to_vec1::<f32>()?;
        let o = self
            .other_weight
            .to_dtype(candle_core::DType::F32)?
            .to_vec1::<f32>()?;
        Ok([("ee", s[0]), ("el", o[0]), ("le", o[1]), ("ll", s[1])]
            .into_iter()
            .map(|(n, value)| MixingParameter {
                name: format!("{prefix}.{n}"),
                value,
            })
            .collect())
    }
}
