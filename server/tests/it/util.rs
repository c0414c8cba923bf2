//! Shared helpers: the season database and trained registry (built once per run), a
//! server on ephemeral ports, and a TCP proxy to ClickHouse that a test can cut.

use clap::Parser;
use nba_api::proto::predict::PredictRequest;
use nba_api::proto::predict::prediction_service_client::PredictionServiceClient;
use nba_ingest::load::LoadOptions;
use nba_registry::Registry;
use nba_server::config::{Cli, Command, ServeConfig};
use nba_store::{Store, StoreConfig};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::net::TcpListener;
use tonic::transport::Channel;

pub async fn season_store() -> &'static Store {
    static STORE: tokio::sync::OnceCell<Store> = tokio::sync::OnceCell::const_new();
    let loaded = STORE
        .get_or_init(|| async {
            let db = nba_testkit::unique_database("server_season");
            let mut config = StoreConfig::new(nba_testkit::clickhouse_url(), db);
            config.attempts = 1;
            let store = Store::new(config).unwrap();
            store.drop_database().await.unwrap();
            store.migrate().await.unwrap();
            let opts =
                LoadOptions { paths: vec![nba_testkit::season_archive(2024)], batch_pages: 200, workers: 2, dry_run: false, progress: false, dates: None };
            let s = nba_ingest::load::load(Some(&store), &opts).await.unwrap();
            assert!(s.rejected.is_empty());
            nba_ingest::build::build(&store, &Default::default()).await.unwrap();
            store
        })
        .await;
    // Each test has its own runtime: a pool opened in an earlier test's runtime is dead
    // (leaked: a few KB per test, so the `&'static` callers keep working).
    Box::leak(Box::new(loaded.new_pool()))
}

/// A fresh database holding the sample's pages (every game of 2023-10-24 to 2023-10-31,
/// and a few older ones) dated up to `last_day` (all of them when None), built. The
/// schedule pages are loaded whole: later games of the month stay scheduled, not stored.
pub async fn sample_database(name: &str, last_day: Option<chrono::NaiveDate>) -> Store {
    let mut config = StoreConfig::new(nba_testkit::clickhouse_url(), nba_testkit::unique_database(name));
    config.attempts = 1;
    let store = Store::new(config).unwrap();
    store.drop_database().await.unwrap();
    store.migrate().await.unwrap();
    let dates = last_day.map(|d| (chrono::NaiveDate::MIN, d));
    let opts = LoadOptions { paths: vec![nba_testkit::sample_archive()], batch_pages: 200, workers: 2, dry_run: false, progress: false, dates };
    let s = nba_ingest::load::load(Some(&store), &opts).await.unwrap();
    assert!(s.rejected.is_empty(), "{:?}", s.rejected);
    nba_ingest::build::build(&store, &Default::default()).await.unwrap();
    store
}

/// The whole sample, loaded and built once per run: for tests that only read it.
pub async fn sample_store() -> &'static Store {
    static STORE: tokio::sync::OnceCell<Store> = tokio::sync::OnceCell::const_new();
    let loaded = STORE.get_or_init(|| sample_database("server_sample", None)).await;
    // A pool per test runtime, as season_store.
    Box::leak(Box::new(loaded.new_pool()))
}

fn train_args(store: &Store, iterations: &str) -> nba_trainer::TrainArgs {
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
        "--learning-rate",
        "0.15",
        "--max-depth",
        "4",
        "--progress",
        "never",
    ];
    match nba_trainer::Cli::try_parse_from(argv).unwrap().command {
        nba_trainer::Command::Train(a) => *a,
        other => panic!("{other:?}"),
    }
}

/// A registry with two versions trained on the season, the first promoted (once per run).
pub struct Trained {
    _dir: tempfile::TempDir,
    pub root: PathBuf,
    pub first: String,
    pub second: String,
}

pub async fn trained() -> &'static Trained {
    static T: tokio::sync::OnceCell<Trained> = tokio::sync::OnceCell::const_new();
    T.get_or_init(|| async {
        let store = season_store().await;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let first = nba_trainer::train(&train_args(store, "30"), &root).await.unwrap().manifest.version;
        let second = nba_trainer::train(&train_args(store, "12"), &root).await.unwrap().manifest.version;
        assert_ne!(first, second);
        Registry::new(&root).promote(&first).unwrap();
        Trained { _dir: dir, root, first, second }
    })
    .await
}

/// A private copy of the trained registry (tests that move the pointer or add versions).
pub async fn registry_copy() -> (tempfile::TempDir, Registry) {
    let t = trained().await;
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&t.root, dir.path());
    let reg = Registry::new(dir.path());
    (dir, reg)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

pub struct TestServer {
    pub grpc: String,
    pub admin: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn config(registry: &Path, clickhouse_url: &str, database: &str, extra: &[&str]) -> ServeConfig {
    let mut argv: Vec<String> =
        ["nba-server", "serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--model-poll-secs", "0", "--feature-refresh-secs", "1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
    argv.extend(["--registry".into(), registry.display().to_string(), "--clickhouse-url".into(), clickhouse_url.into(), "--database".into(), database.into()]);
    argv.extend(extra.iter().map(|s| s.to_string()));
    match Cli::try_parse_from(argv).unwrap().command {
        Command::Serve(c) => *c,
        _ => unreachable!(),
    }
}

impl TestServer {
    /// Starts a server on ephemeral ports (not waiting for readiness).
    pub async fn start(cfg: ServeConfig) -> TestServer {
        let secrets = cfg.validate().unwrap();
        let grpc = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (g, a) = (grpc.local_addr().unwrap(), admin.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(nba_server::run(cfg, secrets, grpc, admin, async {
            let _ = rx.await;
        }));
        TestServer { grpc: format!("http://{g}"), admin: format!("http://{a}"), stop: Some(tx), task: Some(task) }
    }

    /// The season database and the trained registry, ready.
    pub async fn season(extra: &[&str]) -> TestServer {
        let store = season_store().await;
        let t = trained().await;
        let s = TestServer::start(config(&t.root, store.url(), store.database(), extra)).await;
        s.wait_ready().await;
        s
    }

    /// A server on `store` with the trained registry, ready.
    pub async fn on(store: &Store, extra: &[&str]) -> TestServer {
        let t = trained().await;
        let s = TestServer::start(config(&t.root, store.url(), store.database(), extra)).await;
        s.wait_ready().await;
        s
    }

    pub async fn ready_json(&self) -> (u16, serde_json::Value) {
        let r = reqwest::get(format!("{}/ready", self.admin)).await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    pub async fn wait_ready(&self) {
        for _ in 0..600 {
            if self.ready_json().await.0 == 200 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("server not ready after 60 s: {:?}", self.ready_json().await);
    }

    pub async fn client(&self) -> PredictionServiceClient<Channel> {
        PredictionServiceClient::connect(self.grpc.clone()).await.unwrap()
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.admin)).await.unwrap().text().await.unwrap()
    }

    pub async fn reload(&self) -> (u16, serde_json::Value) {
        let r = reqwest::Client::new().post(format!("{}/admin/reload", self.admin)).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap())
    }

    /// Triggers the shutdown sequence without waiting for it.
    pub fn begin_stop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }

    /// Shuts down and returns what `run` returned.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.begin_stop();
        self.task.take().unwrap().await.unwrap()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.begin_stop();
    }
}

pub fn request(player: &str, date: &str, opponent: &str, is_home: bool) -> PredictRequest {
    PredictRequest { player_id: player.into(), game_date: date.into(), opponent: opponent.into(), is_home, ..Default::default() }
}

/// A TCP proxy to ClickHouse that a test can cut (connections refused afterwards).
pub struct Proxy {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(target_url: &str) -> Proxy {
        let target = target_url.trim_start_matches("http://").trim_end_matches('/').to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                let target = target.clone();
                conns.spawn(async move {
                    if let Ok(mut out) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut out).await;
                    }
                });
            }
        });
        Proxy { url, task }
    }

    /// Stops accepting and drops every open connection.
    pub fn cut(&self) {
        self.task.abort();
    }
}

pub async fn channel(addr: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(addr.to_string()).unwrap().connect().await.unwrap()
}

/// `nba-server slate --date DATE --run RUN --as-of AS_OF [--lineups FILE]` on `store` with
/// `registry`, run in-process with its own clock (the wall clock is years after the
/// sample's games).
pub async fn run_slate(
    store: &Store,
    registry: &Path,
    date: &str,
    run: &str,
    as_of: chrono::DateTime<chrono::Utc>,
    lineups: Option<&Path>,
) -> nba_server::slate_run::SlateRunSummary {
    let mut argv: Vec<String> = ["nba-server", "slate", "--date", date, "--run", run, "--as-of", &as_of.to_rfc3339()].iter().map(|s| s.to_string()).collect();
    argv.extend(["--registry".into(), registry.display().to_string()]);
    argv.extend(["--clickhouse-url".into(), store.url().into(), "--database".into(), store.database().into()]);
    if let Some(p) = lineups {
        argv.extend(["--lineups".into(), p.display().to_string()]);
    }
    let args = match Cli::try_parse_from(argv).unwrap().command {
        Command::Slate(a) => *a,
        other => panic!("{other:?}"),
    };
    nba_server::slate_run::run(&args, std::sync::Arc::new(chrono::Utc::now)).await.unwrap()
}
