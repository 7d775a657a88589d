//! `PredictionSheet` / `plot_prediction_sheet`: the contact sheet of `cargo xtask predict`.
//! Each cell is one face as the model saw it (aligned, at its input size, zoomed by a whole
//! factor), the 68 predicted landmarks drawn on it as green dots, and underneath the
//! predicted class with its probability and the image the face came from.
//!
//! Not a figure of the paper; it lets a reader check a model's outputs on their own photos
//! at a glance, the way Fig. 4 shows faces.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend, Text};
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::RGBColor;

use crate::chart_font::{ensure_fonts, text_style};
use crate::figure::{draw_title_on_white, render, text_size, DrawResult, Figure};
use crate::raster_image::RasterImage;
use crate::report_error::{ReportError, Result};

const PAD: i32 = 16;
const TITLE_PX: f64 = 20.0;
const CAPTION_PX: f64 = 13.0;
const CELL_GAP: i32 = 14;
/// Faces are zoomed until their side reaches at least this many pixels.
const MIN_DISPLAY_PX: usize = 120;
const DOT: [u8; 3] = [40, 220, 60];

/// One face of the sheet.
#[derive(Debug, Clone, PartialEq)]
pub struct SheetFace {
    /// Row-major grey pixels, `side * side`.
    pub gray: Vec<u8>,
    pub side: usize,
    /// Points in the face's pixel coordinates; drawn where they fall inside it.
    pub landmarks: Vec<[f32; 2]>,
    /// Caption lines, e.g. "happiness 0.93" and the file name.
    pub caption: Vec<String>,
}

/// The laid-out sheet.
#[derive(Debug, Clone)]
pub struct PredictionSheet {
    title: String,
    captions: Vec<Vec<String>>,
    rasters: Vec<RasterImage>,
    columns: usize,
    cell_w: i32,
    cell_h: i32,
    box_side: i32,
    grid_top: i32,
    line_h: i32,
    width: u32,
    height: u32,
}

/// The face zoomed by `zoom` (nearest neighbour) with a dot of 3x3 zoomed pixels at each point.
fn face_rgb(face: &SheetFace, zoom: usize) -> Vec<u8> {
    let side = face.side * zoom;
    let mut rgb = vec![0u8; side * side * 3];
    for y in 0..side {
        for x in 0..side {
            let v = face.gray[(y / zoom) * face.side + x / zoom];
            rgb[(y * side + x) * 3..][..3].copy_from_slice(&[v, v, v]);
        }
    }
    for p in &face.landmarks {
        // Pixel-index coordinates: the centre of source pixel i is zoomed pixel i*z + z/2.
        let cx = ((p[0] + 0.5) * zoom as f32).floor() as i64;
        let cy = ((p[1] + 0.5) * zoom as f32).floor() as i64;
        for dy in -1..=1 {
            for dx in -1..=1 {
                let (x, y) = (cx + dx, cy + dy);
                if (0..side as i64).contains(&x) && (0..side as i64).contains(&y) {
                    rgb[(y as usize * side + x as usize) * 3..][..3].copy_from_slice(&DOT);
                }
            }
        }
    }
    rgb
}

impl PredictionSheet {
    /// Lays out `faces` `columns` to a row. Errors for no faces, `columns == 0` or a face
    /// whose pixels do not match its side.
    pub fn new(faces: &[SheetFace], columns: usize, title: &str) -> Result<Self> {
        let bad = |message: String| ReportError::ChartInput {
            title: title.to_string(),
            message,
        };
        if faces.is_empty() {
            return Err(bad("no faces".into()));
        }
        if columns == 0 {
            return Err(bad("0 columns".into()));
        }
        if let Some((i, f)) = faces
            .iter()
            .enumerate()
            .find(|(_, f)| f.side == 0 || f.gray.len() != f.side * f.side)
        {
            return Err(bad(format!(
                "face {i} has {} pixels for a side of {}",
                f.gray.len(),
                f.side
            )));
        }
        ensure_fonts()?;
        let side = faces.iter().map(|f| f.side).max().unwrap_or(1);
        let zoom = MIN_DISPLAY_PX.div_ceil(side).max(1);
        let box_side = (side * zoom) as i32;
        let line_h = text_size("Hg", CAPTION_PX, false).1 as i32 + 2;
        let lines = faces.iter().map(|f| f.caption.len()).max().unwrap_or(0) as i32;
        let caption_w = faces
            .iter()
            .flat_map(|f| f.caption.iter())
            .map(|c| text_size(c, CAPTION_PX, false).0 as i32)
            .max()
            .unwrap_or(0);
        let cell_w = box_side.max(caption_w.min(2 * box_side));
        let cell_h = box_side + 6 + lines * line_h;
        let columns = columns.min(faces.len());
        let rows = faces.len().div_ceil(columns) as i32;
        let title_h = text_size(title, TITLE_PX, true).1 as i32;
        let grid_top = PAD + title_h + 12;
        let grid_w = columns as i32 * cell_w + (columns as i32 - 1) * CELL_GAP;
        let width = (grid_w + 2 * PAD).max(text_size(title, TITLE_PX, true).0 as i32 + 2 * PAD);
        let height = grid_top + rows * cell_h + (rows - 1) * CELL_GAP + PAD;
        let grid_left = (width - grid_w) / 2;
        let rasters = faces
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let (col, row) = ((i % columns) as i32, (i / columns) as i32);
                let s = (f.side * zoom) as u32;
                RasterImage {
                    left: grid_left + col * (cell_w + CELL_GAP) + (cell_w - s as i32) / 2,
                    top: grid_top + row * (cell_h + CELL_GAP),
                    width: s,
                    height: s,
                    src_width: s,
                    src_height: s,
                    rgb: face_rgb(f, zoom),
                }
            })
            .collect();
        Ok(Self {
            title: title.to_string(),
            captions: faces.iter().map(|f| f.caption.clone()).collect(),
            rasters,
            columns,
            cell_w,
            cell_h,
            box_side,
            grid_top,
            line_h,
            width: width as u32,
            height: height as u32,
        })
    }

    /// Canvas size in pixels (width, height).
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }
}

impl Figure for PredictionSheet {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let black = RGBColor(0, 0, 0);
        let grey = RGBColor(90, 90, 90);
        draw_title_on_white(root, &self.title, self.width, PAD, TITLE_PX)?;
        let columns = self.columns as i32;
        let grid_w = columns * self.cell_w + (columns - 1) * CELL_GAP;
        let grid_left = (self.width as i32 - grid_w) / 2;
        for (i, lines) in self.captions.iter().enumerate() {
            let (col, row) = ((i % self.columns) as i32, (i / self.columns) as i32);
            let centre = grid_left + col * (self.cell_w + CELL_GAP) + self.cell_w / 2;
            let top = self.grid_top + row * (self.cell_h + CELL_GAP) + self.box_side + 6;
            for (k, line) in lines.iter().enumerate() {
                root.draw(&Text::new(
                    line.clone(),
                    (centre, top + k as i32 * self.line_h),
                    text_style(
                        CAPTION_PX,
                        false,
                        if k == 0 { black } else { grey },
                        HPos::Center,
                        VPos::Top,
                    ),
                ))?;
            }
        }
        Ok(())
    }

    fn rasters(&self) -> &[RasterImage] {
        &self.rasters
    }
}

/// Draws the sheet to `<stem>.png` and `<stem>.svg` (the SVG embeds the faces as PNG), both
/// written atomically. Errors as [`PredictionSheet::new`].
pub fn plot_prediction_sheet(
    faces: &[SheetFace],
    columns: usize,
    title: &str,
    stem: &Path,
) -> Result<(PathBuf, PathBuf)> {
    let sheet = PredictionSheet::new(faces, columns, title)?;
    render(&sheet, stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dots_land_on_the_zoomed_pixel_centres() {
        let face = SheetFace {
            gray: vec![100; 16],
            side: 4,
            landmarks: vec![[1.0, 2.0], [9.0, 9.0]],
            caption: vec![],
        };
        let rgb = face_rgb(&face, 3);
        let at = |x: usize, y: usize| &rgb[(y * 12 + x) * 3..][..3];
        // Source pixel (1, 2) is zoomed pixels 3..6 x 6..9, centre (4, 7).
        assert_eq!(at(4, 7), DOT);
        assert_eq!(at(3, 6), DOT);
        assert_eq!(at(2, 7), [100, 100, 100]);
        // The point outside the face draws nothing.
        assert_eq!(at(11, 11), [100, 100, 100]);
    }

    #[test]
    fn bad_faces_are_refused() {
        let face = SheetFace {
            gray: vec![0; 15],
            side: 4,
            landmarks: vec![],
            caption: vec!["x".into()],
        };
        let e = PredictionSheet::new(&[face], 2, "t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("face 0 has 15 pixels"), "{e}");
        assert!(PredictionSheet::new(&[], 2, "t").is_err());
    }
}
