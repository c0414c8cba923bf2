//! The project's own histogram gradient-boosting regressor (pure Rust, rayon).
//!
//! Why our own: the Rust GBM crate at hand (forust-ml) has only a squared loss, and on
//! this data an absolute-error loss measurably lowers MAE (docs/trainer.md, "Measured").
//! This one supports both:
//!
//! - `squared_error`: gradient `pred - y`, hessian 1, leaf value `-G / (N + l2)`;
//! - `absolute_error`: gradient `sign(pred - y)`, hessian 1; the tree structure is grown
//!   on those gradients and each leaf value is then re-fitted as the median of the
//!   residuals `y - pred` of its rows (as LightGBM does for L1).
//!
//! Trees grow best-first (largest gain first) up to `max_depth` and `max_leaves`, on
//! histograms of binned features ([`bins`]), with the histogram-subtraction trick (build
//! the smaller child, subtract from the parent for the larger). Each split also learns
//! where missing values go: both directions are tried and the better kept. Rows are
//! subsampled per tree (Bernoulli) and so are features (`colsample_bytree`). Early
//! stopping watches the objective's own loss on the validation rows (MAE or RMSE).
//!
//! Leaf values and the base score are rounded to f32 when they are made, and predictions
//! sum them in f64 starting from the base, exactly like [`nba_model::Forest`], so the
//! exported forest gives the booster's own predictions.

pub mod bins;
mod grow;

use crate::TrainError;
use bins::{BinMapper, Binned};
use nba_model::{Forest, Mode, Node};
use rayon::prelude::*;

/// The loss minimised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    AbsoluteError,
    SquaredError,
}

impl Objective {
    pub fn name(self) -> &'static str {
        match self {
            Objective::AbsoluteError => "absolute_error",
            Objective::SquaredError => "squared_error",
        }
    }

    /// The validation metric early stopping watches: the objective's own loss.
    pub fn metric_name(self) -> &'static str {
        match self {
            Objective::AbsoluteError => "mae",
            Objective::SquaredError => "rmse",
        }
    }

    fn metric(self, pred: &[f64], y: &[f64]) -> f64 {
        let n = y.len().max(1) as f64;
        match self {
            Objective::AbsoluteError => pred.iter().zip(y).map(|(p, a)| (p - a).abs()).sum::<f64>() / n,
            Objective::SquaredError => (pred.iter().zip(y).map(|(p, a)| (p - a) * (p - a)).sum::<f64>() / n).sqrt(),
        }
    }
}

impl std::str::FromStr for Objective {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "absolute_error" | "l1" | "mae" => Ok(Objective::AbsoluteError),
            "squared_error" | "l2" | "mse" => Ok(Objective::SquaredError),
            _ => Err(format!("unknown objective {s:?} (absolute_error or squared_error)")),
        }
    }
}

impl std::fmt::Display for Objective {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Hyper-parameters of one fit.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    pub objective: Objective,
    /// Most trees grown.
    pub iterations: usize,
    pub learning_rate: f64,
    pub max_depth: usize,
    pub max_leaves: usize,
    /// L1 (soft threshold) and L2 regularisation of the gradient sums in split gains and
    /// squared-error leaf values.
    pub l1: f64,
    pub l2: f64,
    /// Smallest gain for a split.
    pub gamma: f64,
    /// Fewest rows (= hessian sum: both objectives have hessian 1) in a leaf.
    pub min_leaf_weight: f64,
    /// Value bins per feature (2..=255; missing values have their own bin).
    pub nbins: usize,
    /// Share of rows drawn for each tree.
    pub subsample: f64,
    /// Share of features offered to each tree.
    pub colsample_bytree: f64,
    /// Stop after this many trees without a better validation loss.
    pub early_stopping_rounds: usize,
    pub seed: u64,
    /// Worker threads (0: all cores).
    pub threads: usize,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            objective: Objective::AbsoluteError,
            iterations: 100,
            learning_rate: 0.1,
            max_depth: 6,
            max_leaves: 64,
            l1: 0.0,
            l2: 1.0,
            gamma: 0.0,
            min_leaf_weight: 20.0,
            nbins: 255,
            subsample: 1.0,
            colsample_bytree: 1.0,
            early_stopping_rounds: 50,
            seed: 0,
            threads: 0,
        }
    }
}

/// A tree node. Children come after their parent in `Tree::nodes`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreeNode {
    /// `None` for a leaf.
    pub split: Option<Split>,
    /// Leaf value (learning rate applied, rounded to f32).
    pub value: f32,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Split {
    pub feature: u32,
    /// Rows with bin `<= bin` (i.e. `x < threshold`) go left.
    pub bin: u8,
    pub threshold: f32,
    pub missing_left: bool,
    pub left: u32,
    pub right: u32,
    /// Loss reduction of the split (feature importance).
    pub gain: f64,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Tree {
    pub nodes: Vec<TreeNode>,
}

impl Tree {
    /// Leaf value of a raw f32 row.
    #[inline]
    pub fn value(&self, row: &[f32]) -> f32 {
        let mut i = 0;
        loop {
            let n = &self.nodes[i];
            let Some(s) = n.split else { return n.value };
            let x = row[s.feature as usize];
            let left = if x.is_nan() { s.missing_left } else { x < s.threshold };
            i = if left { s.left } else { s.right } as usize;
        }
    }

    /// Leaf value of row `r` of a binned matrix.
    #[inline]
    fn value_binned(&self, x: &Binned, r: usize) -> f32 {
        let mut i = 0;
        loop {
            let n = &self.nodes[i];
            let Some(s) = n.split else { return n.value };
            let b = x.bins[s.feature as usize * x.rows + r];
            let left = if b == 0 { s.missing_left } else { b <= s.bin };
            i = if left { s.left } else { s.right } as usize;
        }
    }
}

/// One step of training, for progress display.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub trees: usize,
    pub valid_loss: Option<f64>,
    pub best_trees: usize,
}

/// A fitted model.
#[derive(Debug, Clone)]
pub struct Booster {
    pub n_features: usize,
    pub objective: Objective,
    pub base: f32,
    /// The trees kept (up to the best validation iteration).
    pub trees: Vec<Tree>,
    /// Trees grown before stopping.
    pub trees_grown: usize,
    /// Validation loss after each tree grown (empty without validation rows).
    pub valid_history: Vec<f64>,
}

fn err(m: impl Into<String>) -> TrainError {
    TrainError::Training(m.into())
}

fn check(x: &[&[f32]], y: &[f64], n_features: usize, what: &str) -> Result<(), TrainError> {
    if x.len() != y.len() {
        return Err(err(format!("{what}: {} rows but {} targets", x.len(), y.len())));
    }
    if let Some(i) = y.iter().position(|v| !v.is_finite()) {
        return Err(TrainError::Data(format!("{what} row {i}: non-finite target {}", y[i])));
    }
    for (i, r) in x.iter().enumerate() {
        if r.len() != n_features {
            return Err(TrainError::Data(format!("{what} row {i}: {} features, expected {n_features}", r.len())));
        }
        if let Some(f) = r.iter().position(|v| v.is_infinite()) {
            return Err(TrainError::Data(format!("{what} row {i}: feature {f} is infinite (missing values must be NaN)")));
        }
    }
    Ok(())
}

/// Median of a slice (mean of the two middle values when even); reorders it.
pub(crate) fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    let (_, &mut hi, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return hi;
    }
    let lo = v[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo + hi) / 2.0
}

/// A small seeded generator (splitmix64): row and feature sampling must be reproducible
/// and need no statistical quality beyond that.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub(crate) fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Trains on rows `x` (row-major, NaN = missing) and targets `y`, with early stopping on
/// `valid` when given. `progress` is called after every tree.
pub fn fit(
    p: &Params,
    x: &[&[f32]],
    y: &[f64],
    valid: Option<(&[&[f32]], &[f64])>,
    n_features: usize,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Booster, TrainError> {
    check(x, y, n_features, "training")?;
    if let Some((vx, vy)) = valid {
        check(vx, vy, n_features, "validation")?;
    }
    if x.is_empty() {
        return Err(TrainError::Data("no training rows".into()));
    }
    if !(p.learning_rate > 0.0 && p.learning_rate.is_finite()) || p.max_depth == 0 || p.max_leaves < 2 || !(2..=255).contains(&p.nbins) {
        return Err(err(format!(
            "bad hyper-parameters: learning rate {} (> 0), max depth {} (>= 1), max leaves {} (>= 2), bins {} (2..=255)",
            p.learning_rate, p.max_depth, p.max_leaves, p.nbins
        )));
    }
    if !(p.subsample > 0.0 && p.subsample <= 1.0 && p.colsample_bytree > 0.0 && p.colsample_bytree <= 1.0) {
        return Err(err(format!("subsample {} and colsample {} must be in (0, 1]", p.subsample, p.colsample_bytree)));
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(p.threads).build().map_err(|e| err(format!("thread pool: {e}")))?;
    pool.install(|| fit_in_pool(p, x, y, valid, n_features, progress))
}

fn fit_in_pool(
    p: &Params,
    x: &[&[f32]],
    y: &[f64],
    valid: Option<(&[&[f32]], &[f64])>,
    n_features: usize,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Booster, TrainError> {
    let mapper = BinMapper::fit(x, n_features, p.nbins);
    let xb = mapper.transform(x);
    let vb = valid.map(|(vx, _)| mapper.transform(vx));
    let vy = valid.map(|(_, vy)| vy).unwrap_or(&[]);

    let base = match p.objective {
        Objective::AbsoluteError => median(&mut y.to_vec()),
        Objective::SquaredError => y.iter().sum::<f64>() / y.len() as f64,
    } as f32;
    let mut pred = vec![base as f64; y.len()];
    let mut vpred = vec![base as f64; vy.len()];
    let mut grad = vec![0.0f64; y.len()];
    let mut rng = Rng::new(p.seed);
    let mut trees: Vec<Tree> = vec![];
    let mut history = vec![];
    let (mut best_loss, mut best_trees) = (f64::INFINITY, 0usize);
    let grower = grow::Grower::new(p, &mapper, &xb);

    for it in 0..p.iterations {
        grad.par_iter_mut().zip(pred.par_iter().zip(y)).for_each(|(g, (p_, y_))| {
            *g = match p.objective {
                Objective::AbsoluteError => (p_ - y_).signum() * f64::from(u8::from(p_ != y_)),
                Objective::SquaredError => p_ - y_,
            }
        });
        let rows: Vec<u32> = if p.subsample < 1.0 { (0..y.len() as u32).filter(|_| rng.f64() < p.subsample).collect() } else { (0..y.len() as u32).collect() };
        let features = sample_features(n_features, p.colsample_bytree, &mut rng);
        let tree = grower.grow(&rows, &features, &grad, &pred, y);
        pred.par_iter_mut().enumerate().for_each(|(r, v)| *v += tree.value_binned(&xb, r) as f64);
        trees.push(tree);
        let t = &trees[trees.len() - 1];
        let mut valid_loss = None;
        if let Some(vb) = &vb {
            vpred.par_iter_mut().enumerate().for_each(|(r, v)| *v += t.value_binned(vb, r) as f64);
            let loss = p.objective.metric(&vpred, vy);
            history.push(loss);
            valid_loss = Some(loss);
            if loss < best_loss {
                (best_loss, best_trees) = (loss, it + 1);
            }
        } else {
            best_trees = it + 1;
        }
        progress(Progress { trees: it + 1, valid_loss, best_trees });
        if vb.is_some() && it + 1 - best_trees >= p.early_stopping_rounds.max(1) {
            break;
        }
    }
    let trees_grown = trees.len();
    trees.truncate(best_trees);
    Ok(Booster { n_features, objective: p.objective, base, trees, trees_grown, valid_history: history })
}

fn sample_features(n: usize, share: f64, rng: &mut Rng) -> Vec<bool> {
    if share >= 1.0 {
        return vec![true; n];
    }
    let k = ((n as f64 * share).round() as usize).clamp(1, n);
    let mut ix: Vec<usize> = (0..n).collect();
    // Partial Fisher-Yates: the first k are a uniform sample.
    for i in 0..k {
        let j = i + (rng.next_u64() % (n - i) as u64) as usize;
        ix.swap(i, j);
    }
    let mut on = vec![false; n];
    for &i in &ix[..k] {
        on[i] = true;
    }
    on
}

/// Seed of bag member `k`: member 0 is the plain model of `seed`.
pub fn member_seed(seed: u64, k: usize) -> u64 {
    seed.wrapping_add(k as u64)
}

/// Seed bagging: `bag` boosters fitted on the same rows with seeds `seed, seed + 1, ...`
/// (row and column sampling make them differ), each with its own early stopping on
/// `valid`. `progress` gets the member index and its progress. Combine with [`average`].
pub fn fit_bag(
    p: &Params,
    bag: usize,
    x: &[&[f32]],
    y: &[f64],
    valid: Option<(&[&[f32]], &[f64])>,
    n_features: usize,
    progress: &mut (dyn FnMut(usize, Progress) + Send),
) -> Result<Vec<Booster>, TrainError> {
    (0..bag.max(1)).map(|k| fit(&Params { seed: member_seed(p.seed, k), ..p.clone() }, x, y, valid, n_features, &mut |pr| progress(k, pr))).collect()
}

/// One booster whose prediction is the mean of the members': every member's trees
/// concatenated with each leaf value scaled by `1 / K` (rounded to f32), the base the mean
/// of the bases (rounded to f32). It is an ordinary booster, so it exports to one standard
/// tree ensemble and the exported forest gives its predictions exactly. One member is
/// returned unchanged. `trees_grown` is the members' total; `valid_history` is the first
/// member's.
pub fn average(members: &[Booster]) -> Result<Booster, TrainError> {
    let Some(first) = members.first() else { return Err(err("no boosters to average")) };
    if members.len() == 1 {
        return Ok(first.clone());
    }
    if let Some(m) = members.iter().find(|m| m.n_features != first.n_features || m.objective != first.objective) {
        return Err(err(format!("cannot average boosters of {} and {} features ({} and {})", first.n_features, m.n_features, first.objective, m.objective)));
    }
    let scale = 1.0 / members.len() as f64;
    let base = (members.iter().map(|m| m.base as f64).sum::<f64>() * scale) as f32;
    let trees = members
        .iter()
        .flat_map(|m| &m.trees)
        .map(|t| Tree {
            nodes: t.nodes.iter().map(|n| TreeNode { value: if n.split.is_none() { (n.value as f64 * scale) as f32 } else { n.value }, ..*n }).collect(),
        })
        .collect();
    Ok(Booster {
        n_features: first.n_features,
        objective: first.objective,
        base,
        trees,
        trees_grown: members.iter().map(|m| m.trees_grown).sum(),
        valid_history: first.valid_history.clone(),
    })
}

impl Booster {
    /// Prediction of one raw row (sum in f64 of f32 leaves, like the forest).
    pub fn predict_row(&self, row: &[f32]) -> f64 {
        self.trees.iter().fold(self.base as f64, |s, t| s + t.value(row) as f64)
    }

    pub fn predict(&self, rows: &[&[f32]]) -> Vec<f64> {
        rows.par_iter().map(|r| self.predict_row(r)).collect()
    }

    /// Total split gain per feature over the kept trees.
    pub fn feature_gain(&self) -> Vec<f64> {
        let mut g = vec![0.0; self.n_features];
        for n in self.trees.iter().flat_map(|t| &t.nodes) {
            if let Some(s) = n.split {
                g[s.feature as usize] += s.gain;
            }
        }
        g
    }

    /// The flat forest: split `x < threshold` becomes `BRANCH_LT` with the same f32
    /// threshold; node order is kept (children after parents within each tree).
    pub fn to_forest(&self) -> Result<Forest, TrainError> {
        let mut f = Forest { n_features: self.n_features, base: self.base, nodes: vec![], roots: vec![] };
        for t in &self.trees {
            let off = f.nodes.len() as u32;
            f.roots.push(off);
            for n in &t.nodes {
                f.nodes.push(match n.split {
                    None => Node::leaf(n.value),
                    Some(s) => Node {
                        feature: s.feature,
                        threshold: s.threshold,
                        branch: Some(Mode::Lt),
                        if_true: off + s.left,
                        if_false: off + s.right,
                        missing_true: s.missing_left,
                        value: 0.0,
                    },
                });
            }
        }
        f.validate()?;
        Ok(f)
    }
}

#[cfg(test)]
mod tests;
