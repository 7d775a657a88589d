//! Resizing by area averaging, torch's `interpolate(mode="area")`, which facenet-pytorch uses
//! for the scale pyramid and for the 24x24 / 48x48 R-Net and O-Net crops. It is adaptive
//! average pooling: output cell i of n averages input cells
//! [floor(i * m / n), ceil((i + 1) * m / n)) of m, in both directions (cells may overlap when
//! the ratio is not an integer, and repeat when enlarging).

use super::crop_window::CropWindow;

/// The input range [start, end) that output cell `index` of `out_len` averages over
/// `in_len` input cells (torch's `start_index` / `end_index` of adaptive pooling).
pub fn area_bounds(index: usize, in_len: usize, out_len: usize) -> (usize, usize) {
    let start = index * in_len / out_len;
    let end = ((index + 1) * in_len).div_ceil(out_len);
    (start, end)
}

/// Resizes the `window` of an interleaved image (`pixels` row-major, `image_width` wide,
/// `channels` values per pixel) to `out_height` x `out_width` into `out` (interleaved too),
/// applying `finish` to each averaged value (the networks' normalisation, in the same pass).
#[allow(clippy::too_many_arguments)]
pub fn area_resize(
    pixels: &[f32],
    image_width: usize,
    channels: usize,
    window: CropWindow,
    out_height: usize,
    out_width: usize,
    out: &mut [f32],
    finish: impl Fn(f32) -> f32,
) {
    let columns: Vec<(usize, usize)> = (0..out_width)
        .map(|i| area_bounds(i, window.width, out_width))
        .collect();
    let mut sums = vec![0f32; channels];
    for (oy, out_row) in out
        .chunks_exact_mut(out_width * channels)
        .take(out_height)
        .enumerate()
    {
        let (row_start, row_end) = area_bounds(oy, window.height, out_height);
        let rows = (row_end - row_start) as f32;
        for (out_pixel, &(col_start, col_end)) in out_row.chunks_exact_mut(channels).zip(&columns) {
            // Row by row, left to right, as torch sums; then divided by the row count and the
            // column count in turn (torch's `sum / kh / kw`).
            sums.fill(0.0);
            for y in row_start..row_end {
                let row_offset = ((window.y + y) * image_width + window.x) * channels;
                let cells =
                    &pixels[row_offset + col_start * channels..row_offset + col_end * channels];
                for pixel in cells.chunks_exact(channels) {
                    for (sum, &v) in sums.iter_mut().zip(pixel) {
                        *sum += v;
                    }
                }
            }
            let columns = (col_end - col_start) as f32;
            for (value, &sum) in out_pixel.iter_mut().zip(&sums) {
                *value = finish(sum / rows / columns);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resize(plane: &[f32], w: usize, h: usize, oh: usize, ow: usize) -> Vec<f32> {
        let mut out = vec![0f32; oh * ow];
        area_resize(plane, w, 1, CropWindow::full(w, h), oh, ow, &mut out, |v| v);
        out
    }

    #[test]
    fn bounds_are_torchs_adaptive_pooling_bounds() {
        // 5 -> 3: [0, 2), [1, 4), [3, 5) (overlapping).
        assert_eq!(area_bounds(0, 5, 3), (0, 2));
        assert_eq!(area_bounds(1, 5, 3), (1, 4));
        assert_eq!(area_bounds(2, 5, 3), (3, 5));
        // 2 -> 4 (enlarging): each input cell twice.
        let b: Vec<_> = (0..4).map(|i| area_bounds(i, 2, 4)).collect();
        assert_eq!(b, vec![(0, 1), (0, 1), (1, 2), (1, 2)]);
    }

    #[test]
    fn hand_computed_downscale() {
        // 1 row of 5 -> 3: mean(0,1), mean(1,2,3), mean(3,4) of [0, 10, 20, 30, 40].
        let out = resize(&[0., 10., 20., 30., 40.], 5, 1, 1, 3);
        assert_eq!(out, vec![5., 20., 35.]);
        // 4x4 -> 2x2: the four 2x2 block means.
        let plane: Vec<f32> = (0..16).map(|v| v as f32).collect();
        assert_eq!(resize(&plane, 4, 4, 2, 2), vec![2.5, 4.5, 10.5, 12.5]);
        // 3x3 -> 2x2: overlapping 2x2 windows.
        let plane: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        assert_eq!(resize(&plane, 3, 3, 2, 2), vec![3., 4., 6., 7.]);
    }

    #[test]
    fn channels_are_averaged_separately() {
        // 1 row of 2 RGB pixels -> 1 pixel.
        let mut out = vec![0f32; 3];
        let pixels = [0., 10., 100., 2., 20., 200.];
        area_resize(&pixels, 2, 3, CropWindow::full(2, 1), 1, 1, &mut out, |v| v);
        assert_eq!(out, vec![1., 15., 150.]);
    }

    #[test]
    fn hand_computed_upscale_and_window() {
        // 2x2 -> 3x3: bounds [0,1), [0,2), [1,2) per axis.
        let out = resize(&[0., 4., 8., 12.], 2, 2, 3, 3);
        assert_eq!(out, vec![0., 2., 4., 4., 6., 8., 8., 10., 12.]);
        // A window of a larger plane, with the finishing map applied.
        let plane: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let window = CropWindow {
            x: 1,
            y: 2,
            width: 2,
            height: 2,
        };
        let mut out = vec![0f32; 1];
        area_resize(&plane, 4, 1, window, 1, 1, &mut out, |v| v - 1.0);
        // mean(9, 10, 13, 14) - 1
        assert_eq!(out, vec![10.5]);
    }
}
