//! The three points the alignment maps (paper 4.3; reference `data/facialAligned.py`): the
//! centre of the eye on the image's left (mean of points 36-41), of the eye on the image's
//! right (42-47) and of the mouth (48-67).

use fer_data::Landmarks68;

/// Left-eye centre, right-eye centre and mouth centre, in that order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlignmentPoints(pub [[f64; 2]; 3]);

impl AlignmentPoints {
    pub fn from_landmarks(landmarks: &Landmarks68) -> Self {
        let f = |p: [f32; 2]| [p[0] as f64, p[1] as f64];
        AlignmentPoints([
            f(landmarks.left_eye_centre()),
            f(landmarks.right_eye_centre()),
            f(landmarks.mouth_centre()),
        ])
    }
}
