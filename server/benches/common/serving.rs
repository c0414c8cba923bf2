//! What the serving benchmarks (`serve`, `floor`) share: the rows they ask about, the
//! 300-tree depth-6 ensemble they serve, its registry, `nba-server` started on ephemeral
//! ports, and the load generator (calls one at a time, and many callers at once). Each bench uses a different part, hence the `dead_code` allowance.
#![allow(dead_code)]

use clap::Parser;
use nba_api::proto::inference::ModelInferRequest;
use nba_api::proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use nba_api::proto::inference::model_infer_request::InferInputTensor;
use nba_api::proto::predict::PredictRequest;
use nba_api::proto::predict::prediction_service_client::PredictionServiceClient;
use nba_model::{Forest, Mode, Node};
use nba_registry::{MANIFEST_FILE, MODEL_FILE, Registry};
use nba_store::Store;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

pub const TREES: usize = 300;
pub const DEPTH: u32 = 6;

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
pub struct Row {
    pub player_id: String,
    pub d: String,
    pub team: String,
    pub opponent: String,
    pub is_home: u8,
    pub features: Vec<f32>,
}

/// 2,000 played rows of March 2024 whose players have earlier games: the questions asked.
pub async fn bench_rows(store: &Store) -> Vec<Row> {
    store
        .client()
        .query(
            "SELECT player_id, toString(game_date) AS d, team, opponent, is_home, features FROM player_features FINAL \
             WHERE status = 'Played' AND game_date BETWEEN toDate('2024-03-01') AND toDate('2024-03-20') \
             AND player_id IN (SELECT player_id FROM player_game_summary WHERE game_date < toDate('2024-03-01')) ORDER BY game_id, player_id LIMIT 2000",
        )
        .fetch_all()
        .await
        .unwrap()
}

/// Complete depth-6 trees splitting on real feature values of `rows`.
pub fn forest(rows: &[Row]) -> Forest {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut rnd = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let n = nba_features::N_FEATURES;
    let (mut nodes, mut roots) = (vec![], vec![]);
    let internal = (1usize << DEPTH) - 1;
    for _ in 0..TREES {
        let offset = nodes.len() as u32;
        roots.push(offset);
        for i in 0..(internal * 2 + 1) {
            if i < internal {
                let feature = (rnd() % n as u64) as u32;
                let row = &rows[(rnd() % rows.len() as u64) as usize];
                let t = row.features[feature as usize];
                nodes.push(Node {
                    feature,
                    threshold: if t.is_nan() { 0.0 } else { t },
                    branch: Some(Mode::Lt),
                    if_true: offset + 2 * i as u32 + 1,
                    if_false: offset + 2 * i as u32 + 2,
                    missing_true: rnd() % 2 == 0,
                    value: 0.0,
                });
            } else {
                nodes.push(Node::leaf(((rnd() % 1000) as f32 / 1000.0 - 0.5) * 0.2));
            }
        }
    }
    Forest { n_features: n, base: 10.0, nodes, roots }
}

/// A version the trainer trains on season 2023-24 (train to January, validate on
/// February, test from March) with `iterations` trees at most, saved in `root`.
pub async fn trained_version(store: &Store, root: &std::path::Path, iterations: &str) -> String {
    let argv = [
        "nba-trainer",
        "train",
        "--clickhouse-url",
        store.url(),
        "--database",
        store.database(),
        "--train",
        "2023-10-01..2024-01-31",
        "--valid",
        "2024-02-01..2024-02-29",
        "--test",
        "2024-03-01..2024-04-14",
        "--iterations",
        iterations,
        "--progress",
        "never",
        "--no-mirror",
    ];
    let args = match nba_trainer::Cli::try_parse_from(argv).unwrap().command {
        nba_trainer::Command::Train(a) => *a,
        other => panic!("{other:?}"),
    };
    nba_trainer::train(&args, root).await.unwrap().manifest.version
}

/// A registry whose current version is the 300x6 ensemble, with a real manifest.
pub async fn registry(store: &Store, rows: &[Row], root: &std::path::Path) -> String {
    let trained = trained_version(store, root, "5").await;
    let reg = Registry::new(root);
    let f = forest(rows);
    let bytes = nba_model::onnx::to_onnx_bytes(&f, "benchmark ensemble 300x6").unwrap();
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(reg.version_dir(&trained).join(MANIFEST_FILE)).unwrap()).unwrap();
    let version = "bench-300x6".to_string();
    m["version"] = version.clone().into();
    m["model_sha256"] = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)).into();
    for c in m["canaries"].as_array_mut().unwrap() {
        let x: Vec<f32> = c["features"].as_array().unwrap().iter().map(|v| v.as_f64().map_or(f32::NAN, |v| v as f32)).collect();
        c["expected"] = f.predict_row(&x).unwrap().into();
    }
    let dir = reg.version_dir(&version);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(MODEL_FILE), &bytes).unwrap();
    std::fs::write(dir.join(MANIFEST_FILE), serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    reg.promote(&version).unwrap();
    version
}

/// Starts `nba-server` on `server_rt` (ephemeral ports, the bench's registry, no
/// prediction log unless `extra` turns it on) with `extra` flags; returns its gRPC and admin URLs, the stop sender
/// and the task.
pub fn start_server(
    server_rt: &tokio::runtime::Runtime,
    registry: &std::path::Path,
    store: &Store,
    extra: &[&str],
) -> (String, String, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let mut argv = [
        "nba-server".to_string(),
        "serve".into(),
        "--registry".into(),
        registry.display().to_string(),
        "--clickhouse-url".into(),
        store.url().into(),
        "--database".into(),
        store.database().into(),
        "--model-poll-secs".into(),
        "0".into(),
        "--log-format".into(),
        "text".into(),
    ]
    .to_vec();
    // No prediction log unless `extra` asks for it.
    if !extra.contains(&"--prediction-log") {
        argv.extend(["--prediction-log".into(), "false".into()]);
    }
    argv.extend(extra.iter().map(|s| s.to_string()));
    let cfg = match nba_server::config::Cli::try_parse_from(argv).unwrap().command {
        nba_server::config::Command::Serve(c) => *c,
        _ => unreachable!(),
    };
    let secrets = cfg.validate().unwrap();
    let (grpc, admin) = server_rt
        .block_on(async { (tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap(), tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()) });
    let (addr, admin_addr) = (format!("http://{}", grpc.local_addr().unwrap()), format!("http://{}", admin.local_addr().unwrap()));
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = server_rt.spawn(nba_server::run(cfg, secrets, grpc, admin, async {
        let _ = stop_rx.await;
    }));
    (addr, admin_addr, stop_tx, server)
}

pub async fn wait_ready(admin_addr: &str) {
    for _ in 0..600 {
        if reqwest::get(format!("{admin_addr}/ready")).await.is_ok_and(|r| r.status().is_success()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_string())
}

/// The `Predict` request of a row (no lists given: the server resolves them).
pub fn request(r: &Row) -> PredictRequest {
    PredictRequest {
        player_id: r.player_id.clone(),
        game_date: r.d.clone(),
        opponent: r.opponent.clone(),
        is_home: r.is_home == 1,
        team: Some(r.team.clone()),
        ..Default::default()
    }
}

/// The V2 `ModelInfer` request of a row (one FP32 tensor).
pub fn infer_request(row: &Row) -> ModelInferRequest {
    ModelInferRequest {
        model_name: "nba-points".into(),
        inputs: vec![InferInputTensor { name: "input".into(), datatype: "FP32".into(), shape: vec![1, nba_features::N_FEATURES as i64], ..Default::default() }],
        raw_input_contents: vec![row.features.iter().flat_map(|v| v.to_le_bytes()).collect()],
        ..Default::default()
    }
}

#[derive(Clone, Copy)]
pub enum Call {
    Predict,
    Infer,
}

async fn one(
    call: Call,
    p: &mut PredictionServiceClient<Channel>,
    v2: &mut GrpcInferenceServiceClient<Channel>,
    req: &PredictRequest,
    inf: &ModelInferRequest,
) -> bool {
    match call {
        Call::Predict => p.predict(req.clone()).await.is_ok(),
        Call::Infer => v2.model_infer(inf.clone()).await.is_ok(),
    }
}

/// `calls` calls one at a time: each call's time, and the errors.
pub async fn latency(call: Call, addr: &str, reqs: &[PredictRequest], infs: &[ModelInferRequest], calls: usize) -> (Vec<Duration>, u64) {
    let ch = tonic::transport::Endpoint::from_shared(addr.to_string()).unwrap().connect().await.unwrap();
    let (mut p, mut v2) = (PredictionServiceClient::new(ch.clone()), GrpcInferenceServiceClient::new(ch));
    let mut times = Vec::with_capacity(calls);
    let mut errors = 0;
    for i in 0..calls {
        let k = i % reqs.len();
        let t = Instant::now();
        if !one(call, &mut p, &mut v2, &reqs[k], &infs[k]).await {
            errors += 1;
        }
        times.push(t.elapsed());
    }
    (times, errors)
}

/// Calls/s, calls answered and errors of `concurrency` callers over `secs` seconds on four
/// connections.
pub async fn throughput(
    call: Call,
    addr: &str,
    reqs: Arc<Vec<PredictRequest>>,
    infs: Arc<Vec<ModelInferRequest>>,
    concurrency: usize,
    secs: u64,
) -> (f64, u64, u64) {
    let mut channels = vec![];
    for _ in 0..4 {
        channels.push(tonic::transport::Endpoint::from_shared(addr.to_string()).unwrap().connect().await.unwrap());
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, err) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let mut tasks = vec![];
    for w in 0..concurrency {
        let ch = channels[w % channels.len()].clone();
        let (stop, ok, err, reqs, infs) = (stop.clone(), ok.clone(), err.clone(), reqs.clone(), infs.clone());
        tasks.push(tokio::spawn(async move {
            let (mut p, mut v2) = (PredictionServiceClient::new(ch.clone()), GrpcInferenceServiceClient::new(ch));
            let mut i = w;
            while !stop.load(Ordering::Relaxed) {
                let k = i % reqs.len();
                if one(call, &mut p, &mut v2, &reqs[k], &infs[k]).await {
                    ok.fetch_add(1, Ordering::Relaxed);
                } else {
                    err.fetch_add(1, Ordering::Relaxed);
                }
                i += concurrency;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.await.unwrap();
    }
    let n = ok.load(Ordering::Relaxed);
    (n as f64 / started.elapsed().as_secs_f64(), n, err.load(Ordering::Relaxed))
}

/// [`latency`] from a current-thread runtime of its own (no hand-off between client threads).
pub async fn latency_current_thread(
    call: Call,
    addr: &str,
    reqs: &Arc<Vec<PredictRequest>>,
    infs: &Arc<Vec<ModelInferRequest>>,
    calls: usize,
) -> (Vec<Duration>, u64) {
    let (a, r, i) = (addr.to_string(), reqs.clone(), infs.clone());
    tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(latency(call, &a, &r, &i, calls))
    })
    .await
    .unwrap()
}
