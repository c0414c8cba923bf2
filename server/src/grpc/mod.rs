//! The gRPC services: the project's API ([`predict`]) and the Open Inference Protocol
//! ([`inference`]), plus the per-call metrics and the bearer-token check they share.

pub mod inference;
pub mod predict;

use crate::error::ServeError;
use std::time::Instant;
use subtle::ConstantTimeEq;
use tonic::{Code, Request, Status};

/// Records one call's count and latency by method and status code.
pub fn observe(method: &'static str, started: Instant, code: Code) {
    let code = code_name(code);
    metrics::counter!("nba_grpc_requests_total", "method" => method, "code" => code).increment(1);
    metrics::histogram!("nba_grpc_request_duration_seconds", "method" => method, "code" => code).record(started.elapsed().as_secs_f64());
}

/// Runs a handler body, recording its metrics and mapping its error to a status.
pub fn finish<T>(method: &'static str, started: Instant, r: Result<T, ServeError>) -> Result<tonic::Response<T>, Status> {
    match r {
        Ok(v) => {
            observe(method, started, Code::Ok);
            Ok(tonic::Response::new(v))
        }
        Err(e) => {
            observe(method, started, e.code());
            if e.code() == Code::Internal {
                tracing::error!(method, error = %e, "internal error");
            }
            Err(e.into())
        }
    }
}

pub fn code_name(c: Code) -> &'static str {
    match c {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

/// Whether an `authorization` header value is `Bearer <token>`, compared in constant time
/// (`ct_eq` on slices of different lengths is false without comparing contents).
pub fn bearer_matches(authorization: Option<&str>, token: &[u8]) -> bool {
    let given = authorization.and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    bool::from(given.as_bytes().ct_eq(token))
}

/// Checks `authorization: Bearer <token>` in constant time (when a token is configured).
#[derive(Clone)]
pub struct BearerAuth {
    token: Option<std::sync::Arc<[u8]>>,
}

impl BearerAuth {
    pub fn new(token: Option<&str>) -> Self {
        BearerAuth { token: token.map(|t| std::sync::Arc::from(t.as_bytes())) }
    }
}

impl tonic::service::Interceptor for BearerAuth {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let Some(expected) = &self.token else {
            return Ok(req);
        };
        if bearer_matches(req.metadata().get("authorization").and_then(|v| v.to_str().ok()), expected) {
            Ok(req)
        } else {
            metrics::counter!("nba_grpc_requests_total", "method" => "auth", "code" => "UNAUTHENTICATED").increment(1);
            Err(ServeError::Unauthenticated.into())
        }
    }
}
