//! Calibrated uncertainty: the residual percentiles a prediction's interval and its
//! probability of going over a line are read from, by expected role and game-day state.
//!
//! One pooled residual distribution added to every prediction is right on average and
//! wrong for every kind of player: a bench player's points vary less than a 36-minute
//! starter's, and a prediction made in the morning (nothing known about tonight's
//! inactive lists and lineups) is less sure than one made at tip-off. So the trainer
//! writes an [`Uncertainty`] table into the manifest: 99 residual percentiles per
//! prior-10-minutes bucket (the feature `min_avg_10`, named in the table) in each
//! game-day state, taken from the validation season. The server looks up the row of a
//! request's own feature vector: its bucket ([`Uncertainty::bucket_of`]) and its state
//! ([`GameDayState::of`], from which request-time features are missing). Trainer and
//! server call the same functions, so the trainer's measured coverage is the served one.
//!
//! Manifests written before the table existed keep using the pooled
//! `residual_quantiles` ([`Manifest::percentile`], [`Manifest::p_over`]).

use crate::manifest::Manifest;
use nba_features::Given;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

/// The feature the buckets are on: mean minutes over the player's previous 10 games.
pub const MINUTES_FEATURE: &str = "min_avg_10";

/// Label of the bucket of rows whose minutes feature is missing (no earlier game).
pub const NO_HISTORY: &str = "no history";

/// What is known about a game when the prediction is asked, as read from the feature
/// vector itself (the same three states the trainer teaches the model).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GameDayState {
    /// A: inactive lists and lineups known.
    ListsAndLineupsKnown,
    /// B: lists known, lineups not.
    ListsKnownLineupsUnknown,
    /// C: neither known (or lineups without lists: as unsure as knowing nothing).
    NothingKnown,
}

/// Positions in this binary's contract of the request-time feature groups (the manifest's
/// contract is checked equal to it before a model is served or written).
struct StateColumns {
    lists: Vec<usize>,
    lineups: Vec<usize>,
    minutes: Option<usize>,
}

fn columns() -> &'static StateColumns {
    static COLUMNS: OnceLock<StateColumns> = OnceLock::new();
    COLUMNS.get_or_init(|| StateColumns {
        lists: nba_features::indices_given(Given::InactiveLists),
        lineups: nba_features::indices_given(Given::Lineups),
        minutes: nba_features::contract::index_of(MINUTES_FEATURE),
    })
}

impl GameDayState {
    pub const ALL: [GameDayState; 3] = [GameDayState::ListsAndLineupsKnown, GameDayState::ListsKnownLineupsUnknown, GameDayState::NothingKnown];

    /// The state of a feature vector: a group of request-time features is known when any
    /// of its features is a number (some are NaN even when known, e.g. a ratio without
    /// the games it needs); when every one is NaN it was not known.
    pub fn of(features: &[f32]) -> GameDayState {
        let c = columns();
        let known = |ix: &[usize]| ix.iter().any(|&i| features.get(i).is_some_and(|v| !v.is_nan()));
        match (known(&c.lists), known(&c.lineups)) {
            (true, true) => GameDayState::ListsAndLineupsKnown,
            (true, false) => GameDayState::ListsKnownLineupsUnknown,
            (false, _) => GameDayState::NothingKnown,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            GameDayState::ListsAndLineupsKnown => "A: lists and lineups known",
            GameDayState::ListsKnownLineupsUnknown => "B: lists known, lineups unknown",
            GameDayState::NothingKnown => "C: lists and lineups unknown",
        }
    }
}

/// Residual percentiles of one bucket of one state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketQuantiles {
    /// `<15`, `15-20`, ..., `34+`, or [`NO_HISTORY`].
    pub bucket: String,
    /// Validation rows of the bucket in this state.
    pub rows: usize,
    /// Percentiles 1..=99 of `actual - predicted`; empty when `rows` was below the
    /// table's `min_rows` (the state's pooled percentiles are used instead).
    pub quantiles: Vec<f64>,
}

/// The buckets of one game-day state and their pooled fallback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateQuantiles {
    pub state: GameDayState,
    pub rows: usize,
    /// Percentiles 1..=99 over every row of the state (the fallback of thin buckets).
    pub pooled: Vec<f64>,
    /// In bucket order: one per interval of `edges`, then [`NO_HISTORY`].
    pub buckets: Vec<BucketQuantiles>,
}

/// The declared uncertainty table of a model (see the module docs).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Uncertainty {
    /// Where the residuals come from (e.g. the validation period, early-stopped model).
    pub source: String,
    /// The feature the buckets are on ([`MINUTES_FEATURE`]), read by name.
    pub bucket_feature: String,
    /// Ascending bucket edges: bucket k holds values in [edges[k-1], edges[k]).
    pub edges: Vec<f64>,
    /// Buckets with fewer validation rows use the state's pooled percentiles.
    pub min_rows: usize,
    /// One per state, in [`GameDayState::ALL`] order.
    pub states: Vec<StateQuantiles>,
}

impl Uncertainty {
    /// Bucket labels in order: `<e0`, `e0-e1`, ..., `eN+`, then [`NO_HISTORY`].
    pub fn bucket_labels(edges: &[f64]) -> Vec<String> {
        let mut out = Vec::with_capacity(edges.len() + 2);
        for k in 0..=edges.len() {
            out.push(match (k.checked_sub(1).map(|j| edges[j]), edges.get(k)) {
                (None, Some(hi)) => format!("<{hi}"),
                (Some(lo), Some(hi)) => format!("{lo}-{hi}"),
                (Some(lo), None) => format!("{lo}+"),
                (None, None) => "all".to_string(),
            });
        }
        out.push(NO_HISTORY.to_string());
        out
    }

    /// The bucket index of a value of the bucket feature (NaN: the last, [`NO_HISTORY`]).
    pub fn bucket_of_value(edges: &[f64], v: f64) -> usize {
        if v.is_nan() { edges.len() + 1 } else { edges.iter().filter(|&&e| v >= e).count() }
    }

    /// The bucket index of a feature vector.
    pub fn bucket_of(&self, features: &[f32]) -> usize {
        let c = columns();
        let ix = if self.bucket_feature == MINUTES_FEATURE { c.minutes } else { nba_features::contract::index_of(&self.bucket_feature) };
        let v = ix.and_then(|i| features.get(i)).map_or(f64::NAN, |&v| f64::from(v));
        Self::bucket_of_value(&self.edges, v)
    }

    /// The 99 percentiles for a feature vector: its state's bucket, or the state's pooled
    /// percentiles when the bucket was too thin; None when the table has no such state.
    pub fn quantiles(&self, features: &[f32]) -> Option<&[f64]> {
        let state = GameDayState::of(features);
        let s = self.states.iter().find(|s| s.state == state)?;
        let bucket = s.buckets.get(self.bucket_of(features)).filter(|b| b.quantiles.len() == 99);
        let q = bucket.map_or(&s.pooled[..], |b| &b.quantiles[..]);
        (q.len() == 99).then_some(q)
    }

    /// Residual percentile `p` (1..=99) for a feature vector.
    pub fn percentile(&self, features: &[f32], p: usize) -> Option<f64> {
        self.quantiles(features).and_then(|q| q.get(p.wrapping_sub(1)).copied())
    }

    /// P(actual > line) for prediction `pred` of a feature vector.
    pub fn p_over(&self, features: &[f32], pred: f64, line: f64) -> Option<f64> {
        self.quantiles(features).and_then(|q| p_over(q, pred, line))
    }
}

/// P(actual > line) for prediction `pred` from 99 residual percentiles `q` (linear
/// between percentiles, clamped to [0.01, 0.99]); None unless `q` has 99 values.
pub fn p_over(q: &[f64], pred: f64, line: f64) -> Option<f64> {
    if q.len() != 99 {
        return None;
    }
    // P(resid <= x) for x = line - pred.
    let x = line - pred;
    let cdf = if x <= q[0] {
        0.01
    } else if x >= q[98] {
        0.99
    } else {
        let k = q.partition_point(|&v| v <= x); // q[k-1] <= x < q[k]
        let (lo, hi) = (q[k - 1], q[k]);
        let frac = if hi > lo { (x - lo) / (hi - lo) } else { 1.0 };
        (k as f64 + frac) / 100.0
    };
    Some((1.0 - cdf).clamp(0.01, 0.99))
}

impl Manifest {
    /// Residual percentile `p` (1..=99) for a feature vector: from the uncertainty table
    /// when the manifest has one, else the pooled `residual_quantiles`; 0 without either.
    pub fn percentile(&self, features: &[f32], p: usize) -> f64 {
        match &self.uncertainty {
            Some(u) => u.percentile(features, p),
            None => self.residual_quantiles.get(p.wrapping_sub(1)).copied(),
        }
        .unwrap_or(0.0)
    }

    /// P(actual > line) for prediction `pred` of a feature vector, from the same
    /// percentiles as [`Manifest::percentile`]; None without percentiles.
    pub fn p_over(&self, features: &[f32], pred: f64, line: f64) -> Option<f64> {
        match &self.uncertainty {
            Some(u) => u.p_over(features, pred, line),
            None => p_over(&self.residual_quantiles, pred, line),
        }
    }
}

/// A number, or NaN where JSON has `null`: serde_json writes a NaN (an empty bin's mean,
/// the ECE of no rows) as `null`, and the manifest must read back what it wrote.
fn number_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// How well intervals and P(over) held on one set of rows (the trainer's report).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodCalibration {
    /// p10-p90 coverage on every row of the set.
    pub overall: BucketCoverage,
    /// The same per bucket of the bucket feature, in bucket order (empty buckets left out).
    pub buckets: Vec<BucketCoverage>,
    /// P(over) against synthetic lines, 10 equal bins of predicted probability.
    pub reliability: Vec<ReliabilityBin>,
    /// Rows with a synthetic line (the bucket feature's companion `pts_avg_10` defined).
    pub line_rows: usize,
    #[serde(deserialize_with = "number_or_nan")]
    pub brier: f64,
    /// Expected calibration error over the 10 bins (row-weighted |predicted - observed|).
    #[serde(deserialize_with = "number_or_nan")]
    pub ece: f64,
}

/// p10-p90 coverage of one bucket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BucketCoverage {
    pub bucket: String,
    pub rows: usize,
    /// Share of rows with p10 <= actual <= p90.
    #[serde(deserialize_with = "number_or_nan")]
    pub coverage: f64,
    /// Mean p90 - p10, points.
    #[serde(deserialize_with = "number_or_nan")]
    pub mean_width: f64,
}

/// One bin of the reliability table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReliabilityBin {
    /// Predicted P(over) in [lo, hi).
    pub lo: f64,
    pub hi: f64,
    pub rows: usize,
    #[serde(deserialize_with = "number_or_nan")]
    pub mean_predicted: f64,
    /// Share of the bin's rows that went over.
    #[serde(deserialize_with = "number_or_nan")]
    pub observed: f64,
}

/// Calibration of one game-day state on the test period: the table against the old
/// pooled percentiles, on the same rows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateCalibration {
    pub state: GameDayState,
    /// The [`Uncertainty`] table.
    pub by_role: MethodCalibration,
    /// One pooled distribution for every row (the validation `residual_quantiles`).
    pub pooled: MethodCalibration,
}

/// The manifest's `calibration` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    /// Which rows were measured (scored test rows).
    pub rows: String,
    /// How the synthetic line of a row is made.
    pub line_rule: String,
    pub states: Vec<StateCalibration>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Percentiles `shift + scale * (p - 50)` for p = 1..=99.
    fn q(shift: f64, scale: f64) -> Vec<f64> {
        (1..=99).map(|p| shift + scale * (p as f64 - 50.0)).collect()
    }

    fn table() -> Uncertainty {
        let edges = vec![20.0, 28.0];
        let labels = Uncertainty::bucket_labels(&edges);
        let states = GameDayState::ALL
            .iter()
            .enumerate()
            .map(|(s, &state)| StateQuantiles {
                state,
                rows: 1000,
                pooled: q(100.0 * s as f64, 1.0),
                buckets: labels
                    .iter()
                    .enumerate()
                    .map(|(b, label)| {
                        // The middle bucket of state B is too thin: no percentiles.
                        let thin = s == 1 && b == 1;
                        BucketQuantiles {
                            bucket: label.clone(),
                            rows: if thin { 10 } else { 500 },
                            quantiles: if thin { vec![] } else { q(100.0 * s as f64 + 10.0 * b as f64, 0.1) },
                        }
                    })
                    .collect(),
            })
            .collect();
        Uncertainty { source: "test".into(), bucket_feature: MINUTES_FEATURE.into(), edges, min_rows: 200, states }
    }

    /// A vector in `state` with `min_avg_10` = `minutes`.
    fn vector(state: GameDayState, minutes: f32) -> Vec<f32> {
        let c = columns();
        let mut f = vec![1.0f32; nba_features::N_FEATURES];
        f[c.minutes.unwrap()] = minutes;
        if state != GameDayState::ListsAndLineupsKnown {
            c.lineups.iter().for_each(|&i| f[i] = f32::NAN);
        }
        if state == GameDayState::NothingKnown {
            c.lists.iter().for_each(|&i| f[i] = f32::NAN);
        }
        f
    }

    #[test]
    fn buckets_have_labels_and_edges_belong_above() {
        assert_eq!(Uncertainty::bucket_labels(&[20.0, 28.0, 34.0]), ["<20", "20-28", "28-34", "34+", NO_HISTORY]);
        let e = [20.0, 28.0, 34.0];
        assert_eq!(Uncertainty::bucket_of_value(&e, 5.0), 0);
        assert_eq!(Uncertainty::bucket_of_value(&e, 19.99), 0);
        assert_eq!(Uncertainty::bucket_of_value(&e, 20.0), 1);
        assert_eq!(Uncertainty::bucket_of_value(&e, 33.9), 2);
        assert_eq!(Uncertainty::bucket_of_value(&e, 34.0), 3);
        assert_eq!(Uncertainty::bucket_of_value(&e, 48.0), 3);
        assert_eq!(Uncertainty::bucket_of_value(&e, f64::NAN), 4);
    }

    #[test]
    fn the_state_is_read_from_the_missing_request_time_features() {
        for state in GameDayState::ALL {
            assert_eq!(GameDayState::of(&vector(state, 25.0)), state);
        }
        // One list feature known is enough (others may be NaN for want of games).
        let mut f = vector(GameDayState::NothingKnown, 25.0);
        f[columns().lists[0]] = 0.0;
        assert_eq!(GameDayState::of(&f), GameDayState::ListsKnownLineupsUnknown);
        // Lineups without lists: as unsure as nothing known.
        let mut f = vector(GameDayState::NothingKnown, 25.0);
        f[columns().lineups[0]] = 1.0;
        assert_eq!(GameDayState::of(&f), GameDayState::NothingKnown);
        // A short vector (bad input) is "nothing known", not a panic.
        assert_eq!(GameDayState::of(&[]), GameDayState::NothingKnown);
    }

    #[test]
    fn lookup_picks_the_state_and_bucket_and_falls_back_to_the_pooled() {
        let t = table();
        let (a, b, c) = (GameDayState::ListsAndLineupsKnown, GameDayState::ListsKnownLineupsUnknown, GameDayState::NothingKnown);
        // Median (p50) = the shift of the chosen percentiles.
        assert_eq!(t.percentile(&vector(a, 10.0), 50), Some(0.0));
        assert_eq!(t.percentile(&vector(a, 30.0), 50), Some(20.0));
        assert_eq!(t.percentile(&vector(a, f32::NAN), 50), Some(30.0));
        assert_eq!(t.percentile(&vector(c, 21.0), 50), Some(210.0));
        assert_eq!(t.percentile(&vector(b, 21.0), 50), Some(100.0), "thin bucket: the state's pooled");
        assert_eq!(t.percentile(&vector(b, 29.0), 50), Some(120.0));
        // p10 of a bucket with scale 0.1.
        assert!((t.percentile(&vector(a, 10.0), 10).unwrap() + 4.0).abs() < 1e-9);
        assert_eq!(t.percentile(&vector(a, 10.0), 0), None);
        assert_eq!(t.percentile(&vector(a, 10.0), 100), None);
        // A table without the state answers nothing (the manifest then says 0).
        let mut only_a = t.clone();
        only_a.states.truncate(1);
        assert_eq!(only_a.percentile(&vector(c, 21.0), 50), None);
    }

    #[test]
    fn p_over_interpolates_and_clamps() {
        let q = q(0.0, 1.0); // percentile p at p - 50
        assert_eq!(p_over(&q, 20.0, 20.0), Some(0.5));
        assert!((p_over(&q, 20.0, 30.0).unwrap() - 0.4).abs() < 1e-12);
        assert!((p_over(&q, 20.0, 10.5).unwrap() - 0.595).abs() < 1e-12);
        assert!((p_over(&q, 0.0, 100.0).unwrap() - 0.01).abs() < 1e-12);
        assert!((p_over(&q, 100.0, 0.0).unwrap() - 0.99).abs() < 1e-12);
        assert_eq!(p_over(&q[..98], 20.0, 20.0), None);
    }

    #[test]
    fn nan_figures_round_trip_through_json() {
        let bin = ReliabilityBin { lo: 0.0, hi: 0.1, rows: 0, mean_predicted: f64::NAN, observed: f64::NAN };
        let json = serde_json::to_string(&bin).unwrap();
        assert!(json.contains("\"observed\":null"), "{json}");
        let back: ReliabilityBin = serde_json::from_str(&json).unwrap();
        assert!(back.mean_predicted.is_nan() && back.observed.is_nan() && back.rows == 0);
        let back: ReliabilityBin = serde_json::from_str(r#"{"lo":0.1,"hi":0.2,"rows":3,"mean_predicted":0.15,"observed":0.5}"#).unwrap();
        assert_eq!((back.mean_predicted, back.observed), (0.15, 0.5));
    }

    #[test]
    fn the_manifest_uses_the_table_or_the_old_pooled_percentiles() {
        let mut m = crate::registry::tests::manifest("v1");
        let f = vector(GameDayState::ListsAndLineupsKnown, 30.0);
        assert_eq!(m.percentile(&f, 90), 0.0, "no percentiles at all");
        assert_eq!(m.p_over(&f, 10.0, 5.5), None);
        m.residual_quantiles = q(-1.0, 0.5);
        assert_eq!(m.percentile(&f, 50), -1.0);
        assert_eq!(m.p_over(&f, 10.0, 9.0), Some(0.5));
        m.uncertainty = Some(table());
        assert_eq!(m.percentile(&f, 50), 20.0);
        assert_eq!(m.p_over(&f, 10.0, 30.0), Some(0.5));
    }
}
