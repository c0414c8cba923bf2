//! Soak and overload benchmark: `scripts/soak.sh`, or
//! `cargo bench -p nba-server --bench soak`.
//!
//! The server is a separate `nba-server serve` process (the release binary of this very
//! build), so its resident memory is its own: VmRSS from `/proc/<pid>/status`, sampled
//! at every interval. A model trained on season 2023-24 by the real trainer is served;
//! requests are 2,000 distinct player-games of March 2024, each warmed once, so the run
//! measures steady serving, not ClickHouse.
//!
//! 1. Soak: `NBA_SOAK_CALLS` single `Predict` calls (default 2,000,000) at
//!    `NBA_SOAK_CONCURRENCY` (64) over 4 HTTP/2 connections. Every `NBA_SOAK_INTERVAL_SECS`
//!    (60) a line: calls, calls/s, p50/p99/max latency (log buckets, 2% wide), errors by
//!    code, server RSS. At the end: RSS growth from the end of the first interval
//!    (warm-up) to the end and to the peak; the target is < 5%.
//! 2. Overload: `NBA_SOAK_OVERLOAD` (256) callers on ONE connection against a server
//!    started with `--max-concurrency` `NBA_SOAK_MAX_CONCURRENCY` (32): calls beyond the
//!    limit must come back RESOURCE_EXHAUSTED at once (shed, not queued), every other call
//!    must succeed.
//!
//! Exits 1 if a soak call failed, or the overload phase shed nothing or failed with any
//! other code: those are behaviour, not speed. Latency and memory are printed, never
//! asserted. Environment as in the serve bench: CLICKHOUSE_URL (default: the testkit's
//! server), NBA_DATA_DIR, NBA_BENCH_DATABASE (`bench_serve`, loaded on first use).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nba_api::proto::predict::PredictRequest;
use nba_api::proto::predict::prediction_service_client::PredictionServiceClient;
use nba_registry::Registry;
use nba_store::Store;
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

mod common;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Latency histogram with buckets 2% wide (bucket i holds [1.02^i, 1.02^(i+1)) us), so
/// any number of calls costs the same memory and percentiles are within 2%.
struct Histogram {
    buckets: Vec<AtomicU64>,
}

const GROWTH: f64 = 1.02;

impl Histogram {
    fn new() -> Self {
        // 1.02^1100 us is far beyond any call's duration.
        Histogram { buckets: (0..1100).map(|_| AtomicU64::new(0)).collect() }
    }

    fn record(&self, d: Duration) {
        let us = (d.as_secs_f64() * 1e6).max(1.0);
        let i = ((us.ln() / GROWTH.ln()) as usize).min(self.buckets.len() - 1);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far, resetting them (one interval's worth).
    fn take(&self) -> Vec<u64> {
        self.buckets.iter().map(|b| b.swap(0, Ordering::Relaxed)).collect()
    }
}

/// (p50, p99, max) in microseconds (upper edge of the bucket) of interval counts.
fn percentiles(counts: &[u64]) -> (f64, f64, f64) {
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return (0.0, 0.0, 0.0);
    }
    let at = |q: f64| {
        let rank = ((total as f64) * q).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return GROWTH.powi(i as i32 + 1);
            }
        }
        GROWTH.powi(counts.len() as i32)
    };
    (at(0.5), at(0.99), at(1.0))
}

/// VmRSS of a process in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A registry whose current version is a model the trainer trained on the season.
async fn registry(store: &Store, root: &std::path::Path) -> String {
    let version = common::serving::trained_version(store, root, "200").await;
    Registry::new(root).promote(&version).unwrap();
    version
}

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct Key {
    player_id: String,
    d: String,
    team: String,
    opponent: String,
    is_home: u8,
}

async fn requests(store: &Store) -> Vec<PredictRequest> {
    let keys: Vec<Key> = store
        .client()
        .query(
            "SELECT player_id, toString(game_date) AS d, team, opponent, is_home FROM player_features FINAL \
             WHERE status = 'Played' AND game_date BETWEEN toDate('2024-03-01') AND toDate('2024-03-20') \
             AND player_id IN (SELECT player_id FROM player_game_summary WHERE game_date < toDate('2024-03-01')) ORDER BY game_id, player_id LIMIT 2000",
        )
        .fetch_all()
        .await
        .unwrap();
    keys.into_iter()
        .map(|k| PredictRequest {
            player_id: k.player_id,
            game_date: k.d,
            opponent: k.opponent,
            is_home: k.is_home == 1,
            team: Some(k.team),
            ..Default::default()
        })
        .collect()
}

/// The server process, stopped (SIGTERM, then SIGKILL) when dropped.
struct Server {
    child: Child,
    grpc: String,
    admin: String,
    log: std::path::PathBuf,
}

impl Server {
    fn start(store: &Store, registry: &std::path::Path, max_concurrency: usize, log: std::path::PathBuf) -> Server {
        let (grpc, admin) = (format!("127.0.0.1:{}", free_port()), format!("127.0.0.1:{}", free_port()));
        let child = Command::new(env!("CARGO_BIN_EXE_nba-server"))
            .args(["serve", "--listen", &grpc, "--admin-listen", &admin, "--registry"])
            .arg(registry)
            .args(["--clickhouse-url", store.url(), "--database", store.database()])
            .args(["--model-poll-secs", "0", "--prediction-log", "false", "--max-concurrency", &max_concurrency.to_string()])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Server { child, grpc: format!("http://{grpc}"), admin: format!("http://{admin}"), log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn rss(&self) -> u64 {
        rss_kib(self.pid()).unwrap_or(0)
    }

    async fn wait_ready(&mut self) {
        for _ in 0..1200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("nba-server exited ({status}); log:\n{}", std::fs::read_to_string(&self.log).unwrap_or_default());
            }
            if reqwest::get(format!("{}/ready", self.admin)).await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("nba-server not ready after 120 s");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.pid().to_string()]).status();
        for _ in 0..300 {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect(addr: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(addr.to_string()).unwrap().connect().await.unwrap()
}

/// Errors by gRPC code name.
type Errors = Arc<Mutex<BTreeMap<String, u64>>>;

fn count_error(errors: &Errors, code: tonic::Code) {
    *errors.lock().unwrap().entry(format!("{code:?}")).or_default() += 1;
}

struct Soak {
    calls: u64,
    seconds: f64,
    errors: BTreeMap<String, u64>,
    rss_warm: u64,
    rss_end: u64,
    rss_peak: u64,
}

async fn soak(server: &Server, reqs: Arc<Vec<PredictRequest>>, calls: u64, concurrency: usize, interval: Duration) -> Soak {
    let mut channels = vec![];
    for _ in 0..4 {
        channels.push(connect(&server.grpc).await);
    }
    let hist = Arc::new(Histogram::new());
    let issued = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let errors: Errors = Arc::default();
    let started = Instant::now();
    let mut tasks = vec![];
    for w in 0..concurrency {
        let mut client = PredictionServiceClient::new(channels[w % channels.len()].clone());
        let (hist, issued, done, errors, reqs) = (hist.clone(), issued.clone(), done.clone(), errors.clone(), reqs.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = issued.fetch_add(1, Ordering::Relaxed);
                if i >= calls {
                    break;
                }
                let req = reqs[(i as usize) % reqs.len()].clone();
                let t = Instant::now();
                let result = client.predict(req).await;
                hist.record(t.elapsed());
                if let Err(status) = result {
                    count_error(&errors, status.code());
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    println!("{:>8} {:>10} {:>9} {:>9} {:>9} {:>10} {:>7} {:>10}", "t (s)", "calls", "calls/s", "p50 us", "p99 us", "max us", "errors", "RSS MiB");
    let (mut rss_warm, mut rss_peak, mut last_done, mut last_t) = (0, 0, 0, started);
    let mut first = true;
    loop {
        // Sleep to the next interval boundary, or less if the run ends first.
        let wake = last_t + interval;
        while Instant::now() < wake && !tasks.iter().all(|t| t.is_finished()) {
            tokio::time::sleep(Duration::from_millis(50).min(wake.saturating_duration_since(Instant::now()))).await;
        }
        let now = Instant::now();
        let n = done.load(Ordering::Relaxed);
        let (p50, p99, max) = percentiles(&hist.take());
        let rss = server.rss();
        rss_peak = rss_peak.max(rss);
        if first {
            rss_warm = rss;
            first = false;
        }
        let errs: u64 = errors.lock().unwrap().values().sum();
        println!(
            "{:>8.0} {:>10} {:>9.0} {:>9.0} {:>9.0} {:>10.0} {:>7} {:>10.1}",
            now.duration_since(started).as_secs_f64(),
            n,
            (n - last_done) as f64 / now.duration_since(last_t).as_secs_f64(),
            p50,
            p99,
            max,
            errs,
            rss as f64 / 1024.0
        );
        (last_done, last_t) = (n, now);
        if tasks.iter().all(|t| t.is_finished()) {
            break;
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let errors = errors.lock().unwrap().clone();
    Soak { calls: done.load(Ordering::Relaxed), seconds: started.elapsed().as_secs_f64(), errors, rss_warm, rss_end: server.rss(), rss_peak }
}

/// `callers` concurrent callers on one connection, `per_caller` calls each: (ok, shed,
/// other errors by code).
async fn overload(server: &Server, reqs: Arc<Vec<PredictRequest>>, callers: usize, per_caller: usize) -> (u64, u64, BTreeMap<String, u64>) {
    let channel = connect(&server.grpc).await;
    let (ok, shed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let errors: Errors = Arc::default();
    let mut tasks = vec![];
    for w in 0..callers {
        let mut client = PredictionServiceClient::new(channel.clone());
        let (ok, shed, errors, reqs) = (ok.clone(), shed.clone(), errors.clone(), reqs.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..per_caller {
                match client.predict(reqs[(w * per_caller + i) % reqs.len()].clone()).await {
                    Ok(_) => ok.fetch_add(1, Ordering::Relaxed),
                    Err(s) if s.code() == tonic::Code::ResourceExhausted => shed.fetch_add(1, Ordering::Relaxed),
                    Err(s) => {
                        count_error(&errors, s.code());
                        0
                    }
                };
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let errors = errors.lock().unwrap().clone();
    (ok.load(Ordering::Relaxed), shed.load(Ordering::Relaxed), errors)
}

fn main() {
    // `cargo bench` passes --bench; nothing to parse.
    let calls: u64 = env_or("NBA_SOAK_CALLS", 2_000_000);
    let concurrency: usize = env_or("NBA_SOAK_CONCURRENCY", 64);
    let interval = Duration::from_secs_f64(env_or("NBA_SOAK_INTERVAL_SECS", 60.0));
    let callers: usize = env_or("NBA_SOAK_OVERLOAD", 256);
    let max_concurrency: usize = env_or("NBA_SOAK_MAX_CONCURRENCY", 32);
    assert!(concurrency.div_ceil(4) <= max_concurrency, "the soak itself must stay under the per-connection limit");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let failed = rt.block_on(async {
        let store = common::season_store("soak").await;
        let version = registry(&store, dir.path()).await;
        let reqs = Arc::new(requests(&store).await);
        let mut server = Server::start(&store, dir.path(), max_concurrency, dir.path().join("server.log"));
        server.wait_ready().await;
        let rss_start = server.rss();
        // Warm the feature cache: every request once (and each must answer).
        let mut client = PredictionServiceClient::new(connect(&server.grpc).await);
        for r in reqs.iter() {
            client.predict(r.clone()).await.unwrap_or_else(|e| panic!("warm-up {r:?}: {e}"));
        }
        println!(
            "soak: nba-server pid {} serving {version}; {} distinct requests warmed; RSS {:.1} MiB at ready, {:.1} MiB warmed",
            server.pid(),
            reqs.len(),
            rss_start as f64 / 1024.0,
            server.rss() as f64 / 1024.0
        );
        println!("soak: {calls} Predict calls at concurrency {concurrency} over 4 connections, a line every {:?}", interval);
        let s = soak(&server, reqs.clone(), calls, concurrency, interval).await;
        let errors: u64 = s.errors.values().sum();
        let growth = |to: u64| (to as f64 - s.rss_warm as f64) / s.rss_warm.max(1) as f64 * 100.0;
        println!(
            "soak: {} calls in {:.1} s ({:.0}/s), errors {errors} {:?}; RSS after warm-up {:.1} MiB, end {:.1} MiB ({:+.2}%), peak {:.1} MiB ({:+.2}%); target < 5%",
            s.calls,
            s.seconds,
            s.calls as f64 / s.seconds,
            s.errors,
            s.rss_warm as f64 / 1024.0,
            s.rss_end as f64 / 1024.0,
            growth(s.rss_end),
            s.rss_peak as f64 / 1024.0,
            growth(s.rss_peak)
        );

        let per_caller = 20;
        let (ok, shed, other) = overload(&server, reqs.clone(), callers, per_caller).await;
        println!(
            "overload: {callers} callers x {per_caller} calls on one connection, limit {max_concurrency}: {ok} answered, {shed} RESOURCE_EXHAUSTED, other errors {other:?}; RSS {:.1} MiB",
            server.rss() as f64 / 1024.0
        );
        let mut failed = vec![];
        if errors > 0 || s.calls != calls {
            failed.push(format!("soak: {errors} errors, {} of {calls} calls", s.calls));
        }
        if shed == 0 || ok == 0 || !other.is_empty() {
            failed.push(format!("overload: {ok} answered, {shed} shed, other {other:?}"));
        }
        drop(server);
        failed
    });
    if !failed.is_empty() {
        eprintln!("soak FAILED: {}", failed.join("; "));
        std::process::exit(1);
    }
    println!("soak: PASSED (zero errors; overload shed with RESOURCE_EXHAUSTED)");
}
