//! pyarrow against `nba-server`'s Flight `DoExchange` in both client patterns
//! (`cargo bench -p nba-server --bench flight_pyarrow`, or `scripts/bench_flight_pyarrow.sh`):
//! issue 21's "write-everything-then-read of a million rows finishes in 10 of 10 runs, and
//! the concurrent pattern still scores at least 1M rows/s end to end".
//!
//! The server is `nba-server` with its default flags (the prediction log off: Flight does
//! not log) serving the `serve` and `floor` benches' 300-tree depth-6 ensemble, in this
//! process on a runtime of its own (scoring on the rayon pool). The client is
//! `pyarrow.flight` in a Python process (the tests' venv, `nba_testkit::pyarrow_python`),
//! on the same cores: its encoding and decoding are part of what is measured.
//!
//! 1. Write everything, then read (`server/tests/flight_write_then_read.py`): 1,000,000
//!    feature rows in 100,000-row batches, `done_writing()`, then `read_all()`; run
//!    NBA_BENCH_WRITE_THEN_READ_RUNS times in a row (default 10), each killed after
//!    NBA_BENCH_TIMEOUT_SECS (default 120). Each run's exchange time (open to last answer,
//!    as the script measures it) and how many runs got every answer.
//! 2. Read while writing (`server/tests/flight_concurrent.py`, a writer thread and a
//!    reader): NBA_BENCH_FLIGHT_ROWS rows (default 2,000,000) in 100,000-row batches,
//!    NBA_BENCH_ROUNDS times (default 3): rows/s end to end, and the median.
//!
//! Environment: as the `serve` bench (CLICKHOUSE_URL, NBA_DATA_DIR, NBA_BENCH_DATABASE,
//! default `bench_serve`, loaded with season 2023-24 on first use).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

mod common;
use common::serving::{self, env_or, registry, start_server, wait_ready};

/// Rows per batch the clients send, as in the report.
const BATCH_ROWS: usize = 100_000;

/// What one run of a client script came to.
enum Outcome {
    /// Every answer, in `seconds` from opening the exchange to the last answer read.
    Answered { seconds: f64 },
    /// Why not: an error status, missing answers, a timeout, a crash.
    Failed(String),
}

/// Runs `server/tests/<script> ADDR ROWS BATCH_ROWS`, killed after `timeout`: its outcome
/// and the process's wall time (Python's start and building its input included).
async fn run_client(py: &Path, script: &str, addr: &str, rows: usize, timeout: Duration) -> (Outcome, Duration) {
    let path = nba_testkit::workspace_root().join("server/tests").join(script);
    let started = Instant::now();
    let run = tokio::process::Command::new(py).arg(&path).arg(addr).arg(rows.to_string()).arg(BATCH_ROWS.to_string()).kill_on_drop(true).output();
    let outcome = match tokio::time::timeout(timeout, run).await {
        Err(_) => Outcome::Failed(format!("not finished within {} s: killed", timeout.as_secs())),
        Ok(Err(e)) => Outcome::Failed(format!("could not run {}: {e}", path.display())),
        Ok(Ok(out)) if !out.status.success() => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            Outcome::Failed(format!("{script} exited with {}: {}", out.status, stderr.lines().last().unwrap_or("")))
        }
        Ok(Ok(out)) => outcome(&out.stdout, rows),
    };
    (outcome, started.elapsed())
}

/// A script's JSON line read as an outcome: every one of `rows` answered, or not.
fn outcome(stdout: &[u8], rows: usize) -> Outcome {
    let v: serde_json::Value = match serde_json::from_slice(stdout) {
        Ok(v) => v,
        Err(e) => return Outcome::Failed(format!("unreadable output ({e}): {}", String::from_utf8_lossy(stdout).trim())),
    };
    if let Some(message) = v["message"].as_str() {
        return Outcome::Failed(format!("{}: {message}", v["error"].as_str().unwrap_or("error")));
    }
    match (v["rows"].as_u64(), v["seconds"].as_f64()) {
        (Some(n), Some(seconds)) if n == rows as u64 => Outcome::Answered { seconds },
        (n, _) => Outcome::Failed(format!("{} of {rows} rows answered", n.unwrap_or(0))),
    }
}

/// The 1, 5 and 15 minute load averages: how busy the machine was around the runs.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_else(|_| "unknown".into())
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Phase 1: `runs` write-everything-then-read exchanges of a million rows in a row; how
/// many got every answer.
async fn write_then_read(py: &Path, addr: &str, runs: usize, timeout: Duration) -> usize {
    const ROWS: usize = 1_000_000;
    println!("write everything, then read: {ROWS} rows in {BATCH_ROWS}-row batches, {runs} runs (timeout {} s each)", timeout.as_secs());
    let mut finished = 0;
    for run in 1..=runs {
        match run_client(py, "flight_write_then_read.py", addr, ROWS, timeout).await {
            (Outcome::Answered { seconds }, wall) => {
                finished += 1;
                println!("  run {run:>2}: every answer, exchange {seconds:.2} s ({:.0} rows/s), process {:.1} s", ROWS as f64 / seconds, wall.as_secs_f64());
            }
            (Outcome::Failed(why), wall) => println!("  run {run:>2}: FAILED after {:.1} s: {why}", wall.as_secs_f64()),
        }
    }
    println!("  {finished} of {runs} runs got every answer");
    finished
}

/// Phase 2: `rounds` exchanges of `rows` rows read while written; the median rows/s
/// (None if any round failed).
async fn concurrent(py: &Path, addr: &str, rows: usize, rounds: usize, timeout: Duration) -> Option<f64> {
    println!("read while writing: {rows} rows in {BATCH_ROWS}-row batches, {rounds} rounds");
    let mut rates = vec![];
    for round in 1..=rounds {
        match run_client(py, "flight_concurrent.py", addr, rows, timeout).await {
            (Outcome::Answered { seconds }, _) => {
                rates.push(rows as f64 / seconds);
                println!("  round {round}: {:.0} rows/s end to end ({seconds:.2} s)", rows as f64 / seconds);
            }
            (Outcome::Failed(why), wall) => println!("  round {round}: FAILED after {:.1} s: {why}", wall.as_secs_f64()),
        }
    }
    (rates.len() == rounds && rounds > 0).then(|| median(rates))
}

/// The server's own count of the exchanges, by the code each ended with, and of stalls.
async fn server_counts(admin: &str) -> Vec<String> {
    let m = reqwest::get(format!("{admin}/metrics")).await.unwrap().text().await.unwrap();
    m.lines()
        .filter(|l| l.starts_with("nba_grpc_requests_total{method=\"FlightDoExchange\"") || l.starts_with("nba_flight_stalled_total"))
        .map(str::to_string)
        .collect()
}

fn main() {
    let runs: usize = env_or("NBA_BENCH_WRITE_THEN_READ_RUNS", "10").parse().unwrap();
    let rows: usize = env_or("NBA_BENCH_FLIGHT_ROWS", "2000000").parse().unwrap();
    let rounds: usize = env_or("NBA_BENCH_ROUNDS", "3").parse().unwrap();
    let timeout = Duration::from_secs(env_or("NBA_BENCH_TIMEOUT_SECS", "120").parse().unwrap());
    let py = nba_testkit::pyarrow_python().expect("python3 is needed: pyarrow is installed into a venv in the target folder");
    let client_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("bench-server").enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (store, version) = client_rt.block_on(async {
        let store = common::season_store("flight_pyarrow").await;
        let rows = serving::bench_rows(&store).await;
        let version = registry(&store, &rows, dir.path()).await;
        (store, version)
    });
    let (addr, admin, stop, task) = start_server(&server_rt, dir.path(), &store, &[]);
    let (finished, rate) = client_rt.block_on(async {
        wait_ready(&admin).await;
        let addr = addr.replace("http://", "grpc://");
        println!("model {version}: {} trees of depth {}; nba-server with its default flags; load average {}", serving::TREES, serving::DEPTH, load());
        let finished = write_then_read(&py, &addr, runs, timeout).await;
        let rate = concurrent(&py, &addr, rows, rounds, timeout).await;
        for line in server_counts(&admin).await {
            println!("server: {line}");
        }
        (finished, rate)
    });
    let rate = rate.map_or("a round failed".to_string(), |r| format!("{r:.0} rows/s"));
    println!("summary: write-then-read {finished}/{runs} with every answer; read-while-writing median {rate}; load average {}", load());
    let _ = stop.send(());
    server_rt.block_on(task).unwrap().unwrap();
}
