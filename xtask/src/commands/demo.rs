//! `cargo xtask demo`: the main job on the embedded default data, end to end. It is the demo
//! experiment (experiments/demo.yaml) run through the same path as `reproduce`.

use anyhow::{Context, Result};
use clap::Args;
use std::path::PathBuf;

use fer_experiments::RunOptions;

use crate::workspace;

/// Generate SynthFER (about 2,000 train / 500 validation / 500 test faces at 48 px, subjects
/// kept apart), train base-dcnn-fer and base-dcnn-fld with the paper's optimiser, early
/// stopping on validation, and report the paper's metrics on the test split: results/demo/
/// gets summary.csv, table.md and the charts (PNG and SVG). The settings are
/// experiments/demo.yaml's; `cargo xtask reproduce demo` runs the same runs.
#[derive(Args)]
pub struct DemoArgs {
    /// Upper bound on training epochs per model (early stopping may end a run sooner).
    #[arg(long, default_value_t = 3)]
    epochs: usize,
    /// Seed of the split, the initialisation, the shuffling and the augmentation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Results folder (the demo writes <results>/demo/).
    #[arg(long)]
    results: Option<PathBuf>,
    /// Retrain even if runs with the same settings finished before.
    #[arg(long)]
    fresh: bool,
}

pub fn run(args: DemoArgs) -> Result<()> {
    let ctx = workspace::context();
    let results = args.results.unwrap_or_else(|| ctx.workspace.results_dir());
    let demo_dir = results.join("demo");
    if args.fresh && demo_dir.exists() {
        std::fs::remove_dir_all(&demo_dir)
            .with_context(|| format!("removing {}", demo_dir.display()))?;
    }
    let options = RunOptions {
        seeds: vec![args.seed],
        max_epochs: Some(args.epochs),
        jobs: 1,
        device: args.device,
        results: Some(results),
        ..Default::default()
    };
    fer_experiments::run_experiments(&["demo".to_string()], &options, &ctx)?;
    let table = demo_dir.join("table.md");
    let text =
        std::fs::read_to_string(&table).with_context(|| format!("reading {}", table.display()))?;
    println!("\n{text}");
    Ok(())
}
