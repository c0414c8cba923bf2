//! `Predict` against its floor (`cargo bench -p nba-server --bench floor`, or
//! `scripts/bench_floor.sh`).
//!
//! The floor is a bare tonic server whose `Predict` looks the request's feature vector up
//! in a hash map and walks the same 300-tree depth-6 ensemble natively: what any gRPC
//! service of this size costs, with nothing of ours around it. Beside it run three
//! `nba-server`s on the same registry and rows: the prediction log off, the log on (its
//! default), and the log on with `--reuse-answers false` (every call walks the trees, as
//! the floor does; by default a repeated question reuses its vector's kept answer); and, for reference, the floor on sockets without TCP_NODELAY
//! (Nagle's algorithm coalesces answers into fewer packets at concurrency 32, which tonic's
//! defaults and nba-server do not). Each round first asks them at concurrency 1,
//! interleaved call by call from one caller (p50, p99, and the median turn-by-turn
//! difference to the floor), then each in turn at concurrency 32 (calls/s), so that a
//! noisy neighbour hits all four alike; ratios are to the floor of the same round. The CPU
//! each costs: the server runtime's and the client runtime's threads per call, and
//! ClickHouse's per logged answer and per row written (the log collapses repeated
//! answers, so rows < answers; the bench's `predictions` table is emptied first).
//!
//! Environment: as the `serve` bench (CLICKHOUSE_URL, NBA_DATA_DIR, NBA_BENCH_DATABASE),
//! plus NBA_BENCH_SECONDS (default 10, per throughput phase), NBA_BENCH_CALLS (default
//! 10000, turns of the concurrency-1 phase, one call to each server a turn), NBA_BENCH_ROUNDS (default 3), NBA_BENCH_LOG_WINDOW_SECS
//! (default: the server's default `--prediction-log-window-secs`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clap::Parser;
use nba_api::proto::inference::ModelInferRequest;
use nba_api::proto::predict::prediction_service_client::PredictionServiceClient;
use nba_api::proto::predict::prediction_service_server::{PredictionService, PredictionServiceServer};
use nba_api::proto::predict::{
    ExplainResponse, GetModelRequest, GetModelResponse, PredictBatchRequest, PredictBatchResponse, PredictRequest, PredictResponse, ResolvePlayerRequest,
    ResolvePlayerResponse,
};
use nba_model::Scorer;
use nba_store::Store;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tonic::{Request, Response, Status};

mod common;
use common::serving::{self, Call, Row, env_or, forest, infer_request, registry, start_server, throughput, wait_ready};

/// Names of the server runtime's threads: their CPU time is the servers' cost.
const SERVER_THREADS: &str = "bench-server";
/// Names of the client runtime's threads (its blocking threads too: the concurrency-1 caller).
const CLIENT_THREADS: &str = "bench-client";

/// The floor: a feature lookup and a native walk of the same ensemble.
struct Floor {
    features: HashMap<(String, String), Arc<[f32]>>,
    scorer: Scorer,
}

#[tonic::async_trait]
impl PredictionService for Floor {
    async fn predict(&self, request: Request<PredictRequest>) -> Result<Response<PredictResponse>, Status> {
        let r = request.into_inner();
        let x = self.features.get(&(r.player_id.clone(), r.game_date.clone())).ok_or_else(|| Status::not_found("no such row"))?;
        let points = self.scorer.predict_row(x).map_err(|e| Status::internal(e.to_string()))? as f64;
        Ok(Response::new(PredictResponse { player_id: r.player_id, game_date: r.game_date, predicted_points: points, ..Default::default() }))
    }
    async fn predict_batch(&self, _: Request<PredictBatchRequest>) -> Result<Response<PredictBatchResponse>, Status> {
        Err(Status::unimplemented("floor"))
    }
    async fn get_model(&self, _: Request<GetModelRequest>) -> Result<Response<GetModelResponse>, Status> {
        Err(Status::unimplemented("floor"))
    }
    async fn explain(&self, _: Request<PredictRequest>) -> Result<Response<ExplainResponse>, Status> {
        Err(Status::unimplemented("floor"))
    }
    async fn resolve_player(&self, _: Request<ResolvePlayerRequest>) -> Result<Response<ResolvePlayerResponse>, Status> {
        Err(Status::unimplemented("floor"))
    }
}

/// CPU seconds (user + system) of this process's threads named `name`.
fn thread_cpu(name: &str) -> f64 {
    let tick = 100.0; // USER_HZ on Linux
    let mut total = 0.0;
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if comm.trim() == name {
            total += stat_cpu(&task.path().join("stat")) / tick;
        }
    }
    total
}

/// CPU seconds of every `clickhouse-server` process on the machine (the bench's; keep the
/// machine otherwise quiet).
fn clickhouse_cpu() -> f64 {
    let mut total = 0.0;
    for p in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
        if comm.trim().starts_with("clickhouse-serv") {
            total += stat_cpu(&p.path().join("stat")) / 100.0;
        }
    }
    total
}

/// utime + stime (clock ticks) from a `/proc/.../stat` file.
fn stat_cpu(path: &std::path::Path) -> f64 {
    let s = std::fs::read_to_string(path).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let n = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    n(11) + n(12)
}

/// Logged answers and rows in `predictions` so far.
async fn logged(store: &Store) -> (u64, u64) {
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct L {
        rows: u64,
        answers: u64,
    }
    let l: L = store.client().query("SELECT count() AS rows, toUInt64(sum(asked)) AS answers FROM predictions").fetch_one().await.unwrap();
    (l.answers, l.rows)
}

/// One configuration's figures in one round.
#[derive(Default, Clone, Copy)]
struct Figures {
    p50: f64,
    p99: f64,
    /// Median turn-by-turn difference to the floor at concurrency 1 (us).
    extra_us: f64,
    rps: f64,
    errors: u64,
    server_us_per_call: f64,
    client_us_per_call: f64,
    clickhouse_us_per_answer: f64,
    clickhouse_us_per_row: f64,
    answers: u64,
    rows: u64,
}

/// Concurrency 1, interleaved: one caller on a current-thread runtime of its own asks the
/// servers in turn, call by call, so that whatever the machine does meanwhile (an idle
/// vCPU woken, a neighbour's burst) falls on all of them alike; one phase per server would
/// put each on a different moment of the machine. The turns go through every order of
/// the servers, so each is as often first, last, and after each of the others (the work a
/// server leaves behind after answering falls on the next call). The same request goes to
/// every server in a turn. Each server's call times and errors.
async fn latency_interleaved(addrs: &[String], reqs: &Arc<Vec<PredictRequest>>, turns: usize) -> Vec<(Vec<Duration>, u64)> {
    let (addrs, reqs) = (addrs.to_vec(), reqs.clone());
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async {
            let mut clients = vec![];
            for a in &addrs {
                let ch = tonic::transport::Endpoint::from_shared(a.clone()).unwrap().connect().await.unwrap();
                clients.push(PredictionServiceClient::new(ch));
            }
            let n = clients.len();
            let orders = permutations(n);
            let mut out: Vec<(Vec<Duration>, u64)> = (0..n).map(|_| (Vec::with_capacity(turns), 0)).collect();
            for i in 0..turns {
                let req = &reqs[i % reqs.len()];
                for &k in &orders[i % orders.len()] {
                    let t = Instant::now();
                    let ok = clients[k].predict(req.clone()).await.is_ok();
                    out[k].0.push(t.elapsed());
                    out[k].1 += u64::from(!ok);
                }
            }
            out
        })
    })
    .await
    .unwrap()
}

/// Every order of `0..n`.
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = vec![];
    for p in permutations(n - 1) {
        for at in 0..=p.len() {
            let mut q = p.clone();
            q.insert(at, n - 1);
            out.push(q);
        }
    }
    out
}

/// The p50 and p99 of call times, in microseconds.
fn p50_p99(times: &[Duration]) -> (f64, f64) {
    let mut t = times.to_vec();
    t.sort();
    let q = |p: f64| t[((t.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e6;
    (q(0.5), q(0.99))
}

/// The median of the turn-by-turn differences `times - floor`, in microseconds: the same
/// request a moment apart, so most of the machine's noise cancels.
fn paired_extra(times: &[Duration], floor: &[Duration]) -> f64 {
    median(times.iter().zip(floor).map(|(a, b)| (a.as_secs_f64() - b.as_secs_f64()) * 1e6).collect())
}

/// One server's concurrency-32 phase: calls/s, the CPU they cost, what the log wrote.
async fn throughput_phase(
    addr: &str,
    store: &Store,
    reqs: &Arc<Vec<PredictRequest>>,
    infs: &Arc<Vec<ModelInferRequest>>,
    secs: u64,
    log_flush: Duration,
) -> Figures {
    let (answers0, rows0) = logged(store).await;
    let (cpu0, client0, ch0) = (thread_cpu(SERVER_THREADS), thread_cpu(CLIENT_THREADS), clickhouse_cpu());
    let (rps, _, errors) = throughput(Call::Predict, addr, reqs.clone(), infs.clone(), 32, secs).await;
    let (served, asked) = (thread_cpu(SERVER_THREADS) - cpu0, thread_cpu(CLIENT_THREADS) - client0);
    // The log writes what it collapsed after its window: wait for it before counting.
    tokio::time::sleep(log_flush).await;
    let (answers1, rows1) = logged(store).await;
    let ch = clickhouse_cpu() - ch0;
    let calls32 = rps * secs as f64;
    let (answers, rows) = (answers1 - answers0, rows1 - rows0);
    let per = |cpu: f64, n: u64| if n == 0 { 0.0 } else { cpu / n as f64 * 1e6 };
    Figures {
        rps,
        errors,
        server_us_per_call: served / calls32 * 1e6,
        client_us_per_call: asked / calls32 * 1e6,
        clickhouse_us_per_answer: per(ch, answers),
        clickhouse_us_per_row: per(ch, rows),
        answers,
        rows,
        ..Figures::default()
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let secs: u64 = env_or("NBA_BENCH_SECONDS", "10").parse().unwrap();
    let calls: usize = env_or("NBA_BENCH_CALLS", "10000").parse().unwrap();
    let rounds: usize = env_or("NBA_BENCH_ROUNDS", "3").parse().unwrap();
    let client_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name(CLIENT_THREADS).enable_all().build().unwrap();
    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name(SERVER_THREADS).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (store, rows, version) = client_rt.block_on(async {
        let store = common::season_store("floor").await;
        // A fresh log table each run: ClickHouse's CPU then counts this run's rows and
        // merges, not those of a table grown by every earlier run.
        store.client().query("TRUNCATE TABLE predictions").execute().await.unwrap();
        let rows = serving::bench_rows(&store).await;
        let version = registry(&store, &rows, dir.path()).await;
        (store, rows, version)
    });
    let floor_addr = start_floor(&server_rt, &rows, true);
    let nagle_addr = start_floor(&server_rt, &rows, false);
    // The log's window: its default unless NBA_BENCH_LOG_WINDOW_SECS says otherwise (a
    // shorter window writes more rows, so ClickHouse takes more of the shared cores).
    let window: u64 = std::env::var("NBA_BENCH_LOG_WINDOW_SECS").map_or_else(|_| default_log_window(), |w| w.parse().unwrap());
    let (off_addr, off_admin, off_stop, off_task) = start_server(&server_rt, dir.path(), &store, &[]);
    let window_arg = window.to_string();
    let log_on = ["--prediction-log", "true", "--prediction-log-window-secs", &window_arg];
    let (on_addr, on_admin, on_stop, on_task) = start_server(&server_rt, dir.path(), &store, &log_on);
    let walk_args: Vec<&str> = log_on.iter().copied().chain(["--reuse-answers", "false"]).collect();
    let (walk_addr, walk_admin, walk_stop, walk_task) = start_server(&server_rt, dir.path(), &store, &walk_args);
    let reqs: Arc<Vec<PredictRequest>> = Arc::new(rows.iter().map(serving::request).collect());
    let infs: Arc<Vec<ModelInferRequest>> = Arc::new(rows.iter().map(infer_request).collect());
    let configs = [
        ("floor (bare tonic, native walk)", floor_addr),
        ("nba-server, log off", off_addr),
        ("nba-server, log on", on_addr),
        ("nba-server, log on, no reuse", walk_addr),
        ("floor without TCP_NODELAY", nagle_addr),
    ];
    let mut all: Vec<Vec<Figures>> = vec![vec![]; configs.len()];
    client_rt.block_on(async {
        wait_ready(&off_admin).await;
        wait_ready(&on_admin).await;
        wait_ready(&walk_admin).await;
        // Warm every feature cache, and check every request answers everywhere.
        let addrs: Vec<String> = configs.iter().map(|c| c.1.clone()).collect();
        for ((name, _), (_, errors)) in configs.iter().zip(latency_interleaved(&addrs, &reqs, reqs.len()).await) {
            assert_eq!(errors, 0, "{name}: warm-up requests failed");
        }
        println!("model {version}: {} trees of depth {}; {} distinct requests, features cached; {rounds} rounds", serving::TREES, serving::DEPTH, reqs.len());
        for round in 0..rounds {
            let c1 = latency_interleaved(&addrs, &reqs, calls).await;
            for (k, (name, addr)) in configs.iter().enumerate() {
                let mut f = throughput_phase(addr, &store, &reqs, &infs, secs, Duration::from_secs(window + 2)).await;
                (f.p50, f.p99) = p50_p99(&c1[k].0);
                f.extra_us = paired_extra(&c1[k].0, &c1[0].0);
                f.errors += c1[k].1;
                println!(
                    "round {round} {name:<32} c1 p50 {:>5.0} us p99 {:>5.0} us, {:>+5.1} us/call paired | c32 {:>7.0}/s | CPU per call: server {:>5.1} us, client {:>5.1} us | ClickHouse {:>5.1} us/answer, {:>6.1} us/row ({} answers in {} rows) | errors {}",
                    f.p50, f.p99, f.extra_us, f.rps, f.server_us_per_call, f.client_us_per_call, f.clickhouse_us_per_answer, f.clickhouse_us_per_row, f.answers, f.rows, f.errors
                );
                all[k].push(f);
            }
        }
    });
    report(&configs.map(|c| c.0), &all);
    let _ = off_stop.send(());
    let _ = on_stop.send(());
    let _ = walk_stop.send(());
    server_rt.block_on(async {
        off_task.await.unwrap().unwrap();
        on_task.await.unwrap().unwrap();
        walk_task.await.unwrap().unwrap();
    });
}

/// Medians over the rounds, and each round's ratio to the floor of the same round.
fn report(names: &[&str], all: &[Vec<Figures>]) {
    println!("medians over rounds, ratios to the floor of the same round:");
    for (k, name) in names.iter().enumerate() {
        let m = |f: fn(&Figures) -> f64| median(all[k].iter().map(f).collect());
        let ratio = |f: fn(&Figures) -> f64| median(all[k].iter().zip(&all[0]).map(|(a, b)| f(a) / f(b)).collect());
        println!(
            "  {name:<32} c1 p50 {:.0} us ({:.2}x floor, {:+.1} us/call paired), c32 {:.0}/s ({:.2}x floor), CPU per call: server {:.1} us, client {:.1} us, errors {}",
            m(|f| f.p50),
            ratio(|f| f.p50),
            m(|f| f.extra_us),
            m(|f| f.rps),
            ratio(|f| f.rps),
            m(|f| f.server_us_per_call),
            m(|f| f.client_us_per_call),
            all[k].iter().map(|f| f.errors).sum::<u64>()
        );
    }
}

/// `--prediction-log-window-secs` when not given.
fn default_log_window() -> u64 {
    match nba_server::config::Cli::try_parse_from(["nba-server", "serve", "--registry", "."]).unwrap().command {
        nba_server::config::Command::Serve(c) => c.prediction_log_window_secs,
        _ => unreachable!(),
    }
}

/// The floor on an ephemeral port of `rt`; returns its URL. `nodelay`: tonic's default
/// (TCP_NODELAY on every accepted socket; nba-server sets it too), else Nagle's algorithm,
/// the socket's own default.
fn start_floor(rt: &tokio::runtime::Runtime, rows: &[Row], nodelay: bool) -> String {
    let features = rows.iter().map(|r| ((r.player_id.clone(), r.d.clone()), Arc::from(r.features.as_slice()))).collect();
    let floor = Floor { features, scorer: Scorer::new(forest(rows)).unwrap() };
    let listener = rt.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let addr = format!("http://{}", listener.local_addr().unwrap());
    // `Server::builder()` sets TCP_NODELAY on the sockets it accepts itself, not on those
    // of a listener it is given: set here as tonic would.
    let incoming = tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(nodelay));
    rt.spawn(tonic::transport::Server::builder().add_service(PredictionServiceServer::new(floor)).serve_with_incoming(incoming));
    addr
}
