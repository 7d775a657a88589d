//! `TsneChart` / `plot_tsne` / `plot_tsne_panels`: scatter plots of 2-D t-SNE embeddings,
//! one colour per expression class, the paper's Fig. 2 ("T-SNE visualization of the outputs
//! in the final hidden layer of the BaseDCNN and our approach", Section 5.4).
//!
//! Fig. 2 compares methods side by side, so several embeddings can share one figure and one
//! legend (`plot_tsne_panels`). t-SNE coordinates have no unit and no meaningful origin, so
//! the panels carry no tick labels; each panel is drawn with equal x and y scales, because
//! the algorithm preserves neighbourhoods isotropically and a stretched axis would fake
//! elongated clusters.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::{ChartBuilder, Circle, DrawingArea, DrawingBackend, Rectangle, Text};
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{Color, RGBColor};

use crate::category_colour::category_colour;
use crate::chart_font::{ensure_fonts, text_style};
use crate::figure::{draw_title_on_white, render, text_size, DrawResult, Figure};
use crate::report_error::{ReportError, Result};

const PAD: i32 = 16;
const TITLE_PX: f64 = 20.0;
const CAPTION_PX: f64 = 17.0;
const LEGEND_PX: f64 = 15.0;
const PANEL_PX: u32 = 460;
const DOT_RADIUS: i32 = 3;

/// One embedding to draw: a point and a class label (index into the class names) per sample.
#[derive(Debug, Clone, Copy)]
pub struct TsnePanel<'a> {
    /// Panel caption, e.g. the method ("BaseDCNN", "CMCNN"); may be empty.
    pub title: &'a str,
    /// Embedded points, e.g. from [`crate::tsne`].
    pub points: &'a [[f64; 2]],
    /// Class of each point.
    pub labels: &'a [usize],
}

#[derive(Debug, Clone)]
struct Panel {
    title: String,
    points: Vec<[f64; 2]>,
    labels: Vec<usize>,
    /// Square data window (x range, y range) with equal spans.
    window: ((f64, f64), (f64, f64)),
}

/// Validated t-SNE panels with their layout.
#[derive(Debug, Clone)]
pub struct TsneChart {
    panels: Vec<Panel>,
    class_names: Vec<String>,
    title: String,
    width: u32,
    height: u32,
    top_h: u32,
    legend_w: u32,
}

impl TsneChart {
    /// Validates the panels: at least one, none without points, one label per point, every
    /// label below `class_names.len()`, every coordinate finite.
    pub fn new(panels: &[TsnePanel<'_>], class_names: &[String], title: &str) -> Result<Self> {
        let bad = |message: String| ReportError::ChartInput {
            title: title.to_string(),
            message,
        };
        if panels.is_empty() {
            return Err(bad("no panels".into()));
        }
        if class_names.is_empty() {
            return Err(bad("no class names".into()));
        }
        let mut owned = Vec::with_capacity(panels.len());
        for (k, p) in panels.iter().enumerate() {
            let which = if p.title.is_empty() {
                format!("panel {k}")
            } else {
                format!("panel {k} (`{}`)", p.title)
            };
            if p.points.is_empty() {
                return Err(bad(format!("{which} has no points")));
            }
            if p.labels.len() != p.points.len() {
                return Err(bad(format!(
                    "{which}: {} labels for {} points",
                    p.labels.len(),
                    p.points.len()
                )));
            }
            if let Some((i, l)) = p
                .labels
                .iter()
                .enumerate()
                .find(|(_, &l)| l >= class_names.len())
            {
                return Err(bad(format!(
                    "{which}: point {i} has label {l} but there are only {} class names",
                    class_names.len()
                )));
            }
            if let Some((i, q)) = p
                .points
                .iter()
                .enumerate()
                .find(|(_, q)| !q[0].is_finite() || !q[1].is_finite())
            {
                return Err(bad(format!("{which}: point {i} is {q:?}")));
            }
            owned.push(Panel {
                title: p.title.to_string(),
                points: p.points.to_vec(),
                labels: p.labels.to_vec(),
                window: square_window(p.points),
            });
        }
        ensure_fonts()?;
        let title_h = text_size(title, TITLE_PX, true).1;
        let caption_h = if owned.iter().any(|p| !p.title.is_empty()) {
            text_size("Hg", CAPTION_PX, false).1 + 8
        } else {
            0
        };
        let top_h = PAD as u32 + title_h + 12 + caption_h;
        let legend_w = class_names
            .iter()
            .map(|c| text_size(c, LEGEND_PX, false).0)
            .max()
            .unwrap_or(0)
            + 48;
        let legend_h = 60 + 24 * class_names.len() as u32;
        let width = (owned.len() as u32 * PANEL_PX + legend_w)
            .max(text_size(title, TITLE_PX, true).0 + 2 * PAD as u32);
        let height = (top_h + PANEL_PX + PAD as u32).max(legend_h);
        Ok(Self {
            panels: owned,
            class_names: class_names.to_vec(),
            title: title.to_string(),
            width,
            height,
            top_h,
            legend_w,
        })
    }

    /// Canvas size in pixels (width, height) of the PNG (and the SVG's view box).
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }
}

/// Bounding box of `points` grown to a square around its centre, with 5 % margin.
fn square_window(points: &[[f64; 2]]) -> ((f64, f64), (f64, f64)) {
    let fold = |c: usize| {
        points
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), p| {
                (lo.min(p[c]), hi.max(p[c]))
            })
    };
    let (x, y) = (fold(0), fold(1));
    let half = ((x.1 - x.0).max(y.1 - y.0) / 2.0 * 1.05).max(1e-9);
    let (cx, cy) = ((x.0 + x.1) / 2.0, (y.0 + y.1) / 2.0);
    ((cx - half, cx + half), (cy - half, cy + half))
}

impl Figure for TsneChart {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let black = RGBColor(0, 0, 0);
        draw_title_on_white(root, &self.title, self.width, PAD, TITLE_PX)?;
        let (plots, legend) = root.split_horizontally(self.width - self.legend_w);
        let (_, plots) = plots.split_vertically(self.top_h);
        let areas = plots.split_evenly((1, self.panels.len()));
        for (panel, area) in self.panels.iter().zip(&areas) {
            let ((x0, x1), (y0, y1)) = panel.window;
            let mut builder = ChartBuilder::on(area);
            builder.margin(12);
            let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1)?;
            if !panel.title.is_empty() {
                let (cx, _) = chart.backend_coord(&((x0 + x1) / 2.0, y1));
                root.draw(&Text::new(
                    panel.title.clone(),
                    (cx, self.top_h as i32 - 4),
                    text_style(CAPTION_PX, false, black, HPos::Center, VPos::Bottom),
                ))?;
            }
            // A light frame instead of axes: the coordinates themselves carry no meaning.
            chart.draw_series(std::iter::once(Rectangle::new(
                [(x0, y0), (x1, y1)],
                RGBColor(170, 170, 170).stroke_width(1),
            )))?;
            chart.draw_series(panel.points.iter().zip(&panel.labels).map(|(p, &l)| {
                Circle::new(
                    (p[0], p[1]),
                    DOT_RADIUS,
                    category_colour(l).mix(0.75).filled(),
                )
            }))?;
        }

        legend.draw(&Text::new(
            "expression",
            (10, self.top_h as i32),
            text_style(LEGEND_PX, true, black, HPos::Left, VPos::Top),
        ))?;
        for (k, name) in self.class_names.iter().enumerate() {
            let y = self.top_h as i32 + 34 + k as i32 * 24;
            legend.draw(&Circle::new(
                (18, y),
                DOT_RADIUS + 2,
                category_colour(k).filled(),
            ))?;
            legend.draw(&Text::new(
                name.clone(),
                (32, y),
                text_style(LEGEND_PX, false, black, HPos::Left, VPos::Center),
            ))?;
        }
        Ok(())
    }
}

/// Scatter plot of one embedding: `points[i]` coloured by `class_names[labels[i]]`, with a
/// legend; writes `<stem>.png` and `<stem>.svg`. Errors as [`TsneChart::new`].
pub fn plot_tsne(
    points: &[[f64; 2]],
    labels: &[usize],
    class_names: &[String],
    title: &str,
    stem: &Path,
) -> Result<(PathBuf, PathBuf)> {
    let panel = TsnePanel {
        title: "",
        points,
        labels,
    };
    plot_tsne_panels(&[panel], class_names, title, stem)
}

/// Several embeddings side by side with one shared legend (Fig. 2: BaseDCNN beside CMCNN);
/// writes `<stem>.png` and `<stem>.svg`. Errors as [`TsneChart::new`].
pub fn plot_tsne_panels(
    panels: &[TsnePanel<'_>],
    class_names: &[String],
    title: &str,
    stem: &Path,
) -> Result<(PathBuf, PathBuf)> {
    let chart = TsneChart::new(panels, class_names, title)?;
    render(&chart, stem)
}
