//! 2-D convolution layer (square kernel, zero padding, stride 1 for BaseDCNN, stride 2 for the
//! downsampling convolutions of ResNet-18, paper 5.2), with H' = (H + 2 pad - k) / stride + 1
//! (floor, as PyTorch). On the CPU it runs as one op, forward and backward, written as
//! im2col + GEMM (`fused_conv2d`), so that its backward is two GEMMs and a col2im instead of
//! candle's slow CPU `conv_transpose2d` (the input gradient) and strided weight-gradient
//! convolution, and the input image's gradient, which nothing needs, is not computed.
//! Off the CPU the layer uses candle's own convolution (cuDNN where built with it).

use candle_core::{Module, Tensor};

use crate::ops::fused_conv2d::FusedConv2d;

/// Output length of a convolution along one axis: floor((n + 2 pad - k) / stride) + 1, or 0
/// when the kernel does not fit.
fn out_size(n: usize, k: usize, pad: usize, stride: usize) -> usize {
    if n + 2 * pad < k {
        0
    } else {
        (n + 2 * pad - k) / stride + 1
    }
}

/// A convolution layer with PyTorch's parameter layout (weight (C_out, C_in, k, k),
/// bias (C_out)), square stride, zero padding.
#[derive(Debug, Clone)]
pub struct GemmConv2d {
    weight: Tensor,
    bias: Option<Tensor>,
    pad: usize,
    stride: usize,
}

impl GemmConv2d {
    /// A stride-1 convolution.
    pub fn new(weight: Tensor, bias: Option<Tensor>, pad: usize) -> Self {
        Self::with_stride(weight, bias, pad, 1)
    }

    /// A convolution with the given stride (ResNet's stride-2 stem and downsampling layers).
    /// A stride of 0 is treated as 1.
    pub fn with_stride(weight: Tensor, bias: Option<Tensor>, pad: usize, stride: usize) -> Self {
        Self {
            weight,
            bias,
            pad,
            stride: stride.max(1),
        }
    }

    pub fn stride(&self) -> usize {
        self.stride
    }

    pub fn weight(&self) -> &Tensor {
        &self.weight
    }
}

impl Module for GemmConv2d {
    /// # Shapes
    /// (B, C_in, H, W) -> (B, C_out, H', W'), H' = (H + 2 pad - k) / stride + 1.
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let (c_out, c_in, k, _) = self.weight.dims4()?;
        let s = self.stride;
        {
            // One MAC per weight element per output pixel: the stride enters through H', W'.
            let (b, _, h, w) = x.dims4()?;
            let (ho, wo) = (out_size(h, k, self.pad, s), out_size(w, k, self.pad, s));
            crate::mac_counter::add((b * ho * wo * c_out * c_in * k * k) as u64);
        }
        if !x.device().is_cpu() {
            let y = x.conv2d(&self.weight, self.pad, s, 1, 1)?;
            return match &self.bias {
                Some(b) => y.broadcast_add(&b.reshape((1, c_out, 1, 1))?),
                None => Ok(y),
            };
        }
        let _ = c_in;
        let op = FusedConv2d {
            pad: self.pad,
            stride: s,
            precision: crate::ops::matmul_precision::current(),
        };
        let x = x.contiguous()?;
        match &self.bias {
            Some(b) => x.apply_op3(&self.weight, b, op),
            None => x.apply_op2(&self.weight, op),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::test_tensors::max_abs_diff as max_diff;
    use candle_core::{DType, Device, Var};

    fn rand(shape: (usize, usize, usize, usize), seed: u64) -> Tensor {
        let n = shape.0 * shape.1 * shape.2 * shape.3;
        let mut s = seed;
        let v: Vec<f64> = (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
            })
            .collect();
        Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
    }

    #[test]
    fn forward_and_gradients_match_candles_generic_convolution() {
        for (b, c_in, c_out, h, w, k, pad, stride) in [
            (2, 3, 4, 7, 6, 3, 1, 1),
            (1, 2, 5, 5, 5, 3, 0, 1),
            (3, 1, 2, 4, 9, 3, 1, 1),
            (2, 2, 2, 6, 6, 7, 3, 1),
            // Stride 2, as ResNet-18: the 3x3 first convolution of layers 2-4 on even and odd
            // sizes, the 7x7 stem, the 1x1 downsampling shortcut, and a stride of 3 for the
            // general index arithmetic. candle 0.11.1's own conv2d backward derives the
            // transposed convolution's output padding from the height alone, so its input
            // gradient has the wrong width when (H + 2 pad - k) and (W + 2 pad - k) leave
            // different remainders modulo the stride (7x6 at stride 2): the reference cases
            // avoid that, and `strided_unfold_and_fold_are_adjoint` covers it for ours.
            (2, 3, 4, 7, 9, 3, 1, 2),
            (2, 2, 3, 8, 8, 3, 1, 2),
            (1, 2, 3, 9, 11, 7, 3, 2),
            (2, 4, 3, 7, 5, 1, 0, 2),
            (1, 2, 2, 8, 8, 3, 1, 3),
            (2, 3, 2, 8, 6, 3, 1, 2),
        ] {
            let x = Var::from_tensor(&rand((b, c_in, h, w), 1)).unwrap();
            let wv = Var::from_tensor(&rand((c_out, c_in, k, k), 2)).unwrap();
            let bv = Var::from_tensor(&rand((1, 1, 1, c_out), 3).reshape(c_out).unwrap()).unwrap();
            let (ho, wo) = (out_size(h, k, pad, stride), out_size(w, k, pad, stride));
            let weights = rand((b, c_out, ho, wo), 4);

            let ours = GemmConv2d::with_stride(
                wv.as_tensor().clone(),
                Some(bv.as_tensor().clone()),
                pad,
                stride,
            )
            .forward(x.as_tensor())
            .unwrap();
            let theirs = x
                .as_tensor()
                .conv2d(wv.as_tensor(), pad, stride, 1, 1)
                .unwrap()
                .broadcast_add(&bv.as_tensor().reshape((1, c_out, 1, 1)).unwrap())
                .unwrap();
            assert_eq!(ours.dims(), theirs.dims());
            assert!(max_diff(&ours, &theirs) < 1e-12);

            let g1 = (ours * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let g2 = (theirs * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            for v in [&x, &wv, &bv] {
                let d = max_diff(
                    g1.get(v.as_tensor()).unwrap(),
                    g2.get(v.as_tensor()).unwrap(),
                );
                assert!(
                    d < 1e-10,
                    "gradient differs by {d} for case {:?}",
                    (b, c_in, c_out, h, w, k, pad, stride)
                );
            }
        }
    }

    /// Under `autocast(Bf16)` the layer multiplies bf16-rounded operands with fp32 sums: its
    /// output and gradients equal candle's f64 convolution of the rounded input, weight and
    /// upstream gradient, to fp32 accumulation error, and differ from the fp32 result.
    #[test]
    fn bf16_autocast_multiplies_rounded_operands() {
        use crate::ops::matmul_precision::{autocast, Precision};
        use crate::ops::test_tensors::bf16_rounded;
        let Ok(guard) = autocast(Precision::Bf16) else {
            eprintln!("skipped: this processor has no AVX-512 BF16");
            return;
        };
        drop(guard);
        for (b, c_in, c_out, h, w, k, pad, stride) in [
            (2, 3, 8, 12, 10, 3, 1, 1),
            (5, 16, 4, 6, 6, 3, 1, 2),
            (1, 1, 40, 20, 20, 7, 3, 2),
        ] {
            let f32s = |t: Tensor| t.to_dtype(DType::F32).unwrap();
            let x = Var::from_tensor(&f32s(rand((b, c_in, h, w), 1))).unwrap();
            let wv = Var::from_tensor(&f32s(rand((c_out, c_in, k, k), 2))).unwrap();
            let bv =
                Var::from_tensor(&f32s(rand((1, 1, 1, c_out), 3).reshape(c_out).unwrap())).unwrap();
            let (ho, wo) = (out_size(h, k, pad, stride), out_size(w, k, pad, stride));
            let up = f32s(rand((b, c_out, ho, wo), 4));
            let conv = GemmConv2d::with_stride(
                wv.as_tensor().clone(),
                Some(bv.as_tensor().clone()),
                pad,
                stride,
            );
            let (ours, grads) = {
                let _bf16 = autocast(Precision::Bf16).unwrap();
                let y = conv.forward(x.as_tensor()).unwrap();
                let g = (&y * &up).unwrap().sum_all().unwrap().backward().unwrap();
                (y, g)
            };
            let fp32 = conv.forward(x.as_tensor()).unwrap();

            let rx = Var::from_tensor(&bf16_rounded(x.as_tensor())).unwrap();
            let rw = Var::from_tensor(&bf16_rounded(wv.as_tensor())).unwrap();
            let rb = Var::from_tensor(&bv.as_tensor().to_dtype(DType::F64).unwrap()).unwrap();
            let theirs = rx
                .as_tensor()
                .conv2d(rw.as_tensor(), pad, stride, 1, 1)
                .unwrap()
                .broadcast_add(&rb.as_tensor().reshape((1, c_out, 1, 1)).unwrap())
                .unwrap();
            let g2 = (&theirs * bf16_rounded(&up))
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            let case = (b, c_in, c_out, h, w, k, pad, stride);
            assert!(max_diff(&ours, &theirs) < 1e-5, "{case:?}");
            assert!(max_diff(&fp32, &theirs) > 1e-4, "{case:?}: bf16 not used");
            for (v, r) in [(&x, &rx), (&wv, &rw)] {
                let d = max_diff(
                    grads.get(v.as_tensor()).unwrap(),
                    g2.get(r.as_tensor()).unwrap(),
                );
                // dW sums b·H'·W' products (up to 800 here).
                assert!(d < 1e-4, "gradient differs by {d} for case {case:?}");
            }
            // db is a reduction, not a product: fp32 sums of the unrounded gradient.
            let db = up.to_dtype(DType::F64).unwrap().sum((0, 2, 3)).unwrap();
            assert!(max_diff(grads.get(bv.as_tensor()).unwrap(), &db) < 1e-4);
        }
    }

    #[test]
    fn mac_count_uses_the_strided_output_size() {
        // ResNet-18's stem at 100 px: 7x7 stride 2 pad 3 -> 50x50 outputs.
        let x = rand((2, 1, 100, 100), 5).to_dtype(DType::F32).unwrap();
        let w = rand((64, 1, 7, 7), 6).to_dtype(DType::F32).unwrap();
        let conv = GemmConv2d::with_stride(w, None, 3, 2);
        let (y, macs) = crate::mac_counter::count(|| conv.forward(&x).unwrap());
        assert_eq!(y.dims(), &[2, 64, 50, 50]);
        assert_eq!(macs, 2 * 50 * 50 * 64 * 49);
    }
}
