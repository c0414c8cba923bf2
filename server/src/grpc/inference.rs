//! `inference.GRPCInferenceService`: the Open Inference Protocol (KServe V2), so standard
//! V2 clients can score raw FP32 feature rows (contract order) without our own API.

use super::Method;
use crate::error::ServeError;
use crate::predict::Predictor;
use nba_api::decode;
use nba_api::proto::inference::grpc_inference_service_server::GrpcInferenceService;
use nba_api::proto::inference::model_infer_response::InferOutputTensor;
use nba_api::proto::inference::model_metadata_response::TensorMetadata;
use nba_api::proto::inference::*;
use nba_features::N_FEATURES;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tonic::{Request, Response, Status};

static MODEL_METADATA: Method = Method::new("ModelMetadata");
static MODEL_INFER: Method = Method::new("ModelInfer");

/// The one model this server exposes over V2.
pub const MODEL_NAME: &str = "nba-points";

#[derive(Clone)]
pub struct InferenceApi {
    pub predictor: Arc<Predictor>,
    pub ready: Arc<AtomicBool>,
    pub max_batch: usize,
}

impl InferenceApi {
    fn check_model(&self, name: &str, version: &str) -> Result<Arc<crate::served_model::LoadedModel>, ServeError> {
        if name != MODEL_NAME {
            return Err(ServeError::ModelNotFound(format!("model {name:?} is not served here (only {MODEL_NAME:?})")));
        }
        let m = self.predictor.model()?;
        if !version.is_empty() && version != m.version {
            return Err(ServeError::ModelNotFound(format!("version {version:?} of {MODEL_NAME} is not served (serving {})", m.version)));
        }
        Ok(m)
    }

    fn infer(&self, req: &ModelInferRequest) -> Result<ModelInferResponse, ServeError> {
        let model = self.check_model(&req.model_name, &req.model_version)?;
        let [input] = req.inputs.as_slice() else {
            return Err(ServeError::invalid("inputs", format!("expected exactly one input tensor, got {}", req.inputs.len())));
        };
        let tensor = decode::tensor(
            decode::TensorInput {
                datatype: &input.datatype,
                shape: &input.shape,
                raw: req.raw_input_contents.first().map(Vec::as_slice),
                fp32: input.contents.as_ref().map(|c| c.fp32_contents.as_slice()).unwrap_or_default(),
            },
            self.max_batch,
        )
        .map_err(|e| ServeError::invalid(e.field, e.message))?;
        let decode::Tensor { rows, data, raw } = tensor;
        let scores = model.scorer.predict_batch(&data)?;
        let mut out = InferOutputTensor { name: nba_model::onnx::OUTPUT.into(), datatype: "FP32".into(), shape: vec![rows as i64, 1], ..Default::default() };
        let mut raw_out = vec![];
        if raw {
            raw_out.push(scores.iter().flat_map(|s| s.to_le_bytes()).collect());
        } else {
            out.contents = Some(InferTensorContents { fp32_contents: scores, ..Default::default() });
        }
        Ok(ModelInferResponse {
            model_name: MODEL_NAME.into(),
            model_version: model.version.clone(),
            id: req.id.clone(),
            parameters: Default::default(),
            outputs: vec![out],
            raw_output_contents: raw_out,
        })
    }
}

#[tonic::async_trait]
impl GrpcInferenceService for InferenceApi {
    async fn server_live(&self, _r: Request<ServerLiveRequest>) -> Result<Response<ServerLiveResponse>, Status> {
        Ok(Response::new(ServerLiveResponse { live: true }))
    }

    async fn server_ready(&self, _r: Request<ServerReadyRequest>) -> Result<Response<ServerReadyResponse>, Status> {
        Ok(Response::new(ServerReadyResponse { ready: self.ready.load(Ordering::Relaxed) }))
    }

    async fn model_ready(&self, r: Request<ModelReadyRequest>) -> Result<Response<ModelReadyResponse>, Status> {
        let r = r.into_inner();
        match self.check_model(&r.name, &r.version) {
            Ok(_) => Ok(Response::new(ModelReadyResponse { ready: true })),
            Err(ServeError::Unavailable(_)) => Ok(Response::new(ModelReadyResponse { ready: false })),
            Err(e) => Err(e.into()),
        }
    }

    async fn server_metadata(&self, _r: Request<ServerMetadataRequest>) -> Result<Response<ServerMetadataResponse>, Status> {
        Ok(Response::new(ServerMetadataResponse { name: "nba-server".into(), version: env!("CARGO_PKG_VERSION").into(), extensions: vec![] }))
    }

    async fn model_metadata(&self, r: Request<ModelMetadataRequest>) -> Result<Response<ModelMetadataResponse>, Status> {
        let started = Instant::now();
        let r = r.into_inner();
        let res = self.check_model(&r.name, &r.version).map(|m| ModelMetadataResponse {
            name: MODEL_NAME.into(),
            versions: vec![m.version.clone()],
            platform: "onnx_onnxv1".into(),
            inputs: vec![TensorMetadata { name: nba_model::onnx::INPUT.into(), datatype: "FP32".into(), shape: vec![-1, N_FEATURES as i64] }],
            outputs: vec![TensorMetadata { name: nba_model::onnx::OUTPUT.into(), datatype: "FP32".into(), shape: vec![-1, 1] }],
        });
        MODEL_METADATA.finish(started, res)
    }

    async fn model_infer(&self, r: Request<ModelInferRequest>) -> Result<Response<ModelInferResponse>, Status> {
        let started = Instant::now();
        let res = self.infer(r.get_ref());
        MODEL_INFER.finish(started, res)
    }
}
