//! `nba.predict.v1.PredictionService`: Predict, PredictBatch, GetModel, Explain, and
//! ResolvePlayer (names as other sources write them, through the snapshot's
//! `nba_names::PlayerRegistry`).

use super::Method;
use crate::error::ServeError;
use crate::predict::Predictor;
use chrono::NaiveDate;
use nba_api::proto::predict::prediction_service_server::PredictionService;
use nba_api::proto::predict::{
    BatchError, ExplainResponse, GetModelRequest, GetModelResponse, Metric, PlayerCandidate, PredictBatchItem, PredictBatchRequest, PredictBatchResponse,
    PredictRequest, PredictResponse, ResolvePlayerRequest, ResolvePlayerResponse, predict_batch_item,
};
use nba_registry::Metrics;
use std::sync::Arc;
use std::time::Instant;
use tonic::{Request, Response, Status};

static PREDICT: Method = Method::new("Predict");
static PREDICT_BATCH: Method = Method::new("PredictBatch");
static GET_MODEL: Method = Method::new("GetModel");
static EXPLAIN: Method = Method::new("Explain");
static RESOLVE_PLAYER: Method = Method::new("ResolvePlayer");

/// Batches larger than this are scored on a blocking thread, so a big batch cannot stall
/// the runtime threads that answer single predictions.
const INLINE_BATCH: usize = 64;

/// ResolvePlayer's candidates when the request leaves `limit` at 0, and the most it may ask.
const DEFAULT_CANDIDATES: u32 = 5;
const MAX_CANDIDATES: u32 = 50;
/// The longest name ResolvePlayer takes (the fuzzy match compares it with every known
/// name, so its length bounds the work of one call). Real names are under 40.
const MAX_NAME_CHARS: usize = 100;

#[derive(Clone)]
pub struct PredictApi {
    pub predictor: Arc<Predictor>,
    pub max_batch: usize,
}

fn metric(m: &Metrics) -> Metric {
    Metric { rows: m.rows as u64, mae: m.mae, rmse: m.rmse, bias: m.bias, median_ae: m.median_ae }
}

fn score_batch(p: &Predictor, reqs: &[PredictRequest]) -> Vec<PredictBatchItem> {
    reqs.iter()
        .map(|r| PredictBatchItem {
            result: Some(match p.predict(r, "PredictBatch") {
                Ok(s) => predict_batch_item::Result::Prediction(s.response),
                Err(e) => predict_batch_item::Result::Error(BatchError { code: e.code() as i32, message: e.to_string() }),
            }),
        })
        .collect()
}

/// A ResolvePlayer request after validation.
#[derive(Debug, PartialEq)]
struct NameQuery<'a> {
    name: &'a str,
    team: Option<&'static str>,
    date: Option<NaiveDate>,
    limit: usize,
}

/// Validates a ResolvePlayer request: a name, a known team (any spelling) or none, a
/// YYYY-MM-DD date or none (an empty team or date counts as not given), a limit of at
/// most MAX_CANDIDATES (0: DEFAULT_CANDIDATES).
fn name_query(r: &ResolvePlayerRequest) -> Result<NameQuery<'_>, ServeError> {
    let name = r.name.trim();
    if name.is_empty() {
        return Err(ServeError::invalid("name", "empty: give the player's name as another source writes it, or his basketball-reference id"));
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Err(ServeError::invalid("name", format!("{chars} characters; at most {MAX_NAME_CHARS}")));
    }
    let team = match given(r.team.as_deref()) {
        None => None,
        Some(t) => Some(nba_names::canonical_team(t).ok_or_else(|| ServeError::invalid("team", format!("unknown team {t:?}")))?),
    };
    let date = match given(r.date.as_deref()) {
        None => None,
        Some(d) => Some(NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| ServeError::invalid("date", format!("{d:?} is not a date (YYYY-MM-DD)")))?),
    };
    let limit = match r.limit {
        0 => DEFAULT_CANDIDATES,
        n if n > MAX_CANDIDATES => return Err(ServeError::invalid("limit", format!("{n}; at most {MAX_CANDIDATES}"))),
        n => n,
    };
    Ok(NameQuery { name, team, date, limit: limit as usize })
}

/// A field that is set and not blank.
fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// The registry's candidates for a request, best first.
fn resolve_player(p: &Predictor, r: &ResolvePlayerRequest) -> Result<ResolvePlayerResponse, ServeError> {
    let q = name_query(r)?;
    let snap = p
        .feature_source
        .snapshot()
        .ok_or_else(|| ServeError::Unavailable("the player registry is not loaded yet (ClickHouse unreachable since start)".into()))?;
    let candidates = snap
        .registry
        .candidates(q.name, q.team, q.date, q.limit)
        .into_iter()
        .map(|c| PlayerCandidate { player_id: c.player_id, name: c.name, team: c.team, score: c.score })
        .collect();
    Ok(ResolvePlayerResponse { candidates })
}

#[tonic::async_trait]
impl PredictionService for PredictApi {
    async fn predict(&self, request: Request<PredictRequest>) -> Result<Response<PredictResponse>, Status> {
        let started = Instant::now();
        let r = self.predictor.predict(request.get_ref(), "Predict").map(|s| s.response);
        PREDICT.finish(started, r)
    }

    async fn predict_batch(&self, request: Request<PredictBatchRequest>) -> Result<Response<PredictBatchResponse>, Status> {
        let started = Instant::now();
        let reqs = request.into_inner().requests;
        let r = if reqs.len() > self.max_batch {
            Err(ServeError::invalid("requests", format!("{} requests; at most {} per batch", reqs.len(), self.max_batch)))
        } else if reqs.len() <= INLINE_BATCH {
            Ok(PredictBatchResponse { results: score_batch(&self.predictor, &reqs) })
        } else {
            let p = self.predictor.clone();
            tokio::task::spawn_blocking(move || PredictBatchResponse { results: score_batch(&p, &reqs) })
                .await
                .map_err(|e| ServeError::Internal(format!("batch task: {e}")))
        };
        PREDICT_BATCH.finish(started, r)
    }

    async fn get_model(&self, _request: Request<GetModelRequest>) -> Result<Response<GetModelResponse>, Status> {
        let started = Instant::now();
        let r = self.predictor.model().map(|m| {
            let man = &m.manifest;
            GetModelResponse {
                version: m.version.clone(),
                created_at: man.created_at.clone(),
                loaded_at: m.loaded_at.to_rfc3339(),
                feature_version: man.feature_version,
                contract_hash: man.contract_hash.clone(),
                feature_names: man.feature_names.clone(),
                objective: man.hyper_parameters.objective.clone(),
                trees: m.scorer.n_trees() as u32,
                test_model: Some(metric(&man.metrics.scored.model)),
                test_baselines: man.metrics.scored.baselines.iter().map(|(k, v)| (k.clone(), metric(v))).collect(),
                test_period: man.split.test.period.clone(),
                train_period: man.split.train.period.clone(),
                model_sha256: man.model_sha256.clone(),
            }
        });
        GET_MODEL.finish(started, r)
    }

    async fn explain(&self, request: Request<PredictRequest>) -> Result<Response<ExplainResponse>, Status> {
        let started = Instant::now();
        let r = self.predictor.predict(request.get_ref(), "Explain").and_then(|s| {
            let features = self.predictor.explain(&s)?;
            Ok(ExplainResponse { prediction: Some(s.response), features })
        });
        EXPLAIN.finish(started, r)
    }

    async fn resolve_player(&self, request: Request<ResolvePlayerRequest>) -> Result<Response<ResolvePlayerResponse>, Status> {
        let started = Instant::now();
        let r = resolve_player(&self.predictor, request.get_ref());
        RESOLVE_PLAYER.finish(started, r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(name: &str, team: Option<&str>, date: Option<&str>, limit: u32) -> ResolvePlayerRequest {
        ResolvePlayerRequest { name: name.into(), team: team.map(Into::into), date: date.map(Into::into), limit }
    }

    /// Each bad field is INVALID_ARGUMENT naming it; any team spelling is our code.
    #[test]
    fn resolve_requests_are_validated_field_by_field() {
        let r = request(" Nic Claxton ", Some("Brooklyn Nets"), Some("2023-10-27"), 0);
        let q = name_query(&r).unwrap();
        assert_eq!(q, NameQuery { name: "Nic Claxton", team: Some("BRK"), date: NaiveDate::from_ymd_opt(2023, 10, 27), limit: 5 });
        let r = request("claxtni01", Some(""), Some(" "), 50);
        let q = name_query(&r).unwrap();
        assert_eq!((q.team, q.date, q.limit), (None, None, 50), "empty team and date: not given");
        assert_eq!(name_query(&request("x", Some("PHX"), None, 1)).unwrap().team, Some("PHO"));
        let field = |r: ResolvePlayerRequest| match name_query(&r) {
            Err(e @ ServeError::InvalidArgument { .. }) => e.to_string(),
            other => panic!("{r:?}: {other:?}"),
        };
        assert!(field(request("  ", None, None, 0)).starts_with("name: empty"));
        assert!(field(request(&"a".repeat(101), None, None, 0)).starts_with("name: 101 characters"));
        assert_eq!(field(request("Nic Claxton", Some("Brooklyn Dodgers"), None, 0)), "team: unknown team \"Brooklyn Dodgers\"");
        assert_eq!(field(request("Nic Claxton", None, Some("10/27/2023"), 0)), "date: \"10/27/2023\" is not a date (YYYY-MM-DD)");
        assert_eq!(field(request("Nic Claxton", None, None, 51)), "limit: 51; at most 50");
    }
}
