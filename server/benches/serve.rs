//! Serving benchmark (`cargo bench -p nba-server --bench serve`, or `scripts/bench_serve.sh`).
//!
//! Client and server in one process on this machine, over loopback gRPC: the server runs
//! on its own runtime, the load generator on another. The model is a 300-tree depth-6
//! ensemble (complete trees, splits on real feature values) in a registry version whose
//! manifest comes from a real training run, so the server loads and checks it exactly as
//! it would a trained model. Features are cached (each request is warmed once first).
//!
//! Reports single-row `Predict` and V2 `ModelInfer` latency percentiles at concurrency 1
//! and throughput at concurrency 32, with error counts; then Arrow Flight: raw feature
//! batches through `DoExchange` (rows/s end to end, beside the in-process batch scoring
//! rate of the same ensemble) and a full-day slate through `DoGet`. Last, the
//! concurrency-1 passes again on a second server started with `--keep-cpus-awake` (one
//! thread per core), on lines labelled `keep-cpus-awake N`.
//!
//! Environment: CLICKHOUSE_URL (default: the testkit's private server), NBA_DATA_DIR,
//! NBA_BENCH_DATABASE (default `bench_serve`; loaded with season 2023-24 on first use),
//! NBA_BENCH_SECONDS (default 10, per throughput phase), NBA_BENCH_CALLS (default 20000,
//! per latency phase).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nba_api::proto::inference::ModelInferRequest;
use nba_api::proto::predict::PredictRequest;
use nba_model::Forest;
use std::sync::Arc;
use std::time::{Duration, Instant};

mod common;
use common::serving::{
    self, Call, DEPTH, Row, TREES, env_or, forest, infer_request, latency, latency_current_thread, registry, start_server, throughput, wait_ready,
};

fn percentiles(mut v: Vec<Duration>) -> String {
    v.sort();
    let p = |q: f64| v[((v.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e6;
    format!("p50 {:.0} us, p90 {:.0} us, p99 {:.0} us, p99.9 {:.0} us, max {:.0} us ({} calls)", p(0.5), p(0.9), p(0.99), p(0.999), p(1.0), v.len())
}

/// Arrow Flight: DoExchange of raw feature batches, in-process scoring, DoGet slates.
async fn flight(addr: &str, rows: &[Row], f: &Forest) {
    use arrow_array::{ArrayRef, Float32Array, RecordBatch};
    use arrow_flight::encode::FlightDataEncoderBuilder;
    use arrow_flight::{FlightClient, FlightDescriptor, Ticket};
    use futures::TryStreamExt;
    const BATCH: usize = 100_000;
    const BATCHES: usize = 20;
    let names = nba_features::feature_names();
    let n = names.len();
    let fields: Vec<arrow_schema::Field> = names.iter().map(|c| arrow_schema::Field::new(c, arrow_schema::DataType::Float32, true)).collect();
    let cols: Vec<ArrayRef> =
        (0..n).map(|j| Arc::new(Float32Array::from((0..BATCH).map(|i| rows[i % rows.len()].features[j]).collect::<Vec<_>>())) as ArrayRef).collect();
    let batch = RecordBatch::try_new(Arc::new(arrow_schema::Schema::new(fields)), cols).unwrap();
    // The same HTTP/2 windows as the server's (a client streaming big batches needs them
    // on its side too: the answer stream is flow-controlled by the client's window).
    let ch = tonic::transport::Endpoint::from_shared(addr.to_string())
        .unwrap()
        .initial_stream_window_size(nba_server::HTTP2_STREAM_WINDOW)
        .initial_connection_window_size(nba_server::HTTP2_CONNECTION_WINDOW)
        .tcp_nodelay(true)
        .connect()
        .await
        .unwrap();
    let mut client = FlightClient::new(ch);
    for round in 0..2 {
        let input = FlightDataEncoderBuilder::new()
            .with_flight_descriptor(Some(FlightDescriptor::new_path(vec!["features".into()])))
            .build(futures::stream::iter((0..BATCHES).map(|_| Ok(batch.clone())).collect::<Vec<_>>()));
        let t = Instant::now();
        let out: Vec<RecordBatch> = client.do_exchange(input).await.unwrap().try_collect().await.unwrap();
        let secs = t.elapsed().as_secs_f64();
        let scored: usize = out.iter().map(|b| b.num_rows()).sum();
        assert_eq!(scored, BATCH * BATCHES);
        if round == 1 {
            println!(
                "Flight DoExchange raw features: {:.0} rows/s end to end ({scored} rows in {BATCHES} batches of {BATCH}, {secs:.2} s)",
                scored as f64 / secs
            );
        }
    }
    let x: Vec<f32> = (0..BATCH).flat_map(|i| rows[i % rows.len()].features.iter().copied()).collect();
    let scorer = nba_model::Scorer::new(f.clone()).unwrap();
    let t = Instant::now();
    for _ in 0..BATCHES {
        let s: Vec<f32> = scorer.predict_batch(&x).unwrap();
        assert_eq!(s.len(), BATCH);
    }
    let secs = t.elapsed().as_secs_f64();
    println!("in-process batch scoring (same ensemble, rayon on 2 cores): {:.0} rows/s", (BATCH * BATCHES) as f64 / secs);
    // The way DoExchange scores a batch: from its columns, no transposition into rows.
    let columns: Vec<&[f32]> = batch.columns().iter().map(|c| c.as_any().downcast_ref::<Float32Array>().unwrap().values().as_ref()).collect();
    let mut s = vec![0f32; BATCH];
    let t = Instant::now();
    for _ in 0..BATCHES {
        scorer.predict_columns_into(&columns, &mut s).unwrap();
    }
    let secs = t.elapsed().as_secs_f64();
    println!("in-process column scoring (as DoExchange scores a batch, rayon on 2 cores): {:.0} rows/s", (BATCH * BATCHES) as f64 / secs);
    let mut times = vec![];
    let mut slate_rows = 0;
    for _ in 0..21 {
        let t = Instant::now();
        let b: Vec<RecordBatch> = client.do_get(Ticket::new("slate/2024-03-05")).await.unwrap().try_collect().await.unwrap();
        times.push(t.elapsed());
        slate_rows = b.iter().map(|b| b.num_rows()).sum::<usize>();
    }
    times.sort();
    println!(
        "Flight DoGet slate/2024-03-05 ({slate_rows} players): median {:.1} ms, max {:.1} ms over 21 calls (the first computes, later ones hit the feature cache)",
        times[10].as_secs_f64() * 1e3,
        times[20].as_secs_f64() * 1e3
    );
}

fn main() {
    // `cargo bench` passes --bench; nothing to parse.
    let secs: u64 = env_or("NBA_BENCH_SECONDS", "10").parse().unwrap();
    let calls: usize = env_or("NBA_BENCH_CALLS", "20000").parse().unwrap();
    let client_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (store, rows, version) = client_rt.block_on(async {
        let store = common::season_store("bench").await;
        let rows = serving::bench_rows(&store).await;
        let version = registry(&store, &rows, dir.path()).await;
        (store, rows, version)
    });
    let (addr, admin_addr, stop_tx, server) = start_server(&server_rt, dir.path(), &store, &[]);
    let reqs: Vec<PredictRequest> = rows.iter().map(serving::request).collect();
    let infs: Vec<ModelInferRequest> = rows.iter().map(infer_request).collect();
    let (reqs, infs) = (Arc::new(reqs), Arc::new(infs));
    client_rt.block_on(async {
        wait_ready(&admin_addr).await;
        // Warm the feature cache (and check every request answers).
        let (_, warm_errors) = latency(Call::Predict, &addr, &reqs, &infs, reqs.len()).await;
        assert_eq!(warm_errors, 0, "warm-up requests failed (is the model loaded? see the server log above)");
        println!("model {version}: {TREES} trees of depth {DEPTH}; {} distinct requests, features cached", reqs.len());
        for (name, call) in [("Predict", Call::Predict), ("ModelInfer", Call::Infer)] {
            concurrency_1(name, call, &addr, &reqs, &infs, calls, "").await;
            let (rps, n, e2) = throughput(call, &addr, reqs.clone(), infs.clone(), 32, secs).await;
            println!("{name:<10} concurrency 32: {rps:.0} requests/s ({n} in {secs} s), errors {e2}");
        }
        flight(&addr, &rows, &forest(&rows)).await;
    });
    let _ = stop_tx.send(());
    server_rt.block_on(server).unwrap().unwrap();

    // The same concurrency-1 passes on a server started with --keep-cpus-awake (one
    // spinning thread per core, the default window): idle vCPUs kept from halting, so no
    // call waits for one to wake (docs/server.md). A fresh server, so its cache is warmed
    // again first.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let awake = cores.to_string();
    let (addr, admin_addr, stop_tx, server) = start_server(&server_rt, dir.path(), &store, &["--keep-cpus-awake", &awake]);
    client_rt.block_on(async {
        wait_ready(&admin_addr).await;
        let (_, warm_errors) = latency(Call::Predict, &addr, &reqs, &infs, reqs.len()).await;
        assert_eq!(warm_errors, 0, "warm-up requests failed on the keep-cpus-awake server");
        for (name, call) in [("Predict", Call::Predict), ("ModelInfer", Call::Infer)] {
            concurrency_1(name, call, &addr, &reqs, &infs, calls, &format!("keep-cpus-awake {cores}")).await;
        }
    });
    let _ = stop_tx.send(());
    server_rt.block_on(server).unwrap().unwrap();
}

/// Concurrency-1 latency of `call` from both clients, one line each (`mode`, when not
/// empty, after the client's name). A caller waiting on one call at a time is best served
/// by a current-thread runtime (no hand-off between client threads); both are shown.
async fn concurrency_1(name: &str, call: Call, addr: &str, reqs: &Arc<Vec<PredictRequest>>, infs: &Arc<Vec<ModelInferRequest>>, calls: usize, mode: &str) {
    let (current, two) = if mode.is_empty() {
        ("current-thread client:".to_string(), "2-thread client:      ".to_string())
    } else {
        (format!("current-thread client, {mode}:"), format!("2-thread client,       {mode}:"))
    };
    let (times, e) = latency_current_thread(call, addr, reqs, infs, calls).await;
    println!("{name:<10} concurrency 1, {current} {}, errors {e}", percentiles(times));
    let (times, e) = latency(call, addr, reqs, infs, calls).await;
    println!("{name:<10} concurrency 1, {two} {}, errors {e}", percentiles(times));
}
