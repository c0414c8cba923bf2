//! Shared helpers: the season database (loaded once per run) and training arguments.

use clap::Parser;
use nba_ingest::load::LoadOptions;
use nba_store::{Store, StoreConfig};
use nba_trainer::{Cli, Command, TrainArgs};
use std::path::Path;

pub async fn fresh_store(name: &str, migrate: bool) -> Store {
    let db = nba_testkit::unique_database(name);
    let mut config = StoreConfig::new(nba_testkit::clickhouse_url(), db);
    // Transient network errors (a closed pooled connection) are retried, as in production.
    config.attempts = 3;
    let store = Store::new(config).unwrap();
    // Names come back with PIDs and the server outlives the run: start clean.
    store.drop_database().await.unwrap();
    if migrate {
        store.migrate().await.unwrap();
    }
    store
}

/// Season 2024 loaded and built, once per test binary.
pub async fn season_store() -> &'static Store {
    static STORE: tokio::sync::OnceCell<Store> = tokio::sync::OnceCell::const_new();
    let loaded = STORE
        .get_or_init(|| async {
            let store = fresh_store("trainer_season", true).await;
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

/// The short split of the sample season and a small, quick model, as training flags.
pub const SHORT_SPLIT: &[&str] = &[
    "--train",
    "2023-10-01..2024-01-31",
    "--valid",
    "2024-02-01..2024-02-29",
    "--test",
    "2024-03-01..2024-03-31",
    "--iterations",
    "40",
    "--learning-rate",
    "0.15",
    "--max-depth",
    "4",
    "--early-stopping-rounds",
    "10",
    "--threads",
    "2",
];

/// Training arguments for the short split, as the CLI would parse them.
pub fn args(store: &Store, extra: &[&str]) -> TrainArgs {
    let mut argv =
        vec!["nba-trainer", "train", "--clickhouse-url", store.url(), "--database", store.database(), "--clickhouse-attempts", "1", "--progress", "never"];
    argv.extend_from_slice(SHORT_SPLIT);
    // A flag in `extra` replaces the default above.
    for flag in extra.iter().filter(|f| f.starts_with("--")) {
        if let Some(i) = argv.iter().position(|a| a == flag) {
            if argv.get(i + 1).is_some_and(|v| !v.starts_with("--")) {
                argv.remove(i + 1);
            }
            argv.remove(i);
        }
    }
    argv.extend_from_slice(extra);
    match Cli::try_parse_from(argv).unwrap().command {
        Command::Train(a) => *a,
        other => panic!("{other:?}"),
    }
}

/// Runs the binary on `registry`, mirroring into `store`'s database.
pub fn cli(registry: &Path, store: &Store, args: &[&str]) -> std::process::Output {
    cli_at(registry, store.url(), store.database(), args)
}

pub fn cli_at(registry: &Path, url: &str, database: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_nba-trainer"))
        .args(args)
        .env("NBA_REGISTRY", registry)
        .env("NBA_PROGRESS", "never")
        .env("CLICKHOUSE_URL", url)
        .env("NBA_DATABASE", database)
        .env("NBA_CLICKHOUSE_ATTEMPTS", "1")
        .output()
        .unwrap()
}

/// (event, message) of a version in `model_registry`, oldest first.
pub async fn registry_events(store: &Store, version: &str) -> Vec<(String, String)> {
    let sql = format!("SELECT event, message FROM {}.model_registry WHERE version = ? ORDER BY event_at_us", store.database());
    store.retry("registry events", || store.client().query(&sql).bind(version).fetch_all::<(String, String)>()).await.unwrap()
}

/// Through the store's retry of transient network errors (a pooled connection the server
/// closed fails with SendRequest; CI hit it twice), as the trainer's own reads are.
pub async fn scalar(store: &Store, sql: &str) -> u64 {
    store.scalar_u64("test query", sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}
