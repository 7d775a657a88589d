//! The Co-ATT unit of CMCNN (paper 3.1, Fig. 1, eq. 1): CCAM and SCAM on the outputs of one
//! conv component of each task, then the exchange-and-mix of eq. 1:
//!
//! E_out = β1 L_out^c + β2 E_out^s,    L_out = α1 E_out^c + α2 L_out^s
//!
//! (the CCAM outputs are exchanged between the tasks; the SCAM outputs stay). α and β are
//! trainable and start at 0.5/0.5 (reference code `alphaBetas = [[0.5, 0.5]]`), or fixed
//! (Table 11). Channel-only (`cmcnn-c`) is E_out = L_out^c, L_out = E_out^c; spatial-only
//! (`cmcnn-s`) is E_out = E_out^s, L_out = L_out^s: exactly the full unit with α = β fixed at
//! (1, 0) and (0, 1). Parameter names: `ccam.*`, `scam.*`, `alpha`, `beta` (the reference's
//! `cross_stitch_l` and `cross_stitch_e`).

use candle_core::{Tensor, Var};
use candle_nn::{Init, VarBuilder};

use crate::model_config::CoAttentionConfig;
use crate::multi_task_model::MixingParameter;
use crate::nn::channel_co_attention::ChannelCoAttention;
use crate::nn::spatial_attention::SpatialAttention;
use crate::ops::broadcast_scale::broadcast_scale;
use crate::ops::weighted_sum::weighted_sum;

/// Which modules a Co-ATT unit has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CoAttentionModules {
    /// CCAM and SCAM mixed by α, β (`cmcnn`).
    Both,
    /// CCAM only (`cmcnn-c`, Table 12).
    ChannelOnly,
    /// SCAM only (`cmcnn-s`, Table 13).
    SpatialOnly,
}

/// Two mixing weights, trainable (a variable) or fixed (a constant).
#[derive(Debug, Clone)]
struct MixingPair {
    weights: Tensor,
}

impl MixingPair {
    fn new(
        init: [f64; 2],
        trainable: bool,
        name: &str,
        vb: &VarBuilder,
    ) -> candle_core::Result<Self> {
        let values =
            Tensor::new(&[init[0] as f32, init[1] as f32], vb.device())?.to_dtype(vb.dtype())?;
        let weights = if trainable {
            // The VarBuilder only initialises with one constant per tensor: start from the
            // first value and, when the two differ, set both on the new variable.
            let t = vb.get_with_hints(2, name, Init::Const(init[0]))?;
            if init[0] != init[1] && t.is_variable() {
                Var::from_tensor(&t)?.set(&values)?;
            }
            t
        } else {
            values
        };
        Ok(Self { weights })
    }

    /// w0 * a + w1 * b
    fn mix(&self, a: &Tensor, b: &Tensor) -> candle_core::Result<Tensor> {
        weighted_sum(a, b, &self.weights)
    }

    fn values(&self) -> candle_core::Result<[f32; 2]> {
        let v = self
            .weights
            .to_dtype(candle_core::DType::F32)?
            .to_vec1::<f32>()?;
        Ok([v[0], v[1]])
    }
}

/// What a Co-ATT unit returns.
#[derive(Debug, Clone)]
pub struct CoAttentionOutput {
    /// E_out, (B, C, H, W).
    pub fer: Tensor,
    /// L_out, (B, C, H, W).
    pub fld: Tensor,
    /// A_s (B, H, W) when the unit has SCAM.
    pub spatial_map: Option<Tensor>,
}

/// One Co-ATT unit for feature maps of side `size`.
#[derive(Debug, Clone)]
pub struct CoAttentionUnit {
    ccam: Option<ChannelCoAttention>,
    scam: Option<SpatialAttention>,
    alpha: Option<MixingPair>,
    beta: Option<MixingPair>,
}

impl CoAttentionUnit {
    pub fn new(
        size: usize,
        modules: CoAttentionModules,
        cfg: &CoAttentionConfig,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let ccam = match modules {
            CoAttentionModules::Both | CoAttentionModules::ChannelOnly => Some(
                ChannelCoAttention::new(size, cfg.embedding_ratio, vb.pp("ccam"))?,
            ),
            CoAttentionModules::SpatialOnly => None,
        };
        let scam = match modules {
            CoAttentionModules::Both | CoAttentionModules::SpatialOnly => {
                Some(SpatialAttention::new(cfg.spatial_kernel, vb.pp("scam"))?)
            }
            CoAttentionModules::ChannelOnly => None,
        };
        let (alpha, beta) = if modules == CoAttentionModules::Both {
            let m = &cfg.mixing;
            (
                Some(MixingPair::new(m.alpha, m.trainable, "alpha", &vb)?),
                Some(MixingPair::new(m.beta, m.trainable, "beta", &vb)?),
            )
        } else {
            (None, None)
        };
        Ok(Self {
            ccam,
            scam,
            alpha,
            beta,
        })
    }

    /// # Shapes
    /// E_in, L_in: (B, C, H, W) -> E_out, L_out (B, C, H, W).
    pub fn forward_t(
        &self,
        e_in: &Tensor,
        l_in: &Tensor,
        train: bool,
    ) -> candle_core::Result<CoAttentionOutput> {
        let channel = match &self.ccam {
            Some(ccam) => Some(ccam.forward(e_in, l_in)?),
            None => None,
        };
        let spatial = match &self.scam {
            Some(scam) => {
                // eqs. 9-11 on the concatenation [L_in; E_in].
                let a_s = scam.forward_pair_t(l_in, e_in, train)?; // (B,1,H,W)
                Some((
                    broadcast_scale(e_in, &a_s)?, // eq. 12
                    broadcast_scale(l_in, &a_s)?, // eq. 13
                    a_s.squeeze(1)?,
                ))
            }
            None => None,
        };
        let (fer, fld, spatial_map) = match (channel, spatial) {
            (Some(c), Some((e_s, l_s, map))) => {
                let (alpha, beta) = match (&self.alpha, &self.beta) {
                    (Some(a), Some(b)) => (a, b),
                    _ => candle_core::bail!("Co-ATT unit with both modules lacks α, β"),
                };
                // eq. 1: the CCAM outputs are exchanged.
                (beta.mix(&c.fld, &e_s)?, alpha.mix(&c.fer, &l_s)?, Some(map))
            }
            (Some(c), None) => (c.fld, c.fer, None),
            (None, Some((e_s, l_s, map))) => (e_s, l_s, Some(map)),
            (None, None) => candle_core::bail!("Co-ATT unit without modules"),
        };
        Ok(CoAttentionOutput {
            fer,
            fld,
            spatial_map,
        })
    }

    /// α1, α2, β1, β2 of this unit, named `{prefix}.alpha1` etc. (none for single-module units).
    pub fn mixing_parameters(&self, prefix: &str) -> candle_core::Result<Vec<MixingParameter>> {
        let mut out = Vec::new();
        for (name, pair) in [("alpha", &self.alpha), ("beta", &self.beta)] {
            if let Some(p) = pair {
                let [v1, v2] = p.values()?;
                out.push(MixingParameter {
                    name: format!("{prefix}.{name}1"),
                    value: v1,
                });
                out.push(MixingParameter {
                    name: format!("{prefix}.{name}2"),
                    value: v2,
                });
            }
        }
        Ok(out)
    }
}
