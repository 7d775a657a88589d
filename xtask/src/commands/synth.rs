//! `cargo xtask synth`: write SynthFER to disk as an image folder.

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

use fer_data::synthetic::{self, SynthFerConfig};

/// Render SynthFER, the embedded default dataset, as an image folder (one folder per
/// expression), a landmark CSV (image,x_0..x_67,y_0..y_67) and a contact sheet PNG with the
/// landmarks drawn.
#[derive(Args)]
pub struct SynthArgs {
    /// Output folder (must not exist or be empty).
    #[arg(long)]
    out: PathBuf,
    /// Image side in pixels (48 or 100 in the paper's settings; any size >= 32 works).
    #[arg(long, default_value_t = 48)]
    size: u32,
    #[arg(long, default_value_t = 300)]
    subjects: usize,
    #[arg(long, default_value_t = 10)]
    images_per_subject: usize,
    #[arg(long, default_value_t = 2021)]
    seed: u64,
}

pub fn run(args: SynthArgs) -> Result<()> {
    let cfg = SynthFerConfig {
        num_subjects: args.subjects,
        images_per_subject: args.images_per_subject,
        size: args.size,
        seed: args.seed,
        ..SynthFerConfig::default()
    };
    cfg.validate()?;
    let bar = ProgressBar::new(cfg.num_images() as u64);
    bar.set_style(
        ProgressStyle::with_template("rendering SynthFER {bar:40} {pos}/{len} [{elapsed}]")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let samples = synthetic::generate_with_progress(&cfg, &|_| bar.inc(1))?;
    bar.finish_and_clear();
    let csv = synthetic::write_image_folder(&samples, &args.out)
        .with_context(|| format!("writing SynthFER to {}", args.out.display()))?;
    println!(
        "wrote {} images of {} subjects to {}\n  landmarks: {}\n  contact sheet: {}",
        samples.len(),
        cfg.num_subjects,
        args.out.display(),
        csv.display(),
        args.out.join(synthetic::CONTACT_SHEET_PNG).display()
    );
    Ok(())
}
