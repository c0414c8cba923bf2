//! The AVX-512 batch kernel: blocks of up to 64 rows, column-major, walk each tree
//! together.
//!
//! The scalar kernel (`rows_kernel` in `scorer.rs`) spends most of its time on two loads
//! per split and row: the split itself, then the row's feature value. Here a block's rows
//! sit column by column (`feature * 64 + row`), so one 16-lane load holds one feature of
//! 16 rows:
//! - the top four levels of a tree (15 splits) are compared outright for every row of
//!   the block, 16 rows per compare, and each row's path through them is picked out of
//!   the compare bits with 64-bit word operations (no per-row load at all);
//! - the levels below (a depth-6 forest has two) walk on 16 rows per register: each
//!   lane's split comes from a register permute of the tree's level tables, and only the
//!   row's value is a memory gather; four 16-row groups run in lockstep so their gathers
//!   overlap;
//! - leaves (up to 64) are permuted from four registers the same way.
//!
//! Why that split: on AMD Zen 4 (these machines) a gather is microcoded, about 9 ns per
//! 16 rows, while a split compared for 64 rows costs about 2 ns, so comparing a level of
//! 2^l splits outright wins up to l = 3. Forests deeper than 6 levels, and CPUs without
//! AVX-512F (checked at run time), use the scalar kernel.
//!
//! Measured (`cargo bench -p nba-model --bench scoring`, docs/benchmarks.md): about 1.8
//! times the scalar kernel's rows per second on the 300-tree depth-6 model; row-major
//! batches are copied into column-major blocks first, Arrow batches are read as columns.
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
/// hold rows, so below about 10 rows the scalar kernel is faster (measured, 300 trees of
/// depth 6: one row 3.5 us scalar against 22 us as a vector group; 8 rows 19 against
/// 24 us; 12 rows 29 against 24 us; `cargo bench -p nba-model --bench scoring`).
pub(super) const MIN_ROWS: usize = 10;

/// Entries per tree in each table: 63 splits (+1 padding) or 64 leaves.
const SLOTS: usize = 64;

/// The forest as per-tree register tables, by 1-based heap index `h` (root 1, children
/// `2h` and `2h + 1`, level `l` at `2^l .. 2^(l+1)`): a permute reads only the low bits
/// of its index, so level 4 (`h` 16..32) and level 5 (32..64) need no offset, and neither
/// do the leaves (stored at their heap index modulo the table's size).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Tables {
    depth: u32,
    /// Fewest columns a block needs: every split's feature (padding included) is below
    /// it; 0 for a forest without splits.
    columns: usize,
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
            columns: 0,
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
        if depth > 0 {
            t.columns = t.feature.iter().map(|&f| f as usize + 1).max().unwrap_or(0);
        }
        Some(t)
    }

    /// Scores `out.len()` (1 to [`BLOCK`]) rows given column by column: `block` holds
    /// [`BLOCK`] values per feature, feature `f`'s at `f * BLOCK ..`, the rows first (NaN
    /// where missing) and finite padding after them. Panics unless [`available`] and
    /// `block` has a column for every split's feature. How the block is walked: see
    /// `columns`.
    pub(super) fn score_columns(&self, base: f32, block: &[f32], out: &mut [f32]) {
        let n = out.len();
        assert!((1..=BLOCK).contains(&n) && block.len().is_multiple_of(BLOCK) && available());
        let nf = block.len() / BLOCK;
        assert!(nf <= super::MAX_FEATURES);
        // Checked against the bound computed once per forest: a scan of the whole
        // feature table here cost one pass over 300 x 64 entries per 64-row block.
        assert!(nf >= self.columns, "a split's feature has no column");
        let nan = block.iter().fold(false, |nan, v| nan | v.is_nan());
        let k = Columns { t: self, base, block, nf, groups: n.div_ceil(LANES) };
        let mut sums = [0f32; BLOCK];
        // SAFETY: AVX-512F is present (asserted above); every load reads 16 values at
        // `f * BLOCK + 16 g` for a feature f < nf and g < GROUPS, inside `block`
        // (asserted length); table loads stay inside each tree's SLOTS entries.
        unsafe {
            if nan {
                k.run::<true>(self.depth, &mut sums);
            } else {
                k.run::<false>(self.depth, &mut sums);
            }
        }
        out.copy_from_slice(&sums[..n]);
    }
}

/// One column call's arguments.
struct Columns<'a> {
    t: &'a Tables,
    base: f32,
    block: &'a [f32],
    nf: usize,
    groups: usize,
}

impl Columns<'_> {
    /// # Safety
    /// AVX-512F is present; `block` holds `BLOCK` values for every `f < nf`, and every
    /// split's feature is below `nf`.
    unsafe fn run<const MAYBE_NAN: bool>(&self, depth: u32, sums: &mut [f32; BLOCK]) {
        // SAFETY: the caller's guarantee, passed on.
        unsafe {
            match depth {
                0 => self.groups::<0, MAYBE_NAN>(sums),
                1 => self.groups::<1, MAYBE_NAN>(sums),
                2 => self.groups::<2, MAYBE_NAN>(sums),
                3 => self.groups::<3, MAYBE_NAN>(sums),
                4 => self.groups::<4, MAYBE_NAN>(sums),
                5 => self.groups::<5, MAYBE_NAN>(sums),
                _ => self.groups::<6, MAYBE_NAN>(sums),
            }
        }
    }

    /// # Safety
    /// As [`Columns::run`].
    unsafe fn groups<const D: u32, const MAYBE_NAN: bool>(&self, sums: &mut [f32; BLOCK]) {
        // SAFETY: the caller's guarantee, passed on.
        unsafe {
            match self.groups {
                1 => columns::<D, MAYBE_NAN, 1>(self, sums),
                2 => columns::<D, MAYBE_NAN, 2>(self, sums),
                3 => columns::<D, MAYBE_NAN, 3>(self, sums),
                _ => columns::<D, MAYBE_NAN, 4>(self, sums),
            }
        }
    }
}

/// Bit `16 g + i` of a row mask is row `16 g + i` of the block (lane `i` of group `g`).
type RowMask = u64;

/// Levels of each tree the column kernel compares for every row (15 splits); deeper
/// levels gather each row's value (see `columns`).
const COMPARED_LEVELS: u32 = 4;

/// The column kernel. For each tree:
/// 1. every split `h` (heap numbering) of the top [`COMPARED_LEVELS`] levels is compared
///    for all rows, 16 per load: `right[h]` has a row's bit set when the row would go
///    right at `h` (`!(x < t)`, a NaN cleared when it goes left there);
/// 2. level by level, `dir[l]` (the rows going right at level `l`) is picked out of the
///    level's `right` masks by each row's path so far: pairs of sibling masks are merged
///    by the last direction (`a ^ ((a ^ b) & d)` takes `b`'s bit where `d` is set), then
///    pairs of those by the direction before, up to the level's first; each row's heap
///    index below those levels follows from its `dir` bits;
/// 3. the levels below walk on 16 rows per register, one gather per level, from the
///    column-major block (`feature * BLOCK + row`);
/// 4. each row's leaf is permuted from the tree's leaf registers, and added in
///    f64 like every other kernel.
///
/// Why only the top levels: comparing a split for 64 rows costs about 2 ns here (four
/// 16-lane compares), a gather of 16 rows about 9 ns, so a level of 2^l splits is worth
/// comparing outright up to about l = 3 (measured on AMD Zen 4, whose gathers are
/// microcoded).
///
/// One piece on purpose: this is the hot loop of batch scoring, and its four steps share
/// per-tree state held in registers (`right`, `dir`, `h`, the level tables). Split into
/// functions, that state would cross `#[target_feature]` calls, which Rust does not
/// promise to inline (`#[inline(always)]` is refused with `#[target_feature]`), and each
/// call could spill it to memory; the numbered comments mark the steps instead.
#[target_feature(enable = "avx512f")]
unsafe fn columns<const D: u32, const MAYBE_NAN: bool, const G: usize>(c: &Columns<'_>, out: &mut [f32; BLOCK]) {
    let t = c.t;
    let x = c.block.as_ptr();
    let load = |f: usize, g: usize| {
        // SAFETY: see `Columns::run`: column `f` holds BLOCK values.
        unsafe { _mm512_loadu_ps(x.add(f * BLOCK + g * LANES)) }
    };
    // Rows where feature f is not NaN (only needed when a column of the block has one).
    let mut ordered = [RowMask::MAX; super::MAX_FEATURES];
    if MAYBE_NAN {
        for (f, o) in ordered[..c.nf].iter_mut().enumerate() {
            let mut m = 0;
            for g in 0..G {
                let x = load(f, g);
                m |= RowMask::from(_mm512_cmp_ps_mask::<_CMP_ORD_Q>(x, x)) << (g * LANES);
            }
            *o = m;
        }
    }
    let top = D.min(COMPARED_LEVELS);
    let one = _mm512_set1_epi32(1);
    // Each lane's row in the block, per group.
    let row: [__m512i; G] = std::array::from_fn(|g| {
        _mm512_add_epi32(_mm512_set1_epi32((g * LANES) as i32), _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0))
    });
    let mut lo = [_mm512_set1_pd(f64::from(c.base)); G];
    let mut hi = lo;
    let upper_half = _mm512_set1_epi32(32);
    for k in 0..t.leaves.len() / SLOTS {
        let o = k * SLOTS;
        // 1. Every split of the top levels, every row.
        let mut right = [0 as RowMask; 1 << COMPARED_LEVELS];
        // `h` is the heap index into four tables at once (`right` and the tree's
        // feature, threshold and missing tables at `o + h`), not an iteration over one.
        #[allow(clippy::needless_range_loop)]
        for h in 1..1usize << top {
            let f = t.feature[o + h] as usize;
            let tv = _mm512_set1_ps(t.thr[o + h]);
            let mut r = 0;
            for g in 0..G {
                r |= RowMask::from(_mm512_cmp_ps_mask::<_CMP_NLT_UQ>(load(f, g), tv)) << (g * LANES);
            }
            if MAYBE_NAN {
                // A NaN fails `x < t` so it goes right, unless the split sends it left.
                r &= ordered[f] | !(t.missing_left[o + h] as i64 as RowMask);
            }
            right[h] = r;
        }
        // 2. Each row's direction at each of those levels, then its heap index below them.
        let mut dir = [0 as RowMask; COMPARED_LEVELS as usize];
        for l in 0..top as usize {
            let mut v = [0 as RowMask; 1 << (COMPARED_LEVELS - 1)];
            let mut w = 1 << l;
            v[..w].copy_from_slice(&right[w..2 * w]);
            let mut by = l;
            while w > 1 {
                by -= 1;
                let d = dir[by];
                for j in 0..w / 2 {
                    v[j] = v[2 * j] ^ ((v[2 * j] ^ v[2 * j + 1]) & d);
                }
                w /= 2;
            }
            dir[l] = v[0];
        }
        let mut h: [__m512i; G] = std::array::from_fn(|g| {
            let mut h = _mm512_set1_epi32(1 << top);
            for (l, d) in dir.iter().enumerate().take(top as usize) {
                let bit = (d >> (g * LANES)) as u16;
                h = _mm512_mask_add_epi32(h, bit, h, _mm512_set1_epi32(1 << (top as usize - 1 - l)));
            }
            h
        });
        // 3. The levels below, a gather each.
        if D > COMPARED_LEVELS {
            // SAFETY (loads): each tree owns SLOTS = 64 entries of each table; the loads
            // read 16 entries from offsets 16, 32 and 48.
            let load_t = |at: usize| unsafe { _mm512_loadu_ps(t.thr.as_ptr().add(o + at)) };
            let load_f = |at: usize| unsafe { _mm512_loadu_si512(t.feature.as_ptr().add(o + at).cast()) };
            let load_m = |at: usize| unsafe { _mm512_loadu_si512(t.missing_left.as_ptr().add(o + at).cast()) };
            let (t1, f1) = (load_t(16), load_f(16));
            let (t2, t3, f2, f3) = if D > 5 { (load_t(32), load_t(48), load_f(32), load_f(48)) } else { (t1, t1, f1, f1) };
            let m = if MAYBE_NAN { [load_m(16), load_m(32), load_m(48)] } else { [f1; 3] };
            for level in COMPARED_LEVELS..D {
                for g in 0..G {
                    let i = h[g];
                    let (tv, fv) = match level {
                        4 => (_mm512_permutexvar_ps(i, t1), _mm512_permutexvar_epi32(i, f1)),
                        _ => (_mm512_permutex2var_ps(t2, i, t3), _mm512_permutex2var_epi32(f2, i, f3)),
                    };
                    let at = _mm512_add_epi32(_mm512_slli_epi32::<{ BLOCK.trailing_zeros() }>(fv), row[g]);
                    // SAFETY: `at` is `feature * BLOCK + row` with feature < nf and
                    // row < BLOCK: inside `block` (see `Columns::run`).
                    let v = unsafe { _mm512_i32gather_ps::<4>(at, x) };
                    let mut left = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(v, tv);
                    if MAYBE_NAN {
                        let miss = match level {
                            4 => _mm512_permutexvar_epi32(i, m[0]),
                            _ => _mm512_permutex2var_epi32(m[1], i, m[2]),
                        };
                        left |= _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v) & _mm512_test_epi32_mask(miss, miss);
                    }
                    let twice = _mm512_add_epi32(i, i);
                    h[g] = _mm512_mask_add_epi32(twice, !left, twice, one);
                }
            }
        }
        // 4. Leaves.
        let load_l = |at: usize| {
            // SAFETY: each tree owns SLOTS = 64 leaf entries; loads read 16 from 0..=48.
            unsafe { _mm512_loadu_ps(t.leaves.as_ptr().add(o + at)) }
        };
        let l0 = load_l(0);
        let l1 = if D > 4 { load_l(16) } else { l0 };
        let (l2, l3) = if D > 5 { (load_l(32), load_l(48)) } else { (l0, l0) };
        for g in 0..G {
            let h = h[g];
            let leaf = match D {
                0..=4 => _mm512_permutexvar_ps(h, l0),
                5 => _mm512_permutex2var_ps(l0, h, l1),
                _ => _mm512_mask_blend_ps(_mm512_test_epi32_mask(h, upper_half), _mm512_permutex2var_ps(l0, h, l1), _mm512_permutex2var_ps(l2, h, l3)),
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
