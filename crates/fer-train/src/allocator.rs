//! Memory allocator tuning for training on the CPU.
//!
//! Why: a training step allocates and frees tensors of tens of megabytes. glibc serves those
//! with mmap and returns them with munmap on every step, and the page faults of re-mapping
//! dominated: on the development machine a BaseDCNN step (batch 32, 100x100) took 11.4-11.5 s
//! with the default glibc settings and 6.3 s with glibc told to keep freed memory
//! (`GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=...`). `cargo xtask
//! bench` measures the choice side by side (`--allocator`).

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
