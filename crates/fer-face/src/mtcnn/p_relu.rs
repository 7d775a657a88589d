//! PReLU with one slope per channel (torch `nn.PReLU(C)`), the activation after every MTCNN
//! convolution and hidden dense layer (Zhang et al. 2016 follow He et al. 2015), fused with the
//! preceding layer's bias: y = x + b, then y if y > 0 else a_c * y, in one pass over the
//! channels-last data.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};

use super::torch_state_dict::TorchStateDict;
use crate::Result;
use fer_models::ops::cpu_slice::contiguous_slice;

/// The slopes of one PReLU layer.
#[derive(Debug, Clone)]
pub struct PRelu {
    slopes: Vec<f32>,
    slopes_tensor: Tensor,
}

impl PRelu {
    /// Reads `<name>.weight` (C).
    pub fn load(weights: &TorchStateDict, name: &str, channels: usize) -> Result<PRelu> {
        let slopes_tensor = weights.tensor(&format!("{name}.weight"), &[channels])?;
        Ok(PRelu {
            slopes: slopes_tensor.to_vec1::<f32>()?,
            slopes_tensor,
        })
    }

    /// PReLU(x + bias) over the last dimension (channels of NHWC maps, features of dense
    /// layers); `bias` is the host copy of `bias_tensor`.
    pub fn forward_with_bias(
        &self,
        x: &Tensor,
        bias: &[f32],
        bias_tensor: &Tensor,
    ) -> candle_core::Result<Tensor> {
        if x.device().is_cpu() {
            return x.contiguous()?.apply_op1_no_bwd(&BiasPRelu {
                bias,
                slopes: &self.slopes,
            });
        }
        // Other devices: the same arithmetic from candle ops (exactly y or a*y, as torch).
        let y = x.broadcast_add(bias_tensor)?;
        let positive = y.maximum(0f32)?;
        let negative = y.minimum(0f32)?.broadcast_mul(&self.slopes_tensor)?;
        positive + negative
    }
}

struct BiasPRelu<'a> {
    bias: &'a [f32],
    slopes: &'a [f32],
}

impl CustomOp1 for BiasPRelu<'_> {
    fn name(&self) -> &'static str {
        "mtcnn-bias-prelu"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = contiguous_slice::<f32>(storage, layout)?;
        let channels = self.bias.len();
        if layout.dims().last() != Some(&channels) || self.slopes.len() != channels {
            candle_core::bail!(
                "{}: {:?} has not {channels} channels last",
                self.name(),
                layout.dims()
            );
        }
        let mut output = Vec::with_capacity(input.len());
        for cell in input.chunks_exact(channels) {
            output.extend(
                cell.iter()
                    .zip(self.bias)
                    .zip(self.slopes)
                    .map(|((&x, &b), &a)| {
                        let y = x + b;
                        if y > 0.0 {
                            y
                        } else {
                            a * y
                        }
                    }),
            );
        }
        Ok((CpuStorage::F32(output), layout.shape().clone()))
    }
}
