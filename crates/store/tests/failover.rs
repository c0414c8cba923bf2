//! Failover between two real ClickHouse servers: a [`Store`] given both URLs keeps
//! answering queries and taking inserts while the first is SIGKILLed, while it comes
//! back, and when the second dies in turn; every row lands exactly once.
//!
//! The two servers are private ones ([`PrivateClickHouse`]: `scripts/clickhouse.sh` on
//! their own ports and folders), each with the platform's schema of its own. They are not
//! replicas of each other (that is `scripts/clickhouse_cluster.sh`, with ZooKeeper): what
//! is tested here is the client's side, which server each call goes to, so each row's
//! server is exactly known.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nba_store::rows::MigrationRow;
use nba_store::{Store, StoreConfig};
use nba_testkit::PrivateClickHouse;
use std::time::Duration;

/// Test rows live above the migrations' own versions (1 to a few dozen).
const FIRST: u32 = 1000;

/// A store on one server only, for looking at what each holds.
fn direct(url: &str, db: &str) -> Store {
    let mut config = StoreConfig::new(url, db);
    config.attempts = 1;
    Store::new(config).unwrap()
}

/// The test rows a server holds, sorted (without FINAL: a row written twice shows twice).
async fn rows_on(store: &Store) -> Vec<u32> {
    let sql = format!("SELECT version FROM schema_migrations WHERE version >= {FIRST} ORDER BY version");
    store.retry("read test rows", || store.client().query(&sql).fetch_all::<u32>()).await.unwrap()
}

/// Inserts test row `next` through `store` (then counts on) and reads the count back
/// through it: both must succeed whichever server is up.
async fn write(store: &Store, next: &mut u32) {
    let version = *next;
    *next += 1;
    let row = MigrationRow { version, name: format!("failover row {version}"), applied_at: chrono::Utc::now() };
    store.insert(&[row]).await.unwrap_or_else(|e| panic!("insert {version}: {}", e.with_causes()));
    let sql = format!("SELECT count() FROM schema_migrations WHERE version >= {FIRST} AND version <= {version}");
    let n = store.scalar_u64("count test rows", &sql).await.unwrap_or_else(|e| panic!("count after {version}: {}", e.with_causes()));
    assert!(n >= 1, "row {version} not visible on {} right after its insert", store.url());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_and_inserts_go_on_while_one_server_is_killed_and_comes_back() {
    let (a, b) = (PrivateClickHouse::start("failover a"), PrivateClickHouse::start("failover b"));
    let db = nba_testkit::unique_database("failover");
    let (on_a, on_b) = (direct(a.url(), &db), direct(b.url(), &db));
    on_a.migrate().await.unwrap();
    on_b.migrate().await.unwrap();

    let mut config = StoreConfig::with_urls(vec![a.url().to_string(), b.url().to_string()], db.clone());
    // Enough rounds to wait out a restart when both are down (phase 5): 0.2 s doubling.
    (config.attempts, config.backoff) = (9, Duration::from_millis(200));
    let store = Store::new(config).unwrap();
    let mut next = FIRST;

    // 1. Both up: everything goes to the first.
    for _ in 0..3 {
        write(&store, &mut next).await;
    }
    assert_eq!((store.url(), store.failovers()), (a.url(), 0));
    assert_eq!((rows_on(&on_a).await.len(), rows_on(&on_b).await.len()), (3, 0));

    // 2. The first killed: the next call moves to the second, and later calls start
    // there (one failover, not one per call).
    a.kill();
    for _ in 0..5 {
        write(&store, &mut next).await;
    }
    assert_eq!((store.url(), store.failovers()), (b.url(), 1), "failed over once and remembered");
    assert_eq!(rows_on(&on_b).await, (FIRST + 3..FIRST + 8).collect::<Vec<_>>());

    // 3. The first comes back (restart in the background) while calls go on: they stay on
    // the second, which answers.
    let restarting = tokio::task::spawn_blocking(move || {
        a.restart();
        a
    });
    let mut during = 0;
    while !restarting.is_finished() {
        write(&store, &mut next).await;
        during += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let a = restarting.await.unwrap();
    assert!(during > 0, "no call ran during the restart");
    write(&store, &mut next).await;
    assert_eq!((store.url(), store.failovers()), (b.url(), 1), "no needless move back while the second answers");

    // 4. The second killed: back to the first, which is up again.
    let on_second = next;
    b.kill();
    write(&store, &mut next).await;
    assert_eq!((store.url(), store.failovers()), (a.url(), 2));

    // 5. Both down, then the first comes back: a call waits (backoff rounds over both)
    // and goes through once it is up.
    a.kill();
    let restarting = tokio::task::spawn_blocking(move || {
        std::thread::sleep(Duration::from_millis(500));
        a.restart();
        a
    });
    write(&store, &mut next).await;
    let a = restarting.await.unwrap();
    assert_eq!(store.url(), a.url());

    // Every row exactly once, on the server that was current when it was written.
    let expected_a: Vec<u32> = (FIRST..FIRST + 3).chain(on_second..next).collect();
    assert_eq!(rows_on(&on_a.new_pool()).await, expected_a);
    b.restart();
    assert_eq!(rows_on(&on_b.new_pool()).await, (FIRST + 3..on_second).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sql_error_is_not_failed_over_and_a_dead_list_names_every_server() {
    let (a, b) = (PrivateClickHouse::start("failover sql a"), PrivateClickHouse::start("failover sql b"));
    let db = nba_testkit::unique_database("failover_sql");
    let mut config = StoreConfig::with_urls(vec![a.url().to_string(), b.url().to_string()], db);
    (config.attempts, config.backoff) = (2, Duration::from_millis(50));
    let store = Store::new(config).unwrap();
    store.migrate().await.unwrap();

    // Bad SQL fails the same on every replica: returned at once, from the first.
    let e = store.scalar_u64("bad query", "SELECT no_such_column FROM schema_migrations").await.unwrap_err();
    assert!(e.to_string().contains(a.url()) && !e.to_string().contains(b.url()), "{e}");
    assert_eq!((store.url(), store.failovers()), (a.url(), 0));

    // Both gone: the error names both servers.
    a.kill();
    b.kill();
    let e = store.ping().await.unwrap_err();
    let text = e.to_string();
    assert!(text.contains(&format!("{}, {}", a.url(), b.url())) && text.contains("2 attempt(s)"), "{text}");
}
