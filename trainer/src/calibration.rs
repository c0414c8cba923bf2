//! Calibrated intervals: the uncertainty table the server reads p10/p90 and P(over)
//! from, built from validation residuals, and its measurement on the test period.
//!
//! The table ([`nba_registry::Uncertainty`]) holds residual percentiles per bucket of
//! prior-10-game minutes in each game-day state. It is built from the VALIDATION period
//! only, predicted by the early-stopped model in the three states (A as built, B and C
//! hidden as the training copies are, see [`crate::game_day::masked`]), each row put in
//! the state its own vector shows ([`GameDayState::of`], the function the server uses):
//! the test period never shapes it. With `--refit` the shipped trees have seen the
//! validation rows, so their residuals there would be too small; the table still comes
//! from the early-stopped model, whose validation rows are out of sample.
//!
//! [`BUCKET_EDGES`]: 20, 28 and 34 minutes split the roles the issue measured; 15 is
//! added below them because rows under 15 minutes (deep bench, served but not scored)
//! vary far less than 15-20 minute players and would otherwise narrow that bucket's
//! interval (chosen on validation: the validation spread of residuals grows with every
//! bucket up to 34+).
//!
//! On the test period ([`measure`]) the scored rows are scored twice, with the table and
//! with one pooled distribution for every row (the old method, its percentiles also from
//! validation), in states A and C: p10-p90 coverage overall and per bucket, and P(over)
//! against a synthetic line (floor of `pts_avg_10` + 0.5) as a reliability table, Brier
//! score and expected calibration error.

use crate::TrainError;
use crate::data::FeatureRow;
use crate::game_day::{self, Hiding, RequestTimeColumns, State};
use nba_model::Forest;
use nba_registry::manifest::percentiles;
use nba_registry::uncertainty::{self, MINUTES_FEATURE};
use nba_registry::{
    BucketCoverage, BucketQuantiles, Calibration, GameDayState, MethodCalibration, ReliabilityBin, StateCalibration, StateQuantiles, Uncertainty,
};

/// Edges of the `min_avg_10` buckets (see the module docs).
pub const BUCKET_EDGES: [f64; 4] = [15.0, 20.0, 28.0, 34.0];

/// A bucket with fewer validation rows uses its state's pooled percentiles.
pub const MIN_BUCKET_ROWS: usize = 200;

/// Bins of the reliability table (equal width in predicted P(over)).
pub const RELIABILITY_BINS: usize = 10;

/// What the table was built from, as the manifest says it.
pub fn source(refit: bool) -> String {
    let refit = if refit { " (not the refitted trees, which have seen the validation rows)" } else { "" };
    format!("validation period, residuals of the early-stopped model{refit}, each row in the three game-day states")
}

/// The table from validation rows `x` (every state stacked), the early-stopped model's
/// predictions `pred` and the actual points: residuals grouped by each row's own state
/// and bucket.
pub fn table(x: &[&[f32]], pred: &[f64], actual: &[f64], source: String) -> Uncertainty {
    let shell = Uncertainty { source, bucket_feature: MINUTES_FEATURE.into(), edges: BUCKET_EDGES.to_vec(), min_rows: MIN_BUCKET_ROWS, states: vec![] };
    let labels = Uncertainty::bucket_labels(&shell.edges);
    let mut residuals = vec![vec![vec![]; labels.len()]; GameDayState::ALL.len()];
    for ((f, &p), &a) in x.iter().zip(pred).zip(actual) {
        let s = GameDayState::ALL.iter().position(|&s| s == GameDayState::of(f)).unwrap_or(0);
        residuals[s][shell.bucket_of(f)].push(a - p.max(0.0));
    }
    let states = GameDayState::ALL
        .iter()
        .zip(residuals)
        .map(|(&state, by_bucket)| {
            let pooled: Vec<f64> = by_bucket.iter().flatten().copied().collect();
            let buckets = labels
                .iter()
                .zip(&by_bucket)
                .map(|(label, r)| BucketQuantiles {
                    bucket: label.clone(),
                    rows: r.len(),
                    quantiles: if r.len() >= MIN_BUCKET_ROWS { percentiles(r) } else { vec![] },
                })
                .collect();
            StateQuantiles { state, rows: pooled.len(), pooled: percentiles(&pooled), buckets }
        })
        .collect();
    Uncertainty { states, ..shell }
}

/// The scored test rows, their actual points and synthetic lines.
pub struct TestRows<'a> {
    pub rows: Vec<&'a FeatureRow>,
    pub actual: Vec<f64>,
    /// floor(`pts_avg_10`) + 0.5, None when it is undefined.
    pub lines: Vec<Option<f64>>,
}

impl<'a> TestRows<'a> {
    pub fn of(rows: Vec<&'a FeatureRow>) -> TestRows<'a> {
        let pts10 = nba_features::contract::index_of("pts_avg_10");
        let lines = rows.iter().map(|r| pts10.map(|i| f64::from(r.features[i])).filter(|v| v.is_finite()).map(|v| v.floor() + 0.5)).collect();
        let actual = rows.iter().map(|r| r.target_pts as f64).collect();
        TestRows { rows, actual, lines }
    }
}

/// What the measured rows are, as the manifest says it: the scored test rows, or, in a
/// rolling run without a test window, the validation window the table was built from.
pub fn rows_label(has_test_window: bool) -> &'static str {
    if has_test_window {
        "scored test rows (min_avg_10 >= 15, all baselines defined), predicted by the shipped model"
    } else {
        "scored validation-window rows (no test window): the rows the table was built from, so these figures are in-sample"
    }
}

/// The table and the pooled percentiles on the scored test rows, in states A and C,
/// predicted by the shipped forest; `rows` says what they are ([`rows_label`]).
pub fn measure(table: &Uncertainty, pooled: &[f64], forest: &Forest, test: &TestRows, rows: &str) -> Result<Calibration, TrainError> {
    let cols = RequestTimeColumns::from_contract();
    let mut states = vec![];
    for (state, gds) in [(State::ListsAndLineups, GameDayState::ListsAndLineupsKnown), (State::Nothing, GameDayState::NothingKnown)] {
        let masked = game_day::masked(test.rows.iter().copied(), Hiding::Every(state), &cols);
        let pred: Vec<f64> = forest.predict_batch(&masked.x)?.into_iter().map(f64::from).collect();
        let x = masked.rows();
        let by_role = method(table, &x, &pred, test, |f| table.quantiles(f));
        let pooled = method(table, &x, &pred, test, |_| (pooled.len() == 99).then_some(pooled));
        states.push(StateCalibration { state: gds, by_role, pooled });
    }
    Ok(Calibration { rows: rows.into(), line_rule: "floor(pts_avg_10) + 0.5 (rows without pts_avg_10 left out); over = actual > line".into(), states })
}

/// Coverage and P(over) reliability of one way of choosing percentiles (`quantiles`),
/// read exactly as the server reads them: p10 = max(pred + q10, 0), the prediction
/// itself clamped at 0.
fn method<'q>(table: &Uncertainty, x: &[&[f32]], pred: &[f64], test: &TestRows, quantiles: impl Fn(&[f32]) -> Option<&'q [f64]>) -> MethodCalibration {
    let labels = Uncertainty::bucket_labels(&table.edges);
    let mut cover: Vec<Coverage> = vec![Coverage::default(); labels.len()];
    let mut overall = Coverage::default();
    let mut calls = vec![];
    for (k, f) in x.iter().enumerate() {
        let Some(q) = quantiles(f) else { continue };
        let p = pred[k].max(0.0);
        let (lo, hi) = ((p + q[9]).max(0.0), (p + q[89]).max(0.0));
        let inside = (lo..=hi).contains(&test.actual[k]);
        cover[table.bucket_of(f)].add(inside, hi - lo);
        overall.add(inside, hi - lo);
        if let Some(line) = test.lines[k]
            && let Some(p_over) = uncertainty::p_over(q, p, line)
        {
            calls.push((p_over, test.actual[k] > line));
        }
    }
    let buckets = labels.iter().zip(&cover).filter(|(_, c)| c.rows > 0).map(|(l, c)| c.summary(l)).collect();
    let (reliability, brier, ece) = reliability(&calls);
    MethodCalibration { overall: overall.summary("all"), buckets, reliability, line_rows: calls.len(), brier, ece }
}

/// Running p10-p90 coverage of a group of rows.
#[derive(Debug, Clone, Copy, Default)]
struct Coverage {
    rows: usize,
    inside: usize,
    width: f64,
}

impl Coverage {
    fn add(&mut self, inside: bool, width: f64) {
        self.rows += 1;
        self.inside += usize::from(inside);
        self.width += width;
    }

    fn summary(&self, bucket: &str) -> BucketCoverage {
        let n = self.rows.max(1) as f64;
        BucketCoverage { bucket: bucket.to_string(), rows: self.rows, coverage: self.inside as f64 / n, mean_width: self.width / n }
    }
}

/// The reliability bins (empty bins kept, with NaN means), the Brier score and the
/// expected calibration error of (predicted P(over), went over) pairs.
pub fn reliability(calls: &[(f64, bool)]) -> (Vec<ReliabilityBin>, f64, f64) {
    let mut bins: Vec<(usize, f64, f64)> = vec![(0, 0.0, 0.0); RELIABILITY_BINS];
    let mut brier = 0.0;
    for &(p, over) in calls {
        let o = if over { 1.0 } else { 0.0 };
        let b = ((p * RELIABILITY_BINS as f64) as usize).min(RELIABILITY_BINS - 1);
        bins[b].0 += 1;
        bins[b].1 += p;
        bins[b].2 += o;
        brier += (p - o) * (p - o);
    }
    let n = calls.len().max(1) as f64;
    let width = 1.0 / RELIABILITY_BINS as f64;
    let mut ece = 0.0;
    let out = bins
        .iter()
        .enumerate()
        .map(|(k, &(rows, sum_p, sum_o))| {
            let (mean_predicted, observed) = (sum_p / rows as f64, sum_o / rows as f64);
            if rows > 0 {
                ece += rows as f64 / n * (mean_predicted - observed).abs();
            }
            ReliabilityBin { lo: k as f64 * width, hi: (k + 1) as f64 * width, rows, mean_predicted, observed }
        })
        .collect();
    if calls.is_empty() {
        return (out, f64::NAN, f64::NAN);
    }
    (out, brier / n, ece)
}

/// One log line per bucket of each measured state, the table against the pooled.
pub fn log(c: &Calibration) {
    for s in &c.states {
        let (t, p) = (&s.by_role, &s.pooled);
        tracing::info!(
            state = s.state.label(),
            rows = t.overall.rows,
            coverage = t.overall.coverage,
            pooled_coverage = p.overall.coverage,
            ece = t.ece,
            pooled_ece = p.ece,
            brier = t.brier,
            pooled_brier = p.brier,
            "test calibration"
        );
        for b in &t.buckets {
            let old = p.buckets.iter().find(|x| x.bucket == b.bucket);
            tracing::info!(
                state = s.state.label(),
                bucket = %b.bucket,
                rows = b.rows,
                coverage = b.coverage,
                width = b.mean_width,
                pooled_coverage = old.map_or(f64::NAN, |o| o.coverage),
                pooled_width = old.map_or(f64::NAN, |o| o.mean_width),
                "test p10-p90 coverage by min_avg_10 bucket"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reliability_bins_brier_and_ece() {
        // 10 rows at 0.15, 3 went over; 10 at 0.85, 8 went over.
        let calls: Vec<(f64, bool)> = (0..10).map(|i| (0.15, i < 3)).chain((0..10).map(|i| (0.85, i < 8))).collect();
        let (bins, brier, ece) = reliability(&calls);
        assert_eq!(bins.len(), 10);
        assert_eq!((bins[1].rows, bins[8].rows), (10, 10));
        assert!((bins[1].observed - 0.3).abs() < 1e-12 && (bins[8].observed - 0.8).abs() < 1e-12);
        assert!(bins[0].mean_predicted.is_nan());
        // ECE: half the rows off by 0.15, half by 0.05.
        assert!((ece - 0.10).abs() < 1e-12, "{ece}");
        let expected_brier = (3.0 * 0.85f64.powi(2) + 7.0 * 0.15f64.powi(2) + 8.0 * 0.15f64.powi(2) + 2.0 * 0.85f64.powi(2)) / 20.0;
        assert!((brier - expected_brier).abs() < 1e-12);
        // A probability of exactly 1 is in the last bin.
        assert_eq!(reliability(&[(1.0, true)]).0[9].rows, 1);
        assert!(reliability(&[]).1.is_nan());
    }

    #[test]
    fn the_table_groups_by_each_row_s_own_state_and_bucket() {
        let cols = RequestTimeColumns::from_contract();
        let minutes = nba_features::contract::index_of(MINUTES_FEATURE).unwrap();
        // 300 rows at 30 minutes in state A with residuals 0..300, 50 at 10 minutes in
        // state C (too few: pooled fallback).
        let mut x: Vec<Vec<f32>> = vec![];
        let (mut pred, mut actual) = (vec![], vec![]);
        for i in 0..300 {
            let mut f = vec![1.0f32; nba_features::N_FEATURES];
            f[minutes] = 30.0;
            x.push(f);
            pred.push(10.0);
            actual.push(10.0 + i as f64);
        }
        for _ in 0..50 {
            let mut f = vec![1.0f32; nba_features::N_FEATURES];
            f[minutes] = 10.0;
            cols.hide(&mut f, State::Nothing);
            x.push(f);
            pred.push(5.0);
            actual.push(3.0);
        }
        let rows: Vec<&[f32]> = x.iter().map(|v| v.as_slice()).collect();
        let t = table(&rows, &pred, &actual, "test".into());
        assert_eq!(t.states.len(), 3);
        let a = &t.states[0];
        assert_eq!((a.state, a.rows), (GameDayState::ListsAndLineupsKnown, 300));
        let b28 = a.buckets.iter().find(|b| b.bucket == "28-34").unwrap();
        assert_eq!(b28.rows, 300);
        assert_eq!(b28.quantiles[49], 149.5);
        assert_eq!(t.states[1].rows, 0);
        assert!(t.states[1].pooled.is_empty());
        let c = &t.states[2];
        assert_eq!((c.rows, c.buckets[0].rows), (50, 50));
        assert!(c.buckets[0].quantiles.is_empty(), "below {MIN_BUCKET_ROWS} rows");
        // The lookup falls back to state C's pooled percentiles (every residual -2).
        assert_eq!(t.percentile(rows[300], 90), Some(-2.0));
        assert_eq!(t.percentile(rows[0], 90), Some(269.1));
    }
}
