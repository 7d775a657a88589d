//! `ensure_fonts`: registers the embedded DejaVu Sans with plotters, once per process.
//!
//! Not from the paper. plotters' `ab_glyph` text backend has no system font lookup (the `ttf`
//! feature, which has, is not used: it needs fontconfig and makes charts depend on the host),
//! so every chart would fail with "font unavailable" unless a font is registered under the
//! family names we draw with. The `dejavu` crate embeds the TTF bytes as `&'static [u8]`.

use std::sync::OnceLock;

use plotters::style::{register_font, FontStyle};

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
