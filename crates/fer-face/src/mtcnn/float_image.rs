//! An RGB image as interleaved f32 values (height, width, channel), the layout in which the
//! MTCNN networks here take their inputs (NHWC), with the resize + normalisation that
//! produces every network input.

use image::RgbImage;

use super::area_resize::area_resize;
use super::crop_window::CropWindow;

/// MTCNN's input normalisation, (v - 127.5) * 0.0078125 (= / 128), as in facenet-pytorch.
pub fn normalise_pixel(value: f32) -> f32 {
    (value - 127.5) * 0.0078125
}

/// Pixel values 0..=255 as f32, row-major, R G B per pixel.
#[derive(Debug, Clone)]
pub struct FloatImage {
    pub width: usize,
    pub height: usize,
    pub data: Vec<f32>,
}

impl FloatImage {
    pub fn from_rgb(image: &RgbImage) -> FloatImage {
        FloatImage {
            width: image.width() as usize,
            height: image.height() as usize,
            data: image.as_raw().iter().map(|&v| f32::from(v)).collect(),
        }
    }

    /// Area-resizes `window` to `out_height` x `out_width` and normalises it, writing HWC
    /// into `out` (out_height * out_width * 3 values).
    pub fn resample_normalised(
        &self,
        window: CropWindow,
        out_height: usize,
        out_width: usize,
        out: &mut [f32],
    ) {
        area_resize(
            &self.data,
            self.width,
            3,
            window,
            out_height,
            out_width,
            out,
            normalise_pixel,
        );
    }
}
