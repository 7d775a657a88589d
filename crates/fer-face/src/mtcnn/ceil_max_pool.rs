//! Max pooling with torch's `ceil_mode=True`, as every MTCNN pooling layer uses
//! (`nn.MaxPool2d(k, s, ceil_mode=True)` in facenet-pytorch): a last, partial window is kept
//! where floor mode would drop it. Works on NHWC maps. candle's `max_pool2d` (NCHW) only floors:
//! on other devices the input is extended right and bottom by repeating its last column / row,
//! which leaves the partial window's maximum unchanged.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

use fer_models::ops::cpu_slice::contiguous_slice;

/// Output length of a ceil-mode pooling over `input` cells (torch's rule: ceil, but a window
/// must start inside the input).
pub fn ceil_pool_output_len(input: usize, kernel: usize, stride: usize) -> usize {
    if input < kernel {
        return 0;
    }
    let mut out = (input - kernel).div_ceil(stride) + 1;
    if (out - 1) * stride >= input {
        out -= 1;
    }
    out
}

/// Ceil-mode max pooling of an NHWC tensor with a square `kernel` and `stride`.
pub fn ceil_max_pool(x: &Tensor, kernel: usize, stride: usize) -> candle_core::Result<Tensor> {
    if x.device().is_cpu() {
        return x
            .contiguous()?
            .apply_op1_no_bwd(&CeilMaxPool { kernel, stride });
    }
    let (_, height, width, _) = x.dims4()?;
    let out_h = ceil_pool_output_len(height, kernel, stride);
    let out_w = ceil_pool_output_len(width, kernel, stride);
    let pad_h = ((out_h.max(1) - 1) * stride + kernel).saturating_sub(height);
    let pad_w = ((out_w.max(1) - 1) * stride + kernel).saturating_sub(width);
    let mut padded = x.permute((0, 3, 1, 2))?;
    if pad_h > 0 {
        padded = padded.pad_with_same(2, 0, pad_h)?;
    }
    if pad_w > 0 {
        padded = padded.pad_with_same(3, 0, pad_w)?;
    }
    padded
        .max_pool2d_with_stride(kernel, stride)?
        .permute((0, 2, 3, 1))?
        .contiguous()
}

struct CeilMaxPool {
    kernel: usize,
    stride: usize,
}

impl CustomOp1 for CeilMaxPool {
    fn name(&self) -> &'static str {
        "mtcnn-ceil-max-pool-nhwc"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = contiguous_slice::<f32>(storage, layout)?;
        let (n, height, width, channels) = layout.shape().dims4()?;
        let (k, s) = (self.kernel, self.stride);
        let out_h = ceil_pool_output_len(height, k, s);
        let out_w = ceil_pool_output_len(width, k, s);
        let mut output = vec![f32::NEG_INFINITY; n * out_h * out_w * channels];
        if !output.is_empty() {
            output
                .par_chunks_mut(out_h * out_w * channels)
                .zip(input.par_chunks(height * width * channels))
                .for_each(|(out_image, image)| {
                    for (pixel, out_cell) in out_image.chunks_exact_mut(channels).enumerate() {
                        let (oy, ox) = (pixel / out_w, pixel % out_w);
                        for y in oy * s..(oy * s + k).min(height) {
                            for x in ox * s..(ox * s + k).min(width) {
                                let start = (y * width + x) * channels;
                                for (m, &v) in
                                    out_cell.iter_mut().zip(&image[start..start + channels])
                                {
                                    if v > *m {
                                        *m = v;
                                    }
                                }
                            }
                        }
                    }
                });
        }
        Ok((
            CpuStorage::F32(output),
            Shape::from((n, out_h, out_w, channels)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn output_lengths_match_torch_ceil_mode() {
        // P-Net 2/2 on 27 -> 14; R-Net 3/2 on 22 -> 11, on 9 -> 4; O-Net 3/2 on 46 -> 23,
        // on 21 -> 10, 2/2 on 8 -> 4.
        assert_eq!(ceil_pool_output_len(27, 2, 2), 14);
        assert_eq!(ceil_pool_output_len(22, 3, 2), 11);
        assert_eq!(ceil_pool_output_len(9, 3, 2), 4);
        assert_eq!(ceil_pool_output_len(46, 3, 2), 23);
        assert_eq!(ceil_pool_output_len(21, 3, 2), 10);
        assert_eq!(ceil_pool_output_len(8, 2, 2), 4);
    }

    #[test]
    fn keeps_the_partial_last_window() -> candle_core::Result<()> {
        // 1x3x3x1, kernel 2 stride 2: ceil mode gives 2x2, the last row/column alone.
        let x = Tensor::from_vec(
            vec![1f32, 2., 3., 4., 5., 6., 7., 8., -9.],
            (1, 3, 3, 1),
            &Device::Cpu,
        )?;
        let y = ceil_max_pool(&x, 2, 2)?;
        assert_eq!(y.dims(), &[1, 2, 2, 1]);
        assert_eq!(y.flatten_all()?.to_vec1::<f32>()?, vec![5., 6., 8., -9.]);
        // Overlapping 3/2 windows, the last one partial, on a 1x3x6x2 map (two channels
        // interleaved). PyTorch 2.15:
        //   import torch, torch.nn.functional as F
        //   v = [float((7 * i) % 11 - 5) for i in range(36)]
        //   x = torch.tensor(v).reshape(1, 3, 6, 2)        # NHWC, as built here
        //   y = F.max_pool2d(x.permute(0, 3, 1, 2), 3, 2, ceil_mode=True).permute(0, 2, 3, 1)
        //   print(list(y.shape), y.flatten().tolist())  # [1, 1, 3, 2] [5, 5, 4, 4, 3, 3]
        let v: Vec<f32> = (0..36).map(|i| ((7 * i) % 11 - 5) as f32).collect();
        let x = Tensor::from_vec(v, (1, 3, 6, 2), &Device::Cpu)?;
        let y = ceil_max_pool(&x, 3, 2)?;
        assert_eq!(y.dims(), &[1, 1, 3, 2]);
        assert_eq!(
            y.flatten_all()?.to_vec1::<f32>()?,
            vec![5., 5., 4., 4., 3., 3.]
        );
        // A map smaller than the kernel: no output rows (PyTorch raises "Output size is too
        // small" there; MTCNN's pyramid stops before such a scale, so this only keeps it from
        // indexing out of bounds).
        let y = ceil_max_pool(
            &Tensor::zeros((1, 1, 5, 2), DType::F32, &Device::Cpu)?,
            3,
            2,
        )?;
        assert_eq!(y.dims(), &[1, 0, 2, 2]);
        Ok(())
    }
}
