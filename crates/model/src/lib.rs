//! The tree-ensemble model shared by the trainer and the server.
//!
//! - [`Forest`]: a flat-array forest (one node array for all trees; per node a feature
//!   index, an f32 threshold, a comparison mode, true/false children, where a missing
//!   value goes, and a leaf value) that scores one row or a batch;
//! - [`Scorer`] ([`scorer`]): the same forest compiled into perfect trees for fast,
//!   bit-identical scoring; what the server and the tract op score with;
//! - [`onnx`]: export as one standard `ai.onnx.ml` `TreeEnsembleRegressor` node, and a
//!   tract op registered under that name so the exported file runs in tract.
//!
//! Scoring sums the leaf values in f64, tree by tree, starting from the base value, and
//! rounds to f32 once: the in-memory model and the tract op share this code, so both give
//! the same number for the same row.

pub mod onnx;
pub mod scorer;

pub use scorer::{Kernel, Scorer};

use serde::{Deserialize, Serialize};

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("invalid forest: {0}")]
    Invalid(String),
    #[error("row width {got} differs from the model's {expected} features")]
    Width { expected: usize, got: usize },
    #[error("onnx: {0}")]
    Onnx(String),
}

pub type Result<T, E = ModelError> = std::result::Result<T, E>;

/// How a branch node compares the feature value `x` with its threshold `t`; the node
/// goes to its `true` child when the comparison holds (the ONNX `nodes_modes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// `x <= t`
    Leq,
    /// `x < t`
    Lt,
    /// `x >= t`
    Gte,
    /// `x > t`
    Gt,
    /// `x == t`
    Eq,
    /// `x != t`
    Neq,
}

impl Mode {
    /// Whether `x` goes to the true child (x not NaN).
    #[inline]
    pub fn holds(self, x: f32, t: f32) -> bool {
        match self {
            Mode::Leq => x <= t,
            Mode::Lt => x < t,
            Mode::Gte => x >= t,
            Mode::Gt => x > t,
            Mode::Eq => x == t,
            Mode::Neq => x != t,
        }
    }

    /// The ONNX name.
    pub fn onnx_name(self) -> &'static str {
        match self {
            Mode::Leq => "BRANCH_LEQ",
            Mode::Lt => "BRANCH_LT",
            Mode::Gte => "BRANCH_GTE",
            Mode::Gt => "BRANCH_GT",
            Mode::Eq => "BRANCH_EQ",
            Mode::Neq => "BRANCH_NEQ",
        }
    }

    /// From the ONNX name (`None` for `LEAF`, an error for anything else).
    pub fn from_onnx(s: &str) -> Result<Option<Mode>> {
        Ok(Some(match s {
            "BRANCH_LEQ" => Mode::Leq,
            "BRANCH_LT" => Mode::Lt,
            "BRANCH_GTE" => Mode::Gte,
            "BRANCH_GT" => Mode::Gt,
            "BRANCH_EQ" => Mode::Eq,
            "BRANCH_NEQ" => Mode::Neq,
            "LEAF" => return Ok(None),
            other => return Err(ModelError::Onnx(format!("unknown node mode {other:?}"))),
        }))
    }
}

/// One node. A leaf has `branch == None` and its `value`; a branch node has children
/// given as indices into the forest's node array.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Node {
    pub feature: u32,
    pub threshold: f32,
    pub branch: Option<Mode>,
    /// Child taken when the comparison holds ("left").
    pub if_true: u32,
    /// Child taken otherwise ("right").
    pub if_false: u32,
    /// A missing (NaN) value goes to the true child when set, else to the false child.
    pub missing_true: bool,
    pub value: f32,
}

impl Node {
    pub fn leaf(value: f32) -> Node {
        Node { feature: 0, threshold: 0.0, branch: None, if_true: 0, if_false: 0, missing_true: false, value }
    }
}

/// A flat forest: every tree's nodes in one array, `roots[i]` the root of tree `i`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    pub n_features: usize,
    pub base: f32,
    pub nodes: Vec<Node>,
    pub roots: Vec<u32>,
}

impl Forest {
    /// Checks indices, features and that every tree is acyclic (children after parents),
    /// so scoring can never loop or index out of range.
    pub fn validate(&self) -> Result<()> {
        if self.n_features == 0 {
            return Err(ModelError::Invalid("zero features".into()));
        }
        if !self.base.is_finite() {
            return Err(ModelError::Invalid("non-finite base value".into()));
        }
        let n = self.nodes.len();
        for &r in &self.roots {
            if r as usize >= n {
                return Err(ModelError::Invalid(format!("root {r} out of range")));
            }
        }
        for (i, node) in self.nodes.iter().enumerate() {
            match node.branch {
                None if !node.value.is_finite() => return Err(ModelError::Invalid(format!("node {i}: non-finite leaf"))),
                None => {}
                Some(_) => {
                    if node.feature as usize >= self.n_features {
                        return Err(ModelError::Invalid(format!("node {i}: feature {} out of range", node.feature)));
                    }
                    for c in [node.if_true, node.if_false] {
                        if c as usize >= n || c as usize <= i {
                            return Err(ModelError::Invalid(format!("node {i}: child {c} must come after it and exist")));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Number of trees.
    pub fn n_trees(&self) -> usize {
        self.roots.len()
    }

    /// Leaf value of one tree for one row.
    #[inline]
    fn tree_value(&self, root: u32, row: &[f32]) -> f32 {
        let mut i = root as usize;
        loop {
            let node = &self.nodes[i];
            let Some(mode) = node.branch else { return node.value };
            let x = row[node.feature as usize];
            let go_true = if x.is_nan() { node.missing_true } else { mode.holds(x, node.threshold) };
            i = if go_true { node.if_true } else { node.if_false } as usize;
        }
    }

    /// Scores one row (its width must equal `n_features`).
    pub fn predict_row(&self, row: &[f32]) -> Result<f32> {
        if row.len() != self.n_features {
            return Err(ModelError::Width { expected: self.n_features, got: row.len() });
        }
        let mut sum = self.base as f64;
        for &r in &self.roots {
            sum += self.tree_value(r, row) as f64;
        }
        Ok(sum as f32)
    }

    /// Scores a row-major batch `[n, n_features]`.
    ///
    /// Rows are scored in blocks, tree by tree within a block, so a tree's nodes stay in
    /// cache across the block; each row still sums its trees in the same order as
    /// [`Forest::predict_row`], so the results are identical. Batches of at least
    /// [`PARALLEL_MIN_ROWS`] rows are split over rayon's thread pool.
    pub fn predict_batch(&self, rows: &[f32]) -> Result<Vec<f32>> {
        let nf = self.n_features;
        if !rows.len().is_multiple_of(nf) {
            return Err(ModelError::Width { expected: nf, got: rows.len() % nf });
        }
        let n = rows.len() / nf;
        let mut out = vec![0.0f32; n];
        let score_block = |(out, rows): (&mut [f32], &[f32])| {
            let mut sums = [self.base as f64; BLOCK_ROWS];
            let k = out.len();
            for &root in &self.roots {
                for (s, row) in sums[..k].iter_mut().zip(rows.chunks_exact(nf)) {
                    *s += self.tree_value(root, row) as f64;
                }
            }
            for (o, s) in out.iter_mut().zip(sums) {
                *o = s as f32;
            }
        };
        if n >= PARALLEL_MIN_ROWS {
            use rayon::prelude::*;
            out.par_chunks_mut(BLOCK_ROWS).zip(rows.par_chunks(BLOCK_ROWS * nf)).for_each(score_block);
        } else {
            out.chunks_mut(BLOCK_ROWS).zip(rows.chunks(BLOCK_ROWS * nf)).for_each(score_block);
        }
        Ok(out)
    }
}

/// Rows scored together, tree by tree (see [`Forest::predict_batch`]).
const BLOCK_ROWS: usize = 32;

/// Batches of at least this many rows are scored on several threads.
pub const PARALLEL_MIN_ROWS: usize = 2048;

/// The smallest f32 that is >= `x` (for a finite `x` within f32 range). A split `x < t`
/// on f64 becomes `x < next_up_f32(t)` on f32 inputs without any row changing side.
pub fn next_up_f32(x: f64) -> f32 {
    let f = x as f32;
    if (f as f64) >= x || f.is_nan() || f == f32::INFINITY {
        return f;
    }
    // `f` rounded below x: step one ulp towards +inf.
    let bits = f.to_bits();
    let next = if f == 0.0 {
        f32::from_bits(1)
    } else if f > 0.0 {
        f32::from_bits(bits + 1)
    } else {
        f32::from_bits(bits - 1)
    };
    debug_assert!(next as f64 >= x);
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tree: x0 < 1.5 (NaN left) ? (x1 >= 2 (NaN right) ? 10 : 20) : 30
    pub(crate) fn small() -> Forest {
        let nodes = vec![
            Node { feature: 0, threshold: 1.5, branch: Some(Mode::Lt), if_true: 1, if_false: 4, missing_true: true, value: 0.0 },
            Node { feature: 1, threshold: 2.0, branch: Some(Mode::Gte), if_true: 2, if_false: 3, missing_true: false, value: 0.0 },
            Node::leaf(10.0),
            Node::leaf(20.0),
            Node::leaf(30.0),
            Node::leaf(-1.0),
        ];
        Forest { n_features: 2, base: 0.5, nodes, roots: vec![0, 5] }
    }

    #[test]
    fn scores_rows_and_missing_values() {
        let f = small();
        f.validate().unwrap();
        assert_eq!(f.predict_row(&[1.0, 3.0]).unwrap(), 9.5);
        assert_eq!(f.predict_row(&[1.0, 1.0]).unwrap(), 19.5);
        assert_eq!(f.predict_row(&[1.5, 1.0]).unwrap(), 29.5);
        assert_eq!(f.predict_row(&[f32::NAN, f32::NAN]).unwrap(), 19.5);
        assert_eq!(f.predict_batch(&[1.0, 3.0, 2.0, 0.0]).unwrap(), vec![9.5, 29.5]);
        // Blocked and parallel batches score each row exactly like predict_row.
        let big: Vec<f32> = (0..2 * (PARALLEL_MIN_ROWS + 77)).map(|i| if i % 11 == 0 { f32::NAN } else { (i % 7) as f32 * 0.5 }).collect();
        let want: Vec<f32> = big.chunks(2).map(|r| f.predict_row(r).unwrap()).collect();
        assert_eq!(f.predict_batch(&big).unwrap(), want);
        assert_eq!(f.predict_batch(&big[..2 * 45]).unwrap(), want[..45]);
        assert!(matches!(f.predict_row(&[1.0]), Err(ModelError::Width { expected: 2, got: 1 })));
        assert!(f.predict_batch(&[1.0, 2.0, 3.0]).is_err());
    }

    #[test]
    fn validation_rejects_bad_indices() {
        let mut f = small();
        f.nodes[0].if_false = 99;
        assert!(f.validate().is_err());
        let mut f = small();
        f.nodes[1].if_true = 0;
        assert!(f.validate().is_err(), "a cycle must be refused");
        let mut f = small();
        f.nodes[0].feature = 2;
        assert!(f.validate().is_err());
    }

    #[test]
    fn every_mode_compares_as_named() {
        for (m, x, t, want) in [
            (Mode::Leq, 1.0, 1.0, true),
            (Mode::Lt, 1.0, 1.0, false),
            (Mode::Gte, 1.0, 1.0, true),
            (Mode::Gt, 1.0, 1.0, false),
            (Mode::Eq, 1.0, 1.0, true),
            (Mode::Neq, 1.0, 1.0, false),
            (Mode::Gt, 2.0, 1.0, true),
        ] {
            assert_eq!(m.holds(x, t), want, "{m:?}");
            assert_eq!(Mode::from_onnx(m.onnx_name()).unwrap(), Some(m));
        }
        assert_eq!(Mode::from_onnx("LEAF").unwrap(), None);
        assert!(Mode::from_onnx("BRANCH_XX").is_err());
    }

    #[test]
    fn thresholds_round_up_to_the_next_f32() {
        for x in [0.1f64, -0.1, 1.0 / 3.0, -1.0 / 3.0, 1e-40, -1e-40, 0.0, 12.5, 1e30] {
            let t = next_up_f32(x);
            assert!(t as f64 >= x, "{x}");
            // No f32 strictly between x and t.
            let below = f32::from_bits(if t > 0.0 {
                t.to_bits() - 1
            } else if t == 0.0 {
                0x8000_0001
            } else {
                t.to_bits() + 1
            });
            assert!((below as f64) < x || t as f64 == x, "{x}: {below} {t}");
            // Every f32 row value keeps its side of the split.
            for v in [below, t] {
                assert_eq!((v as f64) < x, v < t, "{x} {v}");
            }
        }
    }
}
