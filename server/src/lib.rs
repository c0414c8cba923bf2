//! `nba-server`: low-latency gRPC points predictions.
//!
//! - [`predict`]: where a prediction is computed (request -> features -> model -> answer);
//! - [`features`]: the in-memory history from ClickHouse and the feature-vector cache;
//! - [`model`]: loading, checking and hot-swapping registry versions;
//! - [`grpc`]: the `nba.predict.v1` and KServe V2 services, auth, per-call metrics;
//! - [`flight`]: Arrow Flight batch scoring and daily slates;
//! - `nba_api::decode`: client input that arrives as data (Flight batches, V2 tensors), fuzzed;
//! - [`admin`]: `/metrics`, `/live`, `/ready`, `POST /admin/reload`;
//! - [`predlog`]: every prediction appended to ClickHouse off the request path;
//! - [`warm`]: the opt-in `--keep-cpus-awake` mode (idle CPUs spin while requests arrive);
//! - [`run`]: wiring, background refreshers and the shutdown sequence.

/// HTTP/2 flow-control window per stream, in bytes (the protocol's default is 64 KB).
pub const HTTP2_STREAM_WINDOW: u32 = 4 << 20;

/// HTTP/2 flow-control window per connection, in bytes.
pub const HTTP2_CONNECTION_WINDOW: u32 = 8 << 20;

/// The process allocator of the server (its binary, tests and benchmarks alike): jemalloc
/// keeps freed pages for reuse (dirty pages decay over seconds), where glibc's malloc gave
/// every large buffer (a 28 MB Flight batch, its aligned copy, tonic's receive buffer) a
/// fresh mmap and its page faults: those were 7% of the CPU of a DoExchange run, and
/// DoExchange went from 0.90/1.02 to 1.05/1.13 M rows/s when glibc was told to keep
/// freed memory (docs/benchmarks.md, session 5).
#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

pub mod admin;
pub mod client;
pub mod config;
pub mod error;
pub mod features;
pub mod flight;
pub mod grpc;
pub mod model;
pub mod predict;
pub mod predlog;
pub mod telemetry;
pub mod warm;

use crate::config::{Secrets, ServeConfig};
use crate::features::FeatureStore;
use crate::grpc::BearerAuth;
use crate::grpc::inference::InferenceApi;
use crate::grpc::predict::PredictApi;
use crate::model::ModelSlot;
use crate::predict::Predictor;
use crate::predlog::PredictionLog;
use anyhow::Context;
use nba_api::proto::inference::grpc_inference_service_server::GrpcInferenceServiceServer;
use nba_api::proto::predict::prediction_service_server::PredictionServiceServer;
use nba_registry::Registry;
use nba_store::{Store, StoreConfig};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::service::interceptor::InterceptedService;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// gRPC service names reported by the health service (besides "" for the whole server).
pub const SERVICES: [&str; 3] = ["nba.predict.v1.PredictionService", "inference.GRPCInferenceService", "arrow.flight.protocol.FlightService"];

/// State shared by the gRPC services, the admin port and the background tasks.
pub struct Shared {
    pub predictor: Arc<Predictor>,
    pub ready: Arc<AtomicBool>,
    pub shutting_down: AtomicBool,
    pub health: HealthReporter,
    pub auth_token: Option<String>,
}

impl Shared {
    /// Ready: a model and the feature history are loaded and we are not shutting down.
    pub fn is_ready(&self) -> bool {
        !self.shutting_down.load(Ordering::Relaxed) && self.predictor.models.get().is_some() && self.predictor.features.snapshot().is_some()
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
    let models = Arc::new(ModelSlot::new(Registry::new(&cfg.registry)));
    let features = Arc::new(FeatureStore::new(store.clone(), cfg.feature_cache_entries));
    let (log, log_task) = match cfg.prediction_log {
        true => {
            let (l, t) = PredictionLog::start(store.clone());
            (Some(l), Some(t))
        }
        false => (None, None),
    };
    let predictor = Arc::new(Predictor { features: features.clone(), models: models.clone(), log: log.clone() });
    let (health, health_service) = tonic_health::server::health_reporter();
    let ready = Arc::new(AtomicBool::new(false));
    let shared = Arc::new(Shared {
        predictor: predictor.clone(),
        ready: ready.clone(),
        shutting_down: AtomicBool::new(false),
        health,
        auth_token: secrets.auth_token.clone(),
    });
    shared.update_health().await;

    tracing::info!(
        grpc = %grpc_addr,
        admin = %admin_addr,
        registry = %cfg.registry.display(),
        clickhouse = %cfg.clickhouse.url,
        database = %cfg.clickhouse.database,
        tls = cfg.tls_cert.is_some(),
        auth = secrets.auth_token.is_some(),
        prediction_log = cfg.prediction_log,
        version = env!("CARGO_PKG_VERSION"),
        "nba-server starting"
    );

    // Background: first loads, then the model poller and the feature refresher.
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut background = vec![];
    {
        let (shared, mut stop) = (shared.clone(), stop_rx.clone());
        let poll = cfg.model_poll();
        background.push(tokio::spawn(async move {
            let _ = shared.predictor.models.reload("startup").await;
            shared.update_health().await;
            let Some(every) = poll else { return };
            loop {
                tokio::select! {
                    () = tokio::time::sleep(every) => {}
                    _ = stop.changed() => return,
                }
                let _ = shared.predictor.models.reload("poll").await;
                shared.update_health().await;
            }
        }));
    }
    {
        let (shared, mut stop) = (shared.clone(), stop_rx.clone());
        let every = Duration::from_secs(cfg.feature_refresh_secs);
        background.push(tokio::spawn(async move {
            loop {
                // Until the first snapshot, retry quickly.
                let _ = shared.predictor.features.refresh().await;
                shared.update_health().await;
                let wait = if shared.predictor.features.snapshot().is_some() { every } else { every.min(Duration::from_secs(2)) };
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    _ = stop.changed() => return,
                }
            }
        }));
    }

    // Admin HTTP.
    let admin_app = admin::router(shared.clone());
    let mut admin_stop = stop_rx.clone();
    let admin_task = tokio::spawn(async move {
        axum::serve(admin_listener, admin_app)
            .with_graceful_shutdown(async move {
                let _ = admin_stop.changed().await;
            })
            .await
    });

    // Opt-in low-latency mode: threads keep otherwise idle CPUs spinning while requests
    // arrive; every call of the three services touches it through their interceptor.
    let mut warmer = warm::CpuWarmer::start(cfg.keep_cpus_awake, cfg.keep_awake_window());
    if warmer.threads() > 0 {
        tracing::info!(
            threads = warmer.threads(),
            window_us = cfg.keep_awake_window_us,
            policy = warmer.policy(),
            "keep-cpus-awake on: idle CPUs spin while requests arrive"
        );
    }

    // gRPC.
    let auth = warm::Touching::new(warmer.toucher(), BearerAuth::new(secrets.auth_token.as_deref()));
    let predict_api = PredictApi { predictor: predictor.clone(), max_batch: cfg.max_batch };
    let inference_api = InferenceApi { predictor: predictor.clone(), ready: ready.clone(), max_batch: cfg.max_batch };
    let predict_svc = InterceptedService::new(PredictionServiceServer::new(predict_api).max_decoding_message_size(cfg.max_request_bytes), auth.clone());
    let inference_svc = InterceptedService::new(GrpcInferenceServiceServer::new(inference_api).max_decoding_message_size(cfg.max_request_bytes), auth.clone());
    let flight_api = flight::FlightApi { predictor: predictor.clone(), max_batch: cfg.max_flight_batch };
    let flight_svc = InterceptedService::new(
        arrow_flight::flight_service_server::FlightServiceServer::new(flight_api).max_decoding_message_size(cfg.max_flight_message_bytes),
        auth,
    );
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(nba_api::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("reflection service")?;
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(nba_api::proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .context("reflection service")?;
    let mut builder = tonic::transport::Server::builder()
        // Beyond the limit a call is refused at once (RESOURCE_EXHAUSTED), not queued
        // without bound behind the ones running.
        .concurrency_limit_per_connection(cfg.max_concurrency)
        .load_shed(true)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        // HTTP/2's default 64 KB flow-control windows make a client streaming feature
        // batches (Flight DoExchange: ~260 MB/s at a million rows/s) wait for a
        // WINDOW_UPDATE every 64 KB; a few MB keep the pipe full. Small calls are unaffected.
        .initial_stream_window_size(Some(HTTP2_STREAM_WINDOW))
        .initial_connection_window_size(Some(HTTP2_CONNECTION_WINDOW))
        .tcp_nodelay(true);
    if let (Some(cert), Some(key)) = (&cfg.tls_cert, &cfg.tls_key) {
        let cert = std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
        let key = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
        let tls = tonic::transport::ServerTlsConfig::new().identity(tonic::transport::Identity::from_pem(cert, key));
        builder = builder.tls_config(tls).context("TLS config")?;
    }
    let (drain_tx, drain_rx) = tokio::sync::oneshot::channel::<()>();
    let router = builder
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(predict_svc)
        .add_service(inference_svc)
        .add_service(flight_svc);
    // The builder's tcp_nodelay applies only to listeners tonic binds itself; ours is
    // given, so its accepted sockets get it here. Without it, a streamed answer (a Flight
    // slate: schema, batch, trailers) waited ~40 ms on Nagle + the peer's delayed ACK.
    let incoming = tonic::transport::server::TcpIncoming::from(grpc_listener).with_nodelay(Some(true));
    let mut grpc_task = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
        let _ = drain_rx.await;
    }));

    // Serve until asked to stop (or until the gRPC server fails on its own).
    let early = tokio::select! {
        () = shutdown => None,
        r = &mut grpc_task => Some(r),
    };
    if let Some(r) = early {
        let _ = stop_tx.send(true);
        return match r {
            Ok(Ok(())) => Err(anyhow::anyhow!("gRPC server stopped unexpectedly")),
            Ok(Err(e)) => Err(anyhow::Error::new(e).context("gRPC server")),
            Err(e) => Err(anyhow::Error::new(e).context("gRPC server task")),
        };
    }

    let started = std::time::Instant::now();
    shared.shutting_down.store(true, Ordering::Relaxed);
    shared.update_health().await;
    tracing::info!(delay_secs = cfg.shutdown_delay_secs, grace_secs = cfg.shutdown_grace_secs, "shutdown: health NOT_SERVING, draining");
    if cfg.shutdown_delay_secs > 0 {
        tokio::time::sleep(Duration::from_secs(cfg.shutdown_delay_secs)).await;
    }
    let _ = drain_tx.send(());
    let drained = match tokio::time::timeout(Duration::from_secs(cfg.shutdown_grace_secs), &mut grpc_task).await {
        Ok(Ok(Ok(()))) => true,
        Ok(Ok(Err(e))) => {
            tracing::warn!(error = %e, "gRPC server ended with an error while draining");
            true
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "gRPC server task failed while draining");
            true
        }
        Err(_) => {
            grpc_task.abort();
            false
        }
    };
    let _ = stop_tx.send(true);
    warmer.stop();
    for t in background {
        let _ = t.await;
    }
    if let (Some(log), Some(task)) = (log, log_task) {
        log.close();
        if tokio::time::timeout(Duration::from_secs(5), task).await.is_err() {
            tracing::warn!("prediction log: last rows not written within 5 s");
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), admin_task).await;
    tracing::info!(drained, ms = started.elapsed().as_millis() as u64, "nba-server stopped");
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
