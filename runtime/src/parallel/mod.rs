//! Threads: how a call may use them ([`Parallelism`]), and the scheduler that
//! runs one block's work on them (`par_phases`). rayon is the engine; there is
//! no pool of our own.

mod pool;

pub(crate) use pool::usable;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// How a GEMM call may use threads. rayon is the engine; there is no pool of
/// our own.
///
/// The calling thread always computes, beside up to `threads - 1` of the
/// pool's. Called from a thread outside the pool, that leaves one of the
/// pool's threads with no part, and rayon wakes it whenever another finds
/// work, where it can take a core from the caller. For the best speedup, call
/// from one of the pool's threads: from a rayon task, or from the thread that
/// built the pool with `ThreadPoolBuilder::use_current_thread()`:
///
/// ```
/// use gemmkit::Parallelism;
/// // Two threads, this one among them; this thread alone where no thread can
/// // be started (wasm32-wasip1, for one).
/// let par = match rayon::ThreadPoolBuilder::new().num_threads(2).use_current_thread().build() {
///     Ok(pool) => Parallelism::Pool(std::sync::Arc::new(pool)),
///     Err(_) => Parallelism::Sequential,
/// };
/// let (a, b, mut c) = (vec![1.0f32; 64 * 64], vec![1.0f32; 64 * 64], vec![0.0f32; 64 * 64]);
/// let target = gemmkit::active().unwrap();
/// let (av, bv) = (gemmkit::MatRef::row_major(&a, 64, 64), gemmkit::MatRef::row_major(&b, 64, 64));
/// gemmkit::gemm_with(target, &par, 1.0, av, bv, 0.0, gemmkit::MatMut::row_major(&mut c, 64, 64)).unwrap();
/// assert_eq!(c[0], 64.0);
/// ```
///
/// A process that forks after a threaded call (Python's `multiprocessing` does,
/// with numpy calling the C ABI) computes correctly in the child: rayon's
/// threads are not copied into it, so a `Rayon` call there from outside any
/// pool runs on a pool built in the child. A `Pool` built before the fork has
/// no threads in the child, for gemmkit as for any rayon user: build pools
/// after forking.
#[derive(Clone, Debug, Default)]
pub enum Parallelism {
    /// The calling thread only.
    Sequential,
    /// The rayon pool the call runs in: the global pool, or one entered with
    /// `ThreadPool::install`. At most [`num_threads`] threads.
    #[default]
    Rayon,
    /// The given rayon pool (the call runs inside it), all of its threads.
    Pool(std::sync::Arc<rayon::ThreadPool>),
}

impl Parallelism {
    /// The workers a call may use and the pool it spawns them into (`None`:
    /// the pool the caller is in), fork-safe (see `pool`).
    #[inline]
    pub(crate) fn workers(&self) -> (usize, Option<&rayon::ThreadPool>) {
        match self {
            Parallelism::Sequential => (1, None),
            Parallelism::Rayon => usable(num_threads(), None),
            Parallelism::Pool(pool) => (pool.current_num_threads(), Some(&**pool)),
        }
    }
}

/// Cap on the threads of [`Parallelism::Rayon`]; 0 means none (the pool's size).
pub(crate) static MAX_THREADS: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The most threads a [`Parallelism::Rayon`] call uses: [`set_num_threads`], else
/// `GEMMKIT_NUM_THREADS`, else the size of the current rayon pool.
///
/// ```
/// let n = gemmkit::num_threads();
/// assert!(n >= 1 && n <= rayon::current_num_threads());
/// ```
pub fn num_threads() -> usize {
    let pool = pool::current_num_threads();
    let mut cap = MAX_THREADS.load(Ordering::Relaxed);
    if cap == usize::MAX {
        cap = std::env::var("GEMMKIT_NUM_THREADS")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        MAX_THREADS.store(cap, Ordering::Relaxed);
    }
    if cap == 0 { pool } else { cap.min(pool) }
}

/// Caps the threads of every later [`Parallelism::Rayon`] call (the C ABI's
/// calls included); 0 removes the cap. Overrides `GEMMKIT_NUM_THREADS`.
///
/// ```
/// gemmkit::set_num_threads(1); // every later `Parallelism::Rayon` call on one thread
/// assert_eq!(gemmkit::num_threads(), 1);
/// gemmkit::set_num_threads(0); // the pool's size again
/// ```
pub fn set_num_threads(threads: usize) {
    MAX_THREADS.store(threads, Ordering::Relaxed);
}

/// The work of one block, split into lanes: lane `l` has `packs(l)` pack items
/// and `computes` compute items. Runs `pack(l, j)` for every pack item and
/// then `compute(l, j, worker)` for every compute item, on up to `threads`
/// workers: the calling thread (always, even outside any pool) and tasks spawned
/// into `pool`, or into the rayon pool the caller is in, one fork-join per call.
///
/// Each worker has a home lane and claims its items, in shrinking runs (see
/// `Counter::claim`), from that lane's counter first, then takes what is left in
/// the other lanes, so a slow or busy worker simply takes fewer items while a
/// lane's data (the B strips it packs and multiplies) tends to stay in one
/// core's cache. A worker that runs out of pack items waits until every pack
/// item is finished before computing: all of them have been claimed by then, by
/// threads that are running them, so the wait always ends, even when the pool
/// is busy and the caller is the only worker. With `first_gates`, a lane's first
/// compute item also finishes before any other of that lane starts (it packs
/// what they read); it heads the first run claimed, and runs first in it, so
/// that wait ends too. A worker out of items stays (spinning) until the last
/// item is done, so a helper leaves when the caller does and is still awake,
/// in the pool's idle loop, when the next block or call spawns: returning
/// early, it could fall asleep and need waking (see `spawn_and_work`;
/// BENCHMARKS.md, "workers stay until the last item").
#[allow(clippy::too_many_arguments)]
pub(crate) fn par_phases(
    threads: usize,
    pool: Option<&rayon::ThreadPool>,
    lanes: usize,
    packs: impl Fn(usize) -> usize + Sync,
    pack: impl Fn(usize, usize) + Sync,
    computes: usize,
    first_gates: bool,
    compute: impl Fn(usize, usize, usize) + Sync,
) {
    assert!((1..=MAX_LANES).contains(&lanes), "lanes out of range");
    let total_packs: usize = (0..lanes).map(&packs).sum();
    let total = total_packs + lanes * computes;
    let workers = threads.min(total);
    if workers <= 1 {
        (0..lanes).for_each(|l| (0..packs(l)).for_each(|j| pack(l, j)));
        (0..lanes).for_each(|l| (0..computes).for_each(|j| compute(l, j, 0)));
        return;
    }
    let next_pack: [Counter; MAX_LANES] = Default::default();
    let next_compute: [Counter; MAX_LANES] = Default::default();
    let first_done: [AtomicBool; MAX_LANES] = Default::default();
    let (packed, computed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let (ids, busy) = (AtomicUsize::new(0), AtomicUsize::new(0));
    let work = || {
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let order = (0..lanes).map(|d| (id + d) % lanes);
        // Runs of items per claim: see `Counter::claim`.
        let share = 4 * workers;
        for l in order.clone() {
            while let Some(run) = next_pack[l].claim(packs(l), share) {
                let done = run.len();
                run.for_each(|j| pack(l, j));
                packed.fetch_add(done, Ordering::Release);
            }
        }
        while packed.load(Ordering::Acquire) < total_packs {
            std::hint::spin_loop();
        }
        for l in order {
            while let Some(run) = next_compute[l].claim(computes, share) {
                let done = run.len();
                for j in run {
                    if first_gates && j > 0 {
                        while !first_done[l].load(Ordering::Acquire) {
                            std::hint::spin_loop();
                        }
                    }
                    compute(l, j, id);
                    if first_gates && j == 0 {
                        first_done[l].store(true, Ordering::Release);
                    }
                }
                computed.fetch_add(done, Ordering::Relaxed);
            }
        }
        // Out of items: stay until the last one is done rather than go back to
        // the pool, where an idle thread soon sleeps and the next block's spawn
        // would have to wake it (see `spawn_and_work`).
        while computed.load(Ordering::Relaxed) < lanes * computes {
            std::hint::spin_loop();
        }
    };
    // `in_place_scope`: the closure runs on this thread, which claims items like
    // any helper, instead of being handed to a pool thread while we block.
    match pool {
        Some(pool) => pool.in_place_scope(|s| spawn_and_work(s, workers, &busy, &work)),
        None => rayon::in_place_scope(|s| spawn_and_work(s, workers, &busy, &work)),
    }
}

/// At most this many lanes per block (the plan's `lanes` never exceed it).
const MAX_LANES: usize = crate::Tuning::MAX_LANES;

/// A lane's next unclaimed item, alone on its cache line.
#[derive(Default)]
#[repr(align(64))]
pub(crate) struct Counter(AtomicUsize);

impl Counter {
    /// Claims a run of the next of `n` items: a `1 / share` part of those left
    /// (at least one), or `None` when all are taken. One atomic add per run
    /// rather than per item: on x86 it is a locked instruction, which waits
    /// for the tiles of C still in the store buffer to be written, where they
    /// would otherwise drain under the next item's arithmetic (BENCHMARKS.md,
    /// "claims in runs"). The runs shrink as the lane empties, so its last items
    /// are still taken one at a time by whichever worker is free, and a worker
    /// that stalls holds at most a `share`-th of a lane (an eighth on two
    /// threads). Packing takes its items in runs the same way.
    fn claim(&self, n: usize, share: usize) -> Option<std::ops::Range<usize>> {
        // Cheap check first: once a lane is exhausted, stop bumping its counter.
        let seen = self.0.load(Ordering::Relaxed);
        if seen >= n {
            return None;
        }
        let len = ((n - seen) / share).max(1);
        let j = self.0.fetch_add(len, Ordering::Relaxed);
        (j < n).then(|| j..(j + len).min(n))
    }
}

/// The `l`-th of `lanes` near-equal parts of `0..n`.
pub(crate) fn part(n: usize, lanes: usize, l: usize) -> std::ops::Range<usize> {
    n * l / lanes..n * (l + 1) / lanes
}

/// Spawns `workers - 1` helpers running `work`, then runs it on this thread and
/// spins until the helpers that started are done. Blocking in the scope instead
/// would put this thread to sleep for the last few microseconds, and waking it
/// (and then the helpers, asleep by the next call) costs tens of microseconds on
/// a virtual machine. A helper that starts later finds no work, and the scope
/// still waits for it.
///
/// With a caller outside a pool of N threads, the pool's N-th thread has no
/// part, but rayon wakes a sleeping thread as a thief whenever an idle one
/// takes a job, and that thread sometimes takes the next helper's job on the
/// caller's core, which delays the helpers. Running the whole call on the
/// pool's threads instead would stop the caller computing. A caller that is
/// itself one of the pool's threads (a pool built with `use_current_thread`,
/// or a call from a rayon task) leaves no thread idle; the benchmark runs that
/// way (README, Threads). Figures: BENCHMARKS.md, "the caller spins, and
/// computes".
pub(crate) fn spawn_and_work<'s>(
    s: &rayon::Scope<'s>,
    workers: usize,
    busy: &'s AtomicUsize,
    work: &'s (impl Fn() + Sync),
) {
    for _ in 1..workers {
        s.spawn(move |_| {
            busy.fetch_add(1, Ordering::Relaxed);
            work();
            busy.fetch_sub(1, Ordering::Release);
        });
    }
    work();
    while busy.load(Ordering::Acquire) != 0 {
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    /// Runs from one counter cover every item once, in order, each a `share`-th
    /// of what was left (at least one), and nothing past the end.
    #[test]
    fn claims_are_shrinking_runs_covering_every_item_once() {
        for (n, share) in [(0, 8), (1, 8), (7, 8), (43, 8), (43, 4), (1000, 16)] {
            let counter = super::Counter::default();
            let (mut next, mut lens) = (0, vec![]);
            while let Some(run) = counter.claim(n, share) {
                assert_eq!(run.start, next, "n {n} share {share}");
                assert_eq!(run.len(), ((n - next) / share).max(1), "n {n} share {share}");
                next = run.end;
                lens.push(run.len());
            }
            assert_eq!(next, n);
            assert!(lens.windows(2).all(|w| w[0] >= w[1]), "{lens:?}");
            assert!(counter.claim(n, share).is_none());
        }
    }
}
