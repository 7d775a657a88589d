//! O-Net, the output network of MTCNN (Zhang et al. 2016, stage 3), as in facenet-pytorch's
//! `ONet`: rescores each R-Net candidate from a 48x48 crop, regresses its box and places the
//! five facial landmarks.

use candle_core::Tensor;

use super::ceil_max_pool::ceil_max_pool;
use super::conv_layer::ConvLayer;
use super::dense_layer::DenseLayer;
use super::p_relu::PRelu;
use super::torch_state_dict::TorchStateDict;
use crate::Result;

/// Side of O-Net's input crops.
pub const O_NET_INPUT_SIZE: usize = 48;
/// Output columns of [`ONet::forward`]: face logits (2), box offsets (4), landmarks (10).
pub const O_NET_OUTPUT_COLUMNS: usize = 16;

/// conv3x3(32) PReLU maxpool3/2 conv3x3(64) PReLU maxpool3/2 conv3x3(64) PReLU maxpool2/2
/// conv2x2(128) PReLU dense(256) PReLU, then dense heads.
#[derive(Debug, Clone)]
pub struct ONet {
    conv1: ConvLayer,
    prelu1: PRelu,
    conv2: ConvLayer,
    prelu2: PRelu,
    conv3: ConvLayer,
    prelu3: PRelu,
    conv4: ConvLayer,
    prelu4: PRelu,
    dense5: DenseLayer,
    prelu5: PRelu,
    /// dense6_1 (face logits), dense6_2 (box offsets), dense6_3 (landmarks: 5 x then 5 y,
    /// relative to the box) fused into one product.
    heads: DenseLayer,
}

impl ONet {
    /// From facenet-pytorch's `onet.pt` state dict.
    pub fn load(weights: &TorchStateDict) -> Result<ONet> {
        let face = DenseLayer::load(weights, "dense6_1", 256, 2)?;
        let regression = DenseLayer::load(weights, "dense6_2", 256, 4)?;
        let landmarks = DenseLayer::load(weights, "dense6_3", 256, 10)?;
        Ok(ONet {
            conv1: ConvLayer::load(weights, "conv1", 3, 32, 3)?,
            prelu1: PRelu::load(weights, "prelu1", 32)?,
            conv2: ConvLayer::load(weights, "conv2", 32, 64, 3)?,
            prelu2: PRelu::load(weights, "prelu2", 64)?,
            conv3: ConvLayer::load(weights, "conv3", 64, 64, 3)?,
            prelu3: PRelu::load(weights, "prelu3", 64)?,
            conv4: ConvLayer::load(weights, "conv4", 64, 128, 2)?,
            prelu4: PRelu::load(weights, "prelu4", 128)?,
            dense5: DenseLayer::load(weights, "dense5", 1152, 256)?.reading_nhwc(3, 3, 128)?,
            prelu5: PRelu::load(weights, "prelu5", 256)?,
            heads: DenseLayer::concat(&[&face, &regression, &landmarks])?,
        })
    }

    /// Normalised crops, NHWC (N, 48, 48, 3) -> (N, 16): face logits (before softmax), box
    /// offsets, landmark x (5), landmark y (5).
    pub fn forward(&self, crops: &Tensor) -> candle_core::Result<Tensor> {
        let x = self.conv1.forward_p_relu(crops, &self.prelu1)?;
        let x = ceil_max_pool(&x, 3, 2)?;
        let x = self.conv2.forward_p_relu(&x, &self.prelu2)?;
        let x = ceil_max_pool(&x, 3, 2)?;
        let x = self.conv3.forward_p_relu(&x, &self.prelu3)?;
        let x = ceil_max_pool(&x, 2, 2)?;
        let x = self.conv4.forward_p_relu(&x, &self.prelu4)?;
        // (N, 3, 3, 128) flattened as stored; dense5's rows were reordered at load time for
        // facenet-pytorch's (width, height, channel) flattening, as in R-Net.
        let x = self
            .dense5
            .forward_p_relu(&x.flatten_from(1)?, &self.prelu5)?;
        self.heads.forward(&x)
    }
}
