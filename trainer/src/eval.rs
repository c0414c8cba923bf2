//! Honest evaluation: the model and three baselines on exactly the same rows.
//!
//! Scored rows: test-period played games where `min_avg_10 >= 15` and all three
//! baselines are defined (`pts_avg_5`, `pts_avg_10`, `pts_avg_season` not NaN). A row
//! where any baseline is NaN is left out for every predictor, so all four are scored on
//! identical rows. "All" rows drop the minutes filter but keep the same NaN rule.

use crate::data::FeatureRow;
pub use nba_registry::manifest::{BaselineComparison, Evaluation, Metrics};
use std::collections::BTreeMap;

/// Positions in the feature vector of the features the evaluation reads: the baselines
/// and the filters of the scored rows and breakdowns.
#[derive(Debug, Clone, Copy)]
pub struct EvaluationColumns {
    pub pts5: usize,
    pub pts10: usize,
    pub pts_season: usize,
    pub min10: usize,
    pub starter5: usize,
}

impl EvaluationColumns {
    pub fn from_contract() -> EvaluationColumns {
        let ix = |n: &str| nba_features::contract::index_of(n).unwrap_or_else(|| unreachable!("feature {n} is in the contract"));
        EvaluationColumns {
            pts5: ix("pts_avg_5"),
            pts10: ix("pts_avg_10"),
            pts_season: ix("pts_avg_season"),
            min10: ix("min_avg_10"),
            starter5: ix("starter_share_5"),
        }
    }

    /// The three baselines of a row, or None if any is undefined.
    pub fn baselines(&self, f: &[f32]) -> Option<[f64; 3]> {
        let (p5, p10, ps) = (f[self.pts5] as f64, f[self.pts10] as f64, f[self.pts_season] as f64);
        if !(p5.is_finite() && p10.is_finite() && ps.is_finite()) {
            return None;
        }
        Some([p10, ps, 0.35 * p5 + 0.40 * p10 + 0.25 * ps])
    }

    /// Whether a test row is scored (see the module docs).
    pub fn scored(&self, f: &[f32]) -> bool {
        self.baselines(f).is_some() && f[self.min10] >= 15.0
    }
}

pub const BASELINES: [&str; 3] = ["pts_avg_10", "pts_avg_season", "old_rule"];

/// The model and each baseline on `rows` (the same rows for all).
fn compare(rows: &[&FeatureRow], pred: &[f64], cols: EvaluationColumns) -> BaselineComparison {
    let actual: Vec<f64> = rows.iter().map(|r| r.target_pts as f64).collect();
    BaselineComparison { model: Metrics::of(pred, &actual), baselines: baselines(rows, cols) }
}

/// Each baseline on `rows`, by name.
pub fn baselines(rows: &[&FeatureRow], cols: EvaluationColumns) -> BTreeMap<String, Metrics> {
    let actual: Vec<f64> = rows.iter().map(|r| r.target_pts as f64).collect();
    let mut out = BTreeMap::new();
    for (k, name) in BASELINES.iter().enumerate() {
        let b: Vec<f64> = rows.iter().map(|r| cols.baselines(&r.features).map_or(f64::NAN, |b| b[k])).collect();
        out.insert(name.to_string(), Metrics::of(&b, &actual));
    }
    out
}

fn grouped(rows: &[&FeatureRow], pred: &[f64], key: impl Fn(&FeatureRow) -> String) -> BTreeMap<String, Metrics> {
    let mut groups: BTreeMap<String, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for (r, p) in rows.iter().zip(pred) {
        let g = groups.entry(key(r)).or_default();
        g.0.push(*p);
        g.1.push(r.target_pts as f64);
    }
    groups.into_iter().map(|(k, (p, a))| (k, Metrics::of(&p, &a))).collect()
}

/// The model and the baselines per group of rows (for the report's breakdowns).
pub fn grouped_comparisons(rows: &[&FeatureRow], pred: &[f64], key: impl Fn(&FeatureRow) -> String) -> BTreeMap<String, BaselineComparison> {
    let cols = EvaluationColumns::from_contract();
    let mut groups: BTreeMap<String, (Vec<&FeatureRow>, Vec<f64>)> = BTreeMap::new();
    for (r, p) in rows.iter().zip(pred) {
        let g = groups.entry(key(r)).or_default();
        g.0.push(r);
        g.1.push(*p);
    }
    groups.into_iter().map(|(k, (r, p))| (k, compare(&r, &p, cols))).collect()
}

/// The minutes band of a row (`min_avg_10`).
pub fn minutes_band(cols: EvaluationColumns, r: &FeatureRow) -> String {
    match r.features[cols.min10] {
        m if m < 20.0 => "15-20",
        m if m < 25.0 => "20-25",
        m if m < 30.0 => "25-30",
        m if m < 35.0 => "30-35",
        _ => "35+",
    }
    .to_string()
}

/// "starter" when he started at least half of his last 5 played games, else "bench".
pub fn role(cols: EvaluationColumns, r: &FeatureRow) -> String {
    if r.features[cols.starter5] >= 0.5 { "starter" } else { "bench" }.to_string()
}

pub fn month(r: &FeatureRow) -> String {
    r.game_date.format("%Y-%m").to_string()
}

/// Indices (into `test`) of the scored rows.
pub fn scored_indices(rows: &[&FeatureRow], cols: EvaluationColumns) -> Vec<usize> {
    (0..rows.len()).filter(|&i| cols.scored(&rows[i].features)).collect()
}

/// Evaluates predictions `pred[i]` of test rows `rows[i]`.
pub fn evaluate(rows: &[&FeatureRow], pred: &[f64]) -> Evaluation {
    let cols = EvaluationColumns::from_contract();
    let pick = |keep: &dyn Fn(&FeatureRow) -> bool| {
        let ix: Vec<usize> = (0..rows.len()).filter(|&i| keep(rows[i])).collect();
        (ix.iter().map(|&i| rows[i]).collect::<Vec<_>>(), ix.iter().map(|&i| pred[i]).collect::<Vec<_>>())
    };
    let (s_rows, s_pred) = pick(&|r| cols.scored(&r.features));
    let (a_rows, a_pred) = pick(&|r| cols.baselines(&r.features).is_some());
    let actual: Vec<f64> = rows.iter().map(|r| r.target_pts as f64).collect();
    Evaluation {
        scored: compare(&s_rows, &s_pred, cols),
        all_with_baselines: compare(&a_rows, &a_pred, cols),
        all_rows_model: Metrics::of(pred, &actual),
        by_minutes: grouped(&s_rows, &s_pred, |r| minutes_band(cols, r)),
        by_role: grouped(&s_rows, &s_pred, |r| role(cols, r)),
        by_month: grouped(&s_rows, &s_pred, month),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_are_computed() {
        let m = Metrics::of(&[1.0, 2.0, 6.0], &[2.0, 2.0, 2.0]);
        assert_eq!(m.rows, 3);
        assert!((m.mae - 5.0 / 3.0).abs() < 1e-12);
        assert!((m.rmse - (17.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert!((m.bias - 1.0).abs() < 1e-12);
        assert_eq!(m.median_ae, 1.0);
        assert_eq!(Metrics::of(&[1.0, 3.0], &[0.0, 0.0]).median_ae, 2.0);
        assert_eq!(Metrics::of(&[], &[]).rows, 0);
    }

    #[test]
    fn baselines_need_every_input() {
        let cols = EvaluationColumns::from_contract();
        let mut f = vec![0.0f32; nba_features::N_FEATURES];
        f[cols.pts5] = 10.0;
        f[cols.pts10] = 20.0;
        f[cols.pts_season] = 30.0;
        f[cols.min10] = 15.0;
        let b = cols.baselines(&f).unwrap();
        assert_eq!(b[0], 20.0);
        assert_eq!(b[1], 30.0);
        assert!((b[2] - (3.5 + 8.0 + 7.5)).abs() < 1e-9);
        assert!(cols.scored(&f));
        f[cols.min10] = 14.9;
        assert!(!cols.scored(&f));
        f[cols.min10] = 20.0;
        f[cols.pts_season] = f32::NAN;
        assert!(cols.baselines(&f).is_none() && !cols.scored(&f));
    }
}
