//! Gradient-boosted regression trees with forust-ml (histogram GBM, squared loss,
//! early stopping on the validation RMSE) and the conversion to a flat
//! [`Forest`](nba_model::Forest).
//!
//! forust sends `x < split_value` (f64) left and a NaN to `missing_node`. Rows are f32,
//! so each split becomes `x < next_up_f32(split_value)`, which sends every f32 value the
//! same way (see [`nba_model::next_up_f32`]).

use crate::TrainError;
use crate::manifest::HyperParams;
use forust_ml::data::Matrix;
use forust_ml::gradientbooster::GradientBooster;
use forust_ml::metric::Metric;
use forust_ml::objective::ObjectiveType;
use nba_model::{Forest, Mode, Node, next_up_f32};

/// Column-major f64 matrix (forust's layout) of the given rows.
pub fn column_major(rows: &[&[f32]], n_features: usize) -> Vec<f64> {
    let mut out = vec![0.0; rows.len() * n_features];
    for (i, r) in rows.iter().enumerate() {
        for (j, &x) in r.iter().enumerate() {
            out[j * rows.len() + i] = x as f64;
        }
    }
    out
}

/// Trains on (x, y) with early stopping on (vx, vy); returns the booster.
pub fn fit(hp: &HyperParams, x: &[&[f32]], y: &[f64], vx: &[&[f32]], vy: &[f64], n_features: usize) -> Result<GradientBooster, TrainError> {
    if let Some(bad) = y.iter().chain(vy).find(|v| !v.is_finite()) {
        return Err(TrainError::Data(format!("non-finite target {bad}")));
    }
    let err = |e: forust_ml::errors::ForustError| TrainError::Training(e.to_string());
    let mut gb = GradientBooster::default()
        .set_objective_type(ObjectiveType::SquaredLoss)
        .set_iterations(hp.iterations)
        .set_learning_rate(hp.learning_rate)
        .set_max_depth(hp.max_depth)
        .set_max_leaves(hp.max_leaves)
        .set_l1(hp.l1)
        .set_l2(hp.l2)
        .set_gamma(hp.gamma)
        .set_min_leaf_weight(hp.min_leaf_weight)
        .set_nbins(hp.nbins)
        .set_subsample(hp.subsample)
        .set_colsample_bytree(hp.colsample_bytree)
        .set_seed(hp.seed)
        .set_initialize_base_score(true)
        .set_create_missing_branch(false)
        .set_allow_missing_splits(true)
        .set_parallel(hp.threads != 1)
        .set_num_threads(if hp.threads == 0 { None } else { Some(hp.threads) })
        .set_evaluation_metric(Some(Metric::RootMeanSquaredError))
        .set_early_stopping_rounds(Some(hp.early_stopping_rounds));
    let xm = column_major(x, n_features);
    let vxm = column_major(vx, n_features);
    let w = vec![1.0; y.len()];
    let vw = vec![1.0; vy.len()];
    let data = Matrix::new(&xm, x.len(), n_features);
    let eval = vec![(Matrix::new(&vxm, vx.len(), n_features), vy, &vw[..])];
    gb.fit(&data, y, &w, Some(eval)).map_err(err)?;
    Ok(gb)
}

/// The flat forest of a fitted booster (the trees up to the best iteration).
pub fn to_forest(gb: &GradientBooster, n_features: usize) -> Result<Forest, TrainError> {
    let used = gb.prediction_iteration.unwrap_or(gb.trees.len()).min(gb.trees.len());
    let mut f = Forest { n_features, base: gb.base_score as f32, nodes: vec![], roots: vec![] };
    for (t, tree) in gb.trees[..used].iter().enumerate() {
        if tree.nodes.is_empty() {
            return Err(TrainError::Training(format!("tree {t} is empty")));
        }
        f.roots.push(f.nodes.len() as u32);
        // Depth-first, parents before children; (forust index, parent slot, is-left).
        let mut stack: Vec<(usize, Option<(usize, bool)>)> = vec![(0, None)];
        let mut visited = 0usize;
        while let Some((i, parent)) = stack.pop() {
            visited += 1;
            let n = tree.nodes.get(i).ok_or_else(|| TrainError::Training(format!("tree {t}: node {i} out of range")))?;
            if visited > tree.nodes.len() {
                return Err(TrainError::Training(format!("tree {t}: cycle")));
            }
            let slot = f.nodes.len();
            if let Some((p, left)) = parent {
                if left { f.nodes[p].if_true = slot as u32 } else { f.nodes[p].if_false = slot as u32 }
            }
            if n.is_leaf {
                f.nodes.push(Node::leaf(n.weight_value));
                continue;
            }
            let missing_left = if n.missing_node == n.left_child {
                true
            } else if n.missing_node == n.right_child {
                false
            } else {
                return Err(TrainError::Training(format!("tree {t}: separate missing branches are not exported")));
            };
            f.nodes.push(Node {
                feature: n.split_feature as u32,
                threshold: next_up_f32(n.split_value),
                branch: Some(Mode::Lt),
                if_true: 0,
                if_false: 0,
                missing_true: missing_left,
                value: 0.0,
            });
            stack.push((n.right_child, Some((slot, false))));
            stack.push((n.left_child, Some((slot, true))));
        }
    }
    f.validate()?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(iterations: usize) -> HyperParams {
        HyperParams {
            objective: "squared_error".into(),
            iterations,
            learning_rate: 0.3,
            max_depth: 3,
            max_leaves: usize::MAX,
            l1: 0.0,
            l2: 1.0,
            gamma: 0.0,
            min_leaf_weight: 1.0,
            nbins: 64,
            subsample: 1.0,
            colsample_bytree: 1.0,
            early_stopping_rounds: 5,
            early_stopping_metric: "rmse".into(),
            seed: 0,
            threads: 1,
            trees_used: 0,
            trees_grown: 0,
            base_score: 0.0,
        }
    }

    /// The forest scores every row exactly like forust (to f32 rounding), NaNs included,
    /// including values that sit exactly on or next to a split.
    #[test]
    fn forest_matches_forust() {
        let n = 400;
        let rows: Vec<Vec<f32>> = (0..n)
            .map(|i| {
                let a = (i % 37) as f32 * 0.1;
                let b = if i % 7 == 0 { f32::NAN } else { ((i * 13) % 29) as f32 / 3.0 };
                vec![a, b, (i % 5) as f32]
            })
            .collect();
        let y: Vec<f64> = rows.iter().map(|r| 2.0 * r[0] as f64 + if r[1].is_nan() { 5.0 } else { r[1] as f64 } + r[2] as f64).collect();
        let refs: Vec<&[f32]> = rows.iter().map(|r| &r[..]).collect();
        let gb = fit(&hp(30), &refs[..300], &y[..300], &refs[300..], &y[300..], 3).unwrap();
        let forest = to_forest(&gb, 3).unwrap();
        assert!(forest.n_trees() > 0);
        let xm = column_major(&refs, 3);
        let want = gb.predict(&Matrix::new(&xm, n, 3), false);
        for (r, w) in refs.iter().zip(&want) {
            let got = forest.predict_row(r).unwrap() as f64;
            assert!((got - w).abs() < 1e-4, "{got} vs {w}");
        }
        // Values one ulp around each threshold go the same way in both.
        for node in forest.nodes.iter().filter(|n| n.branch.is_some()) {
            for v in [node.threshold, f32::from_bits(node.threshold.to_bits().wrapping_sub(1))] {
                let mut row = vec![1.0f32, 1.0, 1.0];
                row[node.feature as usize] = v;
                let xm = column_major(&[&row[..]], 3);
                let w = gb.predict(&Matrix::new(&xm, 1, 3), false)[0];
                assert!((forest.predict_row(&row).unwrap() as f64 - w).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn non_finite_targets_are_refused() {
        let rows = [vec![1.0f32], vec![2.0]];
        let refs: Vec<&[f32]> = rows.iter().map(|r| &r[..]).collect();
        let Err(e) = fit(&hp(2), &refs, &[1.0, f64::NAN], &refs, &[1.0, 2.0], 1) else { panic!("NaN target accepted") };
        assert!(e.to_string().contains("non-finite"), "{e}");
    }
}
