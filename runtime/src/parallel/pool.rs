//! Which rayon pool a call without a pool of its own runs on, and fork safety.
//!
//! `fork()` copies only the calling thread: in the child, rayon's global pool
//! still says it has its threads, but none of them exists, and a job spawned
//! into it is never run. Python's `multiprocessing` forks after numpy (through
//! our `cblas_sgemm`) may have used threads, so the child's next threaded GEMM
//! would wait forever. A handler registered with `pthread_atfork` before this
//! library first touches the global pool counts forks in the child; a call that
//! would use the global pool in a forked child uses a pool built in that child
//! instead (one per fork generation, so a grandchild builds its own). A pool
//! that cannot be built there runs the call on the calling thread.
//!
//! Only the global pool is replaced: a pool the caller passes
//! ([`crate::Parallelism::Pool`], or one it entered with `install`) is the
//! caller's, and one built before a fork is unusable in the child for every
//! rayon user alike.

use rayon::ThreadPool;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// Forks this process has been through, counted in each child (0 in a process
/// that was never forked since the handler was registered).
static FORKS: AtomicUsize = AtomicUsize::new(0);

/// The pool built in a forked child, with the fork generation it was built in.
static CHILD_POOL: AtomicPtr<ChildPool> = AtomicPtr::new(std::ptr::null_mut());

struct ChildPool {
    generation: usize,
    pool: ThreadPool,
}

/// Registers the fork handler, once per process. Called before anything that
/// can start rayon's global pool, so that no pool thread exists unwatched.
#[inline]
pub(crate) fn watch_forks() {
    #[cfg(unix)]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            extern "C" fn child() {
                // Async-signal-safe: one atomic add, no allocation, no lock.
                FORKS.fetch_add(1, Ordering::Relaxed);
            }
            // SAFETY: `child` is a plain function that only touches an atomic.
            // A failure (ENOMEM) leaves forks unwatched, as before.
            unsafe { libc::pthread_atfork(None, None, Some(child)) };
        });
    }
}

/// The size of the pool a `Parallelism::Rayon` call runs on: the pool the
/// caller is in, else the global pool (whose size a forked child keeps).
pub(crate) fn current_num_threads() -> usize {
    watch_forks();
    rayon::current_num_threads()
}

/// The workers and pool a call that asked for `threads` workers on `pool`
/// (`None`: the pool the caller is in) can have. Unchanged, but in a forked
/// child called from outside any pool, where rayon's global pool has no
/// threads: there the child's own pool, or this thread alone if none can be
/// built.
#[inline]
pub(crate) fn usable(threads: usize, pool: Option<&ThreadPool>) -> (usize, Option<&ThreadPool>) {
    let generation = FORKS.load(Ordering::Relaxed);
    if generation == 0 || threads <= 1 || pool.is_some() || rayon::current_thread_index().is_some() {
        return (threads, pool);
    }
    match child_pool(generation) {
        Some(pool) => (threads, Some(pool)),
        None => (1, None),
    }
}

#[cold]
fn child_pool(generation: usize) -> Option<&'static ThreadPool> {
    let seen = CHILD_POOL.load(Ordering::Acquire);
    // SAFETY: a published pool is never freed (see below).
    if let Some(p) = unsafe { seen.as_ref() }
        && p.generation == generation
    {
        return Some(&p.pool);
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(rayon::current_num_threads())
        .thread_name(|i| format!("gemmkit-forked-{i}"))
        .build()
        .ok()?;
    let fresh = Box::into_raw(Box::new(ChildPool { generation, pool }));
    match CHILD_POOL.compare_exchange(seen, fresh, Ordering::AcqRel, Ordering::Acquire) {
        // The replaced pool (if any) was built before a later fork: its threads
        // are gone, and dropping it would wait for them. It stays allocated.
        // SAFETY: just published, never freed.
        Ok(_) => Some(unsafe { &(*fresh).pool }),
        Err(other) => {
            // Another thread published one first; ours is live and can go.
            // SAFETY: `fresh` was never shared.
            drop(unsafe { Box::from_raw(fresh) });
            // SAFETY: published pools are never freed.
            match unsafe { other.as_ref() } {
                Some(p) if p.generation == generation => Some(&p.pool),
                _ => None,
            }
        }
    }
}
