//! Where a prediction is computed: validated request -> feature vector (shared contract)
//! -> the served model -> points, interval, and the call against a line. The interval and
//! P(over) are read from the manifest's uncertainty table for the vector's own
//! prior-10-minutes bucket and game-day state (a morning request with nothing known gets
//! the wider state-C interval).

use crate::error::ServeError;
use crate::feature_source::{FeatureQuery, FeatureSource, FeatureVector};
use crate::predlog::PredictionLog;
use crate::served_model::{LoadedModel, ModelSlot};
use nba_api::proto::predict::{Call, FeatureContribution, PredictRequest, PredictResponse};
use std::sync::Arc;

/// Calls need this probability of going over (or under) ...
const CALL_PROBABILITY: f64 = 0.55;
/// ... and at least this many points between prediction and line.
const CALL_EDGE: f64 = 1.5;

/// Everything a request needs: features and the served model.
pub struct Predictor {
    pub feature_source: Arc<FeatureSource>,
    pub model_slot: Arc<ModelSlot>,
    pub log: Option<PredictionLog>,
}

/// One answered request, with what produced it.
pub struct Scored {
    pub response: PredictResponse,
    pub features: FeatureVector,
    pub model: Arc<LoadedModel>,
}

impl Predictor {
    pub fn model(&self) -> Result<Arc<LoadedModel>, ServeError> {
        self.model_slot.get().ok_or_else(|| ServeError::Unavailable("no model loaded yet (nothing promoted in the registry, or it failed its checks)".into()))
    }

    /// Scores one request with the served model. `method` labels the prediction log.
    pub fn predict(&self, req: &PredictRequest, method: &'static str) -> Result<Scored, ServeError> {
        let model = self.model()?;
        self.predict_with(&model, req, method)
    }

    /// Scores one request with a given model (a Flight stream keeps one model throughout).
    pub fn predict_with(&self, model: &Arc<LoadedModel>, req: &PredictRequest, method: &'static str) -> Result<Scored, ServeError> {
        let line = match req.line {
            Some(l) if !l.is_finite() || l < 0.0 => {
                return Err(ServeError::invalid("line", format!("{l} is not a points line (finite, >= 0)")));
            }
            other => other,
        };
        let model = model.clone();
        let q = FeatureQuery {
            player_id: &req.player_id,
            game_date: &req.game_date,
            opponent: &req.opponent,
            is_home: req.is_home,
            team: req.team.as_deref(),
            team_inactive: req.team_inactive.as_ref().map(|l| l.player_ids.as_slice()),
            opp_inactive: req.opponent_inactive.as_ref().map(|l| l.player_ids.as_slice()),
            team_starters: req.team_starters.as_ref().map(|l| l.player_ids.as_slice()),
            opp_starters: req.opponent_starters.as_ref().map(|l| l.player_ids.as_slice()),
            ignore_stored: req.ignore_stored,
        };
        let features = self.feature_source.vector(&q)?;
        // Points cannot be negative; the raw score can be slightly (V2 returns it raw).
        let pred = (model.scorer.predict_row(&features.values[..])? as f64).max(0.0);
        metrics::histogram!("nba_predicted_points").record(pred);
        let mut response = PredictResponse {
            player_id: req.player_id.clone(),
            game_date: req.game_date.clone(),
            team: features.team.clone(),
            opponent: features.opponent.clone(),
            predicted_points: pred,
            // The interval of this player in this game-day state (the vector says both).
            p10: (pred + model.residual_percentile(&features.values[..], 10)).max(0.0),
            p90: (pred + model.residual_percentile(&features.values[..], 90)).max(0.0),
            model_version: model.version.clone(),
            feature_version: model.manifest.feature_version,
            contract_hash: model.manifest.contract_hash.clone(),
            edge: None,
            p_over: None,
            call: Call::Unspecified as i32,
            games_before: features.games_before,
            availability_source: features.availability_source.proto() as i32,
            opponent_availability_source: features.opponent_availability_source.proto() as i32,
            lineup_source: features.lineup_source.proto() as i32,
            opponent_lineup_source: features.opponent_lineup_source.proto() as i32,
            injury_report_time: features.injury_report_time.map(|t| t.to_rfc3339()),
        };
        if let Some(line) = line {
            let p_over = model.p_over(&features.values[..], pred, line);
            let edge = pred - line;
            response.edge = Some(edge);
            response.p_over = p_over;
            response.call = call(edge, p_over) as i32;
        }
        if let Some(log) = &self.log {
            log.record(method, &response, req.is_home, &features, line);
        }
        Ok(Scored { response, features, model })
    }

    /// Each feature's contribution: the prediction minus the prediction with that feature
    /// unknown (NaN, routed as the model routes missing values).
    pub fn explain(&self, scored: &Scored) -> Result<Vec<FeatureContribution>, ServeError> {
        let names = &scored.model.manifest.feature_names;
        let base = scored.response.predicted_points;
        let mut row = *scored.features.values;
        let mut out = Vec::with_capacity(row.len());
        for i in 0..row.len() {
            let v = row[i];
            row[i] = f32::NAN;
            let without = scored.model.scorer.predict_row(&row)? as f64;
            row[i] = v;
            out.push(FeatureContribution { name: names.get(i).cloned().unwrap_or_default(), value: v, contribution: base - without });
        }
        Ok(out)
    }
}

/// OVER / UNDER / PASS from the edge and the probability of going over.
pub fn call(edge: f64, p_over: Option<f64>) -> Call {
    match p_over {
        Some(p) if p >= CALL_PROBABILITY && edge >= CALL_EDGE => Call::Over,
        Some(p) if p <= 1.0 - CALL_PROBABILITY && edge <= -CALL_EDGE => Call::Under,
        _ => Call::Pass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_need_both_probability_and_edge() {
        assert_eq!(call(3.0, Some(0.62)), Call::Over);
        assert_eq!(call(1.0, Some(0.62)), Call::Pass, "edge too small");
        assert_eq!(call(3.0, Some(0.52)), Call::Pass, "not likely enough");
        assert_eq!(call(-2.0, Some(0.40)), Call::Under);
        assert_eq!(call(-2.0, None), Call::Pass);
    }
}
