//! The AVX-512 batch kernel: 16 rows per vector register walk one tree together.
//!
//! The scalar kernel (`rows_kernel` in `scorer.rs`) spends most of its time on two loads
//! per split and row: the split itself, then the row's feature value. Here a whole level
//! of a tree is a few registers: levels 0-3 (15 splits) are one 16-lane table, level 4 is
//! one more and level 5 two more, so each lane's split comes from a register permute
//! instead of memory; only the feature value is a memory gather, straight from the
//! caller's row-major rows (no copy). Leaves (up to 64) are permuted from four registers
//! the same way. Four groups of 16 rows walk each tree in lockstep, so four gathers are
//! in flight while one waits; rows with a NaN are put in the last groups, and only those
//! groups pay for the missing-value test. Forests deeper than 6 levels, and CPUs without
//! AVX-512F (checked at run time), use the scalar kernel.
//!
//! Measured (`cargo bench -p nba-model --bench scoring`, docs/benchmarks.md): about twice
//! the scalar kernel's rows per second on the 300-tree depth-6 model.
//!
//! The arithmetic is the scalar kernel's: go right iff `!(x < t)`, except that a NaN goes
//! left when the split's missing flag says so; each row sums its leaves in f64 from the
//! base in tree order and rounds to f32 once. Results are therefore bit-identical to
//! [`crate::Forest::predict_row`] (tested).
#![allow(unsafe_code)]

use super::Perfect;
use std::arch::x86_64::*;

/// Deepest forest this kernel holds (64 leaves per tree in four registers).
pub(super) const MAX_DEPTH: u32 = 6;

/// Rows per vector register.
pub(super) const LANES: usize = 16;

/// Groups of [`LANES`] rows walked together through each tree.
pub(super) const GROUPS: usize = 4;

/// Most rows per call of the kernel.
pub(super) const BLOCK: usize = GROUPS * LANES;

/// Fewest rows worth a call: a group of 16 lanes costs the same however few of its lanes
/// hold rows, and below about 10 rows the scalar kernel is faster (one row: about 2 us
/// scalar, 16 us as a vector group).
pub(super) const MIN_ROWS: usize = LANES;

/// Entries per tree in each table: 63 splits (+1 padding) or 64 leaves.
const SLOTS: usize = 64;

/// The forest as per-tree register tables, by 1-based heap index `h` (root 1, children
/// `2h` and `2h + 1`, level `l` at `2^l .. 2^(l+1)`): a permute reads only the low bits
/// of its index, so level 4 (`h` 16..32) and level 5 (32..64) need no offset, and neither
/// do the leaves (stored at their heap index modulo the table's size).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Tables {
    depth: u32,
    thr: Vec<f32>,
    feature: Vec<i32>,
    /// -1 where a NaN goes left, else 0.
    missing_left: Vec<i32>,
    leaves: Vec<f32>,
}

/// Whether this CPU runs the kernel (checked once per scorer).
pub(super) fn available() -> bool {
    std::arch::is_x86_feature_detected!("avx512f")
}

impl Tables {
    /// `p` as register tables, or `None` when it is deeper than [`MAX_DEPTH`].
    pub(super) fn new(p: &Perfect) -> Option<Tables> {
        let depth = p.n.trailing_zeros();
        if depth > MAX_DEPTH {
            return None;
        }
        let trees = p.leaves.len() / p.n;
        let mut t = Tables {
            depth,
            thr: vec![0.0; trees * SLOTS],
            feature: vec![0; trees * SLOTS],
            missing_left: vec![0; trees * SLOTS],
            leaves: vec![0.0; trees * SLOTS],
        };
        // The leaf table a permute reads: 16 entries up to depth 4, then 32, then 64.
        let leaf_mask = p.n.max(16) - 1;
        for k in 0..trees {
            for i in 0..p.n - 1 {
                let s = p.splits[k * p.n + i];
                let h = k * SLOTS + i + 1;
                t.thr[h] = s.threshold;
                t.feature[h] = i32::from(s.feature);
                t.missing_left[h] = if s.missing_left != 0 { -1 } else { 0 };
            }
            for r in 0..p.n {
                t.leaves[k * SLOTS + ((p.n + r) & leaf_mask)] = p.leaves[k * p.n + r];
            }
        }
        Some(t)
    }

    /// Scores `out.len()` (1 to [`BLOCK`]) rows of the row-major `rows` (`nf` wide).
    /// Panics unless [`available`] and the widths agree; every split's feature is below
    /// `nf` (the forest was validated).
    pub(super) fn score_block(&self, base: f32, nf: usize, rows: &[f32], out: &mut [f32]) {
        let n = out.len();
        assert!((1..=BLOCK).contains(&n) && rows.len() == n * nf && available());
        // Rows with a NaN go last, so they share as few groups as possible: only those
        // groups take the extra NaN test. The gather reads each lane's row wherever it
        // is, so nothing is copied; lanes past `n` read row 0 and their sums are dropped.
        let mut order = [0i32; BLOCK];
        let clean = super::nan_rows_last(rows, nf, &mut order, |r| r as i32);
        let mut sums = [0f32; BLOCK];
        let k = Kernel { t: self, base, nf, rows, order: &order, clean, nan: clean < n, groups: n.div_ceil(LANES) };
        // SAFETY: AVX-512F is present (asserted above); every gather index is
        // `order[lane] * nf + feature` with order[lane] < n and feature < nf, so inside
        // `rows` (asserted length); table loads stay inside each tree's SLOTS entries.
        unsafe {
            match self.depth {
                0 => k.run::<0>(&mut sums),
                1 => k.run::<1>(&mut sums),
                2 => k.run::<2>(&mut sums),
                3 => k.run::<3>(&mut sums),
                4 => k.run::<4>(&mut sums),
                5 => k.run::<5>(&mut sums),
                _ => k.run::<6>(&mut sums),
            }
        }
        for (&r, s) in order[..n].iter().zip(sums) {
            out[r as usize] = s;
        }
    }
}

/// One call's arguments, so the depth, NaN and group-count dispatch stays short.
struct Kernel<'a> {
    t: &'a Tables,
    base: f32,
    nf: usize,
    rows: &'a [f32],
    order: &'a [i32; BLOCK],
    clean: usize,
    nan: bool,
    groups: usize,
}

impl Kernel<'_> {
    /// # Safety
    /// AVX-512F is present and every `order` entry is a row of `rows`.
    unsafe fn run<const D: u32>(&self, sums: &mut [f32; BLOCK]) {
        let (t, base, nf, rows, order, clean) = (self.t, self.base, self.nf, self.rows, self.order, self.clean);
        // SAFETY: the caller's guarantee, passed on.
        unsafe {
            match (self.nan, self.groups) {
                (false, 1) => block::<D, false, 1>(t, base, nf, rows, order, clean, sums),
                (false, 2) => block::<D, false, 2>(t, base, nf, rows, order, clean, sums),
                (false, 3) => block::<D, false, 3>(t, base, nf, rows, order, clean, sums),
                (false, _) => block::<D, false, 4>(t, base, nf, rows, order, clean, sums),
                (true, 1) => block::<D, true, 1>(t, base, nf, rows, order, clean, sums),
                (true, 2) => block::<D, true, 2>(t, base, nf, rows, order, clean, sums),
                (true, 3) => block::<D, true, 3>(t, base, nf, rows, order, clean, sums),
                (true, _) => block::<D, true, 4>(t, base, nf, rows, order, clean, sums),
            }
        }
    }
}

#[target_feature(enable = "avx512f")]
unsafe fn block<const D: u32, const MAYBE_NAN: bool, const G: usize>(
    t: &Tables,
    base: f32,
    nf: usize,
    rows: &[f32],
    order: &[i32; BLOCK],
    clean: usize,
    out: &mut [f32; BLOCK],
) {
    let x = rows.as_ptr();
    let one = _mm512_set1_epi32(1);
    // SAFETY: `order` holds BLOCK >= G * LANES entries.
    let row_start: [__m512i; G] =
        std::array::from_fn(|g| _mm512_mullo_epi32(unsafe { _mm512_loadu_si512(order.as_ptr().add(g * LANES).cast()) }, _mm512_set1_epi32(nf as i32)));
    // Groups holding a row with a NaN (the last ones).
    let nan_group: [bool; G] = std::array::from_fn(|g| MAYBE_NAN && (g + 1) * LANES > clean);
    let mut lo = [_mm512_set1_pd(f64::from(base)); G];
    let mut hi = lo;
    let upper_half = _mm512_set1_epi32(32);
    for k in 0..t.leaves.len() / SLOTS {
        // SAFETY (loads): each tree owns SLOTS = 64 entries of each table; the loads read
        // 16 entries from offsets 0, 16, 32 and 48.
        let o = k * SLOTS;
        let load_t = |at: usize| unsafe { _mm512_loadu_ps(t.thr.as_ptr().add(o + at)) };
        let load_f = |at: usize| unsafe { _mm512_loadu_si512(t.feature.as_ptr().add(o + at).cast()) };
        let load_m = |at: usize| unsafe { _mm512_loadu_si512(t.missing_left.as_ptr().add(o + at).cast()) };
        let load_l = |at: usize| unsafe { _mm512_loadu_ps(t.leaves.as_ptr().add(o + at)) };
        let (t0, f0) = (load_t(0), load_f(0));
        let (t1, f1) = if D > 4 { (load_t(16), load_f(16)) } else { (t0, f0) };
        let (t2, t3, f2, f3) = if D > 5 { (load_t(32), load_t(48), load_f(32), load_f(48)) } else { (t0, t0, f0, f0) };
        let m = if MAYBE_NAN { [load_m(0), load_m(16), load_m(32), load_m(48)] } else { [f0; 4] };
        let mut h = [one; G];
        for level in 0..D {
            for g in 0..G {
                let i = h[g];
                let (tv, fv, mv) = match level {
                    0..=3 => (_mm512_permutexvar_ps(i, t0), _mm512_permutexvar_epi32(i, f0), m[0]),
                    4 => (_mm512_permutexvar_ps(i, t1), _mm512_permutexvar_epi32(i, f1), m[1]),
                    _ => (_mm512_permutex2var_ps(t2, i, t3), _mm512_permutex2var_epi32(f2, i, f3), m[2]),
                };
                // SAFETY: see `score_block`.
                let v = unsafe { _mm512_i32gather_ps::<4>(_mm512_add_epi32(fv, row_start[g]), x) };
                let mut left = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, tv);
                if MAYBE_NAN && nan_group[g] {
                    let miss = match level {
                        0..=3 => _mm512_permutexvar_epi32(i, mv),
                        4 => _mm512_permutexvar_epi32(i, mv),
                        _ => _mm512_permutex2var_epi32(m[2], i, m[3]),
                    };
                    left |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v) & _mm512_test_epi32_mask(miss, miss);
                }
                let twice = _mm512_add_epi32(i, i);
                h[g] = _mm512_mask_add_epi32(twice, !left, twice, one);
            }
        }
        let l0 = load_l(0);
        let l1 = if D > 4 { load_l(16) } else { l0 };
        let (l2, l3) = if D > 5 { (load_l(32), load_l(48)) } else { (l0, l0) };
        for g in 0..G {
            let leaf = match D {
                0..=4 => _mm512_permutexvar_ps(h[g], l0),
                5 => _mm512_permutex2var_ps(l0, h[g], l1),
                _ => _mm512_mask_blend_ps(
                    _mm512_test_epi32_mask(h[g], upper_half),
                    _mm512_permutex2var_ps(l0, h[g], l1),
                    _mm512_permutex2var_ps(l2, h[g], l3),
                ),
            };
            lo[g] = _mm512_add_pd(lo[g], _mm512_cvtps_pd(_mm512_castps512_ps256(leaf)));
            let upper = _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(leaf)));
            hi[g] = _mm512_add_pd(hi[g], _mm512_cvtps_pd(upper));
        }
    }
    for g in 0..G {
        let o = out[g * LANES..][..LANES].as_mut_ptr();
        // SAFETY: `out` holds BLOCK >= G * LANES values.
        unsafe {
            _mm256_storeu_ps(o, _mm512_cvtpd_ps(lo[g]));
            _mm256_storeu_ps(o.add(8), _mm512_cvtpd_ps(hi[g]));
        }
    }
}
