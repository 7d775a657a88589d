//! im2col for NHWC feature maps: turns a "valid", stride-1 k x k convolution into one matrix
//! product, rows = output pixels of all images, columns = (ky, kx, channel) of the window.
//! One large product per layer is what makes MTCNN fast on a CPU: all pyramid levels' or all
//! crops' pixels go through the same GEMM.

use candle_core::{CpuStorage, CustomOp1, Layout, Shape, Tensor};
use rayon::prelude::*;

use fer_models::ops::cpu_slice::contiguous_slice;

/// The im2col matrix (N * OH * OW, k * k * C) of an NHWC tensor (N, H, W, C), OH = H - k + 1.
pub fn im2col(x: &Tensor, kernel: usize) -> candle_core::Result<Tensor> {
    x.contiguous()?.apply_op1_no_bwd(&Im2Col { kernel })
}

struct Im2Col {
    kernel: usize,
}

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "mtcnn-im2col-nhwc"
    }

    fn cpu_fwd(
        &self,
        storage: &CpuStorage,
        layout: &Layout,
    ) -> candle_core::Result<(CpuStorage, Shape)> {
        let input = contiguous_slice::<f32>(storage, layout)?;
        let (n, height, width, channels) = layout.shape().dims4()?;
        let k = self.kernel;
        if height < k || width < k {
            candle_core::bail!("{}: {height}x{width} smaller than kernel {k}", self.name());
        }
        let (out_h, out_w) = (height - k + 1, width - k + 1);
        let row_len = k * k * channels;
        let image_len = height * width * channels;
        let mut cols = vec![0f32; n * out_h * out_w * row_len];
        cols.par_chunks_mut(out_h * out_w * row_len)
            .zip(input.par_chunks(image_len))
            .for_each(|(image_cols, image)| {
                for (pixel, row) in image_cols.chunks_exact_mut(row_len).enumerate() {
                    let (oy, ox) = (pixel / out_w, pixel % out_w);
                    for ky in 0..k {
                        // The k windows of one kernel row are adjacent in NHWC memory.
                        let start = ((oy + ky) * width + ox) * channels;
                        let segment = k * channels;
                        row[ky * segment..(ky + 1) * segment]
                            .copy_from_slice(&image[start..start + segment]);
                    }
                }
            });
        Ok((
            CpuStorage::F32(cols),
            Shape::from((n * out_h * out_w, row_len)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn rows_are_the_windows_in_ky_kx_channel_order() -> candle_core::Result<()> {
        // One 3x3 image with 2 channels: value = 10 * pixel + channel.
        let values: Vec<f32> = (0..9)
            .flat_map(|p| [10.0 * p as f32, 10.0 * p as f32 + 1.0])
            .collect();
        let x = Tensor::from_vec(values, (1, 3, 3, 2), &Device::Cpu)?;
        let cols = im2col(&x, 2)?;
        assert_eq!(cols.dims(), &[4, 8]);
        let rows = cols.to_vec2::<f32>()?;
        // Output pixel (0, 1): input pixels 1, 2, 4, 5.
        assert_eq!(rows[1], vec![10., 11., 20., 21., 40., 41., 50., 51.]);
        Ok(())
    }
}
