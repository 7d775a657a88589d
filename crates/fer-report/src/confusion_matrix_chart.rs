//! `ConfusionMatrixChart` / `plot_confusion_matrix`: a row-normalised confusion matrix drawn as
//! a heat map, the chart form of the right halves of the paper's Tables 5-8 (each row = one
//! true class, its cells = % of that class predicted as each column, rows summing to 100).
//!
//! Every cell carries its percentage as text, as in the paper's tables, so the chart can be
//! read without the colour scale; the number of test samples of each true class is printed at
//! the row's end because a row-normalised matrix hides how small a class is (e.g. RAF-DB's
//! fear and disgust, which the paper blames for their low recall).

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::{DrawingArea, DrawingBackend, PathElement, Rectangle, Text};
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{Color, FontTransform, RGBColor};

use crate::chart_font::{ensure_fonts, text_style};
use crate::figure::{render, text_size, DrawResult, Figure};
use crate::report_error::{ReportError, Result};

const PAD: i32 = 16;
const TITLE_PX: f64 = 20.0;
const AXIS_PX: f64 = 17.0;
const LABEL_PX: f64 = 15.0;
const CELL_PX: f64 = 15.0;
const NOTE_PX: f64 = 13.0;
const MIN_CELL: i32 = 64;

/// A validated, row-normalised confusion matrix with its layout.
#[derive(Debug, Clone)]
pub struct ConfusionMatrixChart {
    /// Row-normalised percentages, rows = true class.
    percent: Vec<Vec<f64>>,
    /// Samples per true class.
    row_totals: Vec<u64>,
    class_names: Vec<String>,
    title: String,
    layout: Layout,
}

#[derive(Debug, Clone, Copy)]
struct Layout {
    width: u32,
    height: u32,
    cell: i32,
    grid_left: i32,
    grid_top: i32,
    title_h: i32,
    axis_h: i32,
}

impl ConfusionMatrixChart {
    /// Validates `cm` (square, one name per row, at least one class) and normalises each row to
    /// percentages; a row without samples stays all 0 rather than NaN.
    pub fn new(cm: &[Vec<u64>], class_names: &[String], title: &str) -> Result<Self> {
        let bad = |message: String| ReportError::ConfusionMatrix {
            title: title.to_string(),
            message,
        };
        if cm.is_empty() {
            return Err(bad("matrix has no rows".into()));
        }
        if let Some((i, row)) = cm.iter().enumerate().find(|(_, r)| r.len() != cm.len()) {
            return Err(bad(format!(
                "not square: {} rows but row {i} has {} columns",
                cm.len(),
                row.len()
            )));
        }
        if class_names.len() != cm.len() {
            return Err(bad(format!(
                "{} class names for a {n}x{n} matrix",
                class_names.len(),
                n = cm.len()
            )));
        }
        let row_totals: Vec<u64> = cm.iter().map(|r| r.iter().sum()).collect();
        let percent = cm
            .iter()
            .zip(&row_totals)
            .map(|(row, &total)| {
                row.iter()
                    .map(|&c| {
                        if total == 0 {
                            0.0
                        } else {
                            100.0 * c as f64 / total as f64
                        }
                    })
                    .collect()
            })
            .collect();
        ensure_fonts()?;
        let layout = Layout::compute(class_names, &row_totals, title);
        Ok(Self {
            percent,
            row_totals,
            class_names: class_names.to_vec(),
            title: title.to_string(),
            layout,
        })
    }

    /// The row-normalised percentages (rows sum to 100, or are all 0 for an empty class).
    pub fn percent(&self) -> &[Vec<f64>] {
        &self.percent
    }
}

impl Layout {
    /// Sizes every margin from the measured text so no label is clipped, whatever the class
    /// names (e.g. "happiness" vs "Ha").
    fn compute(names: &[String], totals: &[u64], title: &str) -> Self {
        let n = names.len() as i32;
        let label_w = names
            .iter()
            .map(|s| text_size(s, LABEL_PX, false).0 as i32)
            .max()
            .unwrap_or(0);
        let label_h = text_size("Hg", LABEL_PX, false).1 as i32;
        let axis_h = text_size("predicted", AXIS_PX, true).1 as i32;
        let title_h = text_size(title, TITLE_PX, true).1 as i32;
        let count_w = totals
            .iter()
            .map(|t| text_size(&format!("n={t}"), NOTE_PX, false).0 as i32)
            .max()
            .unwrap_or(0);
        let note_w = text_size(NOTE, NOTE_PX, false).0 as i32;
        let title_w = text_size(title, TITLE_PX, true).0 as i32;

        // Columns must fit their label horizontally.
        let cell = MIN_CELL.max(label_w + 14);
        let grid_left = PAD + axis_h + 12 + label_w + 10;
        let grid_top = PAD + title_h + 14 + axis_h + 8 + label_h + 8;
        let content_w = grid_left + n * cell + 10 + count_w + PAD;
        let width = content_w.max(title_w + 2 * PAD).max(note_w + 2 * PAD);
        let height = grid_top + n * cell + 12 + text_size(NOTE, NOTE_PX, false).1 as i32 + PAD;
        Self {
            width: width as u32,
            height: height as u32,
            cell,
            grid_left,
            grid_top,
            title_h,
            axis_h,
        }
    }
}

const NOTE: &str = "cells: % of each true class (rows sum to 100); n: test samples of the class";

/// Sequential white -> blue scale (ColorBrewer "Blues" end points and mid point), so higher
/// percentages are darker, as in most published confusion matrices.
fn heat(percent: f64) -> RGBColor {
    let t = (percent / 100.0).clamp(0.0, 1.0);
    let stops = [
        (247.0, 251.0, 255.0),
        (107.0, 174.0, 214.0),
        (8.0, 48.0, 107.0),
    ];
    let (a, b, u) = if t < 0.5 {
        (stops[0], stops[1], t * 2.0)
    } else {
        (stops[1], stops[2], (t - 0.5) * 2.0)
    };
    let mix = |x: f64, y: f64| (x + (y - x) * u).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

impl Figure for ConfusionMatrixChart {
    fn size(&self) -> (u32, u32) {
        (self.layout.width, self.layout.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let black = RGBColor(0, 0, 0);
        let grey = RGBColor(90, 90, 90);
        let white = RGBColor(255, 255, 255);
        let l = self.layout;
        let n = self.class_names.len() as i32;
        let grid_right = l.grid_left + n * l.cell;
        let grid_bottom = l.grid_top + n * l.cell;
        root.fill(&white)?;

        root.draw(&Text::new(
            self.title.clone(),
            (l.width as i32 / 2, PAD),
            text_style(TITLE_PX, true, black, HPos::Center, VPos::Top),
        ))?;
        root.draw(&Text::new(
            "predicted",
            ((l.grid_left + grid_right) / 2, PAD + l.title_h + 14),
            text_style(AXIS_PX, true, black, HPos::Center, VPos::Top),
        ))?;
        // "true" reads bottom-to-top beside the row labels, like a y-axis title.
        root.draw(&Text::new(
            "true",
            (PAD + l.axis_h / 2, (l.grid_top + grid_bottom) / 2),
            text_style(AXIS_PX, true, black, HPos::Center, VPos::Center)
                .transform(FontTransform::Rotate270),
        ))?;

        for (i, name) in self.class_names.iter().enumerate() {
            let i = i as i32;
            root.draw(&Text::new(
                name.clone(),
                (l.grid_left + i * l.cell + l.cell / 2, l.grid_top - 8),
                text_style(LABEL_PX, false, black, HPos::Center, VPos::Bottom),
            ))?;
            root.draw(&Text::new(
                name.clone(),
                (l.grid_left - 10, l.grid_top + i * l.cell + l.cell / 2),
                text_style(LABEL_PX, false, black, HPos::Right, VPos::Center),
            ))?;
        }

        for (r, row) in self.percent.iter().enumerate() {
            let y0 = l.grid_top + r as i32 * l.cell;
            for (c, &p) in row.iter().enumerate() {
                let x0 = l.grid_left + c as i32 * l.cell;
                root.draw(&Rectangle::new(
                    [(x0, y0), (x0 + l.cell, y0 + l.cell)],
                    heat(p).filled(),
                ))?;
                let ink = if p >= 50.0 { white } else { black };
                root.draw(&Text::new(
                    format!("{p:.1}"),
                    (x0 + l.cell / 2, y0 + l.cell / 2),
                    text_style(CELL_PX, r == c, ink, HPos::Center, VPos::Center),
                ))?;
            }
            root.draw(&Text::new(
                format!("n={}", self.row_totals[r]),
                (grid_right + 10, y0 + l.cell / 2),
                text_style(NOTE_PX, false, grey, HPos::Left, VPos::Center),
            ))?;
        }
        // Thin grid lines so equal neighbouring colours stay separate cells.
        let line = RGBColor(200, 200, 200);
        for k in 0..=n {
            let x = l.grid_left + k * l.cell;
            let y = l.grid_top + k * l.cell;
            root.draw(&PathElement::new(
                vec![(x, l.grid_top), (x, grid_bottom)],
                line,
            ))?;
            root.draw(&PathElement::new(
                vec![(l.grid_left, y), (grid_right, y)],
                line,
            ))?;
        }
        root.draw(&Text::new(
            NOTE,
            (PAD, grid_bottom + 12),
            text_style(NOTE_PX, false, grey, HPos::Left, VPos::Top),
        ))?;
        Ok(())
    }
}

/// Draws `cm` (rows = true class, columns = predicted; raw counts) as a row-normalised % heat
/// map titled `title`, with class names on both axes, to `<out_stem>.png` and `<out_stem>.svg`.
///
/// Errors if the matrix is empty or not square, or if `class_names` does not have one name per
/// row. Rows with no samples are drawn as 0.0 everywhere (no NaN).
pub fn plot_confusion_matrix(
    cm: &[Vec<u64>],
    class_names: &[String],
    title: &str,
    out_stem: &Path,
) -> Result<(PathBuf, PathBuf)> {
    let chart = ConfusionMatrixChart::new(cm, class_names, title)?;
    render(&chart, out_stem)
}
