//! The process's global allocator: the system allocator, refusing any single allocation above a
//! limit that `cargo xtask fuzz` sets (unlimited otherwise). A parser that sizes a buffer from
//! a file's header before checking it shows up as an abort naming the size ("memory
//! allocation of N bytes failed") instead of exhausting the machine.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The system allocator with a per-allocation limit.
pub struct LimitedAllocator;

/// Refuse single allocations above `bytes` from now on.
pub fn set_limit(bytes: usize) {
    LIMIT.store(bytes, Ordering::Relaxed);
}

fn allowed(size: usize) -> bool {
    size <= LIMIT.load(Ordering::Relaxed)
}

// SAFETY: every call is forwarded to the system allocator unchanged, or answered with null,
// which GlobalAlloc allows for a failed allocation.
unsafe impl GlobalAlloc for LimitedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !allowed(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !allowed(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !allowed(new_size) {
            return std::ptr::null_mut();
        }
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
