//! A contact sheet of a prepared cache: random aligned faces with their 68 landmarks drawn,
//! so a reader can see at a glance whether detection, landmarks and alignment worked.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use std::path::Path;

use super::PreparedSample;
use crate::error::{FaceError, Result};
use fer_data::synthetic::{contact_sheet_of_tiles, SheetTile};

/// Draws `count` faces drawn at random (seeded) from `samples`, whose images are relative to
/// `cache_dir`, four to a row, and saves the sheet as `out` (PNG), with `out`.csv listing the
/// tiles row by row (image, label, fallback flag, detector probability) so a reader can tell
/// which faces had no detection.
pub fn write_cache_contact_sheet(
    samples: &[PreparedSample],
    cache_dir: &Path,
    count: usize,
    seed: u64,
    out: &Path,
) -> Result<()> {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let chosen: Vec<&PreparedSample> = samples.choose_multiple(&mut rng, count).collect();
    let mut images = Vec::with_capacity(chosen.len());
    for s in &chosen {
        let path = cache_dir.join(&s.image);
        let img = fer_data::image_file::decode_image_file(&path)
            .map_err(|message| FaceError::Image {
                path: path.clone(),
                message,
            })?
            .into_luma8();
        images.push(img);
    }
    let tiles: Vec<SheetTile> = chosen
        .iter()
        .zip(&images)
        .map(|(s, image)| SheetTile {
            image,
            expression: s.expression,
            landmarks: &s.landmarks,
        })
        .collect();
    let side = images.iter().map(|i| i.width()).max().unwrap_or(1);
    let scale = (200 / side.max(1)).max(1);
    let sheet = contact_sheet_of_tiles(&tiles, 4, scale);
    sheet.save(out).map_err(|e| FaceError::Image {
        path: out.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut listing = String::from("tile,image,label,fallback,score\n");
    for (k, s) in chosen.iter().enumerate() {
        listing.push_str(&format!(
            "{k},{},{},{},{}\n",
            s.image,
            s.expression,
            u8::from(s.fallback),
            s.score.map(|v| format!("{v:.5}")).unwrap_or_default()
        ));
    }
    let list_path = out.with_extension("csv");
    std::fs::write(&list_path, listing).map_err(|e| FaceError::io(&list_path, e))
}
