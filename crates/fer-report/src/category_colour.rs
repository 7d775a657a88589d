//! `category_colour`: the categorical colours shared by every chart with one colour per method,
//! expression class or mixing parameter (methods in the bars of Tables 3/4, the seven
//! expressions of the Fig. 2 t-SNE scatter, the α/β lines of Fig. 3).
//!
//! Not from the paper. One palette for the whole report, so a reader who has learnt that
//! orange is "happiness" in one figure is not misled by another.

use plotters::style::{Color, Palette, Palette99, RGBColor};

/// Okabe-Ito colours: distinguishable with the common colour-vision deficiencies.
const OKABE_ITO: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
    RGBColor(240, 228, 66),
];

/// Colour of category `k`: Okabe-Ito for the first seven (enough for the seven basic
/// expressions), then plotters' 99-colour palette so any number of categories still works.
pub(crate) fn category_colour(k: usize) -> RGBColor {
    OKABE_ITO.get(k).copied().unwrap_or_else(|| {
        let c = Palette99::pick(k).to_rgba();
        RGBColor(c.0, c.1, c.2)
    })
}
