//! What a dataset load left out, said the same way by the experiments and the single-run
//! commands (ARCHITECTURE.md "Data flow": undecodable images are skipped, never fatal).

use fer_data::FaceDataset;

/// Says which images the load skipped (undecodable files never end a run, but the user must
/// see what was left out): the count and the first few, on stdout.
pub fn report_skipped(data: &FaceDataset) {
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
