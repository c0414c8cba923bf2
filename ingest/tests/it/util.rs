//! Shared helpers: a fresh database on the test ClickHouse, fixtures, queries, the CLI.

use nba_ingest::load::LoadOptions;
use nba_store::{Store, StoreConfig, schema};
use std::path::{Path, PathBuf};
use std::process::Command;

pub async fn fresh_store(name: &str) -> Store {
    let db = nba_testkit::unique_database(name);
    let mut config = StoreConfig::new(nba_testkit::clickhouse_url(), db);
    config.attempts = 2;
    let store = Store::new(config).unwrap();
    // Names come back with PIDs and the server outlives the run: start clean.
    store.recreate().await.unwrap();
    store
}

pub fn opts(paths: &[&Path]) -> LoadOptions {
    LoadOptions { paths: paths.iter().map(|p| p.to_path_buf()).collect(), batch_pages: 200, workers: 2, dry_run: false, progress: false, dates: None }
}

pub fn fixture(rel: &str) -> PathBuf {
    nba_testkit::workspace_root().join("tests/fixtures/pages").join(rel)
}

pub async fn scalar(store: &Store, sql: &str) -> u64 {
    store.client().query(sql).fetch_one::<u64>().await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Row counts of every raw table, in a fixed order.
pub async fn counts(store: &Store) -> Vec<(&'static str, u64)> {
    let mut out = Vec::new();
    for t in [&schema::GAMES, &schema::PLAYER_BOXSCORES, &schema::TEAM_BOXSCORES, &schema::GAME_INACTIVES, &schema::DATA_QUALITY_ISSUES] {
        out.push((t.name, store.count(t).await.unwrap()));
    }
    out
}

pub fn run_cli(db: &str, url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_nba-ingest"))
        .args(args)
        .env("CLICKHOUSE_URL", url)
        .env("NBA_DATABASE", db)
        .env("NBA_CLICKHOUSE_ATTEMPTS", "2")
        .env("NBA_PROGRESS", "never")
        .output()
        .unwrap()
}
