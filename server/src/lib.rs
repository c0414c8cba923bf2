//! `nba-server`: low-latency gRPC points predictions.
//!
//! - [`predict`]: where a prediction is computed (request -> features -> model -> answer);
//! - [`feature_source`]: where a request's feature vector comes from (the in-memory
//!   history from ClickHouse, the shared contract's `compute`, the vector cache);
//! - [`game_day`]: each request's inactive lists and lineups, and where they came from
//!   (the request, the stored game, an injury report, or unknown);
//! - [`served_model`]: the served-model slot: loading, checking and hot-swapping registry
//!   versions;
//! - [`grpc`]: the `nba.predict.v1` and KServe V2 services, auth, per-call metrics;
//! - [`flight`]: Arrow Flight batch scoring and daily slates;
//! - [`slate`]: who plays on a day (Flight's slates and the slate run ask the same);
//! - [`slate_run`]: `nba-server slate`, the day's slate predicted and stored before tip-off;
//! - [`error`]: what can go wrong serving, and the one mapping to gRPC status codes;
//! - `nba_api::decode`: client input that arrives as data (Flight batches, V2 tensors), fuzzed;
//! - [`admin`]: `/metrics`, `/live`, `/ready`, `POST /admin/reload`;
//! - [`predlog`]: every prediction appended to ClickHouse off the request path;
//! - [`keep_awake`]: the opt-in `--keep-cpus-awake` mode (idle CPUs spin while requests arrive);
//! - [`run`]: build the services, start the background work, serve, shut down
//!   (the steps are in `lifecycle`).

/// HTTP/2 flow-control window per stream, in bytes (the protocol's default is 64 KB).
pub const HTTP2_STREAM_WINDOW: u32 = 4 << 20;

/// HTTP/2 flow-control window per connection, in bytes.
pub const HTTP2_CONNECTION_WINDOW: u32 = 8 << 20;

/// The process allocator of the server (its binary, tests and benchmarks alike): jemalloc
/// keeps freed pages for reuse (dirty pages decay over seconds), where glibc's malloc gives
/// every large buffer (a 28 MB Flight batch, its aligned copy, tonic's receive buffer) a
/// fresh mmap and its page faults. Measured: those faults are 7% of the CPU of a
/// DoExchange run under glibc, and DoExchange is faster when freed memory is kept (see
/// docs/benchmarks.md).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

pub mod admin;
pub mod client;
pub mod config;
pub mod error;
pub mod feature_source;
pub mod flight;
pub mod game_day;
pub mod grpc;
pub mod keep_awake;
mod lifecycle;
pub mod predict;
pub mod predlog;
pub mod served_model;
pub mod slate;
pub mod slate_run;
pub mod telemetry;

use crate::config::{Secrets, ServeConfig};
use crate::predict::Predictor;
use anyhow::Context;
use nba_store::{Store, StoreConfig};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// gRPC service names reported by the health service (besides "" for the whole server).
pub const SERVICES: [&str; 3] = ["nba.predict.v1.PredictionService", "inference.GRPCInferenceService", "arrow.flight.protocol.FlightService"];

/// State shared by the gRPC services, the admin port and the background tasks.
pub struct ServerState {
    pub predictor: Arc<Predictor>,
    pub ready: Arc<AtomicBool>,
    pub shutting_down: AtomicBool,
    pub health: HealthReporter,
    pub auth_token: Option<String>,
}

impl ServerState {
    /// Ready: a model and the feature history are loaded and we are not shutting down.
    pub fn is_ready(&self) -> bool {
        !self.shutting_down.load(Ordering::Relaxed) && self.predictor.model_slot.get().is_some() && self.predictor.feature_source.snapshot().is_some()
    }

    /// Publishes readiness to the gRPC health service, V2 ServerReady and the metric.
    pub async fn update_health(&self) {
        let ready = self.is_ready();
        let was = self.ready.swap(ready, Ordering::Relaxed);
        let status = if ready { ServingStatus::Serving } else { ServingStatus::NotServing };
        for name in std::iter::once("").chain(SERVICES) {
            self.health.set_service_status(name, status).await;
        }
        metrics::gauge!("nba_ready").set(if ready { 1.0 } else { 0.0 });
        if was != ready {
            tracing::info!(ready, "readiness changed");
        }
    }
}

/// The connection `validate` checked (attempts from `--clickhouse-attempts`), with a
/// shorter first pause than the batch jobs': a request path never waits on ClickHouse,
/// and background refreshes retry on their next tick anyway.
fn store_config(secrets: &Secrets) -> StoreConfig {
    let mut sc = secrets.clickhouse.clone();
    sc.backoff = Duration::from_millis(200);
    sc
}

/// Serves until `shutdown` resolves, then: NOT_SERVING, wait `--shutdown-delay-secs`,
/// stop accepting, drain in-flight calls (at most `--shutdown-grace-secs`), flush the
/// prediction log, stop the admin port, return.
pub async fn run(
    cfg: ServeConfig,
    secrets: Secrets,
    grpc_listener: TcpListener,
    admin_listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> anyhow::Result<()> {
    let _ = telemetry::prometheus();
    let grpc_addr = grpc_listener.local_addr()?;
    let admin_addr = admin_listener.local_addr()?;
    let store = Store::new(store_config(&secrets)).context("ClickHouse client")?;
    let (state, health_service, prediction_log) = lifecycle::build_state(&cfg, &secrets, store);
    state.update_health().await;

    tracing::info!(
        grpc = %grpc_addr,
        admin = %admin_addr,
        registry = %cfg.predictions.registry.display(),
        clickhouse = %cfg.clickhouse.urls.join(","),
        database = %cfg.clickhouse.database,
        tls = cfg.tls_cert.is_some(),
        auth = secrets.auth_token.is_some(),
        prediction_log = cfg.prediction_log,
        version = env!("CARGO_PKG_VERSION"),
        "nba-server starting"
    );
    let background = lifecycle::Background::start(&cfg, &state, admin_listener);
    let keep_awake = lifecycle::start_keep_awake(&cfg);
    let router = lifecycle::grpc_router(&cfg, &secrets, &state, keep_awake.call_signal(), health_service)?;
    let mut grpc = lifecycle::GrpcServer::start(router, grpc_listener);
    if let Err(failed) = grpc.serve_until(shutdown).await {
        background.signal_stop();
        return Err(failed);
    }
    lifecycle::Shutdown { state, grpc, background, keep_awake, prediction_log }.run(&cfg).await;
    Ok(())
}

/// Resolves on SIGTERM or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!(signal = "SIGINT", "shutdown requested"),
        () = term => tracing::info!(signal = "SIGTERM", "shutdown requested"),
    }
}
