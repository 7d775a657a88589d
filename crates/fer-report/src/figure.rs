//! `Figure`: a chart drawn once per backend and saved as `<stem>.png` and `<stem>.svg`
//! (ARCHITECTURE.md "fer-report": PNG and SVG).
//!
//! Not from the paper. The same drawing code runs on the bitmap and the SVG backend, so the
//! two files always show the same thing. The PNG is rendered into memory and encoded here
//! because plotters' file-backed bitmap picks its encoder from the extension and so cannot
//! write the `<name>.tmp` that the atomic rename needs. Figures with photos (Fig. 4) hand
//! their pixels over as [`RasterImage`]s, composited after the vector drawing.

use std::path::{Path, PathBuf};

use image::codecs::png::PngEncoder;
use image::{ExtendedColorType, ImageEncoder};
use plotters::coord::Shift;
use plotters::prelude::{
    BitMapBackend, DrawingArea, DrawingAreaErrorKind, DrawingBackend, IntoDrawingArea, SVGBackend,
};

use crate::atomic_write::{with_suffix, write_atomic};
use crate::chart_font::ensure_fonts;
use crate::raster_image::RasterImage;
use crate::report_error::{ReportError, Result};

/// Drawing errors of a backend, as plotters returns them.
pub(crate) type DrawResult<DB> =
    std::result::Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// Something that can draw itself on any plotters backend.
pub(crate) trait Figure {
    /// Canvas size in pixels (width, height).
    fn size(&self) -> (u32, u32);
    /// Draws the whole figure on `root` (already of `size()`).
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
    /// Pixel images placed on top of the drawing (after `draw`), so `draw` must leave their
    /// boxes empty. Most charts have none.
    fn rasters(&self) -> &[RasterImage] {
        &[]
    }
}

/// Renders `fig` to `<out_stem>.png` and `<out_stem>.svg`, both written atomically.
pub(crate) fn render(fig: &impl Figure, out_stem: &Path) -> Result<(PathBuf, PathBuf)> {
    ensure_fonts()?;
    let (w, h) = fig.size();
    let png = with_suffix(out_stem, "png");
    let svg = with_suffix(out_stem, "svg");
    let failed = |path: &Path, message: String| ReportError::Chart {
        path: path.to_path_buf(),
        message,
    };

    let mut pixels = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, (w, h)).into_drawing_area();
        fig.draw(&root).map_err(|e| failed(&png, e.to_string()))?;
        root.present().map_err(|e| failed(&png, e.to_string()))?;
    }
    for raster in fig.rasters() {
        raster.blit(&mut pixels, w, h);
    }
    let mut encoded = Vec::new();
    PngEncoder::new(&mut encoded)
        .write_image(&pixels, w, h, ExtendedColorType::Rgb8)
        .map_err(|e| failed(&png, e.to_string()))?;
    write_atomic(&png, &encoded)?;

    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, (w, h)).into_drawing_area();
        fig.draw(&root).map_err(|e| failed(&svg, e.to_string()))?;
        root.present().map_err(|e| failed(&svg, e.to_string()))?;
    }
    if !fig.rasters().is_empty() {
        let mut images = String::new();
        for raster in fig.rasters() {
            images.push_str(&raster.svg_element().map_err(|e| failed(&svg, e))?);
        }
        let end = text
            .rfind("</svg>")
            .ok_or_else(|| failed(&svg, "SVG backend wrote no closing </svg>".into()))?;
        text.insert_str(end, &images);
    }
    write_atomic(&svg, text.as_bytes())?;
    Ok((png, svg))
}

/// Paints the canvas white and centres `title` in bold black at the top, `pad` pixels down: how
/// the figures with a title line open (attention maps, mixing curves, t-SNE, prediction sheet).
pub(crate) fn draw_title_on_white<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    width: u32,
    pad: i32,
    px: f64,
) -> DrawResult<DB> {
    use plotters::prelude::Text;
    use plotters::style::text_anchor::{HPos, VPos};
    use plotters::style::RGBColor;
    root.fill(&RGBColor(255, 255, 255))?;
    root.draw(&Text::new(
        title.to_string(),
        (width as i32 / 2, pad),
        crate::chart_font::text_style(px, true, RGBColor(0, 0, 0), HPos::Center, VPos::Top),
    ))?;
    Ok(())
}

/// Pixel size of `text` at `size` px, for layout before any backend exists. Falls back to a
/// generous estimate if the font cannot measure (the layout then errs on the roomy side).
pub(crate) fn text_size(text: &str, size: f64, bold: bool) -> (u32, u32) {
    use plotters::style::{FontStyle, IntoFont};
    let style = if bold {
        FontStyle::Bold
    } else {
        FontStyle::Normal
    };
    let font = (crate::chart_font::FONT_FAMILY, size)
        .into_font()
        .style(style);
    font.box_size(text).unwrap_or_else(|_| {
        let chars = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
        (chars.saturating_mul(size as u32 * 7 / 10), size as u32)
    })
}
