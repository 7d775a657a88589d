//! The alignment template: where the three alignment points land in the output image. As in
//! the reference implementation it is the mean of the training set's points, here taken in
//! each face's box-normalised frame (the reference averaged them over MTCNN's 100x100 face
//! crops, which is the same frame) and scaled to the output size.

use serde::{Deserialize, Serialize};

use super::AlignmentPoints;
use crate::error::{FaceError, Result};
use crate::FaceBox;

/// Target positions of (left eye, right eye, mouth) in a `size` x `size` output.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlignmentTemplate {
    pub size: u32,
    pub points: [[f64; 2]; 3],
}

impl AlignmentTemplate {
    /// The points of one face in its box's frame scaled to `size` (the position they would have
    /// in the face crop resized to `size` x `size`, as MTCNN's `extract_face` produces).
    pub fn normalised_points(points: &AlignmentPoints, face: &FaceBox, size: u32) -> [[f64; 2]; 3] {
        let s = size as f64;
        let (w, h) = (face.width() as f64, face.height() as f64);
        points.0.map(|p| {
            [
                (p[0] - face.left as f64) / w * s,
                (p[1] - face.top as f64) / h * s,
            ]
        })
    }

    /// The mean of the normalised points of the training faces.
    pub fn mean_of(faces: &[[[f64; 2]; 3]], size: u32) -> Result<Self> {
        if faces.is_empty() {
            return Err(FaceError::Config(
                "no training face with landmarks: the alignment template (their mean) is undefined"
                    .into(),
            ));
        }
        let n = faces.len() as f64;
        let mut points = [[0.0f64; 2]; 3];
        for f in faces {
            for (acc, p) in points.iter_mut().zip(f) {
                acc[0] += p[0] / n;
                acc[1] += p[1] / n;
            }
        }
        Ok(Self { size, points })
    }
}
