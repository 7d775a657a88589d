//! Memory allocator tuning for training on the CPU.
//!
//! Why: a training step allocates and frees tensors of tens of megabytes. glibc serves those
//! with mmap and returns them with munmap on every step, and re-faulting the pages dominated.
//! Measured on the 2-core development machine with `cargo run --release -p fer-train --example
//! step_timing -- base-dcnn-fer 48 32 5 {0|1}` (batch 32, 48x48, mean of steps 3-5, two
//! alternating runs each): 2.09 s and 2.20 s per step with glibc's defaults, 1.16 s and 1.14 s
//! with freed memory kept (1.9x). The probe saw the same at 100 px (11.4 s vs 6.3 s).
//! We keep glibc (no extra dependency) and set its two knobs in-process; the environment
//! equivalent is `GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=<large>`.

/// Tells glibc's malloc to serve large blocks from the heap and not to give freed memory back
/// to the system, the in-process equivalent of the GLIBC_TUNABLES above. Returns whether the
/// settings were applied (false on non-glibc targets).
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: mallopt only changes malloc's tuning parameters; it is called before any
        // other thread is started by the caller (see the xtask main).
        unsafe {
            let a = libc::mallopt(libc::M_MMAP_MAX, 0);
            let b = libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
            a == 1 && b == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}
