//! `manifest.json`: everything needed to know what a model is and how good it was.

use crate::uncertainty::{Calibration, Uncertainty};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Error summary of predictions against actual points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub rows: usize,
    pub mae: f64,
    pub rmse: f64,
    /// Mean of prediction - actual.
    pub bias: f64,
    pub median_ae: f64,
}

impl Metrics {
    pub fn of(pred: &[f64], actual: &[f64]) -> Metrics {
        let n = pred.len().min(actual.len());
        if n == 0 {
            return Metrics { rows: 0, mae: f64::NAN, rmse: f64::NAN, bias: f64::NAN, median_ae: f64::NAN };
        }
        let mut abs: Vec<f64> = pred.iter().zip(actual).map(|(p, a)| (p - a).abs()).collect();
        let mae = abs.iter().sum::<f64>() / n as f64;
        let rmse = (pred.iter().zip(actual).map(|(p, a)| (p - a) * (p - a)).sum::<f64>() / n as f64).sqrt();
        let bias = pred.iter().zip(actual).map(|(p, a)| p - a).sum::<f64>() / n as f64;
        abs.sort_by(f64::total_cmp);
        let median_ae = if n % 2 == 1 { abs[n / 2] } else { (abs[n / 2 - 1] + abs[n / 2]) / 2.0 };
        Metrics { rows: n, mae, rmse, bias, median_ae }
    }
}

/// The model and each baseline measured on one and the same set of rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BaselineComparison {
    pub model: Metrics,
    /// By name, on the same rows as `model`.
    pub baselines: BTreeMap<String, Metrics>,
}

impl BaselineComparison {
    /// The baseline with the lowest MAE, by name.
    pub fn best_baseline(&self) -> Option<(&str, &Metrics)> {
        self.baselines.iter().min_by(|a, b| a.1.mae.total_cmp(&b.1.mae)).map(|(k, v)| (k.as_str(), v))
    }
}

/// The full evaluation of the test period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// The scored rows (minutes filter and all baselines defined).
    pub scored: BaselineComparison,
    /// All test played rows with all baselines defined.
    pub all_with_baselines: BaselineComparison,
    /// The model on every test played row.
    pub all_rows_model: Metrics,
    /// Model MAE on scored rows by band of `min_avg_10`.
    pub by_minutes: BTreeMap<String, Metrics>,
    /// By `starter_share_5 >= 0.5` ("starter") or not ("bench").
    pub by_role: BTreeMap<String, Metrics>,
    /// By calendar month of the game (YYYY-MM).
    pub by_month: BTreeMap<String, Metrics>,
}

/// Every hyper-parameter of the fit, and what the fit chose (trees, base score).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HyperParams {
    pub objective: String,
    pub iterations: usize,
    pub learning_rate: f32,
    pub max_depth: usize,
    pub max_leaves: usize,
    pub l1: f32,
    pub l2: f32,
    pub gamma: f32,
    pub min_leaf_weight: f32,
    pub nbins: u16,
    pub subsample: f32,
    pub colsample_bytree: f64,
    pub early_stopping_rounds: usize,
    pub early_stopping_metric: String,
    pub seed: u64,
    pub threads: usize,
    /// Trees kept (the best validation iteration).
    pub trees_used: usize,
    pub trees_grown: usize,
    pub base_score: f64,
    /// The shipped trees were refitted on train + validation with `trees_used` trees
    /// chosen by early stopping (`validation_mae` is the early-stopped model's).
    #[serde(default)]
    pub refit_on_validation: bool,
    /// Seed bagging: boosters averaged into the shipped ensemble (1: a single booster).
    #[serde(default = "one")]
    pub bag: usize,
    /// Trees kept by each bag member (their sum is `trees_used`); empty in manifests from
    /// before bagging.
    #[serde(default)]
    pub bag_trees: Vec<usize>,
}

fn one() -> usize {
    1
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartInfo {
    pub period: String,
    pub rows: usize,
    pub first_date: String,
    pub last_date: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitInfo {
    pub train: PartInfo,
    pub validation: PartInfo,
    pub test: PartInfo,
    /// Rolling periods (`--as-of`): the date D they were taken relative to (no row after
    /// it was read). None for fixed periods and in manifests written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub as_of: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Canary {
    pub game_id: String,
    pub player_id: String,
    /// Contract order; null is a missing value (NaN).
    pub features: Vec<Option<f32>>,
    pub expected: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: String,
    pub created_at: String,
    pub source_commit: Option<String>,
    pub database: String,
    /// The time split: train, validation (early stopping), test (metrics).
    pub split: SplitInfo,
    pub feature_names: Vec<String>,
    pub feature_version: u32,
    pub contract_hash: String,
    pub hyper_parameters: HyperParams,
    pub validation_mae: f64,
    /// Test-period metrics of the model and the baselines.
    pub metrics: Evaluation,
    pub training_seconds: f64,
    pub model_sha256: String,
    /// Max |tract - in-memory| over the scored test rows, checked before writing.
    pub onnx_max_abs_diff: f64,
    pub canaries: Vec<Canary>,
    /// Percentiles 1, 2, ..., 99 of the residual `actual - predicted`, ascending, pooled
    /// over every kind of player: on the scored validation rows in state A (on the scored
    /// test rows in manifests written before `uncertainty`). A server that predates
    /// `uncertainty` turns them into intervals and P(over); one that knows it uses them
    /// only when the table is absent. Empty in manifests written before they existed.
    #[serde(default)]
    pub residual_quantiles: Vec<f64>,
    /// Total split gain of each feature over the kept trees, largest first. Empty in
    /// manifests written before it existed.
    #[serde(default)]
    pub feature_gain: Vec<FeatureGain>,
    /// `train --walk-forward`: the test period re-predicted month by month by models
    /// retrained on everything before each month. Informative only (not gated).
    #[serde(default)]
    pub walk_forward: Option<WalkForward>,
    /// The game-day states: how the model was taught that the inactive lists and the
    /// lineups may be unknown at request time, and its test MAE in each state. None in
    /// manifests written before it existed.
    #[serde(default)]
    pub game_day: Option<GameDayEvaluation>,
    /// Residual percentiles by prior-10-minutes bucket and game-day state, from the
    /// validation period: what the server reads intervals and P(over) from. None in
    /// manifests written before it existed (then `residual_quantiles` is used).
    #[serde(default)]
    pub uncertainty: Option<Uncertainty>,
    /// Test-period coverage of the intervals and reliability of P(over), the table
    /// against the pooled percentiles. None in manifests written before it existed.
    #[serde(default)]
    pub calibration: Option<Calibration>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureGain {
    pub feature: String,
    pub gain: f64,
}

/// Game-day copies in training: every training row is trained as built (state A, lists
/// and lineups known); a share `lineups_hidden` of the rows is also trained as a copy
/// that sees the inactive lists but not the lineups (state B), and an independently drawn
/// share `both_hidden` as a copy that sees neither (state C).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct HideShares {
    pub lineups_hidden: f64,
    pub both_hidden: f64,
}

/// Scored-row MAE in the three game-day states a model can be asked in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct StateMaes {
    /// A: inactive lists and lineups known (about 30 minutes before tip-off).
    pub lists_and_lineups_known: f64,
    /// B: lists known (official list or injury report), lineups not yet.
    pub lists_known_lineups_unknown: f64,
    /// C: nothing known (the morning of the game).
    pub nothing_known: f64,
    /// The mean of the three: what the grid minimises.
    pub mean: f64,
}

/// One candidate of the hide-share grid, measured on the validation period only.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HideSharesCandidate {
    pub shares: HideShares,
    /// On the scored validation rows, each state masked on every row.
    pub validation: StateMaes,
    /// Trees kept by early stopping (summed over bag members).
    pub trees: usize,
}

/// Training rows (copies included) in each game-day state, with the chosen shares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowsByState {
    pub lists_and_lineups_known: usize,
    pub lists_known_lineups_unknown: usize,
    pub nothing_known: usize,
}

/// How the model serves every game-day state, on the scored test rows (the same rows for
/// every line, those of `metrics.scored`, whose model line is state A).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GameDayEvaluation {
    /// The shares the shipped model was trained with.
    pub hide_shares: HideShares,
    /// `validation grid` (`--hide-shares auto`) or `fixed` (`--hide-shares B,C`).
    pub chosen_by: String,
    /// Every candidate tried, in order; the chosen one has the lowest mean.
    pub grid: Vec<HideSharesCandidate>,
    /// The seed of the per-row draw (the training seed).
    pub hide_seed: u64,
    pub train_rows: RowsByState,
    /// sha256 of the training rows' states in row order: the same digest, the same masks.
    pub mask_digest: String,
    /// A: lists and lineups known (the rows as built; equals `metrics.scored.model`).
    pub lists_and_lineups_known: Metrics,
    /// B: the lineup features missing.
    pub lists_known_lineups_unknown: Metrics,
    /// C: every request-time feature missing.
    pub nothing_known: Metrics,
    /// D: every inactive list forced empty ("nobody out"; what the server did before
    /// availability could be unknown), lineups unknown; the list features recomputed.
    pub lists_forced_empty: Metrics,
    /// E: a reference model trained in the same run on the same rows without any
    /// request-time feature (same hyper-parameters and early stopping).
    pub reference_without_request_time: Metrics,
    pub reference_trees: usize,
    /// The reference's MAE on the scored validation rows: to set beside the grid's state C.
    pub reference_validation_mae: f64,
    /// The baselines (pre-game features only: the same in every state).
    pub baselines: BTreeMap<String, Metrics>,
    /// Scored test rows whose recomputed pre-game features differ from the stored row
    /// (0: the history reproduces the rows; D only replaces the request-time features).
    pub recomputed_pre_game_mismatches: usize,
}

/// Month-by-month retraining through the test period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalkForward {
    pub months: Vec<WalkForwardMonth>,
    /// The same evaluation as `metrics`, on the walk-forward predictions.
    pub metrics: Evaluation,
    pub seconds: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WalkForwardMonth {
    /// YYYY-MM.
    pub month: String,
    pub train_rows: usize,
    pub test_rows: usize,
    pub trees: usize,
}

/// Percentiles 1..=99 (linear interpolation between order statistics) of `values`.
pub fn percentiles(values: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return vec![];
    }
    v.sort_by(f64::total_cmp);
    (1..=99)
        .map(|p| {
            let pos = (v.len() - 1) as f64 * p as f64 / 100.0;
            let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
            v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_interpolate_order_statistics() {
        let v: Vec<f64> = (0..=100).rev().map(f64::from).chain([f64::NAN]).collect();
        let p = percentiles(&v);
        assert_eq!(p.len(), 99);
        assert_eq!(p[0], 1.0);
        assert_eq!(p[49], 50.0);
        assert_eq!(p[98], 99.0);
        assert_eq!(percentiles(&[3.0, 5.0])[49], 4.0);
        assert!(percentiles(&[f64::NAN]).is_empty());
    }
}
