//! `AttentionFace`: a grey face image with the attention map a model computed for it, and
//! the heat-map overlay of the paper's Fig. 4 ("Facial attention visualization ... In each
//! image, the redder, the greater the attention score. Conversely, the greener, the smaller
//! the attention score.", Section 5.7).
//!
//! The map (e.g. the last SCAM's spatial attention, eq. 11, or the last conv block's mean
//! activation for BaseDCNN) is much coarser than the face, so it is min-max normalised to
//! [0, 1], bilinearly upsampled to the face's size with pixel-centre alignment (OpenCV's
//! `resize`, PyTorch's `align_corners=False`: the map is not shifted by half a cell), coloured
//! with a jet colour map (blue = low, red = high) and blended 50/50 with the face.

use crate::report_error::{ReportError, Result};

/// Weight of the heat-map colour in the overlay; the face keeps the rest, so its features
/// stay visible under the colour.
const OVERLAY_ALPHA: f32 = 0.5;

/// A face and its attention map.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionFace {
    /// Grey levels, row-major, `width * height` bytes.
    pub image: Vec<u8>,
    /// Face width in pixels.
    pub width: usize,
    /// Face height in pixels.
    pub height: usize,
    /// Attention scores, row-major, `map_width * map_height` values (any finite scale).
    pub map: Vec<f32>,
    /// Map width in cells.
    pub map_width: usize,
    /// Map height in cells.
    pub map_height: usize,
    /// Text shown under the face, e.g. the true expression.
    pub caption: String,
}

impl AttentionFace {
    fn error(&self, message: String) -> ReportError {
        ReportError::AttentionMap {
            face: format!("`{}`", self.caption),
            message,
        }
    }

    /// Checks that both sizes are non-zero, the buffers have the sizes claimed and every
    /// score is finite.
    pub fn validate(&self) -> Result<()> {
        if self.width == 0 || self.height == 0 {
            return Err(self.error(format!(
                "face is {}x{}; both sides must be non-zero",
                self.width, self.height
            )));
        }
        if Some(self.image.len()) != self.width.checked_mul(self.height) {
            return Err(self.error(format!(
                "image has {} pixels, expected width*height = {}x{}",
                self.image.len(),
                self.width,
                self.height
            )));
        }
        if self.map_width == 0 || self.map_height == 0 {
            return Err(self.error(format!(
                "map is {}x{}; both sides must be non-zero",
                self.map_width, self.map_height
            )));
        }
        if Some(self.map.len()) != self.map_width.checked_mul(self.map_height) {
            return Err(self.error(format!(
                "map has {} values, expected map_width*map_height = {}x{}",
                self.map.len(),
                self.map_width,
                self.map_height
            )));
        }
        if let Some((i, v)) = self.map.iter().enumerate().find(|(_, v)| !v.is_finite()) {
            return Err(self.error(format!(
                "map value {i} (row {}, column {}) is {v}",
                i / self.map_width,
                i % self.map_width
            )));
        }
        Ok(())
    }

    /// The map min-max normalised to [0, 1] and bilinearly upsampled to `width x height`
    /// (row-major). A constant map has no most- or least-attended place and becomes all 0.
    pub fn upsampled_map(&self) -> Result<Vec<f32>> {
        self.validate()?;
        let (lo, hi) = self
            .map
            .iter()
            .fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
        let span = hi - lo;
        let norm: Vec<f32> = if span > 0.0 {
            self.map.iter().map(|&v| (v - lo) / span).collect()
        } else {
            vec![0.0; self.map.len()]
        };
        let (mw, mh) = (self.map_width, self.map_height);
        // Source coordinate of a destination pixel centre, clamped to the outer cell centres.
        let source = |dst: usize, dst_len: usize, src_len: usize| {
            let s = ((dst as f64 + 0.5) * src_len as f64 / dst_len as f64 - 0.5)
                .clamp(0.0, (src_len - 1) as f64);
            let i0 = s.floor() as usize;
            let i1 = (i0 + 1).min(src_len - 1);
            (i0, i1, (s - i0 as f64) as f32)
        };
        let columns: Vec<(usize, usize, f32)> =
            (0..self.width).map(|x| source(x, self.width, mw)).collect();
        let mut out = Vec::with_capacity(self.width * self.height);
        for y in 0..self.height {
            let (y0, y1, fy) = source(y, self.height, mh);
            for &(x0, x1, fx) in &columns {
                let at = |r: usize, c: usize| norm[r * mw + c];
                let top = at(y0, x0) * (1.0 - fx) + at(y0, x1) * fx;
                let bottom = at(y1, x0) * (1.0 - fx) + at(y1, x1) * fx;
                out.push(top * (1.0 - fy) + bottom * fy);
            }
        }
        Ok(out)
    }

    /// The face as RGB8 (grey in all three channels).
    pub fn face_rgb(&self) -> Result<Vec<u8>> {
        self.validate()?;
        Ok(self.image.iter().flat_map(|&g| [g, g, g]).collect())
    }

    /// The face blended with the jet-coloured upsampled map (alpha 0.5), RGB8 row-major.
    pub fn overlay_rgb(&self) -> Result<Vec<u8>> {
        let map = self.upsampled_map()?;
        Ok(self
            .image
            .iter()
            .zip(&map)
            .flat_map(|(&g, &t)| {
                let g = f32::from(g);
                jet(t).map(|c| (g * (1.0 - OVERLAY_ALPHA) + c * OVERLAY_ALPHA).round() as u8)
            })
            .collect())
    }
}

/// The jet colour map at `t` in [0, 1] as 0-255 floats: dark blue, blue, cyan, green,
/// yellow, red, dark red (piecewise linear, as MATLAB's and matplotlib's `jet`).
pub(crate) fn jet(t: f32) -> [f32; 3] {
    let t = t.clamp(0.0, 1.0);
    let ramp = |centre: f32| (1.5 - (4.0 * t - centre).abs()).clamp(0.0, 1.0) * 255.0;
    [ramp(3.0), ramp(2.0), ramp(1.0)]
}
