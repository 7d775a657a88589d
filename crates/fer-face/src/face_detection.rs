//! One detected face: its box, the detector's probability and five points (left eye, right
//! eye, nose, mouth left, mouth right), the output of MTCNN's O-Net (Zhang et al. 2016).

use serde::{Deserialize, Serialize};

use super::FaceBox;

/// A face found by a detector.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceDetection {
    pub bbox: FaceBox,
    /// Face probability of the last network stage.
    pub score: f32,
    /// (x, y) of left eye, right eye, nose, mouth left, mouth right, in image pixel-index
    /// coordinates; "left" is the subject's left as facenet-pytorch names it (image left).
    pub points: [[f32; 2]; 5],
}
