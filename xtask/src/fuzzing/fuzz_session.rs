//! One target's time-bounded fuzzing run: its seeds first, then mutations of the corpus until
//! the time is spent. Each input is written where the parser reads it (`<out>/<target>/input.*`,
//! left in place, so an abort leaves the input that caused it) and parsed under
//! `catch_unwind`; a panicking input is saved as `panic-<n>.*` with its message.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::fuzz_target::FuzzTarget;
use super::input_mutator::InputMutator;

/// The corpus keeps at most this many inputs (seeds and kept mutations).
const MAX_CORPUS: usize = 256;

thread_local! {
    /// The message of the last panic on this thread (the hook's, captured instead of printed).
    static LAST_PANIC: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Replaces the panic hook by one that records the message for the report instead of
/// printing a backtrace per input. For the fuzzing process only.
pub fn capture_panics() {
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        let message = info
            .payload()
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        LAST_PANIC.with(|p| *p.borrow_mut() = format!("{message}{location}"));
    }));
}

/// What one target's run did.
#[derive(Debug, Clone)]
pub struct FuzzOutcome {
    pub target: String,
    pub seconds: f64,
    pub executions: u64,
    pub seeds: usize,
    /// Saved inputs that panicked, with the panic message.
    pub panics: Vec<(PathBuf, String)>,
    /// Why the target did not run (no seeds on this machine).
    pub skipped: Option<String>,
}

/// Fuzzes `target` for `duration` from RNG seed `seed`, writing under `out/<target>/`.
pub fn fuzz(target: &FuzzTarget, duration: Duration, seed: u64, out: &Path) -> Result<FuzzOutcome> {
    let dir = out.join(target.name);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut corpus = (target.seeds)().with_context(|| format!("seeds of {}", target.name))?;
    let mut outcome = FuzzOutcome {
        target: target.name.to_string(),
        seconds: 0.0,
        executions: 0,
        seeds: corpus.len(),
        panics: Vec::new(),
        skipped: None,
    };
    if corpus.is_empty() {
        outcome.skipped = Some("no seed files on this machine (they come from ../shared)".into());
        return Ok(outcome);
    }
    let input_path = dir.join(format!("input.{}", target.extension));
    let mut mutator = InputMutator::new(seed);
    let started = Instant::now();
    let run = |input: &[u8], outcome: &mut FuzzOutcome| -> Result<()> {
        std::fs::write(&input_path, input)
            .with_context(|| format!("writing {}", input_path.display()))?;
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            (target.run)(&input_path, input)
        }));
        outcome.executions += 1;
        if result.is_err() {
            let saved = dir.join(format!(
                "panic-{}.{}",
                outcome.panics.len(),
                target.extension
            ));
            std::fs::write(&saved, input)
                .with_context(|| format!("writing {}", saved.display()))?;
            let message = LAST_PANIC.with(|p| p.borrow().clone());
            outcome.panics.push((saved, message));
        }
        Ok(())
    };
    for seed_input in corpus.clone() {
        run(&seed_input, &mut outcome)?;
    }
    while started.elapsed() < duration {
        let base = mutator.below(corpus.len());
        let other = mutator.below(corpus.len());
        let input = mutator.mutate(&corpus[base], &corpus[other]);
        run(&input, &mut outcome)?;
        // Without coverage feedback, a sample of the mutants joins the corpus so that
        // mutations compound (a broken header, then a broken row).
        if outcome.executions.is_multiple_of(64) {
            if corpus.len() < MAX_CORPUS {
                corpus.push(input);
            } else {
                let slot = outcome.seeds + mutator.below(MAX_CORPUS - outcome.seeds);
                corpus[slot] = input;
            }
        }
        // Stop at the first few panics: they are saved; more of the same say nothing new.
        if outcome.panics.len() >= 5 {
            break;
        }
    }
    outcome.seconds = started.elapsed().as_secs_f64();
    Ok(outcome)
}
