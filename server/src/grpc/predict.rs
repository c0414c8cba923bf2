//! `nba.predict.v1.PredictionService`: Predict, PredictBatch, GetModel, Explain.

use super::finish;
use crate::error::ServeError;
use crate::predict::Predictor;
use nba_api::proto::predict::prediction_service_server::PredictionService;
use nba_api::proto::predict::{
    BatchError, ExplainResponse, GetModelRequest, GetModelResponse, Metric, PredictBatchItem, PredictBatchRequest, PredictBatchResponse, PredictRequest,
    PredictResponse, ResolvePlayerRequest, ResolvePlayerResponse, predict_batch_item,
};
use nba_registry::Metrics;
use std::sync::Arc;
use std::time::Instant;
use tonic::{Request, Response, Status};

/// Batches larger than this are scored on a blocking thread, so a big batch cannot stall
/// the runtime threads that answer single predictions.
const INLINE_BATCH: usize = 64;

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

#[tonic::async_trait]
impl PredictionService for PredictApi {
    async fn predict(&self, request: Request<PredictRequest>) -> Result<Response<PredictResponse>, Status> {
        let started = Instant::now();
        let r = self.predictor.predict(request.get_ref(), "Predict").map(|s| s.response);
        finish("Predict", started, r)
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
        finish("PredictBatch", started, r)
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
        finish("GetModel", started, r)
    }

    async fn explain(&self, request: Request<PredictRequest>) -> Result<Response<ExplainResponse>, Status> {
        let started = Instant::now();
        let r = self.predictor.predict(request.get_ref(), "Explain").and_then(|s| {
            let features = self.predictor.explain(&s)?;
            Ok(ExplainResponse { prediction: Some(s.response), features })
        });
        finish("Explain", started, r)
    }

    async fn resolve_player(&self, _request: Request<ResolvePlayerRequest>) -> Result<Response<ResolvePlayerResponse>, Status> {
        Err(Status::unimplemented("ResolvePlayer is being built (issue #17)"))
    }
}
