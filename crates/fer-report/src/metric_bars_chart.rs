//! `MetricBarsChart` / `plot_metric_bars`: grouped bars of one metric, one group per dataset
//! and one bar per method, with ± sample-std error bars (ARCHITECTURE.md "fer-report": "grouped
//! bars per method"), i.e. one column of the paper's Tables 3/4 as a picture.
//!
//! Values are drawn in % (NRMSE ×100 as in the paper). A method keeps the same colour and
//! slot in every group, so a missing (dataset, method) pair leaves a visible gap instead of
//! shifting the other bars; methods that never have the metric (e.g. BaseDCNN (FLD) for an
//! accuracy) get no slot at all.

use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::{ChartBuilder, DrawingArea, DrawingBackend, PathElement, Rectangle, Text};
use plotters::style::full_palette::GREY_700;
use plotters::style::text_anchor::{HPos, VPos};
use plotters::style::{Color, FontStyle, IntoFont, RGBColor};

use polars::prelude::DataFrame;

use crate::category_colour::category_colour;
use crate::chart_font::{ensure_fonts, text_style, FONT_FAMILY};
use crate::figure::{render, text_size, DrawResult, Figure};
use crate::method_names::MethodNames;
use crate::metric::Metric;
use crate::report_error::{ReportError, Result};
use crate::summary_row::SummaryRow;

const TITLE_PX: f64 = 20.0;
const LABEL_PX: f64 = 15.0;
const LEGEND_PX: f64 = 15.0;
const HEIGHT: u32 = 480;
/// Pixels per bar; groups get a gap of one bar.
const BAR_PX: u32 = 30;

/// One bar: mean and optional sample std, both in %.
type Bar = (f64, Option<f64>);

/// Bars of one metric taken from a summary frame.
#[derive(Debug, Clone)]
pub struct MetricBarsChart {
    metric: Metric,
    datasets: Vec<String>,
    /// Display names of the methods that have the metric somewhere.
    methods: Vec<String>,
    /// `[dataset][method]` -> (mean %, std %), None where the pair has no value.
    values: Vec<Vec<Option<Bar>>>,
    width: u32,
    legend_w: u32,
}

impl MetricBarsChart {
    /// Reads `<metric>_mean` / `<metric>_std` from a summary frame (see `summarise`).
    /// `out_stem` only names the chart in the "nothing to plot" error.
    pub fn from_frame(
        df: &DataFrame,
        metric: Metric,
        names: &MethodNames,
        out_stem: &Path,
    ) -> Result<Self> {
        if df.column(&metric.mean_column()).is_err() {
            return Err(ReportError::Column {
                column: metric.mean_column(),
                message: "missing".into(),
            });
        }
        let rows = SummaryRow::from_frame(df)?;
        let mut datasets: Vec<String> = Vec::new();
        let mut models: Vec<String> = Vec::new();
        for r in &rows {
            if !datasets.contains(&r.dataset) {
                datasets.push(r.dataset.clone());
            }
            if r.get(metric).mean.is_some() && !models.contains(&r.model) {
                models.push(r.model.clone());
            }
        }
        if models.is_empty() {
            return Err(ReportError::EmptyChart {
                path: out_stem.to_path_buf(),
                message: format!("no method reports `{}`", metric.key()),
            });
        }
        // Datasets where no method has the metric would be empty groups: drop them.
        datasets.retain(|d| {
            rows.iter()
                .any(|r| &r.dataset == d && r.get(metric).mean.is_some())
        });
        let values = datasets
            .iter()
            .map(|d| {
                models
                    .iter()
                    .map(|m| {
                        rows.iter()
                            .find(|r| &r.dataset == d && &r.model == m)
                            .and_then(|r| {
                                let s = r.get(metric);
                                s.mean.map(|v| (v * 100.0, s.std.map(|e| e * 100.0)))
                            })
                    })
                    .collect()
            })
            .collect();
        ensure_fonts()?;
        let methods: Vec<String> = models.iter().map(|m| names.get(m).to_string()).collect();
        let legend_w = methods
            .iter()
            .map(|m| text_size(m, LEGEND_PX, false).0)
            .max()
            .unwrap_or(0)
            + 56;
        let dataset_w = datasets
            .iter()
            .map(|d| text_size(d, LABEL_PX, false).0 + 16)
            .max()
            .unwrap_or(0);
        let group_w = (BAR_PX * (models.len() as u32 + 1)).max(dataset_w);
        let title_w = text_size(&title(metric), TITLE_PX, true).0 + 40;
        let plot_w = (90 + group_w * datasets.len() as u32 + 20)
            .max(480)
            .max(title_w);
        Ok(Self {
            metric,
            datasets,
            methods,
            values,
            width: plot_w + legend_w,
            legend_w,
        })
    }

    fn colour(k: usize) -> RGBColor {
        category_colour(k)
    }

    fn y_max(&self) -> f64 {
        let top = self
            .values
            .iter()
            .flatten()
            .flatten()
            .map(|(m, s)| m + s.unwrap_or(0.0))
            .fold(0.0_f64, f64::max);
        // Headroom above the tallest error bar; accuracies never need more than 100.
        let padded = if top > 0.0 { top * 1.12 } else { 1.0 };
        if self.metric != Metric::Nrmse && top <= 100.0 {
            padded.min(105.0)
        } else {
            padded
        }
    }
}

fn title(metric: Metric) -> String {
    format!("{} (%), mean ± sample std over runs", metric.header())
}

impl Figure for MetricBarsChart {
    fn size(&self) -> (u32, u32) {
        (self.width, HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let black = RGBColor(0, 0, 0);
        root.fill(&RGBColor(255, 255, 255))?;
        let (plot_area, legend_area) = root.split_horizontally(self.width - self.legend_w);
        let n_groups = self.datasets.len();
        let n_bars = self.methods.len();

        // Tick labels with just enough decimals for the axis range (0-100 vs 0-5 for NRMSE).
        let y_max = self.y_max();
        let decimals = if y_max >= 20.0 {
            0
        } else if y_max >= 2.0 {
            1
        } else {
            2
        };
        let y_label = move |v: &f64| format!("{v:.decimals$}");
        let mut chart = ChartBuilder::on(&plot_area)
            .caption(
                title(self.metric),
                (FONT_FAMILY, TITLE_PX).into_font().style(FontStyle::Bold),
            )
            .margin(14)
            .x_label_area_size(34)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0..n_groups as f64, 0.0..y_max)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .y_desc(format!("{} (%)", self.metric.header()))
            .label_style((FONT_FAMILY, LABEL_PX))
            .axis_desc_style((FONT_FAMILY, LABEL_PX))
            .y_label_formatter(&y_label)
            // Major grid lines only: the minor ones add clutter without aiding reading.
            .light_line_style(RGBColor(255, 255, 255))
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()?;

        // Each group spans [g, g + 1): bars fill the middle (n_bars / (n_bars + 1)) of it.
        let bar_w = 1.0 / (n_bars as f64 + 1.0);
        for (g, row) in self.values.iter().enumerate() {
            for (k, value) in row.iter().enumerate() {
                let Some((mean, std)) = *value else { continue };
                let x0 = g as f64 + bar_w * (0.5 + k as f64);
                let x1 = x0 + bar_w;
                let colour = Self::colour(k);
                chart.draw_series([
                    Rectangle::new([(x0, 0.0), (x1, mean)], colour.filled()),
                    Rectangle::new([(x0, 0.0), (x1, mean)], black.stroke_width(1)),
                ])?;
                if let Some(s) = std.filter(|s| *s > 0.0) {
                    let xc = (x0 + x1) / 2.0;
                    let cap = bar_w / 4.0;
                    let lo = (mean - s).max(0.0);
                    let hi = mean + s;
                    chart.draw_series([
                        PathElement::new(vec![(xc, lo), (xc, hi)], black.stroke_width(2)),
                        PathElement::new(
                            vec![(xc - cap, hi), (xc + cap, hi)],
                            black.stroke_width(2),
                        ),
                        PathElement::new(
                            vec![(xc - cap, lo), (xc + cap, lo)],
                            black.stroke_width(2),
                        ),
                    ])?;
                }
            }
        }
        // Dataset names under the centre of each group (the x axis has no numeric ticks).
        for (g, d) in self.datasets.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(g as f64 + 0.5, 0.0));
            plot_area.draw(&Text::new(
                d.clone(),
                (px, py + 8),
                text_style(LABEL_PX, false, black, HPos::Center, VPos::Top),
            ))?;
        }

        // Legend outside the plot, so it can never hide a bar.
        let row_h = 24;
        let y0 = 60;
        for (k, m) in self.methods.iter().enumerate() {
            let y = y0 + k as i32 * row_h;
            legend_area.draw(&Rectangle::new(
                [(10, y), (26, y + 16)],
                Self::colour(k).filled(),
            ))?;
            legend_area.draw(&Rectangle::new([(10, y), (26, y + 16)], GREY_700))?;
            legend_area.draw(&Text::new(
                m.clone(),
                (34, y + 8),
                text_style(LEGEND_PX, false, black, HPos::Left, VPos::Center),
            ))?;
        }
        Ok(())
    }
}

/// Grouped bar chart of `<metric>_mean` (in %) with `<metric>_std` error bars from a summary
/// frame; one group per dataset, one bar per method; writes `<out_stem>.png` and `.svg`.
///
/// `metric` is a metric key (`acc_average`) or summary column (`acc_average_mean`). Errors on
/// an unknown metric, a frame that is not a summary, or when no method has the metric.
pub fn plot_metric_bars(
    df: &DataFrame,
    metric: &str,
    names: &MethodNames,
    out_stem: &Path,
) -> Result<(PathBuf, PathBuf)> {
    let metric: Metric = metric.parse()?;
    let chart = MetricBarsChart::from_frame(df, metric, names, out_stem)?;
    render(&chart, out_stem)
}
