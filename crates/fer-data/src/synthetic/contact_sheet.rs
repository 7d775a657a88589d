//! Contact sheet of SynthFER samples with their landmarks drawn (issue: "a contact sheet PNG with
//! landmarks drawn, so users can look at it").
//!
//! Each tile is the (nearest-neighbour enlarged) grayscale image with a coloured bar on top
//! whose colour names the class, and the 68 landmarks as coloured dots (one colour per facial
//! part: jaw, brows, nose, eyes, mouth), so a reader can check at a glance that the labels sit on
//! the drawn features.

use image::{Rgb, RgbImage};

use super::synth_sample::SynthSample;
use crate::expression::Expression;
use crate::Landmarks68;

/// Colour of an expression's bar.
pub fn class_colour(e: Expression) -> [u8; 3] {
    match e {
        Expression::Neutral => [150, 150, 150],
        Expression::Happiness => [250, 210, 40],
        Expression::Sadness => [50, 100, 230],
        Expression::Surprise => [40, 210, 220],
        Expression::Fear => [160, 70, 210],
        Expression::Disgust => [60, 170, 60],
        Expression::Anger => [225, 40, 40],
        Expression::Contempt => [240, 130, 30],
    }
}

/// Colour of landmark `i` (by facial part).
fn landmark_colour(i: usize) -> [u8; 3] {
    match i {
        0..=16 => [255, 230, 0],
        17..=26 => [255, 120, 0],
        27..=35 => [0, 200, 255],
        36..=47 => [0, 255, 80],
        _ => [255, 40, 160],
    }
}

/// One tile of a contact sheet: a grey face, its class and its landmarks.
#[derive(Debug, Clone, Copy)]
pub struct SheetTile<'a> {
    pub image: &'a image::GrayImage,
    pub expression: Expression,
    pub landmarks: &'a Landmarks68,
}

/// Lays out `samples` in a grid of `columns` tiles, each image enlarged `scale` times, with a
/// class-coloured bar above every tile and the landmarks drawn as dots.
pub fn contact_sheet(samples: &[SynthSample], columns: usize, scale: u32) -> RgbImage {
    let tiles: Vec<SheetTile> = samples
        .iter()
        .map(|s| SheetTile {
            image: &s.image,
            expression: s.expression,
            landmarks: &s.landmarks,
        })
        .collect();
    contact_sheet_of_tiles(&tiles, columns, scale)
}

/// The contact sheet of any faces with landmarks (SynthFER samples, a prepared cache).
pub fn contact_sheet_of_tiles(samples: &[SheetTile], columns: usize, scale: u32) -> RgbImage {
    let columns = columns.max(1);
    let scale = scale.max(1);
    let side = samples
        .iter()
        .map(|s| s.image.width().max(s.image.height()))
        .max()
        .unwrap_or(0);
    if samples.is_empty() || side == 0 {
        return RgbImage::from_pixel(1, 1, Rgb([0, 0, 0]));
    }
    let tile = side * scale;
    let bar = (2 * scale).clamp(3, 8);
    let pad = 2u32;
    let rows = samples.len().div_ceil(columns) as u32;
    let cols = columns.min(samples.len()) as u32;
    let width = cols * (tile + pad) + pad;
    let height = rows * (tile + bar + pad) + pad;
    let mut sheet = RgbImage::from_pixel(width, height, Rgb([24, 24, 24]));
    let radius = (scale as f32 * 0.35).max(1.0);
    for (k, sample) in samples.iter().enumerate() {
        let (col, row) = ((k % columns) as u32, (k / columns) as u32);
        let x0 = pad + col * (tile + pad);
        let y0 = pad + row * (tile + bar + pad);
        let colour = Rgb(class_colour(sample.expression));
        for y in y0..y0 + bar - 1 {
            for x in x0..x0 + tile {
                sheet.put_pixel(x, y, colour);
            }
        }
        let ty = y0 + bar;
        for (x, y, p) in sample.image.enumerate_pixels() {
            let v = p.0[0];
            for dy in 0..scale {
                for dx in 0..scale {
                    sheet.put_pixel(x0 + x * scale + dx, ty + y * scale + dy, Rgb([v, v, v]));
                }
            }
        }
        for (i, p) in sample.landmarks.points.iter().enumerate() {
            // Pixel-index coordinates: the centre of pixel x lies at (x + 0.5) * scale - 0.5.
            let cx = (p[0] + 0.5) * scale as f32 - 0.5;
            let cy = (p[1] + 0.5) * scale as f32 - 0.5;
            let c = Rgb(landmark_colour(i));
            let r = radius.ceil() as i64;
            for dy in -r..=r {
                for dx in -r..=r {
                    let (px, py) = (cx.round() as i64 + dx, cy.round() as i64 + dy);
                    let d2 = (px as f32 - cx).powi(2) + (py as f32 - cy).powi(2);
                    if d2 > radius * radius + 0.25
                        || px < 0
                        || py < 0
                        || px >= i64::from(tile)
                        || py >= i64::from(tile)
                    {
                        continue;
                    }
                    sheet.put_pixel(x0 + px as u32, ty + py as u32, c);
                }
            }
        }
    }
    sheet
}
