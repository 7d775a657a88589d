//! The image pyramid of MTCNN's first stage (Zhang et al. 2016 sec. 2.1; facenet-pytorch's
//! `detect_face`): P-Net sees 12x12 windows, so the image is scaled by m = 12 / min_face_size,
//! then repeatedly by `factor`, while its shorter side stays >= 12 pixels.

/// One pyramid level: the scale and the level's size (facenet-pytorch: int(h * s + 1)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PyramidLevel {
    pub scale: f64,
    pub width: usize,
    pub height: usize,
}

/// The levels for an image of `width` x `height`. Computed in f64 as Python does, from the
/// decimal values the f32 settings print as (0.709, not the f32 0.70899999...), so that the
/// level sizes and scales equal facenet-pytorch's.
pub fn scale_pyramid(
    width: usize,
    height: usize,
    min_face_size: f32,
    factor: f32,
) -> Vec<PyramidLevel> {
    let min_face_size = as_written(min_face_size);
    let factor = as_written(factor);
    let first_scale = 12.0 / min_face_size;
    let mut shorter_side = width.min(height) as f64 * first_scale;
    let mut scale = first_scale;
    let mut levels = Vec::new();
    while shorter_side >= 12.0 {
        levels.push(PyramidLevel {
            scale,
            // Python's int() truncates; both are positive here.
            width: (width as f64 * scale + 1.0) as usize,
            height: (height as f64 * scale + 1.0) as usize,
        });
        scale *= factor;
        shorter_side *= factor;
    }
    levels
}

/// The f64 of the shortest decimal that reads back as `value`.
fn as_written(value: f32) -> f64 {
    value.to_string().parse().unwrap_or(f64::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pyramid_of_a_48_pixel_image_has_three_levels() {
        // m = 0.6: 28.8 -> 20.42 -> 14.48 -> 10.26 (stop). Sizes int(48 s + 1).
        let levels = scale_pyramid(48, 48, 20.0, 0.709);
        let sizes: Vec<usize> = levels.iter().map(|l| l.width).collect();
        assert_eq!(sizes, vec![29, 21, 15]);
        assert!((levels[1].scale - 0.6 * 0.709).abs() < 1e-15);
        assert!(scale_pyramid(10, 100, 20.0, 0.709).is_empty());
    }
}
