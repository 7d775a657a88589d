//! Warps a grayscale image by an affine transform, as OpenCV's `warpAffine` with its defaults
//! (bilinear interpolation, constant border 0), which the reference implementation uses to
//! align faces: each output pixel samples the source at the inverse-mapped position.

use crate::error::{FaceError, Result};
use fer_data::GrayF32;

use super::AffineTransform;

/// The `width` x `height` image whose pixel (x, y) is `image` at `transform⁻¹(x, y)`.
pub fn warp_affine_gray(
    image: &image::GrayImage,
    transform: &AffineTransform,
    width: u32,
    height: u32,
) -> Result<image::GrayImage> {
    let inverse = transform.inverse().ok_or_else(|| {
        FaceError::Config(format!(
            "the alignment transform {:?} is singular and cannot be inverted",
            transform.m
        ))
    })?;
    let source = GrayF32::from_gray(image);
    let mut out = image::GrayImage::new(width, height);
    for (x, y, pixel) in out.enumerate_pixels_mut() {
        let p = inverse.apply([x as f64, y as f64]);
        let v = source.sample(p[0] as f32, p[1] as f32);
        pixel.0[0] = v.round().clamp(0.0, 255.0) as u8;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 12x10 gradient with a bright block, the input of the OpenCV comparison below.
    fn test_image() -> image::GrayImage {
        image::GrayImage::from_fn(12, 10, |x, y| {
            let base = (x * 17 + y * 9) % 256;
            let block = if (3..7).contains(&x) && (2..5).contains(&y) {
                90
            } else {
                0
            };
            image::Luma([(base + block).min(255) as u8])
        })
    }

    #[test]
    fn matches_opencv_warp_affine() -> Result<()> {
        // Expected from OpenCV 5.0.0 (opencv-python-headless); OpenCV quantises positions to
        // 1/32 px and weights to 15 bits, so a float implementation differs by a grey level
        // at most:
        //   import numpy as np, cv2
        //   x, y = np.meshgrid(np.arange(12), np.arange(10))
        //   img = ((x * 17 + y * 9) % 256 + 90 * ((x >= 3) & (x < 7) & (y >= 2) & (y < 5)))
        //   img = np.minimum(img, 255).astype(np.uint8)
        //   M = np.array([[0.9, -0.2, 1.5], [0.15, 1.1, -0.75]])
        //   out = cv2.warpAffine(img, M, (9, 8))
        //   print(out.flatten().tolist())
        let t = AffineTransform {
            m: [[0.9, -0.2, 1.5], [0.15, 1.1, -0.75]],
        };
        let out = warp_affine_gray(&test_image(), &t, 9, 8)?;
        let expected: [u8; 72] = OPENCV_OUTPUT;
        let mut max_diff = 0i32;
        for (a, b) in out.as_raw().iter().zip(expected.iter()) {
            max_diff = max_diff.max((*a as i32 - *b as i32).abs());
        }
        assert!(
            max_diff <= 1,
            "max difference to OpenCV {max_diff} grey levels"
        );
        Ok(())
    }

    #[rustfmt::skip]
    const OPENCV_OUTPUT: [u8; 72] = [
        0, 4, 17, 34, 51, 68, 85, 88, 86,
        0, 12, 28, 45, 78, 82, 96, 113, 130,
        0, 22, 40, 71, 164, 173, 176, 154, 142,
        4, 34, 51, 100, 175, 192, 209, 166, 153,
        12, 45, 62, 128, 186, 203, 220, 159, 164,
        24, 56, 73, 100, 134, 164, 194, 158, 175,
        39, 68, 85, 102, 119, 136, 153, 170, 187,
        57, 79, 96, 113, 130, 147, 164, 181, 198,
    ];
}
