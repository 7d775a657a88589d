//! BaseDCNN, the convolutional backbone of every model in the paper (Table 1): six components
//! of convolution 3x3 (stride 1, padding 1) + batch norm (eps 1e-3, as the reference code) +
//! ReLU, with 2x2 max pooling after components 1, 2 and 4; channels 64, 96, 128, 128, 256, 256.
//!
//! At 100 px the feature maps are 50, 25, 25, 12, 12, 12 pixels wide (flattened 36,864, the
//! reference code's hard-coded number); at 48 px 24, 12, 12, 6, 6, 6. Sizes are derived from the
//! input size, never hard-coded. Parameter names follow the reference code (`layer{i}.conv{i}`,
//! `layer{i}.norm{i}`).

use candle_core::Tensor;
use candle_nn::{Module, VarBuilder};

use crate::ops::fused_batch_norm::FusedBatchNorm;

use crate::ops::gemm_conv2d::GemmConv2d;

use crate::nn::layers;
use crate::ops::max_pool::max_pool2d;

/// Output channels of the six components (paper Table 1).
pub const CHANNELS: [usize; 6] = [64, 96, 128, 128, 256, 256];
/// Whether a 2x2 max pooling follows each component (paper Table 1).
pub const POOL_AFTER: [bool; 6] = [true, true, false, true, false, false];

/// One component: conv -> batch norm -> ReLU -> (max pool).
#[derive(Debug, Clone)]
pub struct ConvComponent {
    conv: GemmConv2d,
    norm: FusedBatchNorm,
    pool: bool,
}

impl ConvComponent {
    pub fn new(
        in_c: usize,
        out_c: usize,
        pool: bool,
        bn_eps: f64,
        index: usize,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        Ok(Self {
            conv: layers::conv2d(in_c, out_c, 3, 1, vb.pp(format!("conv{index}")))?,
            norm: layers::batch_norm(out_c, bn_eps, vb.pp(format!("norm{index}")))?,
            pool,
        })
    }

    /// # Shapes
    /// (B, C_in, S, S) -> (B, C_out, S', S') with S' = S or floor(S / 2).
    pub fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let x = self.conv.forward(x)?;
        let x = self.norm.forward_relu_t(&x, train)?;
        if self.pool {
            max_pool2d(&x, 2)
        } else {
            Ok(x)
        }
    }

    /// Conv -> batch norm -> ReLU without the pooling, for models whose units read a
    /// component's full-resolution output (MTAN's attention modules); `forward_t` equals this
    /// followed by a 2x2 max pooling when `pools()`.
    ///
    /// # Shapes
    /// (B, C_in, S, S) -> (B, C_out, S, S)
    pub fn forward_unpooled_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let x = self.conv.forward(x)?;
        self.norm.forward_relu_t(&x, train)
    }

    /// Whether a 2x2 max pooling ends this component (paper Table 1).
    pub fn pools(&self) -> bool {
        self.pool
    }
}

/// The six-component backbone.
#[derive(Debug, Clone)]
pub struct BaseDcnn {
    components: Vec<ConvComponent>,
    input_size: usize,
}

impl BaseDcnn {
    pub fn new(
        in_channels: usize,
        input_size: usize,
        bn_eps: f64,
        vb: VarBuilder,
    ) -> candle_core::Result<Self> {
        let mut components = Vec::with_capacity(6);
        let mut c_in = in_channels;
        for (i, (&c_out, &pool)) in CHANNELS.iter().zip(POOL_AFTER.iter()).enumerate() {
            components.push(ConvComponent::new(
                c_in,
                c_out,
                pool,
                bn_eps,
                i,
                vb.pp(format!("layer{i}")),
            )?);
            c_in = c_out;
        }
        Ok(Self {
            components,
            input_size,
        })
    }

    /// Spatial side of the feature map after each component for an input of side `input_size`.
    pub fn feature_sizes(input_size: usize) -> [usize; 6] {
        let mut s = input_size;
        let mut out = [0; 6];
        for (i, &pool) in POOL_AFTER.iter().enumerate() {
            if pool {
                s /= 2;
            }
            out[i] = s;
        }
        out
    }

    /// Length of the flattened output (36,864 at 100 px).
    pub fn flat_features(input_size: usize) -> usize {
        let s = Self::feature_sizes(input_size)[5];
        CHANNELS[5] * s * s
    }

    pub fn input_size(&self) -> usize {
        self.input_size
    }

    /// Component `i` alone (multi-task models interleave their units between components).
    pub fn component(&self, i: usize) -> &ConvComponent {
        &self.components[i]
    }

    /// # Shapes
    /// (B, C, S, S) -> (B, 256, s, s) with s = feature_sizes(S)[5].
    pub fn forward_t(&self, x: &Tensor, train: bool) -> candle_core::Result<Tensor> {
        let mut x = x.clone();
        for c in &self.components {
            x = c.forward_t(&x, train)?;
        }
        Ok(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_table_1() {
        assert_eq!(BaseDcnn::feature_sizes(100), [50, 25, 25, 12, 12, 12]);
        assert_eq!(BaseDcnn::flat_features(100), 36864);
        assert_eq!(BaseDcnn::feature_sizes(48), [24, 12, 12, 6, 6, 6]);
        assert_eq!(BaseDcnn::flat_features(48), 9216);
    }
}
