//! `RasterImage`: a block of pixels (a face photo, an attention overlay) placed on a figure,
//! written as real pixels in the PNG and as one embedded `<image>` in the SVG.
//!
//! Not from the paper; it serves Fig. 4 (attention heat maps over faces). plotters can draw
//! a bitmap on its SVG backend only with plotters-svg's `image` feature, which the workspace
//! does not enable; without it every pixel becomes its own `<rect>`, and a grid of a dozen
//! 100x100 faces would make a 20 MB SVG. So rasters bypass plotters: `figure::render`
//! copies them into the PNG canvas and splices a base64 PNG `<image>` into the SVG text.

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};

/// RGB pixels at their own resolution, shown scaled into a box of the figure.
#[derive(Debug, Clone)]
pub(crate) struct RasterImage {
    /// Left edge of the box, in figure pixels.
    pub left: i32,
    /// Top edge of the box, in figure pixels.
    pub top: i32,
    /// Box width in figure pixels.
    pub width: u32,
    /// Box height in figure pixels.
    pub height: u32,
    /// Width of `rgb` in pixels.
    pub src_width: u32,
    /// Height of `rgb` in pixels.
    pub src_height: u32,
    /// Row-major RGB8, `src_width * src_height * 3` bytes.
    pub rgb: Vec<u8>,
}

impl RasterImage {
    /// Copies the image into an RGB8 `canvas` of `canvas_w` x `canvas_h`, scaled to the box by
    /// nearest neighbour (faces are shown at an integer zoom, where this keeps pixels square
    /// and sharp) and clipped to the canvas.
    pub(crate) fn blit(&self, canvas: &mut [u8], canvas_w: u32, canvas_h: u32) {
        if self.src_width == 0 || self.src_height == 0 {
            return;
        }
        for dy in 0..self.height {
            let y = self.top + dy as i32;
            if y < 0 || y >= canvas_h as i32 {
                continue;
            }
            let sy = (dy as u64 * self.src_height as u64 / self.height as u64) as usize;
            for dx in 0..self.width {
                let x = self.left + dx as i32;
                if x < 0 || x >= canvas_w as i32 {
                    continue;
                }
                let sx = (dx as u64 * self.src_width as u64 / self.width as u64) as usize;
                let src = (sy * self.src_width as usize + sx) * 3;
                let dst = (y as usize * canvas_w as usize + x as usize) * 3;
                if let (Some(s), Some(d)) =
                    (self.rgb.get(src..src + 3), canvas.get_mut(dst..dst + 3))
                {
                    d.copy_from_slice(s);
                }
            }
        }
    }

    /// An SVG `<image>` element holding the pixels as a base64 PNG, stretched to the box.
    /// `xlink:href` (declared on the element itself) rather than SVG 2's bare `href`, so
    /// older viewers and converters show it too.
    pub(crate) fn svg_element(&self) -> Result<String, String> {
        let mut png = Vec::new();
        PngEncoder::new(&mut png)
            .write_image(
                &self.rgb,
                self.src_width,
                self.src_height,
                ExtendedColorType::Rgb8,
            )
            .map_err(|e| e.to_string())?;
        Ok(format!(
            "<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" preserveAspectRatio=\"none\" \
             style=\"image-rendering:pixelated\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" \
             xlink:href=\"data:image/png;base64,{}\"/>\n",
            self.left,
            self.top,
            self.width,
            self.height,
            base64(&png)
        ))
    }
}

/// Standard base64 (RFC 4648, with `=` padding), as data URIs require.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let sextet = |shift: u32| char::from(ALPHABET[((n >> shift) & 63) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        // RFC 4648 section 10 test vectors.
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain:?}");
        }
    }

    #[test]
    fn blit_scales_by_nearest_neighbour_and_clips() {
        // 2x1 source (red, blue) into a 4x2 box at (1, 0) of a 4x2 canvas: the last column
        // falls outside and is clipped.
        let img = RasterImage {
            left: 1,
            top: 0,
            width: 4,
            height: 2,
            src_width: 2,
            src_height: 1,
            rgb: vec![255, 0, 0, 0, 0, 255],
        };
        let mut canvas = vec![0u8; 4 * 2 * 3];
        img.blit(&mut canvas, 4, 2);
        let px = |x: usize, y: usize| &canvas[(y * 4 + x) * 3..(y * 4 + x) * 3 + 3];
        assert_eq!(px(0, 0), [0, 0, 0]);
        assert_eq!(px(1, 1), [255, 0, 0]);
        assert_eq!(px(2, 0), [255, 0, 0]);
        assert_eq!(px(3, 1), [0, 0, 255]);
    }
}
