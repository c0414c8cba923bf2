//! `validate`, `backfill`, `status` and `query` against a real ClickHouse.

use crate::util::*;
use nba_ingest::backfill::{self, BackfillOptions};
use nba_ingest::validate;
use nba_store::Store;

fn day(s: &str) -> chrono::NaiveDate {
    s.parse().unwrap()
}

/// A checksum of a table's content, independent of physical row order.
async fn checksum(store: &Store, table: &str, cols: &str) -> (u64, u64) {
    let count = scalar(store, &format!("SELECT count() FROM {table}")).await;
    let hash = scalar(store, &format!("SELECT groupBitXor(cityHash64({cols})) FROM {table}")).await;
    (count, hash)
}

async fn all_checksums(store: &Store) -> Vec<(u64, u64)> {
    vec![
        checksum(store, "player_boxscores", "game_id, team, player_id, pts, seconds").await,
        checksum(store, "games", "game_id, home_pts, away_pts").await,
        checksum(store, "player_game_summary", "game_id, team, player_id, usg_pct").await,
        checksum(store, "team_game_summary", "game_id, team, pace").await,
        checksum(store, "player_features", "game_id, player_id, arrayStringConcat(arrayMap(x -> toString(x), features), ',')").await,
    ]
}

#[tokio::test]
async fn backfill_resumes_after_an_interruption_and_a_rerun_changes_nothing() {
    let store = fresh_store("backfill").await;
    let sample = nba_testkit::sample_archive();
    let opts = BackfillOptions { from: day("2023-10-20"), to: day("2023-10-31"), chunk_days: 3, load: opts(&[&sample]) };
    let today = day("2023-11-01");
    let first = backfill::backfill(&store, &opts, today).await.unwrap();
    assert_eq!((first.chunks, first.done_now, first.done_before), (4, 4, 0));
    assert!(first.failed_validation.is_empty(), "{:?}", first.failed_validation);
    assert_eq!(scalar(&store, "SELECT count() FROM backfill_checkpoints WHERE validation_passed = 1").await, 4);
    // Only the sample's games of that range: 53 games (the 2023 and 2020 pages are outside).
    assert_eq!(scalar(&store, "SELECT uniqExact(game_id) FROM team_boxscores").await, 53);
    let done = all_checksums(&store).await;

    // A finished backfill, rerun, does nothing at all.
    let again = backfill::backfill(&store, &opts, today).await.unwrap();
    assert_eq!((again.done_now, again.done_before), (0, 4));
    assert_eq!(all_checksums(&store).await, done);

    // Interrupted in its third chunk, after the load and before the build finished:
    // forget the last two checkpoints and the last days' features, then resume: the same
    // tables as an uninterrupted run.
    store.client().query("ALTER TABLE backfill_checkpoints DELETE WHERE chunk_from >= toDate('2023-10-26')").execute().await.unwrap();
    store.client().query("ALTER TABLE player_features DELETE WHERE game_date >= toDate('2023-10-29')").execute().await.unwrap();
    wait_mutations(&store).await;
    let resumed = backfill::backfill(&store, &opts, today).await.unwrap();
    assert_eq!((resumed.done_before, resumed.done_now), (2, 2));
    assert_eq!(all_checksums(&store).await, done);
}

async fn wait_mutations(store: &Store) {
    for _ in 0..200 {
        let pending = scalar(store, &format!("SELECT count() FROM system.mutations WHERE database = '{}' AND is_done = 0", store.database())).await;
        if pending == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("mutations did not finish");
}

#[tokio::test]
async fn validate_passes_on_a_full_season() {
    let store = crate::build::season_store().await;
    let outcome = validate::validate(store, None, None, day("2024-03-21")).await.unwrap();
    assert_eq!(outcome.critical_failures(), 0, "{}", outcome.render());
    let coverage = outcome.get("coverage_box_scores").unwrap();
    assert!((coverage.value - 1023.0 / 1033.0).abs() < 1e-9, "{coverage:?}");
    // Ten played games have no page in the archive: a warning, with examples.
    let complete = outcome.get("coverage_box_scores_complete").unwrap();
    assert!(!complete.passed && complete.value == 10.0 && complete.message.contains("202310250CHO"), "{complete:?}");
    assert!(outcome.get("freshness_vs_schedule").unwrap().passed);
    assert!(outcome.results.iter().filter(|r| r.name.starts_with("range:") || r.name.starts_with("nan_rate:")).all(|r| r.passed), "{}", outcome.render());
    assert_eq!(outcome.results.iter().filter(|r| r.name.starts_with("range:")).count(), nba_features::N_FEATURES);
}

#[tokio::test]
async fn validate_flags_missing_pages_duplicates_and_missing_features() {
    let store = fresh_store("validate").await;
    nba_ingest::load::load(Some(&store), &opts(&[&nba_testkit::sample_archive()])).await.unwrap();
    nba_ingest::build::build(&store, &Default::default()).await.unwrap();
    let url = nba_testkit::clickhouse_url();
    let clean = validate::validate(&store, None, None, day("2023-11-01")).await.unwrap();
    for name in ["duplicates_player_features", "features_for_played_games", "player_stats_sum_to_team_totals"] {
        assert!(clean.get(name).unwrap().passed, "{name}");
    }
    // The sample's schedule pages list 59 played games; it holds pages for 54 of them:
    // above the critical 90%, and a warning naming what is missing.
    let coverage = clean.get("coverage_box_scores").unwrap();
    assert!(coverage.passed && (coverage.value - 54.0 / 59.0).abs() < 1e-9, "{coverage:?}");
    assert!(!clean.get("coverage_box_scores_complete").unwrap().passed);
    assert_eq!(clean.critical_failures(), 0, "{}", clean.render());

    // A duplicated features row and a game without features are critical failures.
    store
        .client()
        .query("INSERT INTO player_features SELECT * FROM player_features WHERE game_id = '202310240DEN' AND player_id = 'jokicni01'")
        .execute()
        .await
        .unwrap();
    store.client().query("ALTER TABLE player_features DELETE WHERE game_id = '202310250SAS'").execute().await.unwrap();
    // And a broken scrape: October 25's box scores gone (42 of 59 games covered).
    store.client().query("ALTER TABLE team_boxscores DELETE WHERE game_date = toDate('2023-10-25')").execute().await.unwrap();
    wait_mutations(&store).await;
    let out = run_cli(store.database(), url, &["validate"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for name in ["duplicates_player_features", "features_for_played_games", "coverage_box_scores "] {
        let line = stdout.lines().find(|l| l.contains(name)).unwrap();
        assert!(line.contains("critical") && line.contains("FAIL"), "{line}");
    }
    assert_eq!(scalar(&store, "SELECT count() FROM validation_runs WHERE passed = 0").await, 1);
    assert_eq!(scalar(&store, "SELECT count() FROM validation_results").await, scalar(&store, "SELECT toUInt64(sum(checks)) FROM validation_runs").await);
}

#[tokio::test]
async fn status_and_monitoring_queries_run() {
    let store = fresh_store("status").await;
    nba_ingest::load::load(Some(&store), &opts(&[&nba_testkit::sample_archive()])).await.unwrap();
    nba_ingest::build::build(&store, &Default::default()).await.unwrap();
    let url = nba_testkit::clickhouse_url();
    let out = run_cli(store.database(), url, &["status"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("per season") && stdout.contains("2024") && stdout.contains("last build"), "{stdout}");
    let never = stdout.lines().find(|l| l.starts_with("last validation")).unwrap();
    assert!(never.ends_with("never"), "{never}");
    for (name, _) in nba_ingest::monitoring::QUERIES {
        let out = run_cli(store.database(), url, &["query", name, "--format", "TSVWithNames"]);
        assert!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
    }
    let health = run_cli(store.database(), url, &["query", "pipeline_health", "--format", "TSV"]);
    let health = String::from_utf8_lossy(&health.stdout);
    // Season 2024: 54 scheduled October games (all played, 53 box scores in the sample
    // plus the IST final from December), season 2023: 5 June games.
    assert!(health.lines().any(|l| l.starts_with("2023\t5\t5\t")), "{health}");
    let unknown = run_cli(store.database(), url, &["query", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("--list"));
}

#[test]
fn docs_list_the_feature_contract_as_the_code_defines_it() {
    let doc = std::fs::read_to_string(nba_testkit::workspace_root().join("docs/features.md")).unwrap();
    assert!(doc.ends_with(&nba_ingest::contract_markdown()), "docs/features.md is stale: regenerate its last section with `nba-ingest features`");
}

#[tokio::test]
async fn grade_scores_the_latest_prediction_per_player_against_the_box_scores() {
    use chrono::TimeZone;
    use nba_store::rows::PredictionRow;
    let store = fresh_store("grade").await;
    nba_ingest::load::load(Some(&store), &opts(&[&nba_testkit::sample_archive()])).await.unwrap();
    nba_ingest::build::build(&store, &Default::default()).await.unwrap();
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct P {
        player_id: String,
        pts: u16,
        status: String,
    }
    let date: String = store.client().query("SELECT toString(min(game_date)) FROM player_game_summary").fetch_one().await.unwrap();
    let players: Vec<P> = store
        .client()
        .query("SELECT player_id, pts, status FROM player_game_summary FINAL WHERE game_date = toDate(?) ORDER BY status = 'Played' DESC, player_id")
        .bind(&date)
        .fetch_all()
        .await
        .unwrap();
    let played: Vec<&P> = players.iter().filter(|p| p.status == "Played").take(6).collect();
    let dnp = players.iter().find(|p| p.status != "Played").expect("a did-not-play row on the first day");
    let day: chrono::NaiveDate = date.parse().unwrap();
    let row = |p: &P, pred: f32, minute: u32| PredictionRow {
        predicted_at: chrono::Utc.with_ymd_and_hms(2023, 10, 24, 12, minute, 0).unwrap(),
        method: "Predict".into(),
        model_version: "v-test".into(),
        feature_version: 1,
        player_id: p.player_id.clone(),
        game_date: day,
        team: String::new(),
        opponent: String::new(),
        is_home: 0,
        predicted_pts: pred,
        p10: 0.0,
        p90: 0.0,
        line: None,
        p_over: None,
        call: String::new(),
        features: vec![],
        source: PredictionRow::REQUEST.into(),
        run: String::new(),
        run_at: chrono::Utc.with_ymd_and_hms(2023, 10, 24, 12, minute, 0).unwrap(),
        availability_source: "official".into(),
        opponent_availability_source: "official".into(),
        lineup_source: "unknown".into(),
        opponent_lineup_source: "unknown".into(),
        asked: 1,
        line_source: String::new(),
        line_time: None,
        over_price: None,
        under_price: None,
    };
    // Each played player: an early wild guess, then the final prediction pts + delta.
    let deltas = [1.0f32, -2.0, 3.0, -4.0, 0.5, 2.5];
    let mut rows = vec![];
    for (p, d) in played.iter().zip(deltas) {
        rows.push(row(p, 99.0, 0));
        rows.push(row(p, p.pts as f32 + d, 30));
    }
    rows.push(row(dnp, 7.0, 30));
    store.insert(&rows).await.unwrap();
    assert_eq!(played.len(), 6);

    let out = run_cli(store.database(), nba_testkit::clickhouse_url(), &["grade", "--from", &date, "--to", &date]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("v-test"));
    #[derive(Debug, clickhouse::Row, serde::Deserialize)]
    struct G {
        predictions: u64,
        graded: u64,
        mae: f64,
        bias: f64,
    }
    let g: G =
        store.client().query("SELECT predictions, graded, mae, bias FROM prediction_grades FINAL WHERE model_version = 'v-test'").fetch_one().await.unwrap();
    let mae = deltas.iter().map(|d| d.abs() as f64).sum::<f64>() / 6.0;
    let bias = deltas.iter().map(|&d| d as f64).sum::<f64>() / 6.0;
    assert_eq!((g.predictions, g.graded), (7, 6), "{g:?}");
    assert!((g.mae - mae).abs() < 1e-4 && (g.bias - bias).abs() < 1e-4, "{g:?} vs {mae} {bias}");
    // Grading again replaces the day's grade; the drift query shows it.
    let again = run_cli(store.database(), nba_testkit::clickhouse_url(), &["grade", "--from", &date, "--to", &date]);
    assert!(again.status.success());
    assert_eq!(scalar(&store, "SELECT count() FROM prediction_grades FINAL").await, 1);
}
