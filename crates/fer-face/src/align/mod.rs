//! Three-point face alignment (paper 4.3, as the reference implementation's
//! `data/facialAligned.py`): the left-eye centre, right-eye centre and mouth centre of each face
//! are mapped by an affine transform onto a template, the mean of those points over the
//! training set, and the image is warped to the output size (100x100 in the paper) with the
//! landmarks transformed by the same matrix.

pub mod affine_transform;
pub mod aligned_face;
pub mod alignment_points;
pub mod alignment_template;
pub mod face_alignment;
pub mod warp_affine;

pub use affine_transform::AffineTransform;
pub use aligned_face::{align_face, warp_face, AlignedFace};
pub use alignment_points::AlignmentPoints;
pub use alignment_template::AlignmentTemplate;
pub use face_alignment::FaceAlignment;
pub use warp_affine::warp_affine_gray;
