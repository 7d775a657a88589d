//! A fault-injection hook for the crash-consistency tests (ARCHITECTURE.md "Run record"): every
//! file-system step of a run's commits (each create, rename and removal) calls [`step`] first.
//! A test arms a countdown with [`arm`]; the step it reaches unwinds at once, as a kill there
//! would stop the process: no error path runs, so nothing the step's caller would clean up on
//! an error is cleaned up. Unarmed, a step costs one thread-local read.
//!
//! Per thread, because the trainer writes a run's files on the thread that trains it, and tests
//! that run side by side must not kill each other's runs.

use std::cell::Cell;

thread_local! {
    /// Steps left before the kill; None: not armed.
    static COUNTDOWN: Cell<Option<usize>> = const { Cell::new(None) };
    /// Steps taken since [`arm`].
    static TAKEN: Cell<usize> = const { Cell::new(0) };
}

/// The payload of the unwind a kill starts: which step (0-based since [`arm`]) and what it was.
#[derive(Debug, Clone)]
pub struct InjectedKill {
    pub step: usize,
    pub label: String,
}

/// Kills this thread's work at its `steps`-th file-system step from now (0: the next one).
pub fn arm(steps: usize) {
    COUNTDOWN.with(|c| c.set(Some(steps)));
    TAKEN.with(|t| t.set(0));
}

/// Disarms; returns the number of steps taken since [`arm`] while armed (the kill included).
pub fn disarm() -> usize {
    COUNTDOWN.with(|c| c.set(None));
    TAKEN.with(Cell::get)
}

/// Called before every file-system step of a commit; `label` says which (for the test's message).
pub fn step(label: impl FnOnce() -> String) {
    let Some(left) = COUNTDOWN.with(Cell::get) else {
        return;
    };
    let taken = TAKEN.with(|t| t.replace(t.get() + 1));
    if left == 0 {
        COUNTDOWN.with(|c| c.set(None));
        // resume_unwind, not panic!: a kill is not a bug, and the panic hook would print one.
        std::panic::resume_unwind(Box::new(InjectedKill {
            step: taken,
            label: label(),
        }));
    }
    COUNTDOWN.with(|c| c.set(Some(left - 1)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_armed_step_unwinds_and_the_others_count() {
        step(|| "unarmed".into());
        arm(2);
        step(|| "a".into());
        step(|| "b".into());
        let kill = std::panic::catch_unwind(|| step(|| "c".into())).expect_err("killed");
        let kill = kill
            .downcast_ref::<InjectedKill>()
            .expect("an InjectedKill");
        assert_eq!((kill.step, kill.label.as_str()), (2, "c"));
        // Disarmed by the kill: later steps go through, uncounted.
        step(|| "d".into());
        assert_eq!(disarm(), 3);
    }
}
