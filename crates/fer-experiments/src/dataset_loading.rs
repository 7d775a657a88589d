//! What a dataset load left out, said the same way by the experiments and the single-run
//! commands (ARCHITECTURE.md "Data flow": undecodable images are skipped, never fatal).

use fer_data::FaceDataset;

/// Says which images the load skipped (undecodable files never end a run, but the user must
/// see what was left out): the count and the first few, on stdout; and how many images were
/// not the size their manifest declares (resized like the rest).
pub fn report_skipped(data: &FaceDataset) {
    if let Some((id, w, h)) = data.off_size.first() {
        println!(
            "{}: {} image(s) are not the size the manifest declares (first: {id}, {w}x{h}); \
             resized to {} px like the rest",
            data.name,
            data.off_size.len(),
            data.size
        );
    }
    let skipped = data.skipped();
    if skipped.is_empty() {
        return;
    }
    println!(
        "{}: skipped {} image(s) that do not decode:",
        data.name,
        skipped.len()
    );
    for s in skipped.iter().take(5) {
        println!("  {s}");
    }
    if skipped.len() > 5 {
        println!("  ... and {} more", skipped.len() - 5);
    }
}
