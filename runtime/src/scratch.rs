//! Per-thread packing buffers: 64-byte aligned, grown on demand, reused by every
//! later call on the same thread, so the hot path never allocates.

use std::cell::RefCell;

/// A cache line's worth of bytes, aligned as one (the unit of the buffers).
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(crate) struct Line(pub(crate) [u8; 64]);

thread_local! {
    static SCRATCH: RefCell<Vec<Line>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with a 64-byte aligned buffer of at least `bytes` bytes. Falls back to
/// a fresh buffer if the thread's one is already in use (a reentrant call).
pub(crate) fn with_scratch<R>(bytes: usize, f: impl FnOnce(*mut u8) -> R) -> R {
    let lines = bytes.div_ceil(64).max(1);
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < lines {
                *buf = vec![Line([0; 64]); lines];
            }
            f(buf.as_mut_ptr().cast())
        }
        Err(_) => {
            let mut fresh = vec![Line([0; 64]); lines];
            f(fresh.as_mut_ptr().cast())
        }
    })
}
