//! The warning signal of a Slurm task. The batch script asks Slurm for `--signal=B:USR1@N`:
//! N seconds before the time limit, or when the task is preempted, Slurm sends SIGUSR1 to the
//! task. The trainer checks [`warning_received`] between epochs, so the epoch in progress is
//! finished and committed, and the task then requeues itself (planned_task).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use crate::error::{Context, Result};

/// The signal Slurm sends as the warning (`--signal=B:USR1@N` in the batch script).
pub const WARNING_SIGNAL: i32 = signal_hook::consts::SIGUSR1;

static WARNING: OnceLock<Arc<AtomicBool>> = OnceLock::new();

fn flag() -> &'static Arc<AtomicBool> {
    WARNING.get_or_init(|| Arc::new(AtomicBool::new(false)))
}

/// Makes the warning signal set a flag instead of ending the process (its default action).
pub fn install_warning_handler() -> Result<()> {
    signal_hook::flag::register(WARNING_SIGNAL, Arc::clone(flag()))
        .context("installing the handler of SIGUSR1 (Slurm's warning signal)")?;
    Ok(())
}

/// Whether the warning signal has arrived (the trainer's `stop_requested`).
pub fn warning_received() -> bool {
    WARNING.get().is_some_and(|f| f.load(Ordering::SeqCst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_warning_signal_sets_the_flag_instead_of_killing() {
        install_warning_handler().unwrap();
        assert!(!warning_received());
        // Without the handler SIGUSR1 would end this test process.
        signal_hook::low_level::raise(WARNING_SIGNAL).unwrap();
        assert!(warning_received());
    }
}
