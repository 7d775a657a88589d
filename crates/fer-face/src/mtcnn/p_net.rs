//! P-Net, the proposal network of MTCNN (Zhang et al. 2016, stage 1), as in facenet-pytorch's
//! `PNet`: a fully convolutional net that scores every 12x12 window (stride 2) of a pyramid
//! level as face / non-face and regresses its box.

use candle_core::Tensor;

use super::ceil_max_pool::ceil_max_pool;
use super::conv_layer::ConvLayer;
use super::p_relu::PRelu;
use super::torch_state_dict::TorchStateDict;
use crate::Result;

/// conv3x3(10) PReLU maxpool2/2 conv3x3(16) PReLU conv3x3(32) PReLU, then 1x1 heads.
#[derive(Debug, Clone)]
pub struct PNet {
    conv1: ConvLayer,
    prelu1: PRelu,
    conv2: ConvLayer,
    prelu2: PRelu,
    conv3: ConvLayer,
    prelu3: PRelu,
    /// conv4_1 (2 face logits) and conv4_2 (4 box offsets) fused into one 1x1 convolution.
    heads: ConvLayer,
}

/// Output channels of [`PNet::forward`]: face logits (non-face, face) then box offsets.
pub const P_NET_OUTPUT_CHANNELS: usize = 6;

impl PNet {
    /// From facenet-pytorch's `pnet.pt` state dict.
    pub fn load(weights: &TorchStateDict) -> Result<PNet> {
        let face = ConvLayer::load(weights, "conv4_1", 32, 2, 1)?;
        let regression = ConvLayer::load(weights, "conv4_2", 32, 4, 1)?;
        Ok(PNet {
            conv1: ConvLayer::load(weights, "conv1", 3, 10, 3)?,
            prelu1: PRelu::load(weights, "prelu1", 10)?,
            conv2: ConvLayer::load(weights, "conv2", 10, 16, 3)?,
            prelu2: PRelu::load(weights, "prelu2", 16)?,
            conv3: ConvLayer::load(weights, "conv3", 16, 32, 3)?,
            prelu3: PRelu::load(weights, "prelu3", 32)?,
            heads: face.concat(&regression)?,
        })
    }

    /// Normalised images, NHWC (N, H, W, 3) -> (N, H', W', 6): channels 0-1 the face logits
    /// (before softmax) and 2-5 the box offsets of the 12x12 window at (2x, 2y).
    pub fn forward(&self, images: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.conv1.forward_p_relu(images, &self.prelu1)?;
        let x = ceil_max_pool(&x, 2, 2)?;
        let x = self.conv2.forward_p_relu(&x, &self.prelu2)?;
        let x = self.conv3.forward_p_relu(&x, &self.prelu3)?;
        self.heads.forward(&x)
    }
}
