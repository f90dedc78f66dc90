//! Cache blocking: KC, MC, NC from the cache sizes the machine reports.
//!
//! Following Low et al., "Analytical modeling is enough for high-performance
//! BLIS" (TOMS 2016), mapped onto our micro-kernel, which broadcasts A and loads
//! B as vectors: the `MR x KC` micro-panel of A is reused by every micro-kernel
//! call of an `ir` iteration and stays in L1 while B's micro-panels stream past
//! it; the packed `KC x NC` block of B is reused for every `MR` panel and stays in
//! L2; the `MC x KC` block of A (read in place, or packed when transposed) stays
//! in L3. Each block gets about half its cache, leaving room for the streaming
//! operand and C (B's block the share of the L2 its target's tuning gives
//! it, `Tuning::l2_percent_for_b`), except that B's block is at least
//! [`MIN_STRIPS`] strips wide even where that overflows the L2: wide tiles (64
//! columns) leave few strips in B's share of an L2, and each A micro-panel's
//! trip from L3 to L1 is then shared by
//! too few micro-kernel calls. With threads, B's block is one such block per
//! worker.

use crate::error::GemmError;
use crate::generated::Shape;
use std::sync::{OnceLock, RwLock};

/// Block sizes of the three outer loops, in elements.
///
/// ```
/// use gemmkit::{Blocking, CacheSizes};
/// // What the model picks for f32 on the best target, with this machine's caches.
/// let b = Blocking::model(CacheSizes::detect(), gemmkit::best().shapes.f32, 4);
/// assert!(b.kc >= 8 && b.mc >= 1 && b.nc >= 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Blocking {
    /// Depth of one packed block (the `pc` loop step); sizes the A micro-panel in L1.
    pub kc: usize,
    /// Rows of one packed block of A (the `ic` loop step, L3), a multiple of MR when used.
    pub mc: usize,
    /// Columns of one packed block of B (the `jc` loop step, L2), a multiple of NR when used.
    pub nc: usize,
}

/// Data cache sizes in bytes, per core for L1 and L2.
///
/// ```
/// use gemmkit::CacheSizes;
/// let here = CacheSizes::detect();
/// let small_core = CacheSizes { l1d: 32 << 10, l2: 512 << 10, l3: 4 << 20 };
/// println!("{here:?}; what-if: {:?}", gemmkit::Blocking::model(small_core, gemmkit::best().shapes.f64, 8));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheSizes {
    /// L1 data cache, per core.
    pub l1d: usize,
    /// L2, per core.
    pub l2: usize,
    /// L3 (last level), shared.
    pub l3: usize,
}

impl CacheSizes {
    /// Used where the machine does not report its caches: typical sizes for the
    /// architecture (x86-64 server cores; AArch64 cores of the Neoverse class;
    /// conservative elsewhere, WebAssembly included).
    ///
    /// ```
    /// assert!(gemmkit::CacheSizes::DEFAULT.l2 >= 256 << 10);
    /// ```
    pub const DEFAULT: CacheSizes = if cfg!(target_arch = "x86_64") {
        CacheSizes {
            l1d: 32 << 10,
            l2: 1 << 20,
            l3: 8 << 20,
        }
    } else if cfg!(target_arch = "aarch64") {
        CacheSizes {
            l1d: 64 << 10,
            l2: 1 << 20,
            l3: 8 << 20,
        }
    } else {
        CacheSizes {
            l1d: 32 << 10,
            l2: 256 << 10,
            l3: 2 << 20,
        }
    };

    /// The caches of this machine (Linux sysfs), read once; [`Self::DEFAULT`] for
    /// any level the system does not report.
    ///
    /// ```
    /// let c = gemmkit::CacheSizes::detect();
    /// assert!(c.l1d > 0 && c.l2 > 0 && c.l3 > 0);
    /// ```
    pub fn detect() -> CacheSizes {
        static CACHES: OnceLock<CacheSizes> = OnceLock::new();
        *CACHES.get_or_init(|| {
            let mut c = CacheSizes::DEFAULT;
            for index in 0..8 {
                let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
                let read = |f: &str| {
                    std::fs::read_to_string(format!("{dir}/{f}"))
                        .ok()
                        .map(|s| s.trim().to_string())
                };
                let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size")) else {
                    continue;
                };
                let Some(bytes) = parse_size(&size) else { continue };
                match (level.as_str(), kind.as_str()) {
                    ("1", "Data") => c.l1d = bytes,
                    ("2", _) => c.l2 = bytes,
                    ("3", _) => c.l3 = bytes,
                    _ => {}
                }
            }
            c
        })
    }
}

/// `"48K"`, `"2048K"`, `"32M"` or a plain byte count.
fn parse_size(s: &str) -> Option<usize> {
    let (num, mult) = match s.chars().last()? {
        'K' => (&s[..s.len() - 1], 1 << 10),
        'M' => (&s[..s.len() - 1], 1 << 20),
        'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<usize>().ok().map(|n| n * mult).filter(|&n| n > 0)
}

impl Blocking {
    /// The analytical model for a micro-kernel of shape `shape` on elements of
    /// `elem` bytes, with the best target's share of the L2 for B's block
    /// ([`Tuning::l2_percent_for_b`] as [`crate::tuning`] gives it, so
    /// following [`crate::set_tuning`]; see [`Blocking::model_for_width`]).
    ///
    /// ```
    /// use gemmkit::{Blocking, CacheSizes};
    /// let shape = gemmkit::best().shapes.f32;
    /// let b = Blocking::model(CacheSizes::DEFAULT, shape, 4);
    /// assert_eq!((b.mc % shape.mr, b.nc % shape.nr), (0, 0));
    /// ```
    ///
    /// [`Tuning::l2_percent_for_b`]: crate::Tuning::l2_percent_for_b
    pub fn model(caches: CacheSizes, shape: Shape, elem: usize) -> Blocking {
        let share = crate::tuning(crate::best()).l2_percent_for_b;
        Blocking::model_for_width(caches, shape, elem, usize::MAX, share)
    }

    /// [`Blocking::model`] for a B of `n` columns, with `l2_percent_for_b`
    /// percent of the L2 for B's block (taken as 1 to 100): B's block is no
    /// wider than B, so a narrow B fits the L2 at a greater depth (fewer
    /// passes over C).
    ///
    /// ```
    /// use gemmkit::{Blocking, CacheSizes};
    /// let shape = gemmkit::best().shapes.f32;
    /// let narrow = Blocking::model_for_width(CacheSizes::DEFAULT, shape, 4, shape.nr, 50);
    /// assert!(narrow.kc >= Blocking::model_for_width(CacheSizes::DEFAULT, shape, 4, usize::MAX, 50).kc);
    /// ```
    pub fn model_for_width(
        caches: CacheSizes,
        shape: Shape,
        elem: usize,
        n: usize,
        l2_percent_for_b: usize,
    ) -> Blocking {
        let (mr, nr) = (shape.mr.max(1), shape.nr.max(1));
        // B's share of the L2 (the target's tuning; half where the L3 is slow
        // to stream from, the whole L2 where each pass over C costs more).
        let l2_b = caches.l2.saturating_mul(l2_percent_for_b.clamp(1, 100)) / 100;
        // A micro-panel (MR x KC) in half of L1 ...
        let kc_l1 = (caches.l1d / 2 / (mr * elem)).clamp(64, 1024) / 8 * 8;
        // ... but no deeper than lets `MIN_STRIPS` strips of B fit in B's share
        // of the L2, where that leaves at least `MIN_KC`: B's block then stays
        // in the L2, as the model wants it. An L2 too small for that at a
        // useful depth (1 MiB with 64-column strips) keeps the L1's depth, and
        // B's block streams from L3 (BENCHMARKS.md, "MIN_STRIPS", "MIN_KC" and
        // "l2_percent_for_b").
        let width = (MIN_STRIPS * nr).min(n.div_ceil(nr).saturating_mul(nr));
        let kc_l2 = l2_b / (width.max(nr) * elem) / 8 * 8;
        let kc = if kc_l2 >= MIN_KC { kc_l1.min(kc_l2) } else { kc_l1 };
        // B block (KC x NC) in its share of L2, but at least `MIN_STRIPS`
        // strips wide: each A micro-panel comes into L1 from L3 once per B
        // block, and is then reused by one micro-kernel call per strip.
        let nc = round_down((l2_b / (kc * elem)).max(MIN_STRIPS * nr).clamp(nr, 8192), nr);
        // A block (MC x KC) in half of L3, at most 4096 rows.
        let mc = round_down((caches.l3 / 2 / (kc * elem)).clamp(mr, 4096), mr);
        Blocking { kc, mc, nc }
    }

    /// What a GEMM call on `shape` with a B of `n` columns uses: the override if
    /// one is set, else the model for this machine's caches and the target's
    /// `l2_percent_for_b`, with KC at least `min_kc` (the plan's own reason to
    /// go deeper). MC and NC are rounded up to the tile.
    pub(crate) fn for_shape(shape: Shape, elem: usize, n: usize, l2_percent_for_b: usize, min_kc: usize) -> Blocking {
        let b = OVERRIDE.read().ok().and_then(|o| *o).unwrap_or_else(|| {
            let model = Blocking::model_for_width(CacheSizes::detect(), shape, elem, n, l2_percent_for_b);
            Blocking {
                kc: model.kc.max(min_kc),
                ..model
            }
        });
        Blocking {
            kc: b.kc,
            mc: round_up(b.mc, shape.mr.max(1)),
            nc: round_up(b.nc, shape.nr.max(1)),
        }
    }
}

/// The fewest strips of B the model's B block holds (see [`Blocking::model`]):
/// each A micro-panel's trip from L3 to L1 is then shared by enough
/// micro-kernel calls (BENCHMARKS.md, "MIN_STRIPS").
const MIN_STRIPS: usize = 16;

/// The shallowest block depth the model chooses to keep B's block in the L2:
/// each KC block is a pass over C, which a shallower block pays for with too
/// few multiply-adds.
const MIN_KC: usize = 256;

static OVERRIDE: RwLock<Option<Blocking>> = RwLock::new(None);

impl Blocking {
    /// The largest block size [`set_blocking`] accepts, for each field: far
    /// past any cache, and small enough that a block rounded up to the tile, or
    /// one per thread, cannot overflow. (Blocks never exceed the problem's
    /// dimensions either, so a large one allocates no more than the operands.)
    ///
    /// ```
    /// use gemmkit::{Blocking, GemmError};
    /// let huge = Blocking { kc: Blocking::MAX + 1, mc: 64, nc: 64 };
    /// assert!(matches!(gemmkit::set_blocking(Some(huge)), Err(GemmError::BlockingTooLarge { .. })));
    /// ```
    pub const MAX: usize = 1 << 20;
}

/// Overrides the block sizes of every later GEMM call (`None` returns to the
/// model). All three must be between 1 and [`Blocking::MAX`]. They are targets, as the model's are:
/// each dimension is split into equal blocks, which may exceed the size by up
/// to a sixteenth rather than leave a sliver (k = 2049 with KC = 1024 is two
/// blocks of 1025).
///
/// ```
/// use gemmkit::{Blocking, MatMut, MatRef};
/// gemmkit::set_blocking(Some(Blocking { kc: 64, mc: 48, nc: 128 }))?;
/// let (a, b, mut c) = (vec![1.0f32; 200 * 300], vec![1.0f32; 300 * 100], vec![0.0f32; 200 * 100]);
/// gemmkit::gemm(1.0, MatRef::row_major(&a, 200, 300), MatRef::row_major(&b, 300, 100), 0.0, MatMut::row_major(&mut c, 200, 100))?;
/// assert!(c.iter().all(|&x| x == 300.0));
/// gemmkit::set_blocking(None)?; // back to the model
/// # Ok::<(), gemmkit::GemmError>(())
/// ```
pub fn set_blocking(blocking: Option<Blocking>) -> Result<(), GemmError> {
    if let Some(b) = blocking {
        for (field, v) in [("kc", b.kc), ("mc", b.mc), ("nc", b.nc)] {
            if v == 0 {
                return Err(GemmError::InvalidBlocking { field });
            }
            if v > Blocking::MAX {
                return Err(GemmError::BlockingTooLarge { field, value: v });
            }
        }
    }
    if let Ok(mut o) = OVERRIDE.write() {
        *o = blocking;
    }
    Ok(())
}

fn round_down(x: usize, m: usize) -> usize {
    (x / m * m).max(m)
}

fn round_up(x: usize, m: usize) -> usize {
    x.div_ceil(m) * m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("48K"), Some(48 << 10));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("512"), Some(512));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size("0K"), None);
    }

    #[test]
    fn model_fits_the_caches_and_the_tile() {
        let shape = Shape {
            lanes: 16,
            mr: 12,
            nr: 32,
        };
        let c = CacheSizes {
            l1d: 48 << 10,
            l2: 2 << 20,
            l3: 32 << 20,
        };
        let b = Blocking::model_for_width(c, shape, 4, usize::MAX, 50);
        assert!(b.kc * shape.mr * 4 <= c.l1d / 2, "{b:?}");
        assert!(b.nc * b.kc * 4 <= c.l2 / 2 && b.nc.is_multiple_of(shape.nr), "{b:?}");
        assert!(b.mc * b.kc * 4 <= c.l3 / 2 && b.mc.is_multiple_of(shape.mr), "{b:?}");
    }

    #[test]
    fn model_keeps_b_in_a_large_l2_at_a_shallower_depth() {
        // 48 KiB L1d and 2 MiB L2 (an Intel Xeon core) with AVX-512's 6 x 64 f32
        // and 6 x 32 f64 tiles: the L1 alone would give KC 1024 and 512, and 16
        // strips of B would then take twice the L2.
        let c = CacheSizes {
            l1d: 48 << 10,
            l2: 2 << 20,
            l3: 32 << 20,
        };
        for (nr, elem) in [(64, 4), (32, 8)] {
            let shape = Shape {
                lanes: 64 / elem,
                mr: 6,
                nr,
            };
            let b = Blocking::model_for_width(c, shape, elem, usize::MAX, 50);
            assert_eq!(b.kc, MIN_KC, "{b:?}");
            assert!(b.nc >= MIN_STRIPS * nr && b.kc * b.nc * elem <= c.l2 / 2, "{b:?}");
            // The whole L2 for B's block: twice as deep.
            let whole = Blocking::model_for_width(c, shape, elem, usize::MAX, 100);
            assert_eq!(whole.kc, 2 * MIN_KC, "{whole:?}");
            assert!(whole.kc * whole.nc * elem <= c.l2, "{whole:?}");
            // A B of one strip fits the L2 at the L1's depth.
            let l1 = (c.l1d / 2 / (6 * elem)).min(1024);
            let narrow = Blocking::model_for_width(c, shape, elem, nr, 50);
            assert_eq!(narrow.kc, l1, "{narrow:?}");
        }
    }

    #[test]
    fn model_keeps_enough_strips_past_the_l2() {
        // Zen 4 with AVX-512 f32: half the L2 holds 3 strips of 64 at KC 680.
        let shape = Shape {
            lanes: 16,
            mr: 6,
            nr: 64,
        };
        let c = CacheSizes {
            l1d: 32 << 10,
            l2: 1 << 20,
            l3: 32 << 20,
        };
        let b = Blocking::model_for_width(c, shape, 4, usize::MAX, 50);
        assert_eq!((b.kc, b.nc), (680, MIN_STRIPS * 64), "{b:?}");
        assert!(b.mc * b.kc * 4 <= c.l3 / 2 && b.mc.is_multiple_of(shape.mr), "{b:?}");
    }
}
