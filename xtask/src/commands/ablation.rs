//! `cargo xtask ablation <ccam|scam|beta>`: the ablations of Yu & Xu 2021 (5.6-5.7).

use anyhow::Result;
use clap::{Args, ValueEnum};

use crate::commands::reproduce::RunArgs;
use crate::workspace;

/// Run one ablation of the paper and write its report: `ccam` (Table 12: BaseDCNN, SE-Net,
/// CBAM-C, CMCNN-C), `scam` (Table 13: BaseDCNN, DAM-CNN, CBAM-S, CMCNN-S) or `beta`
/// (Table 11: CMCNN with fixed β against trainable β, and Fig. 3: β over training steps with
/// the best-validation step marked). Same options as `reproduce`; the experiment files are
/// experiments/ablation-<name>.yaml.
#[derive(Args)]
pub struct AblationArgs {
    which: Ablation,
    #[command(flatten)]
    options: RunArgs,
}

#[derive(Clone, Copy, ValueEnum)]
enum Ablation {
    Ccam,
    Scam,
    Beta,
}

pub fn run(args: AblationArgs) -> Result<()> {
    let name = match args.which {
        Ablation::Ccam => "ablation-ccam",
        Ablation::Scam => "ablation-scam",
        Ablation::Beta => "ablation-beta",
    };
    fer_experiments::run_experiments(
        &[name.to_string()],
        &args.options.options(),
        &workspace::context(),
    )?;
    Ok(())
}
