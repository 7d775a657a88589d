//! dlib's integer `rectangle` (geometry/rectangle.h): the face box a shape predictor is run on.
//! Its corners are inclusive pixel indices, and the shape predictor maps its normalised
//! shape space onto it by the corners themselves (tl -> (0,0), br -> (1,1)), so its width in
//! that mapping is `right - left`, not dlib's `width()` (`right - left + 1`).

use crate::FaceBox;

/// An axis-aligned box with inclusive integer corners, as `dlib::rectangle(left, top, right,
/// bottom)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DlibRect {
    pub left: i64,
    pub top: i64,
    pub right: i64,
    pub bottom: i64,
}

impl DlibRect {
    pub fn new(left: i64, top: i64, right: i64, bottom: i64) -> Self {
        Self {
            left,
            top,
            right,
            bottom,
        }
    }

    /// The box whose corners are those of `b` rounded to the nearest integer (halves away from
    /// zero); both use pixel-index coordinates, so no offset is needed.
    pub fn from_face_box(b: &FaceBox) -> DlibRect {
        let round = |v: f32| v.round() as i64;
        DlibRect::new(round(b.left), round(b.top), round(b.right), round(b.bottom))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn face_box_corners_round_to_nearest() {
        let r = DlibRect::from_face_box(&FaceBox::new(2.4, 6.5, 39.6, -0.5));
        assert_eq!(r, DlibRect::new(2, 7, 40, -1));
    }
}
