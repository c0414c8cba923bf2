//! Database faults with a real crash: the server's ClickHouse is a
//! private server ([`PrivateClickHouse`]) that the test SIGKILLs and restarts on the same
//! data. While it is down the server answers from its cached history and reports degraded
//! readiness (still 200, see docs/server.md); once it is back the server reports healthy
//! again without being restarted. (`ops.rs` covers the same with a TCP proxy that is cut
//! and never restored, and a server that never reached ClickHouse at all.)

use crate::util::*;
use nba_ingest::load::LoadOptions;
use nba_store::{Store, StoreConfig};
use nba_testkit::PrivateClickHouse;
use std::time::Duration;

/// Polls `/ready` until `clickhouse` reads `want`; returns the last body.
async fn wait_clickhouse(server: &TestServer, want: &str) -> serde_json::Value {
    let mut last = serde_json::Value::Null;
    for _ in 0..300 {
        let (code, body) = server.ready_json().await;
        if body["clickhouse"] == want {
            assert_eq!(code, 200, "ready (degraded or not) while the cache serves: {body}");
            return body;
        }
        last = body;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/ready never said clickhouse = {want}: {last}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_sigkilled_serves_from_cache_then_recovers_after_restart() {
    let ch = PrivateClickHouse::start("server_fault");
    let mut config_ch = StoreConfig::new(ch.url(), "season");
    config_ch.attempts = 3;
    let store = Store::new(config_ch).unwrap();
    store.migrate().await.unwrap();
    let opts = LoadOptions { paths: vec![nba_testkit::season_archive(2024)], batch_pages: 200, workers: 2, dry_run: false, progress: false, dates: None };
    nba_ingest::load::load(Some(&store), &opts).await.unwrap();
    nba_ingest::build::build(&store, &Default::default()).await.unwrap();
    let t = trained().await;

    let server = TestServer::start(config(&t.root, ch.url(), "season", &["--prediction-log", "false"])).await;
    server.wait_ready().await;
    assert_eq!(wait_clickhouse(&server, "ok").await["degraded"], false);
    let mut client = server.client().await;
    let (player, day, opponent, is_home): (String, String, String, u8) = store
        .client()
        .query("SELECT player_id, toString(game_date), opponent, is_home FROM player_game_summary FINAL WHERE status = 'Played' AND game_date = toDate('2024-03-05') ORDER BY pts DESC LIMIT 1")
        .fetch_one()
        .await
        .unwrap();
    let req = request(&player, &day, &opponent, is_home == 1);
    let before = client.predict(req.clone()).await.unwrap().into_inner();

    ch.kill();
    // The next history refresh (every second) fails: degraded, still serving.
    assert_eq!(wait_clickhouse(&server, "unreachable").await["degraded"], true);
    assert_eq!(client.predict(req.clone()).await.unwrap().into_inner(), before, "answered from the cache");
    // A vector not cached yet is computed from the cached history.
    let mut other_day = req.clone();
    other_day.game_date = "2024-03-06".into();
    client.predict(other_day.clone()).await.unwrap();

    ch.restart();
    // Recovered without a server restart.
    assert_eq!(wait_clickhouse(&server, "ok").await["degraded"], false);
    assert_eq!(client.predict(req).await.unwrap().into_inner(), before);
    client.predict(other_day).await.unwrap();
    assert!(server.metrics().await.contains("nba_clickhouse_errors_total{operation=\"feature_refresh\"}"));
    server.stop().await.unwrap();
}

/// Two proxies in front of one ClickHouse stand for two replicas: the server is given
/// both URLs, the first is cut, and the history refresh goes on through the second with
/// readiness never leaving "ok" (nothing is degraded: a replica answered every call).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_replica_cut_the_feature_refresh_fails_over_to_the_second() {
    let store = sample_database("server_failover", None).await;
    let (first, second) = (Proxy::start(store.url()).await, Proxy::start(store.url()).await);
    let t = trained().await;
    let urls = format!("{},{}", first.url, second.url);
    let server = TestServer::start(config(&t.root, &urls, store.database(), &["--prediction-log", "false"])).await;
    server.wait_ready().await;
    let loaded_before = wait_clickhouse(&server, "ok").await["features_loaded_at"].clone();
    let (player, day, opponent, is_home): (String, String, String, u8) = store
        .client()
        .query("SELECT player_id, toString(game_date), opponent, is_home FROM player_game_summary FINAL WHERE status = 'Played' ORDER BY game_date DESC, pts DESC LIMIT 1")
        .fetch_one()
        .await
        .unwrap();
    let req = request(&player, &day, &opponent, is_home == 1);
    let mut client = server.client().await;
    let before = client.predict(req.clone()).await.unwrap().into_inner();

    first.cut();
    // A change in a watched table (one more physical row of `games`; FINAL collapses it),
    // so the next refresh must read ClickHouse again, through the second proxy.
    store.client().query("INSERT INTO games SELECT * FROM games LIMIT 1").execute().await.unwrap();
    let mut reloaded = false;
    for _ in 0..100 {
        let (code, body) = server.ready_json().await;
        assert_eq!((code, &body["clickhouse"], &body["degraded"]), (200, &serde_json::json!("ok"), &serde_json::json!(false)), "{body}");
        if body["features_loaded_at"] != loaded_before {
            reloaded = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reloaded, "the history was not reloaded after the first replica was cut");
    assert_eq!(client.predict(req).await.unwrap().into_inner(), before, "the same history, read through the second");
    let metrics = server.metrics().await;
    assert!(!metrics.contains("nba_clickhouse_errors_total{operation=\"feature_refresh\"}"), "no refresh failed");
    server.stop().await.unwrap();
}
