//! `ensure_fonts`: registers the embedded DejaVu Sans with plotters, once per process.
//!
//! Not from the paper. plotters' `ab_glyph` text backend has no system font lookup (the `ttf`
//! feature, which has, is not used: it needs fontconfig and makes charts depend on the host),
//! so every chart would fail with "font unavailable" unless a font is registered under the
//! family names we draw with. The `dejavu` crate embeds the TTF bytes as `&'static [u8]`.

use std::sync::OnceLock;

use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, Color, FontStyle, IntoFont, RGBColor, TextStyle};

use crate::report_error::{ReportError, Result};

/// Family name used by every chart in this crate.
pub(crate) const FONT_FAMILY: &str = "sans-serif";

/// Registers DejaVu Sans (normal and bold) as `sans-serif`; later calls are free.
pub(crate) fn ensure_fonts() -> Result<()> {
    static REGISTERED: OnceLock<std::result::Result<(), &'static str>> = OnceLock::new();
    let outcome = REGISTERED.get_or_init(|| {
        register_font(FONT_FAMILY, FontStyle::Normal, dejavu::sans::regular())
            .map_err(|_| "normal")?;
        register_font(FONT_FAMILY, FontStyle::Bold, dejavu::sans::bold()).map_err(|_| "bold")
    });
    outcome.map_err(|style| ReportError::Font {
        style: style.to_string(),
    })
}

/// A text style of the chart font at `px` pixels, in `color`, anchored at (`h`, `v`).
pub(crate) fn text_style(
    px: f64,
    bold: bool,
    color: RGBColor,
    h: HPos,
    v: VPos,
) -> TextStyle<'static> {
    let font = (FONT_FAMILY, px).into_font().style(if bold {
        FontStyle::Bold
    } else {
        FontStyle::Normal
    });
    // Built field by field: `TextStyle::color` borrows the colour for the style's lifetime.
    TextStyle {
        font,
        color: color.to_backend_color(),
        pos: Pos::new(h, v),
    }
}
