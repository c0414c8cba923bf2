//! The steps of a server's life that [`crate::run`] strings together: build the services,
//! start the background work (model reload, feature refresh, admin port, keep-awake
//! threads), serve gRPC, and the shutdown sequence, whose every wait has a deadline.

use crate::ServerState;
use crate::admin;
use crate::config::{Secrets, ServeConfig};
use crate::feature_source::FeatureSource;
use crate::flight::FlightApi;
use crate::grpc::BearerAuth;
use crate::grpc::inference::InferenceApi;
use crate::grpc::predict::PredictApi;
use crate::keep_awake::{CallSignal, KeepAwake, SignalingInterceptor};
use crate::predict::Predictor;
use crate::predlog::PredictionLog;
use crate::served_model::ModelSlot;
use anyhow::Context;
use arrow_flight::flight_service_server::FlightServiceServer;
use nba_api::proto::inference::grpc_inference_service_server::GrpcInferenceServiceServer;
use nba_api::proto::predict::prediction_service_server::PredictionServiceServer;
use nba_registry::Registry;
use nba_store::Store;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::Router;

/// Longest wait for the prediction log's last rows at shutdown.
const PREDICTION_LOG_FLUSH: Duration = Duration::from_secs(5);
/// Longest wait for the admin port to close at shutdown.
const ADMIN_CLOSE: Duration = Duration::from_secs(2);
/// Retry period of the feature refresher until the first snapshot is loaded.
const FIRST_SNAPSHOT_RETRY: Duration = Duration::from_secs(2);

/// The prediction log and the task that writes it.
pub(crate) struct PredictionLogWriter {
    log: PredictionLog,
    task: JoinHandle<()>,
}

impl PredictionLogWriter {
    /// Closes the log and waits (at most [`PREDICTION_LOG_FLUSH`]) for its last rows.
    async fn flush(self) {
        self.log.close();
        if tokio::time::timeout(PREDICTION_LOG_FLUSH, self.task).await.is_err() {
            tracing::warn!("prediction log: last rows not written within 5 s");
        }
    }
}

/// The shared state of every service, its health service, and the prediction log's
/// writer (None with `--prediction-log false`). Nothing runs yet.
pub(crate) fn build_state(cfg: &ServeConfig, secrets: &Secrets, store: Store) -> (Arc<ServerState>, HealthGrpcService, Option<PredictionLogWriter>) {
    let model_slot = Arc::new(ModelSlot::new(Registry::new(&cfg.predictions.registry)));
    let feature_source = Arc::new(FeatureSource::new(store.clone(), cfg.feature_cache_entries, cfg.predictions.doubtful_plays));
    let writer = cfg.prediction_log.then(|| {
        let (log, task) = PredictionLog::start(store, Duration::from_secs(cfg.prediction_log_window_secs));
        PredictionLogWriter { log, task }
    });
    let predictor = Arc::new(Predictor { feature_source, model_slot, log: writer.as_ref().map(|w| w.log.clone()), reuse_answers: cfg.reuse_answers });
    let health = tonic_health::server::HealthReporter::new();
    let health_service = HealthGrpcService::new(tonic_health::server::HealthService::from_health_reporter(health.clone()));
    let state = Arc::new(ServerState {
        predictor,
        ready: Arc::new(AtomicBool::new(false)),
        shutting_down: AtomicBool::new(false),
        health,
        auth_token: secrets.auth_token.clone(),
    });
    (state, health_service, writer)
}

/// The gRPC health service (`grpc.health.v1.Health`).
pub(crate) type HealthGrpcService = tonic_health::pb::health_server::HealthServer<tonic_health::server::HealthService>;

/// Work beside the gRPC server: the model reloader, the feature refresher and the admin
/// port, all stopped by one signal.
pub(crate) struct Background {
    stop: watch::Sender<bool>,
    refreshers: Vec<JoinHandle<()>>,
    admin: JoinHandle<std::io::Result<()>>,
}

impl Background {
    /// Starts the first model load and feature read, their periodic refreshes, and the
    /// admin port.
    pub(crate) fn start(cfg: &ServeConfig, state: &Arc<ServerState>, admin_listener: TcpListener) -> Background {
        let (stop, stopped) = watch::channel(false);
        let refreshers = vec![
            tokio::spawn(reload_models(state.clone(), cfg.model_poll(), stopped.clone())),
            tokio::spawn(refresh_features(state.clone(), Duration::from_secs(cfg.feature_refresh_secs), stopped.clone())),
        ];
        let admin = tokio::spawn(serve_admin(admin_listener, state.clone(), stopped));
        Background { stop, refreshers, admin }
    }

    /// Tells every background task to stop (without waiting for them).
    pub(crate) fn signal_stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// Loads the registry's current model at start, then every `poll` (None: only at start
/// and on `POST /admin/reload`).
async fn reload_models(state: Arc<ServerState>, poll: Option<Duration>, mut stop: watch::Receiver<bool>) {
    let _ = state.predictor.model_slot.reload("startup").await;
    state.update_health().await;
    let Some(every) = poll else { return };
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.changed() => return,
        }
        let _ = state.predictor.model_slot.reload("poll").await;
        state.update_health().await;
    }
}

/// Reads the feature history at start and whenever ClickHouse's summaries change
/// (checked every `every`; until the first snapshot, at least every 2 s).
async fn refresh_features(state: Arc<ServerState>, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        let _ = state.predictor.feature_source.refresh().await;
        state.update_health().await;
        let wait = if state.predictor.feature_source.snapshot().is_some() { every } else { every.min(FIRST_SNAPSHOT_RETRY) };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.changed() => return,
        }
    }
}

/// The admin HTTP port until the stop signal.
async fn serve_admin(listener: TcpListener, state: Arc<ServerState>, mut stop: watch::Receiver<bool>) -> std::io::Result<()> {
    axum::serve(listener, admin::router(state))
        .with_graceful_shutdown(async move {
            let _ = stop.changed().await;
        })
        .await
}

/// The opt-in low-latency mode: threads keep otherwise idle CPUs spinning while requests
/// arrive (none with `--keep-cpus-awake 0`, the default).
pub(crate) fn start_keep_awake(cfg: &ServeConfig) -> KeepAwake {
    let keep_awake = KeepAwake::start(cfg.keep_cpus_awake, cfg.keep_awake_window());
    if keep_awake.threads() > 0 {
        tracing::info!(
            threads = keep_awake.threads(),
            window_us = cfg.keep_awake_window_us,
            policy = keep_awake.policy(),
            "keep-cpus-awake on: idle CPUs spin while requests arrive"
        );
    }
    keep_awake
}

/// The interceptor of the prediction, V2 and Flight services: notes the call for the
/// keep-awake threads, then checks the bearer token.
type Gate = SignalingInterceptor<BearerAuth>;

/// The gRPC server's services and transport settings: health, reflection, prediction,
/// V2 and Flight, behind the bearer-token check, with TLS when configured.
pub(crate) fn grpc_router(cfg: &ServeConfig, secrets: &Secrets, state: &ServerState, calls: CallSignal, health: HealthGrpcService) -> anyhow::Result<Router> {
    let gate: Gate = SignalingInterceptor::new(calls, BearerAuth::new(secrets.auth_token.as_deref()));
    let predictor = &state.predictor;
    let predict_api = PredictApi { predictor: predictor.clone(), max_batch: cfg.max_batch };
    let inference_api = InferenceApi { predictor: predictor.clone(), ready: state.ready.clone(), max_batch: cfg.max_batch };
    let flight_api = FlightApi {
        predictor: predictor.clone(),
        max_batch: cfg.max_flight_batch,
        max_answer_backlog: usize::try_from(cfg.max_flight_answer_backlog_bytes).unwrap_or(usize::MAX),
        stall: cfg.flight_stall(),
    };
    let predict_svc = InterceptedService::new(PredictionServiceServer::new(predict_api).max_decoding_message_size(cfg.max_request_bytes), gate.clone());
    let inference_svc = InterceptedService::new(GrpcInferenceServiceServer::new(inference_api).max_decoding_message_size(cfg.max_request_bytes), gate.clone());
    let flight_svc = InterceptedService::new(FlightServiceServer::new(flight_api).max_decoding_message_size(cfg.max_flight_message_bytes), gate);
    let (reflection_v1, reflection_v1alpha) = reflection()?;
    Ok(transport(cfg)?
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(predict_svc)
        .add_service(inference_svc)
        .add_service(flight_svc))
}

/// Reflection of the project's protos and of health, in both protocol versions.
fn reflection() -> anyhow::Result<(
    tonic_reflection::server::v1::ServerReflectionServer<impl tonic_reflection::server::v1::ServerReflection>,
    tonic_reflection::server::v1alpha::ServerReflectionServer<impl tonic_reflection::server::v1alpha::ServerReflection>,
)> {
    let builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(nba_api::proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let v1 = builder().build_v1().context("reflection service")?;
    let v1alpha = builder().build_v1alpha().context("reflection service")?;
    Ok((v1, v1alpha))
}

/// The gRPC transport: limits, HTTP/2 windows, keepalive and TLS.
fn transport(cfg: &ServeConfig) -> anyhow::Result<tonic::transport::Server> {
    let mut builder = tonic::transport::Server::builder()
        // Beyond the limit a call is refused at once (RESOURCE_EXHAUSTED), not queued
        // without bound behind the ones running.
        .concurrency_limit_per_connection(cfg.max_concurrency)
        .load_shed(true)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        // HTTP/2's default 64 KB flow-control windows make a client streaming feature
        // batches (Flight DoExchange: ~260 MB/s at a million rows/s) wait for a
        // WINDOW_UPDATE every 64 KB; a few MB keep the pipe full. Small calls are unaffected.
        .initial_stream_window_size(Some(crate::HTTP2_STREAM_WINDOW))
        .initial_connection_window_size(Some(crate::HTTP2_CONNECTION_WINDOW))
        .tcp_nodelay(true);
    if let (Some(cert), Some(key)) = (&cfg.tls_cert, &cfg.tls_key) {
        let cert = std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
        let key = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
        let tls = tonic::transport::ServerTlsConfig::new().identity(tonic::transport::Identity::from_pem(cert, key));
        builder = builder.tls_config(tls).context("TLS config")?;
    }
    Ok(builder)
}

/// The gRPC server, serving in a task of its own until told to drain.
pub(crate) struct GrpcServer {
    task: JoinHandle<Result<(), tonic::transport::Error>>,
    drain: oneshot::Sender<()>,
}

impl GrpcServer {
    pub(crate) fn start(router: Router, listener: TcpListener) -> GrpcServer {
        let (drain, drained) = oneshot::channel::<()>();
        // The builder's tcp_nodelay applies only to listeners tonic binds itself; ours is
        // given, so its accepted sockets get it here. Without it, a streamed answer (a
        // Flight slate: schema, batch, trailers) waits ~40 ms on Nagle + the peer's
        // delayed ACK.
        let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true));
        let task = tokio::spawn(router.serve_with_incoming_shutdown(incoming, async {
            let _ = drained.await;
        }));
        GrpcServer { task, drain }
    }

    /// Serves until `shutdown` resolves (Ok) or the server stops on its own (the error:
    /// it never should).
    pub(crate) async fn serve_until(&mut self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let ended = tokio::select! {
            () = shutdown => return Ok(()),
            r = &mut self.task => r,
        };
        match ended {
            Ok(Ok(())) => Err(anyhow::anyhow!("gRPC server stopped unexpectedly")),
            Ok(Err(e)) => Err(anyhow::Error::new(e).context("gRPC server")),
            Err(e) => Err(anyhow::Error::new(e).context("gRPC server task")),
        }
    }

    /// Stops accepting and waits for the calls in flight, at most `grace`; whether they
    /// all completed (false: the rest were cut off).
    async fn drain(mut self, grace: Duration) -> bool {
        let _ = self.drain.send(());
        match tokio::time::timeout(grace, &mut self.task).await {
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
                self.task.abort();
                false
            }
        }
    }
}

/// What the shutdown sequence stops, in its order.
pub(crate) struct Shutdown {
    pub(crate) state: Arc<ServerState>,
    pub(crate) grpc: GrpcServer,
    pub(crate) background: Background,
    pub(crate) keep_awake: KeepAwake,
    pub(crate) prediction_log: Option<PredictionLogWriter>,
}

impl Shutdown {
    /// Health NOT_SERVING; wait `--shutdown-delay-secs` (load balancers notice); stop
    /// accepting and drain in-flight calls (at most `--shutdown-grace-secs`); stop the
    /// background work and the keep-awake threads; flush the prediction log (at most 5 s);
    /// close the admin port (at most 2 s).
    pub(crate) async fn run(self, cfg: &ServeConfig) {
        let started = Instant::now();
        let Shutdown { state, grpc, background, mut keep_awake, prediction_log } = self;
        state.shutting_down.store(true, Ordering::Relaxed);
        state.update_health().await;
        tracing::info!(delay_secs = cfg.shutdown_delay_secs, grace_secs = cfg.shutdown_grace_secs, "shutdown: health NOT_SERVING, draining");
        if cfg.shutdown_delay_secs > 0 {
            tokio::time::sleep(Duration::from_secs(cfg.shutdown_delay_secs)).await;
        }
        let drained = grpc.drain(Duration::from_secs(cfg.shutdown_grace_secs)).await;
        background.signal_stop();
        keep_awake.stop();
        for t in background.refreshers {
            let _ = t.await;
        }
        if let Some(writer) = prediction_log {
            writer.flush().await;
        }
        let _ = tokio::time::timeout(ADMIN_CLOSE, background.admin).await;
        tracing::info!(drained, ms = started.elapsed().as_millis() as u64, "nba-server stopped");
    }
}
