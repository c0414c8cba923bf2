//! The Prometheus recorder. It is process-wide (the `metrics` facade has one global), so
//! it is installed once and its handle shared. (Logs are set up by `nba-logging`, as in
//! the other binaries.)

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

/// Latency buckets in seconds: 25 us to 2.5 s.
const LATENCY_BUCKETS: &[f64] = &[0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
/// Predicted points buckets.
const POINTS_BUCKETS: &[f64] = &[0.0, 2.0, 4.0, 6.0, 8.0, 10.0, 12.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0, 50.0];

/// The recorder's handle, once [`prometheus`] has installed it.
static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's Prometheus handle (installs the recorder on first use).
pub fn prometheus() -> &'static PrometheusHandle {
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
            .and_then(|b| b.set_buckets_for_metric(Matcher::Full("nba_predicted_points".into()), POINTS_BUCKETS));
        let recorder = match builder {
            Ok(b) => b.build_recorder(),
            // Only reachable with empty bucket lists, which the constants are not.
            Err(_) => PrometheusBuilder::new().build_recorder(),
        };
        let handle = recorder.handle();
        // Fails only if another recorder was installed first (tests embedding the server
        // next to other code); metrics then go to that recorder.
        let _ = metrics::set_global_recorder(recorder);
        describe();
        // Histogram samples are kept raw until an upkeep folds them into their buckets.
        // Rendering /metrics does that, but a server nobody scrapes (Prometheus down, a
        // deployment without it) kept every sample: the soak bench measured +22 MiB per
        // 600,000 calls. So fold them every 5 s, as the exporter's own listener would.
        let upkeep = handle.clone();
        let _ = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
            loop {
                std::thread::sleep(std::time::Duration::from_secs(5));
                upkeep.run_upkeep();
            }
        });
        handle
    })
}

/// A metric handle registered once. `metrics::counter!` and its kin look the metric up in
/// the recorder (its name and labels hashed, a lock taken) on every use; on the request
/// path that is most of what a metric costs, so the handles of the busiest ones are kept.
/// A handle is only kept once the recorder is installed: one taken before would be the
/// no-op recorder's for good.
pub struct Registered<T> {
    handle: OnceLock<T>,
    register: fn() -> T,
}

impl<T> Registered<T> {
    pub const fn new(register: fn() -> T) -> Self {
        Registered { handle: OnceLock::new(), register }
    }

    /// Runs `f` with the handle.
    pub fn with<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        with_kept(&self.handle, self.register, f)
    }
}

/// Runs `f` with the handle kept in `cell`, registering it on first use once the recorder
/// is installed (before, a new one each time): [`Registered`]'s rule, for a handle whose
/// registration needs more than a `fn()` (a gRPC method's name).
pub fn with_kept<T, R>(cell: &OnceLock<T>, register: impl FnOnce() -> T, f: impl FnOnce(&T) -> R) -> R {
    if installed() { f(cell.get_or_init(register)) } else { f(&register()) }
}

/// Whether [`prometheus`] has installed the recorder.
fn installed() -> bool {
    HANDLE.get().is_some()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!("nba_grpc_requests_total", "gRPC calls by method and status code");
    describe_histogram!("nba_grpc_request_duration_seconds", Unit::Seconds, "gRPC call latency by method and status code");
    describe_histogram!("nba_predicted_points", "predicted points of answered predictions");
    describe_counter!("nba_model_reloads_total", "model reload attempts that swapped (success) or were refused (failure)");
    describe_gauge!("nba_model_info", "1 for the model version being served");
    describe_gauge!("nba_model_loaded_timestamp_seconds", "when the served model was loaded");
    describe_counter!("nba_feature_cache_requests_total", "feature vector lookups: hit or miss");
    describe_counter!("nba_clickhouse_errors_total", "failed ClickHouse operations by operation");
    describe_gauge!("nba_feature_store_healthy", "1 when the last ClickHouse refresh succeeded");
    describe_gauge!("nba_feature_history_player_games", "player games in the in-memory history");
    describe_counter!("nba_prediction_log_rows_total", "predictions written to the predictions table");
    describe_counter!("nba_prediction_log_dropped_total", "predictions not logged (queue full, ClickHouse failing)");
    describe_counter!("nba_keep_awake_wakeups_total", "times a --keep-cpus-awake thread was woken from sleep to spin again");
    describe_gauge!("nba_ready", "1 when the server is ready (model and features loaded, not shutting down)");
}
