//! A 2-d convolution with bias (torch `nn.Conv2d`, stride 1, no padding), the only kind the
//! three MTCNN networks use, on NHWC maps. On the CPU it is im2col + one candle matrix product
//! over all images' pixels; elsewhere candle's conv2d.

use candle_core::Tensor;

use super::im2col::im2col;
use super::p_relu::PRelu;
use super::torch_state_dict::TorchStateDict;
use crate::Result;

#[derive(Debug, Clone)]
pub struct ConvLayer {
    kernel: usize,
    /// torch's (out, in, k, k), for candle's conv2d off the CPU.
    weight: Tensor,
    /// The same weights as a (k * k * in, out) matrix in im2col's (ky, kx, in) row order.
    weight_matrix: Tensor,
    bias: Vec<f32>,
    bias_tensor: Tensor,
}

impl ConvLayer {
    /// Reads `<name>.weight` and `<name>.bias`, checking the shapes.
    pub fn load(
        weights: &TorchStateDict,
        name: &str,
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
    ) -> Result<ConvLayer> {
        let weight = weights.tensor(
            &format!("{name}.weight"),
            &[out_channels, in_channels, kernel, kernel],
        )?;
        let bias = weights.tensor(&format!("{name}.bias"), &[out_channels])?;
        Ok(ConvLayer::new(weight, bias)?)
    }

    /// From a weight (out, in, k, k) and a bias (out).
    pub fn new(weight: Tensor, bias: Tensor) -> candle_core::Result<ConvLayer> {
        let (out_channels, in_channels, kernel, _) = weight.dims4()?;
        let weight_matrix = weight
            .permute((2, 3, 1, 0))?
            .reshape((kernel * kernel * in_channels, out_channels))?
            .contiguous()?;
        Ok(ConvLayer {
            kernel,
            weight,
            weight_matrix,
            bias: bias.to_vec1::<f32>()?,
            bias_tensor: bias,
        })
    }

    /// Two convolutions over the same input fused into one with their output channels
    /// concatenated (first `self`'s, then `other`'s): one pass instead of two.
    pub fn concat(&self, other: &ConvLayer) -> candle_core::Result<ConvLayer> {
        ConvLayer::new(
            Tensor::cat(&[&self.weight, &other.weight], 0)?,
            Tensor::cat(&[&self.bias_tensor, &other.bias_tensor], 0)?,
        )
    }

    /// NHWC in, NHWC out ("valid" convolution), plus bias.
    pub fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        self.convolve(x)?.broadcast_add(&self.bias_tensor)
    }

    /// PReLU(convolution + bias), the bias fused into the activation's pass.
    pub fn forward_p_relu(&self, x: &Tensor, p_relu: &PRelu) -> candle_core::Result<Tensor> {
        p_relu.forward_with_bias(&self.convolve(x)?, &self.bias, &self.bias_tensor)
    }

    /// The convolution without bias.
    fn convolve(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (n, height, width, _) = x.dims4()?;
        let (out_h, out_w) = (height + 1 - self.kernel, width + 1 - self.kernel);
        if x.device().is_cpu() {
            let out_channels = self.weight_matrix.dim(1)?;
            return im2col(x, self.kernel)?
                .matmul(&self.weight_matrix)?
                .reshape((n, out_h, out_w, out_channels));
        }
        x.permute((0, 3, 1, 2))?
            .conv2d(&self.weight, 0, 1, 1, 1)?
            .permute((0, 2, 3, 1))?
            .contiguous()
    }
}
