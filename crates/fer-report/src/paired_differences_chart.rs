//! `PairedDifferencesChart` / `plot_paired_differences`: every paired difference of a set of
//! comparisons ([`RunComparison`]) on one metric, one row per comparison: a dot per
//! (seed, fold) pair, the mean difference with its Student-t 95% confidence interval, and the
//! zero line. Ours, not the paper's (the paper prints means only): it shows at a glance
//! whether a difference of means is carried by most pairs or by a few.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::{ChartBuilder, Circle, DrawingArea, DrawingBackend, PathElement, Text};
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{Color, FontStyle, IntoFont, RGBColor};

use crate::category_colour::category_colour;
use crate::chart_font::{ensure_fonts, text_style, FONT_FAMILY};
use crate::figure::{render, text_size, DrawResult, Figure};
use crate::method_names::MethodNames;
use crate::metric::Metric;
use crate::report_error::{ReportError, Result};
use crate::run_comparison::RunComparison;

const TITLE_PX: f64 = 18.0;
const LABEL_PX: f64 = 14.0;
const ROW_PX: u32 = 44;
const PLOT_W: u32 = 560;

/// One row: its label, the differences (pp), the mean and the CI (pp).
#[derive(Debug, Clone)]
struct Row {
    label: String,
    differences: Vec<f64>,
    mean: f64,
    ci: Option<(f64, f64)>,
}

/// The chart of one metric's comparisons.
#[derive(Debug, Clone)]
pub struct PairedDifferencesChart {
    metric: Metric,
    rows: Vec<Row>,
    label_w: u32,
    x_range: (f64, f64),
}

impl PairedDifferencesChart {
    /// The comparisons on `metric` (others are left out); `out_stem` names the chart in errors.
    pub fn new(
        comparisons: &[RunComparison],
        metric: Metric,
        names: &MethodNames,
        out_stem: &Path,
    ) -> Result<Self> {
        let mut rows = Vec::new();
        let many_datasets = comparisons
            .iter()
            .any(|c| c.dataset != comparisons[0].dataset);
        for c in comparisons.iter().filter(|c| c.metric == metric) {
            let Some(s) = &c.stats else { continue };
            let mut label = format!("{} − {}", names.get(&c.a), names.get(&c.b));
            if many_datasets {
                label = format!("{label} ({})", c.dataset);
            }
            let ci = (s.ci95_low.is_finite() && s.ci95_high.is_finite())
                .then_some((s.ci95_low * 100.0, s.ci95_high * 100.0));
            rows.push(Row {
                label,
                differences: c.differences_percent(),
                mean: s.mean_difference * 100.0,
                ci,
            });
        }
        if rows.is_empty() {
            return Err(ReportError::EmptyChart {
                path: out_stem.to_path_buf(),
                message: format!("no paired comparison on `{}`", metric.key()),
            });
        }
        ensure_fonts()?;
        let label_w = rows
            .iter()
            .map(|r| text_size(&r.label, LABEL_PX, false).0)
            .max()
            .unwrap_or(0)
            + 24;
        let mut lo: f64 = 0.0;
        let mut hi: f64 = 0.0;
        for r in &rows {
            for &d in r
                .differences
                .iter()
                .chain(r.ci.iter().flat_map(|c| [&c.0, &c.1]))
            {
                lo = lo.min(d);
                hi = hi.max(d);
            }
        }
        let pad = ((hi - lo) * 0.08).max(0.5);
        Ok(Self {
            metric,
            rows,
            label_w,
            x_range: (lo - pad, hi + pad),
        })
    }

    fn title(&self) -> String {
        format!(
            "Paired differences of {} (percentage points)",
            self.metric.header()
        )
    }
}

impl Figure for PairedDifferencesChart {
    fn size(&self) -> (u32, u32) {
        let title_w = text_size(&self.title(), TITLE_PX, true).0 + 40;
        let w = (self.label_w + PLOT_W + 40).max(title_w);
        (w, 130 + ROW_PX * self.rows.len() as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let black = RGBColor(0, 0, 0);
        root.fill(&RGBColor(255, 255, 255))?;
        let n = self.rows.len() as f64;
        let mut chart = ChartBuilder::on(root)
            .caption(
                self.title(),
                (FONT_FAMILY, TITLE_PX).into_font().style(FontStyle::Bold),
            )
            .margin(14)
            .x_label_area_size(44)
            .y_label_area_size(self.label_w)
            .build_cartesian_2d(self.x_range.0..self.x_range.1, 0.0..n)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_desc("A − B: each dot one (seed, fold); bar: mean and 95 % CI (Student t)")
            .label_style((FONT_FAMILY, LABEL_PX))
            .axis_desc_style((FONT_FAMILY, LABEL_PX))
            .light_line_style(RGBColor(255, 255, 255))
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()?;
        chart.draw_series([PathElement::new(
            vec![(0.0, 0.0), (0.0, n)],
            RGBColor(120, 120, 120).stroke_width(1),
        )])?;
        for (i, row) in self.rows.iter().enumerate() {
            // Row i is drawn top-down.
            let yc = n - i as f64 - 0.5;
            let colour = category_colour(i);
            // Dots spread over the row by a fixed pattern, so files repeat byte for byte.
            for (k, &d) in row.differences.iter().enumerate() {
                let offset = ((k * 7) % 11) as f64 / 10.0 - 0.5;
                chart.draw_series([Circle::new(
                    (d, yc + 0.28 * offset),
                    3,
                    colour.mix(0.6).filled(),
                )])?;
            }
            if let Some((lo, hi)) = row.ci {
                chart.draw_series([PathElement::new(
                    vec![(lo, yc), (hi, yc)],
                    black.stroke_width(3),
                )])?;
            }
            chart.draw_series([PathElement::new(
                vec![(row.mean, yc - 0.3), (row.mean, yc + 0.3)],
                black.stroke_width(3),
            )])?;
            let (px, py) = chart.backend_coord(&(self.x_range.0, yc));
            root.draw(&Text::new(
                row.label.clone(),
                (px - 10, py),
                text_style(LABEL_PX, false, black, HPos::Right, VPos::Center),
            ))?;
        }
        Ok(())
    }
}

/// Draws the comparisons on `metric` to `<out_stem>.png` and `.svg`.
pub fn plot_paired_differences(
    comparisons: &[RunComparison],
    metric: Metric,
    names: &MethodNames,
    out_stem: &Path,
) -> Result<(PathBuf, PathBuf)> {
    let chart = PairedDifferencesChart::new(comparisons, metric, names, out_stem)?;
    render(&chart, out_stem)
}
