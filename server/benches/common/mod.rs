//! Helpers shared by the server's benchmarks (`serve`, `soak`): the season database they
//! run against.

use nba_store::{Store, StoreConfig};

pub mod serving;

/// The benchmarks' database (`NBA_BENCH_DATABASE`, default `bench_serve`), migrated, and
/// loaded and built from season 2023-24 on first use (`who` names the caller in the
/// message it prints then). Kept between runs: loading takes longer than a benchmark.
pub async fn season_store(who: &str) -> Store {
    let database = std::env::var("NBA_BENCH_DATABASE").unwrap_or_else(|_| "bench_serve".to_string());
    let mut cfg = StoreConfig::new(nba_testkit::clickhouse_url(), database);
    cfg.attempts = 2;
    let store = Store::new(cfg).unwrap();
    store.migrate().await.unwrap();
    if store.scalar_u64("count", "SELECT count() FROM player_features").await.unwrap() == 0 {
        eprintln!("{who}: loading season 2023-24 into {}", store.database());
        let opts = nba_ingest::load::LoadOptions {
            paths: vec![nba_testkit::season_archive(2024)],
            batch_pages: 200,
            workers: 2,
            dry_run: false,
            progress: false,
            dates: None,
        };
        nba_ingest::load::load(Some(&store), &opts).await.unwrap();
        nba_ingest::build::build(&store, &Default::default()).await.unwrap();
    }
    store
}
