//! R-Net, the refinement network of MTCNN (Zhang et al. 2016, stage 2), as in facenet-pytorch's
//! `RNet`: rescores each P-Net candidate from a 24x24 crop and regresses its box again.

use candle_core::Tensor;

use super::ceil_max_pool::ceil_max_pool;
use super::conv_layer::ConvLayer;
use super::dense_layer::DenseLayer;
use super::p_relu::PRelu;
use super::torch_state_dict::TorchStateDict;
use crate::Result;

/// Side of R-Net's input crops.
pub const R_NET_INPUT_SIZE: usize = 24;
/// Output columns of [`RNet::forward`]: face logits (non-face, face) then box offsets.
pub const R_NET_OUTPUT_COLUMNS: usize = 6;

/// conv3x3(28) PReLU maxpool3/2 conv3x3(48) PReLU maxpool3/2 conv2x2(64) PReLU dense(128)
/// PReLU, then dense heads.
#[derive(Debug, Clone)]
pub struct RNet {
    conv1: ConvLayer,
    prelu1: PRelu,
    conv2: ConvLayer,
    prelu2: PRelu,
    conv3: ConvLayer,
    prelu3: PRelu,
    dense4: DenseLayer,
    prelu4: PRelu,
    /// dense5_1 (2 face logits) and dense5_2 (4 box offsets) fused into one product.
    heads: DenseLayer,
}

impl RNet {
    /// From facenet-pytorch's `rnet.pt` state dict.
    pub fn load(weights: &TorchStateDict) -> Result<RNet> {
        let face = DenseLayer::load(weights, "dense5_1", 128, 2)?;
        let regression = DenseLayer::load(weights, "dense5_2", 128, 4)?;
        Ok(RNet {
            conv1: ConvLayer::load(weights, "conv1", 3, 28, 3)?,
            prelu1: PRelu::load(weights, "prelu1", 28)?,
            conv2: ConvLayer::load(weights, "conv2", 28, 48, 3)?,
            prelu2: PRelu::load(weights, "prelu2", 48)?,
            conv3: ConvLayer::load(weights, "conv3", 48, 64, 2)?,
            prelu3: PRelu::load(weights, "prelu3", 64)?,
            dense4: DenseLayer::load(weights, "dense4", 576, 128)?.reading_nhwc(3, 3, 64)?,
            prelu4: PRelu::load(weights, "prelu4", 128)?,
            heads: DenseLayer::concat(&[&face, &regression])?,
        })
    }

    /// Normalised crops, NHWC (N, 24, 24, 3) -> (N, 6): face logits (before softmax), box
    /// offsets.
    pub fn forward(&self, crops: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.conv1.forward_p_relu(crops, &self.prelu1)?;
        let x = ceil_max_pool(&x, 3, 2)?;
        let x = self.conv2.forward_p_relu(&x, &self.prelu2)?;
        let x = ceil_max_pool(&x, 3, 2)?;
        let x = self.conv3.forward_p_relu(&x, &self.prelu3)?;
        // (N, 3, 3, 64) flattened as stored; dense4's rows were reordered at load time for
        // facenet-pytorch's (width, height, channel) flattening.
        let x = self
            .dense4
            .forward_p_relu(&x.flatten_from(1)?, &self.prelu4)?;
        self.heads.forward(&x)
    }
}
