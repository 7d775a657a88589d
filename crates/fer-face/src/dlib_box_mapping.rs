//! Maps a detector's face box onto the box dlib's shape predictor expects. The 68-point
//! predictor was trained on boxes of dlib's HOG detector, which are square-ish and tighter than
//! MTCNN's (MTCNN's reach from the brows to below the chin); handing it MTCNN's box unchanged
//! would misplace every point. The mapping keeps the centre (shifted by a fraction of the size)
//! and scales width and height, with constants fitted where both detectors found the face.

use serde::{Deserialize, Serialize};

use super::FaceBox;

/// dlib box = centre + (dx * w, dy * h), size (sw * w, sh * h) of the detector's box (w, h).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DlibBoxMapping {
    pub centre_dx: f32,
    pub centre_dy: f32,
    pub width_scale: f32,
    pub height_scale: f32,
}

impl DlibBoxMapping {
    /// No change: for boxes that already come from dlib's detector.
    pub const IDENTITY: DlibBoxMapping = DlibBoxMapping {
        centre_dx: 0.0,
        centre_dy: 0.0,
        width_scale: 1.0,
        height_scale: 1.0,
    };

    /// MTCNN boxes onto dlib's HOG-detector boxes: mean ratios over the 979 CK+48 faces where
    /// both found the face, our MTCNN port's boxes (`cargo xtask annotate --images
    /// ../shared/datasets/ckplus48`) against the dlib boxes of
    /// ../shared/datasets/ckplus48/landmarks_dlib68_x4.csv:
    ///   for each image: dx = (dlib cx - mtcnn cx) / mtcnn w, dy likewise with h,
    ///   sw = dlib w / mtcnn w, sh = dlib h / mtcnn h; printed: mean (sd)
    ///   dx -0.0049 (0.0602), dy -0.0050 (0.0394), sw 0.9626 (0.0939), sh 0.7330 (0.0737)
    /// With it, our landmarks on native 48x48 CK+48 are 3.3 % of the inter-ocular distance from
    /// that file's (mean point distance); without it (MTCNN's box as is) 4.2 %.
    pub const MTCNN_TO_DLIB: DlibBoxMapping = DlibBoxMapping {
        centre_dx: -0.0049,
        centre_dy: -0.0050,
        width_scale: 0.9626,
        height_scale: 0.7330,
    };

    pub fn apply(&self, b: &FaceBox) -> FaceBox {
        let (w, h) = (b.width(), b.height());
        let cx = (b.left + b.right) / 2.0 + self.centre_dx * w;
        let cy = (b.top + b.bottom) / 2.0 + self.centre_dy * h;
        let (hw, hh) = (self.width_scale * w / 2.0, self.height_scale * h / 2.0);
        FaceBox::new(cx - hw, cy - hh, cx + hw, cy + hh)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_centre_and_scales_the_size() {
        let m = DlibBoxMapping {
            centre_dx: 0.1,
            centre_dy: 0.0,
            width_scale: 0.5,
            height_scale: 2.0,
        };
        let b = m.apply(&FaceBox::new(0.0, 0.0, 10.0, 20.0));
        assert_eq!(b, FaceBox::new(3.5, -10.0, 8.5, 30.0));
        let same = DlibBoxMapping::IDENTITY.apply(&b);
        assert_eq!(same, b);
    }
}
