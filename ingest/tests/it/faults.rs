//! Database faults: ClickHouse is SIGKILLed in the middle of `load`,
//! `build` and `backfill`, the command is shown to have failed, the server is restarted
//! on the same data, the command is rerun, and the final tables must equal those of an
//! uninterrupted run of the same command: same row count and same checksum of every
//! column except the run-dependent ones (`version` = the run's start time, and the like),
//! read through `FINAL`, and no duplicate left in storage (count without `FINAL` equal).
//!
//! Each test owns a private server ([`PrivateClickHouse`]: its own ports and data folder)
//! holding two databases, the reference (uninterrupted) and the faulted one. The kill is
//! placed by watching the faulted database, not by a delay: it lands once the command has
//! written part of its output and before it has finished, whatever the machine's speed;
//! the test fails if the command finished first.

use nba_store::{Store, StoreConfig};
use nba_testkit::PrivateClickHouse;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Columns whose value depends on when a run happened, not on the data.
const RUN_COLUMNS: &[&str] = &["version", "detected_at", "finished_at", "files_loaded", "feature_rows"];

const RAW_TABLES: &[&str] = &["games", "player_boxscores", "team_boxscores", "game_inactives", "data_quality_issues"];
const BUILT_TABLES: &[&str] = &["player_game_summary", "team_game_summary", "player_features"];

fn store(ch: &PrivateClickHouse, db: &str) -> Store {
    let mut config = StoreConfig::new(ch.url(), db);
    config.attempts = 3;
    Store::new(config).unwrap()
}

fn command(ch: &PrivateClickHouse, db: &str, args: &[&str], log: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nba-ingest"));
    c.args(args)
        .env("CLICKHOUSE_URL", ch.url())
        .env("NBA_DATABASE", db)
        // Two attempts: a dead server fails the command within a second instead of the
        // default 7.5 s of backoff (the retry itself is tested elsewhere).
        .env("NBA_CLICKHOUSE_ATTEMPTS", "2")
        .env("NBA_PROGRESS", "never")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log).unwrap());
    c
}

/// Runs the CLI to the end; returns its exit code, panicking with its log on an
/// unexpected one.
fn run(ch: &PrivateClickHouse, db: &str, args: &[&str], expect: &[i32]) -> i32 {
    let log = ch.dir().join(format!("{db}-{}.log", args[0]));
    let status = command(ch, db, args, &log).status().unwrap();
    let code = status.code().unwrap_or(-1);
    assert!(expect.contains(&code), "nba-ingest {args:?} on {db} exited {status}, expected {expect:?}; log:\n{}", read(&log));
    code
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Starts the CLI, waits until `landed` says it is part-way through, SIGKILLs the server,
/// and waits for the command to fail. Returns what `landed` last saw (for the message),
/// or `None` if the command finished (successfully) before the kill could land.
async fn run_and_kill<F, Fut>(ch: &PrivateClickHouse, db: &str, args: &[&str], mut landed: F) -> Option<String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let log = ch.dir().join(format!("{db}-{}-killed.log", args[0]));
    let mut child: Child = command(ch, db, args, &log).spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    let seen = loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "nba-ingest {args:?} failed ({status}) before the kill; log:\n{}", read(&log));
            return None;
        }
        if let Some(seen) = landed().await {
            break seen;
        }
        assert!(Instant::now() < deadline, "nba-ingest {args:?} never reached the kill point");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    ch.kill();
    println!("nba-ingest {}: ClickHouse SIGKILLed with {seen}", args[0]);
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("nba-ingest {args:?} still running 120 s after ClickHouse was killed; log:\n{}", read(&log));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // Exit 2 is "error" (ClickHouse unreachable): the command knew it did not finish.
    assert_eq!(status.code(), Some(2), "nba-ingest {args:?} after the kill: {status}; log:\n{}", read(&log));
    let text = read(&log);
    assert!(text.contains(ch.url()), "the error names the server: {text}");
    Some(seen)
}

/// A scalar, or `None` while the server or table is not there (used while polling).
async fn try_scalar(store: &Store, sql: &str) -> Option<u64> {
    store.client().query(sql).fetch_one::<u64>().await.ok()
}

async fn scalar(store: &Store, sql: &str) -> u64 {
    store.scalar_u64("fault test", sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// (rows through FINAL, rows in storage, checksum of the data columns through FINAL).
async fn content(store: &Store, table: &str) -> (u64, u64, u64) {
    let db = store.database();
    let columns: Vec<String> =
        store.client().query("SELECT name FROM system.columns WHERE database = ? AND table = ?").bind(db).bind(table).fetch_all::<String>().await.unwrap();
    let data: Vec<String> = columns.into_iter().filter(|c| !RUN_COLUMNS.contains(&c.as_str())).map(|c| format!("`{c}`")).collect();
    assert!(!data.is_empty(), "{db}.{table} has no columns");
    // sum() of a per-row hash: independent of row order and part layout; a duplicate or
    // a missing row changes both the count and (almost surely) the sum.
    let sql = format!("SELECT count(), sum(cityHash64({})) FROM `{db}`.`{table}` FINAL", data.join(", "));
    let (rows, hash): (u64, u64) = store.client().query(&sql).fetch_one().await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    let stored = scalar(store, &format!("SELECT count() FROM `{db}`.`{table}`")).await;
    (rows, stored, hash)
}

/// Every table equal to the reference's, and nothing duplicated in storage. Only the
/// tables in `may_be_empty` may be empty in the reference (a season without findings).
async fn assert_same_tables(reference: &Store, faulted: &Store, tables: &[&str], may_be_empty: &[&str]) {
    for table in tables {
        let want = content(reference, table).await;
        let got = content(faulted, table).await;
        assert!(want.0 > 0 || may_be_empty.contains(table), "the reference {table} is empty: the comparison would prove nothing");
        assert_eq!(want.0, want.1, "reference {table}: rows in storage differ from rows through FINAL");
        assert_eq!(got, want, "{table}: (rows, rows in storage, checksum) after kill and rerun vs uninterrupted");
        println!("{table}: {} rows, checksum {:016x}: equal", want.0, want.2);
    }
}

async fn wait_mutations(store: &Store) {
    for _ in 0..1200 {
        let sql = format!("SELECT count() FROM system.mutations WHERE database = '{}' AND is_done = 0", store.database());
        if scalar(store, &sql).await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("mutations of {} did not finish", store.database());
}

fn season() -> PathBuf {
    nba_testkit::season_archive(2024)
}

/// A box score and the schedule page listing it, with the schedule's home score changed:
/// the load's cross-check must record `schedule_final_score`, however the run was cut.
fn contradicting_pair(dir: &Path) -> PathBuf {
    let root = dir.join("contradiction");
    std::fs::create_dir_all(root.join("scores")).unwrap();
    std::fs::create_dir_all(root.join("standings")).unwrap();
    std::fs::copy(crate::util::fixture("scores/202306120DEN.html"), root.join("scores/202306120DEN.html")).unwrap();
    let page = std::fs::read_to_string(crate::util::fixture("standings/NBA_2023_games-june.html")).unwrap();
    let real = r#"data-stat="home_pts">94</td><td class="center " data-stat="box_score_text"><a href="/boxscores/202306120DEN.html">"#;
    assert!(page.contains(real), "fixture changed: the 2023 Finals game 5 row");
    std::fs::write(root.join("standings/NBA_2023_games-june.html"), page.replace(real, &real.replace(">94<", ">95<"))).unwrap();
    root
}

#[tokio::test]
async fn load_killed_mid_run_then_rerun_equals_an_uninterrupted_load() {
    let ch = PrivateClickHouse::start("fault_load");
    let tmp = tempfile::tempdir().unwrap();
    let pair = contradicting_pair(tmp.path());
    let season = season();
    // Small batches: many ledger commits, so the kill lands between two of them.
    let args = ["load", "--batch-pages", "20", "--workers", "2", pair.to_str().unwrap(), season.to_str().unwrap()];
    for db in ["reference", "faulted"] {
        run(&ch, db, &["migrate"], &[0]);
    }
    run(&ch, "reference", &args, &[0]);
    let (reference, faulted) = (store(&ch, "reference"), store(&ch, "faulted"));
    let pages = scalar(&reference, "SELECT count() FROM ingest_files WHERE status = 'loaded'").await;

    let seen = run_and_kill(&ch, "faulted", &args, || async {
        let n = try_scalar(&faulted, "SELECT count() FROM ingest_files WHERE status = 'loaded'").await?;
        (n > 0).then(|| format!("{n} of {pages} pages in the ledger"))
    })
    .await
    .expect("52 batches: the load cannot finish between two polls");
    ch.restart();
    let ledger = scalar(&faulted, "SELECT count() FROM ingest_files WHERE status = 'loaded'").await;
    assert!(ledger > 0 && ledger < pages, "killed mid-run ({seen}): {ledger} of {pages} pages loaded");

    run(&ch, "faulted", &args, &[0]);
    wait_mutations(&faulted).await;
    assert_same_tables(&reference, &faulted, RAW_TABLES, &[]).await;
    // The cross-check finding of the contradicting pair is there in both.
    for store in [&reference, &faulted] {
        let sql = "SELECT count() FROM data_quality_issues FINAL WHERE game_id = '202306120DEN' AND check_name = 'schedule_final_score'";
        assert_eq!(scalar(store, sql).await, 1, "{}", store.database());
    }
    // And the rerun finished the job: a third run writes nothing.
    let before = content(&faulted, "player_boxscores").await;
    run(&ch, "faulted", &args, &[0]);
    assert_eq!(content(&faulted, "player_boxscores").await, before);
}

#[tokio::test]
async fn build_killed_mid_run_then_rerun_equals_an_uninterrupted_build() {
    let ch = PrivateClickHouse::start("fault_build");
    let season = season();
    for db in ["reference", "faulted"] {
        run(&ch, db, &["migrate"], &[0]);
        run(&ch, db, &["load", season.to_str().unwrap()], &[0]);
    }
    run(&ch, "reference", &["build"], &[0]);
    let (reference, faulted) = (store(&ch, "reference"), store(&ch, "faulted"));

    // The kill lands once the build has started replacing rows (the first summary rows
    // are in) and before it recorded its run. That window is a fraction of a second: on a
    // machine slow enough to miss it, the finished build is undone and tried again.
    let mut seen = None;
    for _ in 0..3 {
        seen = run_and_kill(&ch, "faulted", &["build"], || async {
            let n = try_scalar(&faulted, "SELECT count() FROM player_game_summary").await?;
            (n > 0).then(|| format!("{n} player summary rows written"))
        })
        .await;
        if seen.is_some() {
            break;
        }
        for table in ["player_game_summary", "team_game_summary", "player_features", "build_runs"] {
            faulted.client().query(&format!("TRUNCATE TABLE {table}")).execute().await.unwrap();
        }
    }
    let seen = seen.expect("the build finished before the kill three times");
    ch.restart();
    assert_eq!(scalar(&faulted, "SELECT count() FROM build_runs").await, 0, "killed before the build recorded its run ({seen})");

    run(&ch, "faulted", &["build"], &[0]);
    wait_mutations(&faulted).await;
    assert_same_tables(&reference, &faulted, BUILT_TABLES, &[]).await;
    assert_eq!(scalar(&faulted, "SELECT count() FROM build_runs").await, 1);
}

#[tokio::test]
async fn backfill_killed_mid_run_then_rerun_equals_an_uninterrupted_backfill() {
    let ch = PrivateClickHouse::start("fault_backfill");
    let season = season();
    let args = ["backfill", "--from", "2023-10-01", "--to", "2024-04-30", "--chunk-days", "31", season.to_str().unwrap()];
    for db in ["reference", "faulted"] {
        run(&ch, db, &["migrate"], &[0]);
    }
    // Exit 1 would be a chunk failing validation: the same in both runs is what counts.
    let code = run(&ch, "reference", &args, &[0, 1]);
    let (reference, faulted) = (store(&ch, "reference"), store(&ch, "faulted"));
    let chunks = scalar(&reference, "SELECT count() FROM backfill_checkpoints FINAL").await;
    assert_eq!(chunks, 7, "2023-10-01 .. 2024-04-30 in 31-day chunks");

    let seen = run_and_kill(&ch, "faulted", &args, || async {
        let n = try_scalar(&faulted, "SELECT count() FROM backfill_checkpoints").await?;
        (n >= 2).then(|| format!("{n} of {chunks} chunks checkpointed"))
    })
    .await
    .expect("five chunks to go: the backfill cannot finish between two polls");
    ch.restart();
    let done = scalar(&faulted, "SELECT count() FROM backfill_checkpoints FINAL").await;
    assert!(done >= 2 && done < chunks, "killed mid-backfill ({seen}): {done} of {chunks} chunks done");

    run(&ch, "faulted", &args, &[code]);
    wait_mutations(&faulted).await;
    let mut tables = RAW_TABLES.to_vec();
    tables.extend_from_slice(BUILT_TABLES);
    tables.push("backfill_checkpoints");
    assert_same_tables(&reference, &faulted, &tables, &["data_quality_issues"]).await;
}
