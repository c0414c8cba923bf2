//! Growing one tree: histograms of (gradient sum, row count) per feature bin, best-first
//! leaf splitting with the subtraction trick, learned missing-value directions, and the
//! leaf values of the objective.

use super::bins::{BinMapper, Binned};
use super::{Objective, Params, Split, Tree, TreeNode, median};
use rayon::prelude::*;

/// Per bin: sum of gradients, rows (= hessian sum: hessians are 1).
type Hist = Vec<[f64; 2]>;

/// The best split of a leaf.
#[derive(Debug, Clone, Copy)]
struct Cand {
    feature: usize,
    bin: u8,
    missing_left: bool,
    gain: f64,
}

struct Leaf {
    node: usize,
    depth: usize,
    rows: Vec<u32>,
    /// Kept only while the leaf may still be split.
    hist: Option<Hist>,
    best: Option<Cand>,
}

pub(super) struct Grower<'a> {
    p: &'a Params,
    mapper: &'a BinMapper,
    x: &'a Binned,
    /// Histogram length (all features' bins, missing bins included).
    len: usize,
    offsets: Vec<usize>,
}

impl<'a> Grower<'a> {
    pub(super) fn new(p: &'a Params, mapper: &'a BinMapper, x: &'a Binned) -> Self {
        let mut offsets = vec![];
        let mut len = 0;
        for f in 0..mapper.n_features() {
            offsets.push(len);
            len += mapper.n_bins(f);
        }
        Grower { p, mapper, x, len, offsets }
    }

    /// Gradient regularised by `l1` (soft threshold).
    fn shrink(&self, g: f64) -> f64 {
        g.signum() * (g.abs() - self.p.l1).max(0.0)
    }

    fn score(&self, g: f64, n: f64) -> f64 {
        let g = self.shrink(g);
        g * g / (n + self.p.l2)
    }

    fn build(&self, rows: &[u32], features: &[bool], grad: &[f64]) -> Hist {
        // Gradients in row order once, so each feature's pass reads them sequentially.
        let ordered: Vec<f64> = rows.iter().map(|&r| grad[r as usize]).collect();
        let mut hist = vec![[0.0f64; 2]; self.len];
        let mut parts = Vec::with_capacity(self.offsets.len());
        let mut rest = &mut hist[..];
        for f in 0..self.offsets.len() {
            let (a, b) = rest.split_at_mut(self.mapper.n_bins(f));
            parts.push(a);
            rest = b;
        }
        parts.into_par_iter().enumerate().filter(|(f, _)| features[*f]).for_each(|(f, h)| {
            let col = self.x.col(f);
            for (&r, &g) in rows.iter().zip(&ordered) {
                let e = &mut h[col[r as usize] as usize];
                e[0] += g;
                e[1] += 1.0;
            }
        });
        hist
    }

    /// Best split of a leaf with gradient sum `g` over `n` rows, if any gains.
    fn best_split(&self, hist: &Hist, features: &[bool], g: f64, n: f64) -> Option<Cand> {
        let min_n = self.p.min_leaf_weight.max(1.0);
        let parent = self.score(g, n);
        let best_of = |f: usize| -> Option<Cand> {
            let h = &hist[self.offsets[f]..self.offsets[f] + self.mapper.n_bins(f)];
            let miss = h[0];
            let mut best: Option<Cand> = None;
            // Missing values tried on each side; one pass when there are none.
            let sides: &[bool] = if miss[1] > 0.0 { &[true, false] } else { &[false] };
            for &missing_left in sides {
                let (mut lg, mut ln) = if missing_left { (miss[0], miss[1]) } else { (0.0, 0.0) };
                // Bin k (1..=cuts) as the last bin going left.
                for (k, e) in h.iter().enumerate().take(h.len() - 1).skip(1) {
                    lg += e[0];
                    ln += e[1];
                    let (rg, rn) = (g - lg, n - ln);
                    if ln < min_n {
                        continue;
                    }
                    if rn < min_n {
                        break;
                    }
                    let gain = self.score(lg, ln) + self.score(rg, rn) - parent;
                    if gain > self.p.gamma && gain > 1e-9 && best.is_none_or(|b| gain > b.gain) {
                        // Without missing values here, unseen ones follow the larger side.
                        let missing_left = if miss[1] > 0.0 { missing_left } else { ln >= rn };
                        best = Some(Cand { feature: f, bin: k as u8, missing_left, gain });
                    }
                }
            }
            best
        };
        (0..self.offsets.len())
            .into_par_iter()
            .filter(|&f| features[f])
            .filter_map(best_of)
            .reduce_with(|a, b| if b.gain > a.gain || (b.gain == a.gain && b.feature < a.feature) { b } else { a })
    }

    fn leaf(&self, node: usize, depth: usize, rows: Vec<u32>, hist: Hist, features: &[bool], grad: &[f64]) -> Leaf {
        let n = rows.len() as f64;
        let splittable = depth < self.p.max_depth && n >= 2.0 * self.p.min_leaf_weight.max(1.0);
        let best = if splittable {
            let g: f64 = rows.iter().map(|&r| grad[r as usize]).sum();
            self.best_split(&hist, features, g, n)
        } else {
            None
        };
        Leaf { node, depth, rows, hist: best.is_some().then_some(hist), best }
    }

    /// Grows one tree on `rows` (the sample of this tree) offering only `features`.
    pub(super) fn grow(&self, rows: &[u32], features: &[bool], grad: &[f64], pred: &[f64], y: &[f64]) -> Tree {
        let mut tree = Tree { nodes: vec![TreeNode { split: None, value: 0.0 }] };
        let root_hist = self.build(rows, features, grad);
        let mut leaves = vec![self.leaf(0, 0, rows.to_vec(), root_hist, features, grad)];
        let mut n_leaves = 1;
        while n_leaves < self.p.max_leaves {
            let Some(i) = (0..leaves.len()).filter(|&i| leaves[i].best.is_some()).max_by(|&a, &b| {
                let (ga, gb) = (leaves[a].best.map_or(0.0, |c| c.gain), leaves[b].best.map_or(0.0, |c| c.gain));
                ga.total_cmp(&gb).then(b.cmp(&a))
            }) else {
                break;
            };
            let leaf = leaves.swap_remove(i);
            let (Some(c), Some(parent_hist)) = (leaf.best, leaf.hist) else { unreachable!("only leaves with a split and a histogram are chosen") };
            let col = self.x.col(c.feature);
            let (lrows, rrows): (Vec<u32>, Vec<u32>) = leaf.rows.iter().partition(|&&r| {
                let b = col[r as usize];
                if b == 0 { c.missing_left } else { b <= c.bin }
            });
            let (l, r) = (tree.nodes.len(), tree.nodes.len() + 1);
            tree.nodes.push(TreeNode { split: None, value: 0.0 });
            tree.nodes.push(TreeNode { split: None, value: 0.0 });
            tree.nodes[leaf.node].split = Some(Split {
                feature: c.feature as u32,
                bin: c.bin,
                threshold: self.mapper.cuts[c.feature][c.bin as usize - 1],
                missing_left: c.missing_left,
                left: l as u32,
                right: r as u32,
                gain: c.gain,
            });
            // Build the smaller child's histogram; the larger one is parent - smaller.
            let left_smaller = lrows.len() <= rrows.len();
            let small = self.build(if left_smaller { &lrows } else { &rrows }, features, grad);
            let mut large = parent_hist;
            large.iter_mut().zip(&small).for_each(|(a, b)| {
                a[0] -= b[0];
                a[1] -= b[1];
            });
            let (lh, rh) = if left_smaller { (small, large) } else { (large, small) };
            leaves.push(self.leaf(l, leaf.depth + 1, lrows, lh, features, grad));
            leaves.push(self.leaf(r, leaf.depth + 1, rrows, rh, features, grad));
            n_leaves += 1;
        }
        let lr = self.p.learning_rate;
        for leaf in &leaves {
            let raw = match self.p.objective {
                _ if leaf.rows.is_empty() => 0.0,
                Objective::SquaredError => {
                    let g: f64 = leaf.rows.iter().map(|&r| grad[r as usize]).sum();
                    -self.shrink(g) / (leaf.rows.len() as f64 + self.p.l2)
                }
                Objective::AbsoluteError => median(&mut leaf.rows.iter().map(|&r| y[r as usize] - pred[r as usize]).collect::<Vec<_>>()),
            };
            tree.nodes[leaf.node].value = (lr * raw) as f32;
        }
        tree
    }
}
