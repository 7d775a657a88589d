//! `MixingCurvesChart` / `plot_mixing_curves`: the paper's Fig. 3, "the curve of the
//! parameter β with the number of iterations", with "the green vertical dotted line [at] the
//! moment when the model reaches the highest performance on the validation set".
//!
//! The paper shows β1/β2 (the weights of CCAM and SCAM in eq. 1) as their mean over the six
//! Co-ATT units (eq. 23). The first panel is that mean, the paper's figure; then come small
//! multiples, one panel per unit, because the six units of CMCNN need not move alike and the
//! claim "the CCAM makes a greater contribution" (Section 5.6) should hold in each. Every panel
//! has its own y range fitted to its data: the β's change by a few hundredths, which a shared
//! 0-1 axis would flatten into straight lines.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::{ChartBuilder, DrawingArea, DrawingBackend, LineSeries, PathElement, Text};
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{Color, RGBColor};

use crate::category_colour::category_colour;
use crate::chart_font::{ensure_fonts, text_style, FONT_FAMILY};
use crate::figure::{draw_title_on_white, render, text_size, DrawResult, Figure};
use crate::mixing_curves::{split_parameter, MixingCurves};
use crate::report_error::{ReportError, Result};

const PAD: i32 = 16;
const TITLE_PX: f64 = 20.0;
const LEGEND_PX: f64 = 15.0;
const CAPTION_PX: f64 = 15.0;
const LABEL_PX: f64 = 13.0;
const PANEL_W: u32 = 440;
const PANEL_H: u32 = 300;
const MAX_COLUMNS: usize = 4;
/// Fig. 3's marker colour.
const BEST_GREEN: RGBColor = RGBColor(0, 150, 0);
/// The units whose mean eq. 23 takes: CMCNN's Co-ATT units.
const CO_ATT_PREFIX: &str = "co_att.";

/// One unit's panel: a line per selected parameter kind.
#[derive(Debug, Clone)]
struct Panel {
    unit: String,
    /// `(kind index, (step, value) points)`; non-finite values are left out.
    lines: Vec<(usize, Vec<(f64, f64)>)>,
    y_range: (f64, f64),
}

/// Validated mixing curves laid out as small multiples.
#[derive(Debug, Clone)]
pub struct MixingCurvesChart {
    panels: Vec<Panel>,
    /// The parameter kinds drawn (legend order).
    kinds: Vec<String>,
    best_step: Option<u64>,
    title: String,
    x_range: (f64, f64),
    columns: usize,
    width: u32,
    height: u32,
    top_h: u32,
}

impl MixingCurvesChart {
    /// Selects the series whose kind (the part after the unit, e.g. `beta1` in
    /// `co_att.2.beta1`) is in `names`, all kinds when `names` is empty, and groups them by
    /// unit.
    ///
    /// Errors if the curves have no rows, a series' length differs from `steps`, a name in
    /// `names` matches no column (the message lists the kinds there are, so `beta` vs `beta1`
    /// is easy to fix), or nothing is left to draw.
    pub fn new(
        curves: &MixingCurves,
        names: &[&str],
        best_step: Option<u64>,
        title: &str,
    ) -> Result<Self> {
        let bad = |message: String| ReportError::ChartInput {
            title: title.to_string(),
            message,
        };
        if curves.steps.is_empty() {
            return Err(bad("no training steps".into()));
        }
        if curves.epochs.len() != curves.steps.len() {
            return Err(bad(format!(
                "{} epochs for {} steps",
                curves.epochs.len(),
                curves.steps.len()
            )));
        }
        if let Some((name, v)) = curves
            .series
            .iter()
            .find(|(_, v)| v.len() != curves.steps.len())
        {
            return Err(bad(format!(
                "series `{name}` has {} values for {} steps",
                v.len(),
                curves.steps.len()
            )));
        }
        let available = curves.kinds();
        let kinds: Vec<String> = if names.is_empty() {
            available.clone()
        } else {
            names.iter().map(|n| n.to_string()).collect()
        };
        if let Some(missing) = kinds.iter().find(|k| !available.contains(k)) {
            return Err(bad(format!(
                "no mixing parameter `{missing}`; the curves have: {}",
                if available.is_empty() {
                    "none".to_string()
                } else {
                    available.join(", ")
                }
            )));
        }

        let mut panels: Vec<Panel> = Vec::new();
        for (name, values) in &curves.series {
            let (unit, kind) = split_parameter(name);
            let Some(k) = kinds.iter().position(|x| x == kind) else {
                continue;
            };
            let points: Vec<(f64, f64)> = curves
                .steps
                .iter()
                .zip(values)
                .filter(|(_, v)| v.is_finite())
                .map(|(&s, &v)| (s as f64, v))
                .collect();
            let panel = match panels.iter_mut().position(|p| p.unit == unit) {
                Some(i) => &mut panels[i],
                None => {
                    panels.push(Panel {
                        unit: unit.to_string(),
                        lines: Vec::new(),
                        y_range: (0.0, 1.0),
                    });
                    let last = panels.len() - 1;
                    &mut panels[last]
                }
            };
            panel.lines.push((k, points));
        }
        if panels.is_empty() {
            return Err(bad("no mixing-parameter series to draw".into()));
        }
        if let Some(mean) = co_attention_mean(curves, &kinds, &panels) {
            panels.insert(0, mean);
        }
        for p in &mut panels {
            p.y_range = fitted_range(p.lines.iter().flat_map(|(_, pts)| pts.iter().map(|q| q.1)));
        }

        let mut lo = curves.steps.iter().copied().min().unwrap_or(0);
        let mut hi = curves.steps.iter().copied().max().unwrap_or(0);
        // A best step outside the logged steps would otherwise be clipped away silently.
        if let Some(b) = best_step {
            lo = lo.min(b);
            hi = hi.max(b);
        }
        let x_range = if lo == hi {
            (lo as f64 - 1.0, hi as f64 + 1.0)
        } else {
            (lo as f64, hi as f64)
        };

        ensure_fonts()?;
        let columns = panels.len().min(MAX_COLUMNS);
        let rows = panels.len().div_ceil(columns);
        let title_h = text_size(title, TITLE_PX, true).1;
        let legend_h = text_size("Hg", LEGEND_PX, false).1;
        let top_h = PAD as u32 + title_h + 14 + legend_h + 10;
        let legend_w = legend_entries(&kinds, best_step)
            .iter()
            .map(|(text, _)| text_size(text, LEGEND_PX, false).0 + 60)
            .sum::<u32>();
        let width = (columns as u32 * PANEL_W)
            .max(legend_w + 2 * PAD as u32)
            .max(text_size(title, TITLE_PX, true).0 + 2 * PAD as u32);
        Ok(Self {
            panels,
            kinds,
            best_step,
            title: title.to_string(),
            x_range,
            columns,
            width,
            height: top_h + rows as u32 * PANEL_H,
            top_h,
        })
    }

    /// Canvas size in pixels (width, height) of the PNG (and the SVG's view box).
    pub fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    /// The units drawn, one panel each, in panel order (row by row).
    pub fn units(&self) -> Vec<&str> {
        self.panels.iter().map(|p| p.unit.as_str()).collect()
    }

    /// The (step, value) points of the line of parameter `kind` in the panel of `unit`: the
    /// values drawn, non-finite ones left out.
    pub fn points(&self, unit: &str, kind: &str) -> Option<&[(f64, f64)]> {
        let k = self.kinds.iter().position(|x| x == kind)?;
        self.panels
            .iter()
            .find(|p| p.unit == unit)?
            .lines
            .iter()
            .find(|(i, _)| *i == k)
            .map(|(_, pts)| pts.as_slice())
    }

    /// The y range (low, high) of the panel of `unit`.
    pub fn y_range(&self, unit: &str) -> Option<(f64, f64)> {
        self.panels
            .iter()
            .find(|p| p.unit == unit)
            .map(|p| p.y_range)
    }
}

/// Eq. 23's panel: for each drawn kind, its mean over every Co-ATT unit at each step, the
/// quantity the paper's Fig. 3 plots. `None` unless there are two or more units and all of
/// them are Co-ATT units (a cross-stitch network's units mix other layers; the paper averages
/// nothing there). A step where any unit's value is not finite is left out.
fn co_attention_mean(curves: &MixingCurves, kinds: &[String], panels: &[Panel]) -> Option<Panel> {
    if panels.len() < 2 || !panels.iter().all(|p| p.unit.starts_with(CO_ATT_PREFIX)) {
        return None;
    }
    let mut lines = Vec::new();
    for (k, kind) in kinds.iter().enumerate() {
        let series: Vec<&[f64]> = panels
            .iter()
            .filter_map(|p| curves.series(&format!("{}.{kind}", p.unit)))
            .collect();
        if series.len() != panels.len() {
            continue;
        }
        let points: Vec<(f64, f64)> = curves
            .steps
            .iter()
            .enumerate()
            .filter_map(|(i, &step)| {
                let values: Vec<f64> = series.iter().map(|s| s[i]).collect();
                values.iter().all(|v| v.is_finite()).then(|| {
                    (
                        step as f64,
                        values.iter().sum::<f64>() / values.len() as f64,
                    )
                })
            })
            .collect();
        lines.push((k, points));
    }
    if lines.is_empty() {
        return None;
    }
    let y_range = fitted_range(lines.iter().flat_map(|(_, pts)| pts.iter().map(|q| q.1)));
    Some(Panel {
        unit: format!(
            "mean of the {} units (eq. 23, the paper's Fig. 3)",
            panels.len()
        ),
        lines,
        y_range,
    })
}

/// Colour of the `k`-th selected kind. The palette's bluish green (its third colour) is
/// skipped, so no curve can be mistaken for the green best-validation line.
fn kind_colour(k: usize) -> RGBColor {
    category_colour(if k >= 2 { k + 1 } else { k })
}

/// Legend texts with their colour; the best-step entry is `None` (drawn dotted green).
fn legend_entries(kinds: &[String], best_step: Option<u64>) -> Vec<(String, Option<RGBColor>)> {
    let mut entries: Vec<(String, Option<RGBColor>)> = kinds
        .iter()
        .enumerate()
        .map(|(k, name)| (name.clone(), Some(kind_colour(k))))
        .collect();
    if let Some(b) = best_step {
        entries.push((format!("best on validation (step {b})"), None));
    }
    entries
}

/// Data range with 8 % headroom on both sides; a flat line gets a small band around it so
/// it is drawn mid-panel instead of on the frame.
fn fitted_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let span = hi - lo;
    if span <= f64::EPSILON * hi.abs().max(1.0) {
        let half = (hi.abs() * 0.05).max(0.05);
        return (lo - half, hi + half);
    }
    (lo - 0.08 * span, hi + 0.08 * span)
}

/// Enough decimals for the tick spacing of a range `span` wide (about five ticks).
fn decimals(span: f64) -> usize {
    if span <= 0.0 || !span.is_finite() {
        return 2;
    }
    (-(span / 5.0).log10()).ceil().clamp(0.0, 6.0) as usize
}

impl Figure for MixingCurvesChart {
    fn size(&self) -> (u32, u32) {
        (self.width, self.height)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let black = RGBColor(0, 0, 0);
        draw_title_on_white(root, &self.title, self.width, PAD, TITLE_PX)?;

        // One legend for all panels: the kinds keep their colour in every panel.
        let legend_y = self.top_h as i32 - 10 - text_size("Hg", LEGEND_PX, false).1 as i32 / 2;
        let mut x = PAD;
        for (text, colour) in legend_entries(&self.kinds, self.best_step) {
            match colour {
                Some(c) => root.draw(&PathElement::new(
                    vec![(x, legend_y), (x + 28, legend_y)],
                    c.stroke_width(3),
                ))?,
                None => root.draw(&DashedPathElement::new(
                    vec![(x, legend_y), (x + 28, legend_y)],
                    2,
                    4,
                    BEST_GREEN.stroke_width(2),
                ))?,
            }
            root.draw(&Text::new(
                text.clone(),
                (x + 36, legend_y),
                text_style(LEGEND_PX, false, black, HPos::Left, VPos::Center),
            ))?;
            x += text_size(&text, LEGEND_PX, false).0 as i32 + 60;
        }

        let (_, grid) = root.split_vertically(self.top_h);
        let rows = self.panels.len().div_ceil(self.columns);
        let areas = grid.split_evenly((rows, self.columns));
        let (x0, x1) = self.x_range;
        for (panel, area) in self.panels.iter().zip(&areas) {
            let (y0, y1) = panel.y_range;
            let mut chart = ChartBuilder::on(area)
                .caption(panel.unit.clone(), (FONT_FAMILY, CAPTION_PX))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(64)
                .build_cartesian_2d(x0..x1, y0..y1)?;
            let digits = decimals(y1 - y0);
            let y_label = move |v: &f64| format!("{v:.digits$}");
            let x_label = |v: &f64| format!("{v:.0}");
            chart
                .configure_mesh()
                .x_desc("step")
                .x_labels(5)
                .y_labels(6)
                .label_style((FONT_FAMILY, LABEL_PX))
                .axis_desc_style((FONT_FAMILY, LABEL_PX))
                .x_label_formatter(&x_label)
                .y_label_formatter(&y_label)
                .light_line_style(RGBColor(255, 255, 255))
                .bold_line_style(RGBColor(230, 230, 230))
                .draw()?;
            for (k, points) in &panel.lines {
                chart.draw_series(LineSeries::new(
                    points.iter().copied(),
                    kind_colour(*k).stroke_width(2),
                ))?;
            }
            if let Some(b) = self.best_step {
                let b = b as f64;
                chart.draw_series(std::iter::once(DashedPathElement::new(
                    vec![(b, y0), (b, y1)],
                    2,
                    4,
                    BEST_GREEN.stroke_width(2),
                )))?;
                // The label sits beside the top of the line, on whichever side has room.
                let (px, py) = chart.backend_coord(&(b, y1));
                let (right_edge, _) = chart.backend_coord(&(x1, y1));
                let (h, dx) = if right_edge - px < 90 {
                    (HPos::Right, -5)
                } else {
                    (HPos::Left, 5)
                };
                root.draw(&Text::new(
                    "best val.",
                    (px + dx, py + 4),
                    text_style(LABEL_PX, false, BEST_GREEN, h, VPos::Top),
                ))?;
            }
        }
        Ok(())
    }
}

/// Draws the mixing parameters whose kind is in `names` (e.g. `["beta1", "beta2"]` for
/// Fig. 3; empty = every kind) over the training steps: for CMCNN first their mean over the
/// Co-ATT units (eq. 23, the curve the paper draws), then one panel per unit (`co_att.0` ...
/// `co_att.5`, or the cross-stitch units), with a green dotted vertical line at `best_step`
/// (use [`MixingCurves::last_step_of_epoch`] with the run's best epoch). Writes
/// `<stem>.png` and `<stem>.svg`.
///
/// Errors as [`MixingCurvesChart::new`]; non-finite values are left out of the lines.
pub fn plot_mixing_curves(
    curves: &MixingCurves,
    names: &[&str],
    best_step: Option<u64>,
    title: &str,
    stem: &Path,
) -> Result<(PathBuf, PathBuf)> {
    let chart = MixingCurvesChart::new(curves, names, best_step, title)?;
    render(&chart, stem)
}
