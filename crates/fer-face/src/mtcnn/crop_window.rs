//! The pixel rectangle cut out of an image for one MTCNN candidate before it is resized for
//! R-Net or O-Net: facenet-pytorch's `pad` (truncate the box to integers, clamp its 1-based
//! corners to the image) followed by the slice `img[y-1:ey, x-1:ex]`.

/// A non-empty, 0-based, half-open pixel rectangle [x, x + width) x [y, y + height).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropWindow {
    pub x: usize,
    pub y: usize,
    pub width: usize,
    pub height: usize,
}

impl CropWindow {
    /// The whole of an image of `width` x `height`.
    pub fn full(width: usize, height: usize) -> CropWindow {
        CropWindow {
            x: 0,
            y: 0,
            width,
            height,
        }
    }

    /// facenet-pytorch's crop of box (x1, y1, x2, y2) in an image of `image_width` x
    /// `image_height`: the corners are truncated towards zero, then read as 1-based pixel
    /// numbers x1..=x2 (MATLAB heritage of the original MTCNN code) and clamped to the image
    /// (x1, y1 >= 1; x2 <= width, y2 <= height). None when nothing of the box is left, where
    /// facenet-pytorch skips the crop.
    pub fn of_box(bbox: [f32; 4], image_width: usize, image_height: usize) -> Option<CropWindow> {
        // `Tensor.trunc().int()`: truncation towards zero; `as` saturates the absurd values.
        let [x1, y1, x2, y2] = bbox.map(|v| v.trunc() as i64);
        let first_x = x1.max(1);
        let first_y = y1.max(1);
        let last_x = x2.min(image_width as i64);
        let last_y = y2.min(image_height as i64);
        // Python slice [first - 1, last): non-empty when last > first - 1, i.e. last >= first.
        if last_x < first_x || last_y < first_y {
            return None;
        }
        Some(CropWindow {
            x: (first_x - 1) as usize,
            y: (first_y - 1) as usize,
            width: (last_x - first_x + 1) as usize,
            height: (last_y - first_y + 1) as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncates_and_clamps_like_facenet_pad() {
        // x1 = 3.7 -> 3 -> 0-based 2; x2 = 10.2 -> 10 (inclusive, 1-based) -> end 10.
        let w = CropWindow::of_box([3.7, -4.5, 10.2, 60.0], 48, 48).expect("inside");
        assert_eq!(
            w,
            CropWindow {
                x: 2,
                y: 0,
                width: 8,
                height: 48
            }
        );
        // Entirely right of the image.
        assert_eq!(CropWindow::of_box([50.0, 0.0, 60.0, 10.0], 48, 48), None);
        // Entirely above: y2 truncates to 0.
        assert_eq!(CropWindow::of_box([0.0, -9.0, 10.0, 0.5], 48, 48), None);
    }
}
