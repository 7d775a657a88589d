//! `GrayF32`: a grayscale image as f32 intensities, with the bilinear sampling, flip and
//! rotation that the training-time augmentation (paper 4.3 and its code) and the face
//! alignment of the face pipeline (paper 4.3, crate fer-face) share.

/// A grayscale image as f32 intensities in [0, 255], row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct GrayF32 {
    pub width: usize,
    pub height: usize,
    pub pixels: Vec<f32>,
}

impl GrayF32 {
    pub fn from_gray(img: &image::GrayImage) -> Self {
        Self {
            width: img.width() as usize,
            height: img.height() as usize,
            pixels: img.as_raw().iter().map(|&v| v as f32).collect(),
        }
    }

    /// Bilinear sample at real pixel-index coordinates; 0 outside the image (as PIL's rotate).
    pub fn sample(&self, x: f32, y: f32) -> f32 {
        let (w, h) = (self.width as isize, self.height as isize);
        // Two pixels or more outside, all four neighbours are outside and the sample is 0
        // anyway; returning early keeps a huge, infinite or NaN coordinate (a degenerate
        // alignment from extreme landmarks) from overflowing the index arithmetic below.
        if !(x > -2.0 && y > -2.0 && x < self.width as f32 + 1.0 && y < self.height as f32 + 1.0) {
            return 0.0;
        }
        let x0 = x.floor();
        let y0 = y.floor();
        let (fx, fy) = (x - x0, y - y0);
        let (x0, y0) = (x0 as isize, y0 as isize);
        let get = |xi: isize, yi: isize| -> f32 {
            if xi < 0 || yi < 0 || xi >= w || yi >= h {
                0.0
            } else {
                self.pixels[(yi * w + xi) as usize]
            }
        };
        let top = get(x0, y0) * (1.0 - fx) + get(x0 + 1, y0) * fx;
        let bottom = get(x0, y0 + 1) * (1.0 - fx) + get(x0 + 1, y0 + 1) * fx;
        top * (1.0 - fy) + bottom * fy
    }

    /// Mirror image: column x goes to (W - 1) - x.
    pub fn flipped_horizontally(&self) -> Self {
        let mut pixels = Vec::with_capacity(self.pixels.len());
        for row in self.pixels.chunks(self.width) {
            pixels.extend(row.iter().rev());
        }
        Self {
            width: self.width,
            height: self.height,
            pixels,
        }
    }

    /// Rotates the content by `degrees` (positive = counter-clockwise as seen on screen, i.e.
    /// with y pointing down) about ((W - 1) / 2, (H - 1) / 2), bilinear, zero fill.
    pub fn rotated(&self, degrees: f32) -> Self {
        let (cx, cy) = centre(self.width, self.height);
        let t = degrees.to_radians();
        let (c, s) = (t.cos(), t.sin());
        let mut pixels = Vec::with_capacity(self.pixels.len());
        for yo in 0..self.height {
            for xo in 0..self.width {
                let (dx, dy) = (xo as f32 - cx, yo as f32 - cy);
                // Inverse of `rotation_matrix` (its transpose): where this output pixel came from.
                let xi = c * dx - s * dy + cx;
                let yi = s * dx + c * dy + cy;
                pixels.push(self.sample(xi, yi));
            }
        }
        Self {
            width: self.width,
            height: self.height,
            pixels,
        }
    }
}

pub(crate) fn centre(width: usize, height: usize) -> (f32, f32) {
    ((width as f32 - 1.0) / 2.0, (height as f32 - 1.0) / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_bilinearly_inside_and_zero_outside_even_at_extreme_coordinates() {
        let img = GrayF32 {
            width: 2,
            height: 2,
            pixels: vec![0.0, 10.0, 20.0, 30.0],
        };
        // By hand: the centre is the mean of the four; half a pixel left of column 0 is half
        // of column 0 (the other half is the zero outside).
        assert_eq!(img.sample(0.5, 0.5), 15.0);
        assert_eq!(img.sample(-0.5, 1.0), 10.0);
        assert_eq!(img.sample(1.0, 1.5), 15.0);
        for (x, y) in [
            (f32::NAN, 0.0),
            (0.0, f32::INFINITY),
            (f32::NEG_INFINITY, 0.0),
            (1e30, 1e30),
            (-1e30, 0.5),
            (-2.0, 0.0),
            (3.0, 0.0),
        ] {
            assert_eq!(img.sample(x, y), 0.0, "({x}, {y})");
        }
    }
}
