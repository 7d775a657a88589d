//! `cargo xtask demo`: the main job on the embedded default data, end to end.

use anyhow::{Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use std::path::PathBuf;
use std::time::Instant;

use fer_data::{FaceDataset, Manifest};
use fer_train::{train_run, TrainConfig, TrainOptions};

use crate::device::parse_device;
use crate::workspace;

/// Generate SynthFER (about 2,000 train / 500 validation / 500 test faces at 48 px, subjects
/// kept apart), train base-dcnn-fer and base-dcnn-fld with the paper's optimiser, early
/// stopping on validation, and report the paper's metrics on the test split: results/demo/
/// gets summary.csv, table.md and the confusion-matrix chart (PNG and SVG).
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

/// The demo's training settings: the paper's (4.4) at 48 px with a short epoch budget.
pub fn demo_config(model: &str, split: &str, seed: u64, epochs: usize) -> TrainConfig {
    let mut c = TrainConfig::paper("demo", "synthfer", model, split, seed);
    c.model_config.input_size = 48;
    c.model_config.num_classes = 7;
    c.max_epochs = epochs;
    c
}

pub fn run(args: DemoArgs) -> Result<()> {
    let started = Instant::now();
    let device = parse_device(&args.device)?;
    let results = args.results.unwrap_or_else(workspace::results_dir);
    let demo_dir = results.join("demo");
    let manifest_path = workspace::manifest_path("synthfer");
    let manifest = Manifest::from_file(&manifest_path)?;

    let spinner = ProgressBar::new_spinner();
    spinner.set_message("rendering SynthFER at 48 px");
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let data = FaceDataset::load(&manifest, None, 48, None)?;
    spinner.finish_and_clear();
    let split = manifest
        .protocol
        .splits(&data.subjects(), &data.split_hints(), args.seed)?
        .into_iter()
        .next()
        .context("the SynthFER protocol produced no split")?;
    println!(
        "SynthFER: {} faces of {} subjects at 48 px; {} train / {} validation / {} test (subject-exclusive)",
        data.len(),
        manifest.synthetic.as_ref().map(|s| s.num_subjects).unwrap_or(0),
        split.train.len(),
        split.val.len(),
        split.test.len()
    );
    if args.fresh && demo_dir.exists() {
        std::fs::remove_dir_all(&demo_dir)
            .with_context(|| format!("removing {}", demo_dir.display()))?;
    }

    let registry = crate::model_catalog::model_registry();
    let mut run_dirs = Vec::new();
    for model in ["base-dcnn-fer", "base-dcnn-fld"] {
        let cfg = demo_config(model, &split.name, args.seed, args.epochs);
        let outcome = train_run(
            &cfg,
            &data,
            &split,
            &registry,
            &device,
            &results,
            TrainOptions {
                show_progress: true,
                stop_after_epochs: None,
                code_version: Some(crate::code_version::current()),
                ..Default::default()
            },
        )?;
        let m = &outcome.metrics;
        println!(
            "{model}: {} (best epoch {} of {}, {:.0} s){}",
            outcome.run_dir.display(),
            m.best_epoch,
            m.epochs_run,
            m.train_seconds,
            if outcome.skipped {
                " [finished before; --fresh retrains]"
            } else {
                ""
            }
        );
        run_dirs.push(outcome.run_dir);
    }

    // Report on exactly these runs.
    let runs = run_dirs
        .iter()
        .map(|d| fer_report::read_run(&d.join("metrics.json")))
        .collect::<Result<Vec<_>, _>>()?;
    let mut df = fer_report::summarise(&runs)?;
    let summary_csv = demo_dir.join("summary.csv");
    fer_report::write_summary_csv(&mut df, &summary_csv)?;
    let table = fer_report::summary_table_markdown(&df, None);
    let table_md = demo_dir.join("table.md");
    fer_report::write_table_markdown(&df, None, &table_md)?;
    let mut charts = Vec::new();
    for r in &runs {
        if let Some(cm) = &r.confusion_matrix {
            let stem = demo_dir.join(format!("confusion_{}", r.model));
            let (png, svg) = fer_report::plot_confusion_matrix(
                cm,
                &r.class_names,
                &format!(
                    "{} on SynthFER (test split, row %)",
                    fer_report::method_name(&r.model)
                ),
                &stem,
            )?;
            charts.push(png);
            charts.push(svg);
        }
    }
    println!("\n{table}");
    println!("Written:");
    println!("  {}", summary_csv.display());
    println!("  {}", table_md.display());
    for c in charts {
        println!("  {}", c.display());
    }
    println!("Demo finished in {:.0} s.", started.elapsed().as_secs_f64());
    Ok(())
}
