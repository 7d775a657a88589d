//! CCAM, the channel co-attention module of CMCNN (paper 3.2, eqs. 2-8).
//!
//! Each task's feature map is flattened per channel (C x HW) and mapped by its own two-layer
//! MLP to C x D, D = floor(δ·H·W) (eqs. 2-3; the reference code's `__EmbeddingMap`:
//! Linear(HW, D), ReLU, Linear(D, D)). The similarity S = F_e F_lᵀ / √D (eq. 4) is normalised
//! along each axis: A_e sums the column-normalised S over FLD channels (eq. 5) and weights the
//! FER channels, A_l sums the row-normalised S over FER channels (eq. 6) and weights the FLD
//! channels (eqs. 7-8). The exchange of the two outputs happens in the Co-ATT unit (eq. 1).

use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use crate::nn::layers::{self, Linear};
use crate::ops::broadcast_scale::broadcast_scale;
use crate::ops::co_attention_scores::co_attention_scores;

/// The per-task embedding f(·; W) of eqs. 2-3. Names `0.*` and `2.*` as the reference's
/// `nn.Sequential(Linear, ReLU, Linear)`.
#[derive(Debug, Clone)]
struct EmbeddingMap {
    fc1: Linear,
    fc2: Linear,
}

impl EmbeddingMap {
    fn new(hw: usize, d: usize, vb: VarBuilder) -> candle_core::Result<Self> {
        Ok(Self {
            fc1: layers::linear(hw, d, vb.pp("0"))?,
            fc2: layers::linear(d, d, vb.pp("2"))?,
        })
    }

    /// (B, C, H, W) -> (B, C, D)
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (b, c, h, w) = x.dims4()?;
        let flat = x.reshape((b * c, h * w))?;
        let f = self.fc2.forward(&self.fc1.forward(&flat)?.relu()?)?;
        let d = f.dim(1)?;
        f.reshape((b, c, d))
    }
}

/// Outputs of CCAM before the exchange of eq. 1.
#[derive(Debug, Clone)]
pub struct ChannelCoAttentionOutput {
    /// E_out^c = A_e ⊙ E_in (eq. 7), (B, C, H, W).
    pub fer: Tensor,
    /// L_out^c = A_l ⊙ L_in (eq. 8), (B, C, H, W).
    pub fld: Tensor,
    /// A_e, (B, C).
    pub fer_scores: Tensor,
    /// A_l, (B, C).
    pub fld_scores: Tensor,
}

/// CCAM for feature maps of side `size` (H = W = size). Parameter names `fer_map.*`,
/// `fld_map.*`.
#[derive(Debug, Clone)]
pub struct ChannelCoAttention {
    fer_map: EmbeddingMap,
    fld_map: EmbeddingMap,
    d: usize,
}

impl ChannelCoAttention {
    /// `embedding_ratio` is δ; D = floor(δ·size²) as the reference code's `int(...)`.
    pub fn new(size: usize, embedding_ratio: f64, vb: VarBuilder) -> candle_core::Result<Self> {
        let hw = size * size;
        let d = ((hw as f64) * embedding_ratio).floor().max(1.0) as usize;
        Ok(Self {
            fer_map: EmbeddingMap::new(hw, d, vb.pp("fer_map"))?,
            fld_map: EmbeddingMap::new(hw, d, vb.pp("fld_map"))?,
            d,
        })
    }

    /// D of eqs. 2-4.
    pub fn embedding_dim(&self) -> usize {
        self.d
    }

    /// # Shapes
    /// E_in, L_in: (B, C, H, W) -> outputs (B, C, H, W) and scores (B, C).
    pub fn forward(
        &self,
        e_in: &Tensor,
        l_in: &Tensor,
    ) -> candle_core::Result<ChannelCoAttentionOutput> {
        let f_e = self.fer_map.forward(e_in)?; // (B, C, D)
        let f_l = self.fld_map.forward(l_in)?; // (B, C, D)
        let (b, c, d) = f_e.dims3()?;
        crate::mac_counter::add((b * c * c * d) as u64);
        // eq. 4: S_ij = <F_e[i], F_l[j]> / √D, i over FER channels, j over FLD channels; the
        // 1/√D is applied inside the scores' op.
        let s = f_e.matmul(&f_l.t()?)?; // (B, C, C), before the 1/√D
                                        // eqs. 5-6: A_e normalises S over i (FER channels) and sums over j; A_l normalises over
                                        // j (FLD channels) and sums over i. Both (B, C).
        let (a_e, a_l) = co_attention_scores(&s, 1.0 / (self.d as f64).sqrt())?;
        let fer = broadcast_scale(e_in, &a_e.reshape((b, c, 1, 1))?)?;
        let fld = broadcast_scale(l_in, &a_l.reshape((b, c, 1, 1))?)?;
        Ok(ChannelCoAttentionOutput {
            fer,
            fld,
            fer_scores: a_e,
            fld_scores: a_l,
        })
    }
}
