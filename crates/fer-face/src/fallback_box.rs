//! The face box assumed where the detector finds nothing in a pre-cropped face image (CK+48,
//! FER2013 are crops already). It is a box relative to the image frame, calibrated as the mean
//! relative box of the images of the same dataset where the detector did find a face, so the
//! landmark stage sees the box it would have seen from the detector.

use serde::{Deserialize, Serialize};

use super::FaceBox;

/// A box as fractions of the image width and height.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FallbackBox {
    pub left: f32,
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
    /// How many detections the calibration averaged (0 for the built-in default).
    pub calibrated_on: usize,
}

impl Default for FallbackBox {
    /// Mean relative MTCNN box over the 40 CK+48 faces of
    /// ../shared/reference/mtcnn_ckplus48_sample.csv (facenet-pytorch 2.6.0), used only when a
    /// dataset has no detection at all to calibrate on:
    ///   import pandas as pd
    ///   d = pd.read_csv("mtcnn_ckplus48_sample.csv"); d = d[d.n_faces > 0]
    ///   print((d[["x1", "y1", "x2", "y2"]] / 48).mean())
    fn default() -> Self {
        Self {
            left: DEFAULT_RELATIVE_BOX[0],
            top: DEFAULT_RELATIVE_BOX[1],
            right: DEFAULT_RELATIVE_BOX[2],
            bottom: DEFAULT_RELATIVE_BOX[3],
            calibrated_on: 0,
        }
    }
}

// 40 of 40 faces detected; values printed to 4 decimals.
pub(crate) const DEFAULT_RELATIVE_BOX: [f32; 4] = [0.0827, 0.0062, 0.9240, 1.0958];

impl FallbackBox {
    /// The mean relative box of `detections` (face box, image width, image height); the
    /// default when there are none.
    pub fn calibrate(detections: &[(FaceBox, u32, u32)]) -> Self {
        if detections.is_empty() {
            return Self::default();
        }
        let n = detections.len() as f64;
        let mut sum = [0.0f64; 4];
        for (b, w, h) in detections {
            let (w, h) = (*w as f64, *h as f64);
            sum[0] += b.left as f64 / w;
            sum[1] += b.top as f64 / h;
            sum[2] += b.right as f64 / w;
            sum[3] += b.bottom as f64 / h;
        }
        Self {
            left: (sum[0] / n) as f32,
            top: (sum[1] / n) as f32,
            right: (sum[2] / n) as f32,
            bottom: (sum[3] / n) as f32,
            calibrated_on: detections.len(),
        }
    }

    /// The box in an image of `width` x `height` pixels.
    pub fn in_image(&self, width: u32, height: u32) -> FaceBox {
        let (w, h) = (width as f32, height as f32);
        FaceBox::new(self.left * w, self.top * h, self.right * w, self.bottom * h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_is_the_mean_relative_box() {
        let d = [
            (FaceBox::new(4.0, 0.0, 44.0, 48.0), 48, 48),
            (FaceBox::new(8.0, 4.0, 88.0, 92.0), 96, 96),
        ];
        let f = FallbackBox::calibrate(&d);
        assert_eq!(f.calibrated_on, 2);
        // left: (4/48 + 8/96) / 2 = 1/12
        assert!((f.left - 1.0 / 12.0).abs() < 1e-6);
        let b = f.in_image(48, 48);
        assert!((b.left - 4.0).abs() < 1e-4 && (b.right - 44.0).abs() < 1e-4);
        assert_eq!(FallbackBox::calibrate(&[]), FallbackBox::default());
    }
}
