//! A fully connected layer (torch `nn.Linear`) of R-Net and O-Net.

use candle_core::Tensor;

use super::p_relu::PRelu;
use super::torch_state_dict::TorchStateDict;
use crate::Result;

/// y = x W^T + b, with W^T stored transposed once at load time.
#[derive(Debug, Clone)]
pub struct DenseLayer {
    weight_t: Tensor,
    bias: Vec<f32>,
    bias_tensor: Tensor,
}

impl DenseLayer {
    /// Reads `<name>.weight` (out, in) and `<name>.bias` (out), checking the shapes.
    pub fn load(
        weights: &TorchStateDict,
        name: &str,
        in_features: usize,
        out_features: usize,
    ) -> Result<DenseLayer> {
        let weight = weights.tensor(&format!("{name}.weight"), &[out_features, in_features])?;
        let bias = weights.tensor(&format!("{name}.bias"), &[out_features])?;
        Ok(DenseLayer::new(weight.t()?.contiguous()?, bias)?)
    }

    fn new(weight_t: Tensor, bias: Tensor) -> candle_core::Result<DenseLayer> {
        Ok(DenseLayer {
            weight_t,
            bias: bias.to_vec1::<f32>()?,
            bias_tensor: bias,
        })
    }

    /// The layer for inputs flattened from NHWC maps of `height` x `width` x `channels` when
    /// torch flattened them as (width, height, channel) — facenet-pytorch's `permute(0, 3, 2,
    /// 1)` before the first dense layer, inherited from the Caffe/TensorFlow weights. Reordering
    /// the weight rows once replaces that permutation of every input.
    pub fn reading_nhwc(
        &self,
        height: usize,
        width: usize,
        channels: usize,
    ) -> candle_core::Result<DenseLayer> {
        let out_features = self.weight_t.dim(1)?;
        let weight_t = self
            .weight_t
            .reshape((width, height, channels, out_features))?
            .permute((1, 0, 2, 3))?
            .reshape((height * width * channels, out_features))?
            .contiguous()?;
        DenseLayer::new(weight_t, self.bias_tensor.clone())
    }

    /// Several layers over the same input fused into one whose outputs are theirs side by
    /// side, in order: one matrix product instead of several.
    pub fn concat(layers: &[&DenseLayer]) -> candle_core::Result<DenseLayer> {
        let weights: Vec<&Tensor> = layers.iter().map(|l| &l.weight_t).collect();
        let biases: Vec<&Tensor> = layers.iter().map(|l| &l.bias_tensor).collect();
        DenseLayer::new(Tensor::cat(&weights, 1)?, Tensor::cat(&biases, 0)?)
    }

    /// (N, in) -> (N, out).
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.matmul(&self.weight_t)?.broadcast_add(&self.bias_tensor)
    }

    /// PReLU(x W^T + b), the bias fused into the activation's pass.
    pub fn forward_p_relu(&self, x: &Tensor, p_relu: &PRelu) -> candle_core::Result<Tensor> {
        p_relu.forward_with_bias(&x.matmul(&self.weight_t)?, &self.bias, &self.bias_tensor)
    }
}
