//! `cargo xtask fuzz`: every parser a user's file reaches, fed mutated files for a fixed time
//! each (issue 18, item 5).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::Args;

use crate::fuzzing::{allocation_limit, fuzz_session, fuzz_target};
use crate::workspace;

/// Fuzz the parsers (images, CSVs, YAMLs, safetensors, .pth, dlib .dat, MTCNN .pt): seeds
/// first, then mutations, each parsed under catch_unwind with a per-allocation limit. Prints
/// per target the executions and panics, writes results/fuzz/summary.csv, and exits non-zero
/// if any input panicked (saved beside it) or aborted the process (its input is left in
/// <out>/<target>/input.*).
#[derive(Args)]
pub struct FuzzArgs {
    /// Minutes per target (default 1).
    #[arg(long, conflicts_with = "seconds")]
    minutes: Option<f64>,
    /// Seconds per target (what CI uses).
    #[arg(long)]
    seconds: Option<f64>,
    /// Only these targets (default: all).
    #[arg(long, value_delimiter = ',')]
    targets: Vec<String>,
    /// Seed of the mutations.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Largest single allocation allowed, in MB.
    #[arg(long, default_value_t = 256)]
    allocation_limit_mb: usize,
    /// Output folder (default results/fuzz).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Targets fuzzed at the same time (default: the cores).
    #[arg(long)]
    jobs: Option<usize>,
}

pub fn run(args: FuzzArgs) -> Result<()> {
    let seconds = args
        .seconds
        .or(args.minutes.map(|m| m * 60.0))
        .unwrap_or(60.0);
    // At most a week: Duration::from_secs_f64 panics past u64 seconds, and no fuzz session
    // here runs longer.
    if !(seconds.is_finite() && seconds > 0.0 && seconds <= 7.0 * 24.0 * 3600.0) {
        bail!("--seconds/--minutes must be a positive duration of at most a week, got {seconds} s");
    }
    let duration = Duration::from_secs_f64(seconds);
    let all = fuzz_target::fuzz_targets();
    let known: Vec<&str> = all.iter().map(|t| t.name).collect();
    for t in &args.targets {
        if !known.contains(&t.as_str()) {
            bail!("unknown fuzz target '{t}' (known: {})", known.join(", "));
        }
    }
    let targets: Vec<&fuzz_target::FuzzTarget> = all
        .iter()
        .filter(|t| args.targets.is_empty() || args.targets.contains(&t.name.to_string()))
        .collect();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| workspace::results_dir().join("fuzz"));
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    println!(
        "fuzzing {} targets for {seconds:.0} s each, {jobs} at a time; allocations above {} MB abort; inputs under {}",
        targets.len(),
        args.allocation_limit_mb,
        out.display()
    );
    fuzz_session::capture_panics();
    allocation_limit::set_limit(args.allocation_limit_mb << 20);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let outcomes = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(targets.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(t) = targets.get(i) else { break };
                let result = fuzz_session::fuzz(t, duration, args.seed + i as u64, &out);
                if let Ok(o) = &result {
                    println!(
                        "  {:<22} {:>9} executions {:>8.0}/s  {} panics{}",
                        o.target,
                        o.executions,
                        o.executions as f64 / o.seconds.max(1e-9),
                        o.panics.len(),
                        o.skipped
                            .as_deref()
                            .map(|s| format!("  (skipped: {s})"))
                            .unwrap_or_default()
                    );
                }
                if let Ok(mut v) = outcomes.lock() {
                    v.push((i, result));
                }
            });
        }
    });
    let _ = std::panic::take_hook();
    allocation_limit::set_limit(usize::MAX);
    let mut outcomes = outcomes.into_inner().unwrap_or_default();
    outcomes.sort_by_key(|(i, _)| *i);
    let mut csv = String::from("target,seconds,executions,executions_per_s,seeds,panics,skipped\n");
    let mut failures = Vec::new();
    for (_, result) in outcomes {
        let o = result?;
        csv.push_str(&format!(
            "{},{:.1},{},{:.0},{},{},{}\n",
            o.target,
            o.seconds,
            o.executions,
            o.executions as f64 / o.seconds.max(1e-9),
            o.seeds,
            o.panics.len(),
            o.skipped.is_some()
        ));
        for (path, message) in &o.panics {
            failures.push(format!(
                "{}: {} panicked: {message}",
                o.target,
                path.display()
            ));
        }
    }
    let summary = out.join("summary.csv");
    fer_runs::write_atomic(&summary, csv.as_bytes())?;
    println!("written {}", summary.display());
    if !failures.is_empty() {
        bail!(
            "{} panicking inputs:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
    Ok(())
}
