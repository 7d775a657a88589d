//! A face box in continuous pixel-index coordinates (the centre of the top-left pixel is
//! (0, 0)), as MTCNN returns it (x1, y1, x2, y2), with the conversions the other stages need.
//!
//! Used by every stage of the face pipeline of paper 4.3 (crate fer-face, which re-exports it);
//! it lives in fer-data because a prepared cache's `samples.csv` (`prepared_sample`) stores it.

use serde::{Deserialize, Serialize};

/// An axis-aligned face box; `right > left` and `bottom > top` for a valid box.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceBox {
    pub left: f32,
    pub top: f32,
    pub right: f32,
    pub bottom: f32,
}

impl FaceBox {
    pub fn new(left: f32, top: f32, right: f32, bottom: f32) -> Self {
        Self {
            left,
            top,
            right,
            bottom,
        }
    }

    pub fn width(&self) -> f32 {
        self.right - self.left
    }

    pub fn height(&self) -> f32 {
        self.bottom - self.top
    }

    pub fn area(&self) -> f32 {
        self.width().max(0.0) * self.height().max(0.0)
    }

    /// Intersection over union with another box (0 when either is empty).
    pub fn iou(&self, other: &FaceBox) -> f32 {
        let w = (self.right.min(other.right) - self.left.max(other.left)).max(0.0);
        let h = (self.bottom.min(other.bottom) - self.top.max(other.top)).max(0.0);
        let inter = w * h;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iou_of_half_overlapping_boxes() {
        let a = FaceBox::new(0.0, 0.0, 10.0, 10.0);
        let b = FaceBox::new(5.0, 0.0, 15.0, 10.0);
        // 50 / (100 + 100 - 50)
        assert!((a.iou(&b) - 1.0 / 3.0).abs() < 1e-6);
        assert_eq!(a.iou(&FaceBox::new(20.0, 20.0, 30.0, 30.0)), 0.0);
        assert!((a.iou(&a) - 1.0).abs() < 1e-6);
    }
}
