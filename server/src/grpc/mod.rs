//! The gRPC services: the project's API ([`predict`]) and the Open Inference Protocol
//! ([`inference`]), plus the per-call metrics and the bearer-token check they share.

pub mod inference;
pub mod predict;

use crate::error::ServeError;
use metrics::{Counter, Histogram};
use std::sync::OnceLock;
use std::time::Instant;
use subtle::ConstantTimeEq;
use tonic::{Code, Request, Status};

/// A gRPC method: its name in the metrics, and the handles of its successful calls (most
/// calls), registered once ([`crate::telemetry::with_kept`]).
pub struct Method {
    pub name: &'static str,
    ok: OnceLock<(Counter, Histogram)>,
}

impl Method {
    pub const fn new(name: &'static str) -> Method {
        Method { name, ok: OnceLock::new() }
    }

    /// Runs a handler body, recording its metrics and mapping its error to a status.
    pub fn finish<T>(&self, started: Instant, r: Result<T, ServeError>) -> Result<tonic::Response<T>, Status> {
        respond(r, |code| self.observe(started, code), self.name)
    }

    /// Records one call's count and latency by status code.
    pub fn observe(&self, started: Instant, code: Code) {
        if code == Code::Ok {
            crate::telemetry::with_kept(&self.ok, || handles(self.name, Code::Ok), |h| record(h, started));
        } else {
            observe(self.name, started, code);
        }
    }
}

/// Records one call's count and latency by method and status code (registering the
/// metrics each time: for streams and rare outcomes).
pub fn observe(method: &'static str, started: Instant, code: Code) {
    record(&handles(method, code), started);
}

fn record((calls, latency): &(Counter, Histogram), started: Instant) {
    calls.increment(1);
    latency.record(started.elapsed().as_secs_f64());
}

fn handles(method: &'static str, code: Code) -> (Counter, Histogram) {
    let code = code_name(code);
    (
        metrics::counter!("nba_grpc_requests_total", "method" => method, "code" => code),
        metrics::histogram!("nba_grpc_request_duration_seconds", "method" => method, "code" => code),
    )
}

/// Runs a handler body, recording its metrics (registered each time: for streams) and
/// mapping its error to a status.
pub fn finish<T>(method: &'static str, started: Instant, r: Result<T, ServeError>) -> Result<tonic::Response<T>, Status> {
    respond(r, |code| observe(method, started, code), method)
}

/// The call's answer or status, after `observe` has recorded its code.
fn respond<T>(r: Result<T, ServeError>, observe: impl FnOnce(Code), method: &str) -> Result<tonic::Response<T>, Status> {
    match r {
        Ok(v) => {
            observe(Code::Ok);
            Ok(tonic::Response::new(v))
        }
        Err(e) => {
            observe(e.code());
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
