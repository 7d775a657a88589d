//! dlib's `shape_predictor` (image_processing/shape_predictor.h): face alignment with an
//! ensemble of regression trees (Kazemi and Sullivan 2014), read from dlib's serialised `.dat`
//! models (e.g. `shape_predictor_68_face_landmarks.dat`) and evaluated as dlib evaluates it,
//! with f32 where dlib uses float and f64 where it uses double, so that the landmarks agree
//! with dlib's to the pixel.
//!
//! Prediction (paper section 2.1, dlib's `operator()`): start from the mean shape placed in the
//! face box; at every cascade level, fit the similarity from the mean shape to the current
//! estimate, read the level's feature pixels (each an offset from an anchor landmark, carried
//! by that similarity and mapped into the image through the box), and add the leaf increments
//! of all the level's trees, whose splits compare pairs of those pixels.

use super::cascade_level::CascadeLevel;
use super::dlib_deserializer::DlibDeserializer;
use super::dlib_rect::DlibRect;
use super::point_transform_affine::PointTransformAffine;
use super::reference_similarity::ReferenceSimilarity;
use super::regression_tree::RegressionTree;
use crate::{FaceError, Result};
use std::path::Path;

/// The only serialisation version dlib has written for `shape_predictor`.
const SHAPE_PREDICTOR_VERSION: i32 = 1;

/// A loaded dlib shape predictor. Immutable after loading, so one instance can serve many
/// threads (`Send + Sync`).
#[derive(Debug, Clone, PartialEq)]
pub struct ShapePredictor {
    /// The mean shape in normalised box coordinates, x0, y0, x1, y1, ...
    initial_shape: Vec<f32>,
    /// The mean shape's statistics for the per-level similarity fit.
    reference: ReferenceSimilarity,
    levels: Vec<CascadeLevel>,
    /// The most feature pixels any level reads and the most trees any level has: the sizes
    /// of the per-call scratch buffers.
    max_feature_pixels: usize,
    max_trees: usize,
}

impl ShapePredictor {
    /// Reads a model written by dlib's `serialize(shape_predictor)`; errors name the file and,
    /// for format errors, the byte offset.
    pub fn from_file(path: &Path) -> Result<ShapePredictor> {
        let bytes = std::fs::read(path).map_err(|e| FaceError::io(path, e))?;
        Self::from_bytes(&bytes, path)
    }

    /// Decodes a serialised model held in memory; `path` names it in errors.
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<ShapePredictor> {
        let mut de = DlibDeserializer::new(bytes, path);
        let version = de.read_int("shape_predictor version")?;
        if version != SHAPE_PREDICTOR_VERSION {
            return Err(de.error_at(
                0,
                format!(
                    "not a dlib shape predictor: version {version}, expected \
                     {SHAPE_PREDICTOR_VERSION}"
                ),
            ));
        }
        let shape_at = de.offset();
        let initial_shape = de.read_column_f32("initial shape")?;
        if initial_shape.is_empty() || initial_shape.len() % 2 != 0 {
            return Err(de.error_at(
                shape_at,
                format!(
                    "initial shape has {} values; expected a positive even number",
                    initial_shape.len()
                ),
            ));
        }
        let shape_len = initial_shape.len();

        // forests: vector (levels) of vector (trees) of regression_tree.
        let num_levels = de.read_vec_len(1, "number of cascade levels")?;
        let mut levels = Vec::with_capacity(num_levels);
        for _ in 0..num_levels {
            let level_at = de.offset();
            let num_trees = de.read_vec_len(2, "number of trees")?;
            let trees = (0..num_trees)
                .map(|_| RegressionTree::deserialize(&mut de, shape_len))
                .collect::<Result<Vec<_>>>()?;
            levels.push(CascadeLevel::from_trees(trees, shape_len, &de, level_at)?);
        }

        // anchor_idx: vector (levels) of vector of unsigned long.
        let anchors_at = de.offset();
        let num_anchor_levels = de.read_vec_len(1, "number of anchor-index levels")?;
        let mut anchors = Vec::with_capacity(num_anchor_levels);
        for _ in 0..num_anchor_levels {
            let len = de.read_vec_len(2, "number of anchor indices")?;
            let level = (0..len)
                .map(|_| de.read_usize("anchor index"))
                .collect::<Result<Vec<_>>>()?;
            anchors.push(level);
        }

        // deltas: vector (levels) of vector of dlib::vector<float,2>.
        let deltas_at = de.offset();
        let num_delta_levels = de.read_vec_len(1, "number of delta levels")?;
        let mut deltas = Vec::with_capacity(num_delta_levels);
        for _ in 0..num_delta_levels {
            let len = de.read_vec_len(8, "number of deltas")?;
            let level = (0..len)
                .map(|_| Ok([de.read_f32("delta x")?, de.read_f32("delta y")?]))
                .collect::<Result<Vec<_>>>()?;
            deltas.push(level);
        }

        if anchors.len() != levels.len() || deltas.len() != levels.len() {
            return Err(de.error_at(
                anchors_at,
                format!(
                    "{} cascade levels but {} anchor-index levels and {} delta levels",
                    levels.len(),
                    anchors.len(),
                    deltas.len()
                ),
            ));
        }
        for (i, ((level, anchor), delta)) in levels.iter_mut().zip(anchors).zip(deltas).enumerate()
        {
            level.set_feature_pixels(anchor, delta, &de, deltas_at, i)?;
        }
        let max_feature_pixels = levels
            .iter()
            .map(CascadeLevel::num_feature_pixels)
            .max()
            .unwrap_or(0);
        let max_trees = levels
            .iter()
            .map(CascadeLevel::num_trees)
            .max()
            .unwrap_or(0);
        Ok(ShapePredictor {
            reference: ReferenceSimilarity::new(&initial_shape),
            initial_shape,
            levels,
            max_feature_pixels,
            max_trees,
        })
    }

    /// Number of landmarks the model predicts (68 or 5 for dlib's published models).
    pub fn num_parts(&self) -> usize {
        self.initial_shape.len() / 2
    }

    /// Number of cascade levels (T in the paper).
    pub fn num_cascades(&self) -> usize {
        self.levels.len()
    }

    /// Trees over all levels.
    pub fn num_trees(&self) -> usize {
        self.levels.iter().map(CascadeLevel::num_trees).sum()
    }

    /// Leaves over all trees (dlib's `num_features()`).
    pub fn num_leaves(&self) -> usize {
        self.levels.iter().map(CascadeLevel::num_leaves).sum()
    }

    /// The landmarks of the face in `rect`: real-valued points (x, y) in pixel-index
    /// coordinates (dlib rounds these to long; we don't). Any box works, also one reaching
    /// beyond the image (pixels outside read as 0, as in dlib).
    pub fn predict(&self, image: &image::GrayImage, rect: DlibRect) -> Vec<[f32; 2]> {
        self.predict_batch(&[(image, rect)])
            .pop()
            .unwrap_or_default()
    }

    /// `predict` for several faces at once, with identical results. The faces advance through
    /// the cascade together, level by level: one level's leaves (about 4 MB of the 68-point
    /// model's 65 MB) then stay in the processor's cache for every face of the batch instead
    /// of being read from memory again for each face, which is where a single face spends
    /// most of its time.
    pub fn predict_batch(&self, faces: &[(&image::GrayImage, DlibRect)]) -> Vec<Vec<[f32; 2]>> {
        let transforms: Vec<PointTransformAffine> = faces
            .iter()
            .map(|(_, rect)| PointTransformAffine::unnormalizing(*rect))
            .collect();
        let mut shapes: Vec<Vec<f32>> = vec![self.initial_shape.clone(); faces.len()];
        let mut feature_pixels = vec![0.0f32; self.max_feature_pixels];
        let mut leaf_starts = vec![0usize; self.max_trees];

        for level in &self.levels {
            for (((image, _), to_image), shape) in
                faces.iter().zip(&transforms).zip(shapes.iter_mut())
            {
                let values = &mut feature_pixels[..level.num_feature_pixels()];
                self.read_feature_pixels(level, image, to_image, shape, values);
                level.add_increments(values, &mut leaf_starts, shape);
            }
        }

        shapes
            .iter()
            .zip(&transforms)
            .map(|(shape, to_image)| {
                shape
                    .chunks_exact(2)
                    .map(|p| {
                        let q = to_image.apply([f64::from(p[0]), f64::from(p[1])]);
                        [q[0] as f32, q[1] as f32]
                    })
                    .collect()
            })
            .collect()
    }

    /// The grey values at one level's feature pixels for the current shape.
    fn read_feature_pixels(
        &self,
        level: &CascadeLevel,
        image: &image::GrayImage,
        to_image: &PointTransformAffine,
        shape: &[f32],
        values: &mut [f32],
    ) {
        let (width, height) = (image.width() as usize, image.height() as usize);
        let pixels = image.as_raw();
        let m = self.reference.linear_part_to(shape);
        for ((anchor, delta), value) in level.feature_pixels().zip(values.iter_mut()) {
            // The pixel's place in the current shape (f32, as dlib's float matrices) ...
            let x = (m[0][0] * delta[0] + m[0][1] * delta[1]) + shape[2 * anchor];
            let y = (m[1][0] * delta[0] + m[1][1] * delta[1]) + shape[2 * anchor + 1];
            // ... then in the image (f64), rounded half up to a pixel index as dlib's
            // conversion to `point` does (floor(v + 0.5)).
            let p = to_image.apply([f64::from(x), f64::from(y)]);
            let (col, row) = ((p[0] + 0.5).floor(), (p[1] + 0.5).floor());
            // Comparisons in f64 first, so NaN and huge values read as outside (0).
            *value = if col >= 0.0 && row >= 0.0 && col < width as f64 && row < height as f64 {
                f32::from(pixels[row as usize * width + col as usize])
            } else {
                0.0
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::ert::minimal_model::minimal_model as tiny_model;

    #[test]
    fn predictor_is_shareable_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<ShapePredictor>();
    }

    #[test]
    fn a_hand_built_model_walks_its_tree_on_the_image() -> Result<()> {
        let sp = ShapePredictor::from_bytes(&tiny_model(), Path::new("tiny.dat"))?;
        assert_eq!(
            (
                sp.num_parts(),
                sp.num_cascades(),
                sp.num_trees(),
                sp.num_leaves()
            ),
            (2, 1, 1, 2)
        );
        // Box (0,0)-(10,10): the parts sit at (2.5, 2.5) and (7.5, 7.5), whose pixels are
        // (3, 3) and (8, 8) after dlib's floor(v + 0.5).
        let rect = DlibRect::new(0, 0, 10, 10);
        let mut image = image::GrayImage::new(11, 11);
        assert_eq!(sp.predict(&image, rect), vec![[2.5, 2.5], [7.5, 8.75]]);
        image.put_pixel(3, 3, image::Luma([200]));
        assert_eq!(sp.predict(&image, rect), vec![[3.75, 2.5], [7.5, 7.5]]);
        // A box reaching outside the image reads those pixels as 0 (both here: right branch).
        let outside = DlibRect::new(-40, -40, -30, -30);
        assert_eq!(
            sp.predict(&image, outside),
            vec![[-37.5, -37.5], [-32.5, -31.25]]
        );
        Ok(())
    }

    #[test]
    fn truncated_or_inconsistent_models_are_errors() {
        let bytes = tiny_model();
        for cut in [0, 1, 5, bytes.len() / 2, bytes.len() - 1] {
            let err = ShapePredictor::from_bytes(&bytes[..cut], Path::new("tiny.dat"));
            assert!(err.is_err(), "cut at {cut} loaded");
        }
        let mut wrong_version = bytes.clone();
        wrong_version[1] = 2;
        let err = ShapePredictor::from_bytes(&wrong_version, Path::new("tiny.dat"))
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("tiny.dat: byte 0:") && err.contains("version 2"),
            "{err}"
        );
    }
}
