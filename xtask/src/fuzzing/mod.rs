//! Fuzzing of every parser a user's file reaches (`cargo xtask fuzz`), on the stable toolchain:
//! structure-aware mutation of valid seed files, each input run under `catch_unwind`, with a
//! per-allocation limit. No coverage guidance (that needs a nightly toolchain's
//! instrumentation); the mutations know the formats' tokens instead (numbers, separators).
//!
//! - `fuzz_target`: the parsers, each with its seeds.
//! - `input_mutator`: the mutations.
//! - `fuzz_session`: one target's time-bounded run.
//! - `allocation_limit`: the global allocator that refuses oversized allocations.

pub mod allocation_limit;
pub mod fuzz_session;
pub mod fuzz_target;
pub mod input_mutator;
