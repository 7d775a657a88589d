//! `AttentionMapChart` / `plot_attention_maps`: a grid of faces with their attention heat
//! maps, the paper's Fig. 4 ("Facial attention visualization comparison between baseline
//! (BaseDCNN) and the SCAM of our proposed method (CMCNN)", Section 5.7).
//!
//! Each cell shows the plain face beside the same face under its heat map (see
//! [`AttentionFace`]), so the reader can tell which facial part is attended without the
//! colour hiding it, and the caption (e.g. the true expression) underneath. Laying out one
//! method per row with the same faces in the same columns reproduces the paper's comparison.
//! A colour bar explains the map; faces are zoomed by a whole factor so their pixels stay
//! square and sharp.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend, Rectangle, Text};
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{Color, RGBColor};

use crate::attention_face::{jet, AttentionFace};
use crate::chart_font::{ensure_fonts, text_style};
use crate::figure::{draw_title_on_white, render, text_size, DrawResult, Figure};
use crate::raster_image::RasterImage;
use crate::report_error::{ReportError, Result};

const PAD: i32 = 16;
const TITLE_PX: f64 = 20.0;
const CAPTION_PX: f64 = 14.0;
const NOTE_PX: f64 = 13.0;
/// Faces are zoomed until their longer side reaches at least this many pixels.
const MIN_DISPLAY_PX: usize = 112;
/// Between the face and its overlay.
const PAIR_GAP: i32 = 6;
/// Between grid cells.
const CELL_GAP: i32 = 18;
const COLOUR_BAR_W: i32 = 220;
const COLOUR_BAR_H: i32 = 12;

/// Validated faces laid out as a grid, with their pixels ready to composite.
#[derive(Debug, Clone)]
pub struct AttentionMapChart {
    captions: Vec<String>,
    rasters: Vec<RasterImage>,
    title: String,
    columns: usize,
    /// Zoom factor of every face.
    zoom: usize,
    box_h: i32,
    cell_w: i32,
    cell_h: i32,
    grid_top: i32,
    width: u32,
    height: u32,
}

impl AttentionMapChart {
    /// Validates every face (see [`AttentionFace::validate`]; the error names the face by
    /// index and caption) and lays them out `columns` to a row. Errors for no faces or
    /// `columns == 0`.
    pub fn new(faces: &[AttentionFace], columns: usize, title: &str) -> Result<Self> {
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
        let which = |i: usize, e: ReportError| match e {
            ReportError::AttentionMap { message, .. } => ReportError::AttentionMap {
                face: format!("face {i} (`{}`)", faces[i].caption),
                message,
            },
            other => other,
        };
        for (i, f) in faces.iter().enumerate() {
            f.validate().map_err(|e| which(i, e))?;
        }
        let max_w = faces.iter().map(|f| f.width).max().unwrap_or(1);
        let max_h = faces.iter().map(|f| f.height).max().unwrap_or(1);
        let zoom = MIN_DISPLAY_PX.div_ceil(max_w.max(max_h)).max(1);
        let box_w = (max_w * zoom) as i32;
        let box_h = (max_h * zoom) as i32;

        ensure_fonts()?;
        let caption_w = faces
            .iter()
            .map(|f| text_size(&f.caption, CAPTION_PX, false).0 as i32)
            .max()
            .unwrap_or(0);
        let caption_h = text_size("Hg", CAPTION_PX, false).1 as i32;
        let cell_w = (2 * box_w + PAIR_GAP).max(caption_w);
        let cell_h = box_h + 6 + caption_h;
        let columns = columns.min(faces.len());
        let rows = faces.len().div_ceil(columns) as i32;
        let title_h = text_size(title, TITLE_PX, true).1 as i32;
        let grid_top = PAD + title_h + 14;
        let grid_w = columns as i32 * cell_w + (columns as i32 - 1) * CELL_GAP;
        let note_w = text_size("attention: low", NOTE_PX, false).0 as i32
            + COLOUR_BAR_W
            + text_size("high", NOTE_PX, false).0 as i32
            + 16;
        let width = (grid_w + 2 * PAD)
            .max(text_size(title, TITLE_PX, true).0 as i32 + 2 * PAD)
            .max(note_w + 2 * PAD);
        let grid_h = rows * cell_h + (rows - 1) * CELL_GAP;
        let height = grid_top + grid_h + 16 + COLOUR_BAR_H.max(caption_h) + PAD;

        // Cells are centred horizontally, faces centred in their box.
        let grid_left = (width - grid_w) / 2;
        let mut rasters = Vec::with_capacity(2 * faces.len());
        for (i, f) in faces.iter().enumerate() {
            let (col, row) = ((i % columns) as i32, (i / columns) as i32);
            let cell_left = grid_left + col * (cell_w + CELL_GAP);
            let pair_left = cell_left + (cell_w - 2 * box_w - PAIR_GAP) / 2;
            let top = grid_top + row * (cell_h + CELL_GAP);
            let (w, h) = ((f.width * zoom) as i32, (f.height * zoom) as i32);
            let (dx, dy) = ((box_w - w) / 2, (box_h - h) / 2);
            for (k, rgb) in [f.face_rgb(), f.overlay_rgb()].into_iter().enumerate() {
                rasters.push(RasterImage {
                    left: pair_left + k as i32 * (box_w + PAIR_GAP) + dx,
                    top: top + dy,
                    width: w as u32,
                    height: h as u32,
                    src_width: f.width as u32,
                    src_height: f.height as u32,
                    rgb: rgb.map_err(|e| which(i, e))?,
                });
            }
        }
        Ok(Self {
            captions: faces.iter().map(|f| f.caption.clone()).collect(),
            rasters,
            title: title.to_string(),
            columns,
            zoom,
            box_h,
            cell_w,
            cell_h,
            grid_top,
            width: width as u32,
            height: height as u32,
        })
    }

    /// Canvas size in pixels (width, height) of the PNG (and the SVG's view box).
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The whole-number zoom applied to every face.
    pub fn zoom(&self) -> usize {
        self.zoom
    }

    /// Top-left corner (in figure pixels) of face `index`'s plain image and of its overlay,
    /// where `plot_attention_maps` puts their pixels; `None` past the last face.
    pub fn image_origins(&self, index: usize) -> Option<((i32, i32), (i32, i32))> {
        let face = self.rasters.get(2 * index)?;
        let overlay = self.rasters.get(2 * index + 1)?;
        Some(((face.left, face.top), (overlay.left, overlay.top)))
    }
}

impl Figure for AttentionMapChart {
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
        for (i, caption) in self.captions.iter().enumerate() {
            let (col, row) = ((i % self.columns) as i32, (i / self.columns) as i32);
            let left = grid_left + col * (self.cell_w + CELL_GAP);
            let top = self.grid_top + row * (self.cell_h + CELL_GAP);
            root.draw(&Text::new(
                caption.clone(),
                (left + self.cell_w / 2, top + self.box_h + 6),
                text_style(CAPTION_PX, false, black, HPos::Center, VPos::Top),
            ))?;
        }

        // Colour bar: what the heat colours mean, drawn as thin vector strips.
        let bar_top = self.height as i32 - PAD - COLOUR_BAR_H;
        let low_w = text_size("attention: low", NOTE_PX, false).0 as i32;
        let bar_left = PAD + low_w + 8;
        root.draw(&Text::new(
            "attention: low",
            (PAD, bar_top + COLOUR_BAR_H / 2),
            text_style(NOTE_PX, false, grey, HPos::Left, VPos::Center),
        ))?;
        let strips = 64;
        for s in 0..strips {
            let x0 = bar_left + s * COLOUR_BAR_W / strips;
            let x1 = bar_left + (s + 1) * COLOUR_BAR_W / strips;
            let [r, g, b] = jet((s as f32 + 0.5) / strips as f32);
            root.draw(&Rectangle::new(
                [(x0, bar_top), (x1, bar_top + COLOUR_BAR_H)],
                RGBColor(r as u8, g as u8, b as u8).filled(),
            ))?;
        }
        root.draw(&Text::new(
            "high",
            (bar_left + COLOUR_BAR_W + 8, bar_top + COLOUR_BAR_H / 2),
            text_style(NOTE_PX, false, grey, HPos::Left, VPos::Center),
        ))?;
        Ok(())
    }

    fn rasters(&self) -> &[RasterImage] {
        &self.rasters
    }
}

/// Draws `faces` in a grid of `columns` cells per row (fewer if there are fewer faces): each
/// cell is the face, the face under its jet-coloured attention map (min-max normalised,
/// bilinearly upsampled, alpha 0.5) and the caption. Writes `<stem>.png` and `<stem>.svg`
/// (the SVG embeds the images as PNG). Errors as [`AttentionMapChart::new`].
pub fn plot_attention_maps(
    faces: &[AttentionFace],
    columns: usize,
    title: &str,
    stem: &Path,
) -> Result<(PathBuf, PathBuf)> {
    let chart = AttentionMapChart::new(faces, columns, title)?;
    render(&chart, stem)
}
