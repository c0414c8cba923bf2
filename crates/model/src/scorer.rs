//! The fast scoring kernel: a [`Forest`] compiled into perfect binary trees.
//!
//! [`Forest::predict_row`] walks linked nodes (24 bytes each, a `match` on the comparison
//! mode, a branch per level that the CPU mispredicts about half the time). Serving needs
//! a few microseconds per row and a million rows per second on two cores, so
//! [`Scorer`] recompiles the forest once, at load time, into a layout made for scoring:
//!
//! - every tree is padded to the forest's depth `D` (a leaf above the last level is copied
//!   into every leaf below it, so the padding split's direction cannot matter) and stored
//!   breadth-first: the children of split `i` are `2i + 1` and `2i + 2`, so a level is
//!   `i = 2i + 1 + go_right` without a branch and without child pointers;
//! - each split is 8 bytes (f32 threshold, u8 feature, u8 missing-goes-left flag) and
//!   every comparison mode is rewritten as `go_right = !(x < t)`: `LEQ t` is `LT
//!   next_up(t)` on f32 inputs, `GT`/`GTE` swap the children (and the missing side);
//! - rows are copied into 256-wide buffers, so a u8 feature index needs no bounds check;
//!   rows without NaN (most of them: 97% of the 2024 test rows) take a one-comparison
//!   path, the others also test for NaN at each split;
//! - several independent walks run in lockstep (trees of one row, or rows of one tree),
//!   so the CPU overlaps their loads instead of waiting on one chain of them.
//!
//! Each row still sums its leaves in f64 from the base, tree by tree in the forest's
//! order, and rounds to f32 once, like [`Forest::predict_row`]: the results are
//! bit-identical (tested on random forests with every mode, NaN both ways, values on and
//! one ulp around every threshold). Forests the layout cannot hold exactly (`EQ`/`NEQ`
//! splits, NaN or infinite thresholds where the rewrite needs `next_up`, depth over
//! [`MAX_DEPTH`], more than [`MAX_FEATURES`] features) are scored by the [`Forest`] itself.

use crate::{Forest, Mode, ModelError, Result};

#[cfg(target_arch = "x86_64")]
mod simd;

/// Which kernel a [`Scorer`] runs batches with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// AVX-512 on column-major blocks of 64 rows: top levels compared outright, the
    /// lower ones one gather per 16 rows (`scorer/simd.rs`).
    Vector,
    /// The portable perfect-tree kernel of this module.
    Scalar,
    /// [`Forest`]'s own node walk, for forests the perfect layout cannot hold.
    NodeWalk,
}

/// Deepest forest compiled into perfect trees (2^8 leaves per tree; deeper trees would
/// spend most of their memory on padding).
pub const MAX_DEPTH: u32 = 8;

/// Widest rows compiled (a u8 feature index into a 256-wide row buffer).
pub const MAX_FEATURES: usize = 256;

/// A row copied into a buffer that any u8 feature index fits.
type RowBuf = [f32; MAX_FEATURES];

/// Independent walks advanced together (trees of one row, or rows of one tree with NaN).
const LANES: usize = 8;

/// Rows of one tree walked together when they hold no NaN (each walk needs fewer
/// registers, so more of them fit; measured: 16 beats 8 there, and loses with NaN).
const LANES_NO_NAN: usize = 16;

/// Rows scored together, tree by tree, so a tree stays in L1 across the block.
const BLOCK_ROWS: usize = 64;

/// Batches of at least this many rows are split over rayon's thread pool.
pub const PARALLEL_MIN_ROWS: usize = 1024;

/// Calls `$body` with the const `$N` equal to the runtime power of two `$n` (1..=256), so
/// each tree is a fixed-size array: indices masked with `N - 1` need no bounds check and
/// the level loop unrolls.
macro_rules! with_n {
    ($n:expr, $N:ident => $body:expr) => {
        match $n {
            1 => {
                const $N: usize = 1;
                $body
            }
            2 => {
                const $N: usize = 2;
                $body
            }
            4 => {
                const $N: usize = 4;
                $body
            }
            8 => {
                const $N: usize = 8;
                $body
            }
            16 => {
                const $N: usize = 16;
                $body
            }
            32 => {
                const $N: usize = 32;
                $body
            }
            64 => {
                const $N: usize = 64;
                $body
            }
            128 => {
                const $N: usize = 128;
                $body
            }
            _ => {
                const $N: usize = 256;
                $body
            }
        }
    };
}

/// One split in normalized form: go right iff `!(x < threshold)`, except that a NaN goes
/// left when `missing_left` is 1.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
struct Split {
    threshold: f32,
    feature: u8,
    missing_left: u8,
}

impl Split {
    /// A split whose subtrees are identical copies (padding): any direction is right.
    const PAD: Split = Split { threshold: 0.0, feature: 0, missing_left: 0 };

    /// 1 when `row` goes right. `MAYBE_NAN = false` is only for rows without NaN.
    // `!(x < t)` is the rule itself (a NaN fails `x < t`, so it goes right), which
    // `partial_cmp` would only hide.
    #[allow(clippy::neg_cmp_op_on_partial_ord)]
    #[inline(always)]
    fn go_right<const MAYBE_NAN: bool>(self, row: &RowBuf) -> usize {
        let x = row[self.feature as usize];
        if MAYBE_NAN {
            // NaN: `x < t` is false, so it goes right unless the flag flips it left.
            ((!(x < self.threshold)) ^ (x.is_nan() & (self.missing_left != 0))) as usize
        } else {
            (x >= self.threshold) as usize
        }
    }
}

/// The forest as perfect trees of `n = 2^depth` leaves: tree `k`'s splits are
/// `splits[k*n .. k*n + n - 1]` (slot `n - 1` unused, so trees are power-of-two aligned)
/// and its leaves `leaves[k*n .. (k+1)*n]`.
#[derive(Debug, Clone, PartialEq)]
struct Perfect {
    n: usize,
    splits: Vec<Split>,
    leaves: Vec<f32>,
}

/// A forest ready to score: the perfect-tree kernel when the forest fits it, else the
/// forest's own walk. Build it once per model (it validates the forest).
#[derive(Debug, Clone, PartialEq)]
pub struct Scorer {
    forest: Forest,
    perfect: Option<Perfect>,
    #[cfg(target_arch = "x86_64")]
    simd: Option<simd::Tables>,
}

impl Scorer {
    /// Validates and compiles `forest` for the fastest kernel this CPU runs.
    pub fn new(forest: Forest) -> Result<Scorer> {
        let mut s = Scorer::scalar(forest)?;
        #[cfg(target_arch = "x86_64")]
        {
            s.simd = s.perfect.as_ref().filter(|_| simd::available()).and_then(simd::Tables::new);
        }
        Ok(s)
    }

    /// Like [`Scorer::new`] but never the vector kernel: the portable kernel every CPU
    /// runs, kept for comparison (benchmarks, tests).
    pub fn scalar(forest: Forest) -> Result<Scorer> {
        forest.validate()?;
        let perfect = compile(&forest);
        Ok(Scorer {
            forest,
            perfect,
            #[cfg(target_arch = "x86_64")]
            simd: None,
        })
    }

    /// The kernel batches are scored with.
    pub fn kernel(&self) -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if self.simd.is_some() {
            return Kernel::Vector;
        }
        if self.perfect.is_some() { Kernel::Scalar } else { Kernel::NodeWalk }
    }

    /// The forest this scorer was built from.
    pub fn forest(&self) -> &Forest {
        &self.forest
    }

    pub fn n_features(&self) -> usize {
        self.forest.n_features
    }

    pub fn n_trees(&self) -> usize {
        self.forest.n_trees()
    }

    /// Whether the perfect-tree kernel is used (else the forest's node walk).
    pub fn is_compiled(&self) -> bool {
        self.perfect.is_some()
    }

    /// Scores one row (its width must equal `n_features`). Allocates nothing.
    pub fn predict_row(&self, row: &[f32]) -> Result<f32> {
        let Some(p) = &self.perfect else { return self.forest.predict_row(row) };
        if row.len() != self.forest.n_features {
            return Err(ModelError::Width { expected: self.forest.n_features, got: row.len() });
        }
        let mut buf = [0.0; MAX_FEATURES];
        buf[..row.len()].copy_from_slice(row);
        let base = self.forest.base;
        Ok(if row.iter().any(|x| x.is_nan()) {
            with_n!(p.n, N => row_kernel::<N, true>(p, base, &buf))
        } else {
            with_n!(p.n, N => row_kernel::<N, false>(p, base, &buf))
        })
    }

    /// Scores a row-major batch `[n, n_features]`.
    pub fn predict_batch(&self, rows: &[f32]) -> Result<Vec<f32>> {
        let nf = self.forest.n_features;
        if !rows.len().is_multiple_of(nf) {
            return Err(ModelError::Width { expected: nf, got: rows.len() % nf });
        }
        let mut out = vec![0.0f32; rows.len() / nf];
        self.predict_batch_into(rows, &mut out)?;
        Ok(out)
    }

    /// Scores a row-major batch `[out.len(), n_features]` into `out`. Batches of at least
    /// [`PARALLEL_MIN_ROWS`] rows are split over rayon's thread pool.
    pub fn predict_batch_into(&self, rows: &[f32], out: &mut [f32]) -> Result<()> {
        let nf = self.forest.n_features;
        if rows.len() != out.len() * nf {
            return Err(ModelError::Width { expected: nf, got: if out.is_empty() { rows.len() } else { rows.len() / out.len() } });
        }
        let Some(p) = &self.perfect else {
            out.copy_from_slice(&self.forest.predict_batch(rows)?);
            return Ok(());
        };
        let base = self.forest.base;
        // The vector kernel takes blocks of its own size (a last partial one in as few
        // 16-row groups as it needs), unless under MIN_ROWS rows; the scalar kernel takes
        // BLOCK_ROWS at a time.
        #[cfg(target_arch = "x86_64")]
        let (simd, chunk) = match &self.simd {
            Some(t) => (Some(t), simd::BLOCK),
            None => (None, BLOCK_ROWS),
        };
        #[cfg(not(target_arch = "x86_64"))]
        let chunk = BLOCK_ROWS;
        let block = |k: usize, out: &mut [f32]| {
            let rows = &rows[k * chunk * nf..][..out.len() * nf];
            #[cfg(target_arch = "x86_64")]
            if let Some(t) = simd.filter(|_| out.len() >= simd::MIN_ROWS) {
                // Transposed into a column-major block, the vector kernel's layout.
                column_block(t, base, nf, out, |col, j| {
                    for (i, v) in col.iter_mut().enumerate() {
                        *v = rows[i * nf + j];
                    }
                });
                return Ok(());
            }
            for (out, rows) in out.chunks_mut(BLOCK_ROWS).zip(rows.chunks(BLOCK_ROWS * nf)) {
                with_n!(p.n, N => block_kernel::<N>(p, base, nf, rows, out))
            }
            Ok(())
        };
        for_each_chunk(out, chunk, block)
    }

    /// Scores rows given column by column, `cols[f]` holding feature `f` of every row
    /// (NaN where missing), each column `out.len()` long: the layout of an Arrow record
    /// batch, scored without copying it into rows. Results are bit-identical to
    /// [`Scorer::predict_batch_into`] on the same rows. Batches of at least
    /// [`PARALLEL_MIN_ROWS`] rows are split over rayon's thread pool.
    pub fn predict_columns_into(&self, cols: &[&[f32]], out: &mut [f32]) -> Result<()> {
        let nf = self.forest.n_features;
        if cols.len() != nf {
            return Err(ModelError::Width { expected: nf, got: cols.len() });
        }
        if let Some(c) = cols.iter().find(|c| c.len() != out.len()) {
            return Err(ModelError::Invalid(format!("a column of {} rows for {} outputs", c.len(), out.len())));
        }
        #[cfg(target_arch = "x86_64")]
        if let Some(t) = self.simd.as_ref().filter(|_| out.len() >= simd::MIN_ROWS) {
            let base = self.forest.base;
            // A block of the vector kernel's size at a time, each column copied into a
            // column-major block. Reading the batch's columns in place instead, their
            // distance apart (a multiple of 4 KiB for batches of 1024k rows) can map them
            // all to the same few L1 sets.
            return for_each_chunk(out, simd::BLOCK, |k, out| {
                let first = k * simd::BLOCK;
                column_block(t, base, nf, out, |col, j| col.copy_from_slice(&cols[j][first..first + col.len()]));
                Ok(())
            });
        }
        // Other kernels take rows: copy a block of them at a time.
        const ROWS: usize = 512;
        for_each_chunk(out, ROWS, |k, out| {
            let first = k * ROWS;
            let mut rows = vec![0f32; out.len() * nf];
            for (j, c) in cols.iter().enumerate() {
                for (i, v) in c[first..first + out.len()].iter().enumerate() {
                    rows[i * nf + j] = *v;
                }
            }
            self.predict_batch_into(&rows, out)
        })
    }
}

/// Runs `score(k, piece)` on each `chunk`-row piece of `out` (`k` counting pieces), over
/// rayon's thread pool when `out` has at least [`PARALLEL_MIN_ROWS`] rows.
fn for_each_chunk(out: &mut [f32], chunk: usize, score: impl Fn(usize, &mut [f32]) -> Result<()> + Sync + Send) -> Result<()> {
    if out.len() >= PARALLEL_MIN_ROWS {
        use rayon::prelude::*;
        out.par_chunks_mut(chunk).enumerate().try_for_each(|(k, out)| score(k, out))
    } else {
        out.chunks_mut(chunk).enumerate().try_for_each(|(k, out)| score(k, out))
    }
}

#[cfg(target_arch = "x86_64")]
thread_local! {
    /// Each thread's column-major block for the vector kernel (72 features: 18 KB, in L1).
    static COLUMN_BLOCK: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Scores `out.len()` (1 to `simd::BLOCK`) rows with the vector kernel: `fill(col, j)`
/// writes feature `j` of the rows into `col` (`out.len()` long); the rest of each column
/// is padded with zeros (finite, so padding never sends a block down the NaN path).
#[cfg(target_arch = "x86_64")]
fn column_block(t: &simd::Tables, base: f32, nf: usize, out: &mut [f32], fill: impl Fn(&mut [f32], usize)) {
    COLUMN_BLOCK.with_borrow_mut(|block| {
        block.resize(nf * simd::BLOCK, 0.0);
        let n = out.len();
        for (j, col) in block.chunks_exact_mut(simd::BLOCK).enumerate() {
            fill(&mut col[..n], j);
            col[n..].fill(0.0);
        }
        t.score_columns(base, block, out)
    })
}

/// Tree `k`'s splits and leaves as fixed-size arrays.
#[inline(always)]
fn tree<const N: usize>(p: &Perfect, k: usize) -> (&[Split; N], &[f32; N]) {
    let s: &[Split; N] = p.splits[k * N..][..N].try_into().expect("tree of N splits");
    let l: &[f32; N] = p.leaves[k * N..][..N].try_into().expect("tree of N leaves");
    (s, l)
}

/// One row: trees in groups of [`LANES`], walked level by level together, leaves summed
/// in tree order.
#[inline(always)]
fn row_kernel<const N: usize, const MAYBE_NAN: bool>(p: &Perfect, base: f32, row: &RowBuf) -> f32 {
    let depth = N.trailing_zeros();
    let trees = p.leaves.len() / N;
    let mut sum = base as f64;
    let mut k = 0;
    while k + LANES <= trees {
        let t: [(&[Split; N], &[f32; N]); LANES] = std::array::from_fn(|j| tree::<N>(p, k + j));
        let mut idx = [0usize; LANES];
        for _ in 0..depth {
            for j in 0..LANES {
                let i = idx[j];
                idx[j] = 2 * i + 1 + t[j].0[i & (N - 1)].go_right::<MAYBE_NAN>(row);
            }
        }
        for j in 0..LANES {
            sum += t[j].1[(idx[j] + 1 - N) & (N - 1)] as f64;
        }
        k += LANES;
    }
    for k in k..trees {
        let (s, l) = tree::<N>(p, k);
        let mut i = 0;
        for _ in 0..depth {
            i = 2 * i + 1 + s[i & (N - 1)].go_right::<MAYBE_NAN>(row);
        }
        sum += l[(i + 1 - N) & (N - 1)] as f64;
    }
    sum as f32
}

/// Rows `bufs` through every tree: tree by tree (a tree stays in L1 across the rows), rows
/// in groups of `L` walked together; rows left over by the groups go through
/// [`row_kernel`]. `sums` start at `base`; leaves are added in tree order.
#[inline(always)]
fn rows_kernel<const N: usize, const MAYBE_NAN: bool, const L: usize>(p: &Perfect, base: f32, bufs: &[RowBuf], sums: &mut [f64]) {
    let depth = N.trailing_zeros();
    let trees = p.leaves.len() / N;
    let full = bufs.len() - bufs.len() % L;
    for k in 0..trees {
        let (s, l) = tree::<N>(p, k);
        for (rows, sums) in bufs[..full].chunks_exact(L).zip(sums.chunks_exact_mut(L)) {
            let mut idx = [0usize; L];
            for _ in 0..depth {
                for j in 0..L {
                    let i = idx[j];
                    idx[j] = 2 * i + 1 + s[i & (N - 1)].go_right::<MAYBE_NAN>(&rows[j]);
                }
            }
            for j in 0..L {
                sums[j] += l[(idx[j] + 1 - N) & (N - 1)] as f64;
            }
        }
    }
    // Alone, a row's walk through one tree is a chain of dependent loads: walk its trees
    // in lanes instead.
    for (row, sum) in bufs[full..].iter().zip(&mut sums[full..]) {
        *sum = row_kernel::<N, MAYBE_NAN>(p, base, row) as f64;
    }
}

/// A block of at most [`BLOCK_ROWS`] rows: rows without NaN first (the faster path, more
/// lanes), then the others; each result written back to its own row's place.
fn block_kernel<const N: usize>(p: &Perfect, base: f32, nf: usize, rows: &[f32], out: &mut [f32]) {
    let n = out.len();
    let mut order = [0usize; BLOCK_ROWS];
    let clean = nan_rows_last(rows, nf, &mut order);
    let mut bufs = [[0.0; MAX_FEATURES]; BLOCK_ROWS];
    for (buf, &r) in bufs.iter_mut().zip(&order[..n]) {
        buf[..nf].copy_from_slice(&rows[r * nf..][..nf]);
    }
    let mut sums = [base as f64; BLOCK_ROWS];
    rows_kernel::<N, false, LANES_NO_NAN>(p, base, &bufs[..clean], &mut sums[..clean]);
    rows_kernel::<N, true, LANES>(p, base, &bufs[clean..n], &mut sums[clean..n]);
    for (&r, s) in order[..n].iter().zip(sums) {
        out[r] = s as f32;
    }
}

/// Orders the rows of the row-major `rows` (`nf` wide) into `order`: rows without NaN
/// first, in order, then those with one. Returns how many have none. Only rows with a
/// NaN pay for its test.
fn nan_rows_last(rows: &[f32], nf: usize, order: &mut [usize]) -> usize {
    let (mut clean, mut dirty) = (0, rows.len() / nf);
    for (r, row) in rows.chunks_exact(nf).enumerate() {
        if row.iter().any(|x| x.is_nan()) {
            dirty -= 1;
            order[dirty] = r;
        } else {
            order[clean] = r;
            clean += 1;
        }
    }
    clean
}

/// The perfect-tree layout of `f`, or `None` when it cannot represent `f` exactly.
fn compile(f: &Forest) -> Option<Perfect> {
    if f.n_features > MAX_FEATURES {
        return None;
    }
    let mut depth = 0;
    for &r in &f.roots {
        depth = depth.max(tree_depth(f, r as usize)?);
    }
    let n = 1usize << depth;
    let mut p = Perfect { n, splits: vec![Split::PAD; n * f.roots.len()], leaves: vec![0.0; n * f.roots.len()] };
    for (k, &root) in f.roots.iter().enumerate() {
        fill(f, root as usize, 0, 0, depth, &mut p.splits[k * n..(k + 1) * n], &mut p.leaves[k * n..(k + 1) * n])?;
    }
    Some(p)
}

/// Depth of the tree at `root` (a lone leaf has depth 0), or `None` past [`MAX_DEPTH`].
/// Iterative, so a degenerate (chain) tree cannot exhaust the stack.
fn tree_depth(f: &Forest, root: usize) -> Option<usize> {
    let mut deepest = 0;
    let mut stack = vec![(root, 0usize)];
    while let Some((i, level)) = stack.pop() {
        let n = &f.nodes[i];
        if n.branch.is_none() {
            deepest = deepest.max(level);
        } else if level == MAX_DEPTH as usize {
            return None;
        } else {
            stack.extend([(n.if_true as usize, level + 1), (n.if_false as usize, level + 1)]);
        }
    }
    Some(deepest)
}

/// Writes the subtree at forest node `node` into slot `pos` (at `level`) of one perfect tree.
fn fill(f: &Forest, node: usize, pos: usize, level: usize, depth: usize, splits: &mut [Split], leaves: &mut [f32]) -> Option<()> {
    let n = &f.nodes[node];
    let Some(mode) = n.branch else {
        // A leaf: every perfect leaf under `pos` takes its value.
        let below = depth - level;
        let first = ((pos + 1) << below) - 1 - (leaves.len() - 1);
        leaves[first..first + (1 << below)].fill(n.value);
        return Some(());
    };
    let t = n.threshold;
    // Rewrite as `left iff x < threshold` (see the module docs); `next_up` of NaN or +inf
    // is not a usable bound, so such forests keep the node walk.
    let up = || (t.is_finite() || t == f32::NEG_INFINITY).then(|| t.next_up());
    let (threshold, left, right, missing_left) = match mode {
        Mode::Lt if !t.is_nan() => (t, n.if_true, n.if_false, n.missing_true),
        Mode::Gte if !t.is_nan() => (t, n.if_false, n.if_true, !n.missing_true),
        Mode::Leq => (up()?, n.if_true, n.if_false, n.missing_true),
        Mode::Gt => (up()?, n.if_false, n.if_true, !n.missing_true),
        _ => return None,
    };
    splits[pos] = Split { threshold, feature: u8::try_from(n.feature).ok()?, missing_left: missing_left as u8 };
    fill(f, left as usize, 2 * pos + 1, level + 1, depth, splits, leaves)?;
    fill(f, right as usize, 2 * pos + 2, level + 1, depth, splits, leaves)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Node;

    fn rng(mut s: u64) -> impl FnMut() -> u64 {
        move || {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            s
        }
    }

    /// Random unbalanced trees (leaves at every depth up to `max_depth`) with the given
    /// modes, thresholds on a small grid so rows hit them exactly.
    fn random_forest(seed: u64, n_features: usize, n_trees: usize, max_depth: usize, modes: &[Mode]) -> Forest {
        let mut rnd = rng(seed);
        let mut f = Forest { n_features, base: 1.75, nodes: vec![], roots: vec![] };
        fn grow(f: &mut Forest, rnd: &mut dyn FnMut() -> u64, level: usize, max_depth: usize, modes: &[Mode]) -> u32 {
            let i = f.nodes.len();
            if level == max_depth || (level > 0 && rnd().is_multiple_of(4)) {
                f.nodes.push(Node::leaf((rnd() % 2001) as f32 / 100.0 - 10.0));
                return i as u32;
            }
            f.nodes.push(Node {
                feature: (rnd() % f.n_features as u64) as u32,
                threshold: (rnd() % 9) as f32 * 0.5 - 2.0,
                branch: Some(modes[(rnd() % modes.len() as u64) as usize]),
                if_true: 0,
                if_false: 0,
                missing_true: rnd().is_multiple_of(2),
                value: 0.0,
            });
            let t = grow(f, rnd, level + 1, max_depth, modes);
            let e = grow(f, rnd, level + 1, max_depth, modes);
            (f.nodes[i].if_true, f.nodes[i].if_false) = (t, e);
            i as u32
        }
        for _ in 0..n_trees {
            let r = grow(&mut f, &mut rnd, 0, max_depth, modes);
            f.roots.push(r);
        }
        f
    }

    /// Rows on the threshold grid, one ulp on each side of it, NaN (one value in
    /// `nan_one_in`), and infinities.
    fn rows(seed: u64, n_features: usize, n: usize, nan_one_in: u64) -> Vec<f32> {
        let mut rnd = rng(seed);
        (0..n * n_features)
            .map(|_| {
                let v = (rnd() % 9) as f32 * 0.5 - 2.0;
                if rnd().is_multiple_of(nan_one_in) {
                    return f32::NAN;
                }
                match rnd() % 10 {
                    1 => v.next_up(),
                    2 => v.next_down(),
                    3 if rnd().is_multiple_of(8) => f32::INFINITY,
                    4 if rnd().is_multiple_of(8) => f32::NEG_INFINITY,
                    _ => v,
                }
            })
            .collect()
    }

    /// The kernels this machine can run for `f`: the scalar one always, the vector one
    /// where the CPU has it (and `f` fits it).
    fn scorers(f: &Forest) -> Vec<Scorer> {
        let best = Scorer::new(f.clone()).unwrap();
        let scalar = Scorer::scalar(f.clone()).unwrap();
        assert!(scalar.kernel() != Kernel::Vector);
        if best.kernel() == Kernel::Vector { vec![best, scalar] } else { vec![scalar] }
    }

    fn check_identical(f: Forest, seed: u64) {
        for s in scorers(&f) {
            check_identical_with(&f, &s, seed);
        }
    }

    fn check_identical_with(f: &Forest, s: &Scorer, seed: u64) {
        let nf = f.n_features;
        assert!(s.is_compiled());
        // Every block/lane remainder, the parallel path, and blocks mixing rows with and
        // without NaN in every proportion.
        for (n, nan_one_in) in [1usize, 3, 8, 9, 10, 16, 17, 40, 63, 64, 65, 100, 200, PARALLEL_MIN_ROWS + 13]
            .into_iter()
            .flat_map(|n| [(n, 10), (n, 40), (n, 400), (n, u64::MAX)])
        {
            let x = rows(seed + n as u64, nf, n, nan_one_in);
            let want: Vec<u32> = x.chunks(nf).map(|r| f.predict_row(r).unwrap().to_bits()).collect();
            let got: Vec<u32> = s.predict_batch(&x).unwrap().into_iter().map(f32::to_bits).collect();
            assert_eq!(got, want, "{:?} kernel, batch of {n}, NaN one in {nan_one_in}", s.kernel());
            let cols: Vec<Vec<f32>> = (0..nf).map(|j| x.iter().skip(j).step_by(nf.max(1)).copied().collect()).collect();
            let cols: Vec<&[f32]> = cols.iter().map(Vec::as_slice).collect();
            let mut by_columns = vec![0f32; n];
            s.predict_columns_into(&cols, &mut by_columns).unwrap();
            assert_eq!(
                by_columns.into_iter().map(f32::to_bits).collect::<Vec<_>>(),
                want,
                "{:?} kernel, columns, batch of {n}, NaN one in {nan_one_in}",
                s.kernel()
            );
            for (r, w) in x.chunks(nf).zip(&want).take(300) {
                assert_eq!(s.predict_row(r).unwrap().to_bits(), *w);
            }
        }
    }

    #[test]
    fn bit_identical_to_the_forest_for_every_rewritten_mode() {
        let modes = [Mode::Lt, Mode::Leq, Mode::Gt, Mode::Gte];
        for (seed, trees, depth) in [(1u64, 1usize, 1usize), (2, 7, 3), (3, 40, 6), (4, 19, 8), (5, 300, 6), (12, 9, 2), (13, 33, 4), (14, 21, 5), (15, 8, 7)] {
            check_identical(random_forest(seed, 11, trees, depth, &modes), seed * 101);
        }
        // A forest of single leaves (depth 0) and an empty forest.
        let leaves = Forest { n_features: 3, base: 2.0, nodes: vec![Node::leaf(1.5), Node::leaf(-0.25)], roots: vec![0, 1] };
        check_identical(leaves, 9);
        check_identical(Forest { n_features: 3, base: 2.0, nodes: vec![], roots: vec![] }, 10);
    }

    #[test]
    fn forests_the_layout_cannot_hold_keep_the_node_walk() {
        let eq = random_forest(6, 5, 30, 4, &[Mode::Lt, Mode::Eq, Mode::Neq]);
        let deep = random_forest(7, 5, 3, MAX_DEPTH as usize + 3, &[Mode::Lt]);
        let mut inf = random_forest(8, 5, 5, 3, &[Mode::Leq]);
        inf.nodes.iter_mut().filter(|n| n.branch.is_some()).for_each(|n| n.threshold = f32::INFINITY);
        let mut wide = random_forest(9, MAX_FEATURES + 1, 20, 4, &[Mode::Lt]);
        wide.n_features = 5;
        wide.nodes.iter_mut().for_each(|n| n.feature %= 5);
        let s = Scorer::new(wide.clone()).unwrap();
        assert!(s.is_compiled(), "features < 256 compile");
        wide.n_features = MAX_FEATURES + 1;
        assert!(!Scorer::new(wide.clone()).unwrap().is_compiled(), "too wide for a u8 feature index");
        for f in [eq, deep, inf, wide] {
            let s = Scorer::new(f.clone()).unwrap();
            assert!(!s.is_compiled());
            let nf = f.n_features;
            let x = rows(3, nf, 100, 10);
            assert_eq!(s.predict_batch(&x).unwrap(), f.predict_batch(&x).unwrap());
            let cols: Vec<Vec<f32>> = (0..nf).map(|j| x.iter().skip(j).step_by(nf).copied().collect()).collect();
            let mut by_columns = vec![0f32; 100];
            s.predict_columns_into(&cols.iter().map(Vec::as_slice).collect::<Vec<_>>(), &mut by_columns).unwrap();
            assert_eq!(by_columns, f.predict_batch(&x).unwrap());
            assert_eq!(s.predict_row(&x[..nf]).unwrap(), f.predict_row(&x[..nf]).unwrap());
        }
    }

    #[test]
    fn width_and_validity_are_checked() {
        let f = random_forest(11, 4, 10, 4, &[Mode::Lt]);
        let s = Scorer::new(f.clone()).unwrap();
        assert!(matches!(s.predict_row(&[1.0; 3]), Err(ModelError::Width { expected: 4, got: 3 })));
        assert!(s.predict_batch(&[1.0; 7]).is_err());
        assert!(s.predict_batch_into(&[1.0; 8], &mut [0.0; 3]).is_err());
        let col = [1.0f32; 3];
        assert!(matches!(s.predict_columns_into(&[&col[..]; 3], &mut [0.0; 3]), Err(ModelError::Width { expected: 4, got: 3 })));
        assert!(s.predict_columns_into(&[&col[..], &col, &col, &col[..2]], &mut [0.0; 3]).is_err(), "a short column");
        let mut bad = f;
        bad.nodes[0].feature = 99;
        assert!(Scorer::new(bad).is_err());
    }

    /// The vector kernel is what this machine's batches use whenever the CPU has
    /// AVX-512 and the forest is at most 6 deep; deeper forests keep the scalar kernel.
    #[test]
    fn the_vector_kernel_is_chosen_where_it_applies() {
        let shallow = Scorer::new(random_forest(16, 7, 10, 6, &[Mode::Lt])).unwrap();
        let deep = Scorer::new(random_forest(17, 7, 10, 7, &[Mode::Lt])).unwrap();
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            assert_eq!(shallow.kernel(), Kernel::Vector);
        }
        assert!(deep.perfect.as_ref().is_some_and(|p| p.n > 64), "the test forest is 7 deep");
        assert_eq!(deep.kernel(), Kernel::Scalar);
        assert_eq!(Scorer::scalar(random_forest(16, 7, 10, 6, &[Mode::Lt])).unwrap().kernel(), Kernel::Scalar);
        let eq = random_forest(6, 5, 30, 4, &[Mode::Lt, Mode::Eq]);
        assert_eq!(Scorer::new(eq).unwrap().kernel(), Kernel::NodeWalk);
    }

    #[test]
    fn splits_are_eight_bytes() {
        assert_eq!(std::mem::size_of::<Split>(), 8);
    }
}
