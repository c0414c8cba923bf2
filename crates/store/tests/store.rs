//! Integration tests of the store against a real ClickHouse (started by nba-testkit).
//!
//! For every row struct: its columns match its table's, by name, order and type as the
//! server reports them, and a row written through it reads back unchanged.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{NaiveDate, TimeZone, Utc};
use clickhouse::Row;
use nba_store::rows::*;
use nba_store::schema::{self, Table};
use nba_store::{Store, StoreConfig};

async fn fresh_store(name: &str) -> Store {
    let db = nba_testkit::unique_database(name);
    let store = Store::new(StoreConfig::new(nba_testkit::clickhouse_url(), db)).unwrap();
    // Names come back with PIDs and the server outlives the run: start clean.
    store.recreate().await.unwrap();
    store
}

#[derive(clickhouse::Row, serde::Deserialize, Debug)]
struct Described {
    name: String,
    #[serde(rename = "type")]
    ty: String,
}

async fn describe(store: &Store, table: &Table) -> Vec<(String, String)> {
    // DESCRIBE has more columns on newer servers; system.columns is stable across versions
    // and lists columns in definition order (18.16 has no `position` column to sort by).
    store
        .client()
        .query("SELECT name, type FROM system.columns WHERE database = ? AND table = ?")
        .bind(store.database())
        .bind(table.name)
        .fetch_all::<Described>()
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.name, d.ty))
        .collect()
}

async fn check_round_trip<T>(store: &Store, row: T)
where
    T: TableRow + PartialEq + std::fmt::Debug + Clone + 'static,
    for<'a> T: clickhouse::RowWrite<Value<'a> = T> + clickhouse::RowRead<Value<'a> = T>,
{
    let table = T::TABLE;
    let described = describe(store, table).await;
    let expected: Vec<(String, String)> = table.columns.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
    assert_eq!(described, expected, "server's columns of {} differ from schema.rs", table.name);
    assert_eq!(T::COLUMN_NAMES, table.column_names().as_slice(), "row struct fields of {} differ from its table", table.name);

    store.insert(std::slice::from_ref(&row)).await.unwrap();
    let sql = format!("SELECT ?fields FROM `{}`", table.name);
    let back: Vec<T> = store.client().query(&sql).fetch_all().await.unwrap();
    assert_eq!(back, vec![row], "round trip through {}", table.name);
}

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 2, 29).unwrap()
}

fn time() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 12, 30, 45).unwrap()
}

#[tokio::test]
async fn every_row_struct_matches_its_table() {
    let store = fresh_store("rows").await;
    // schema_migrations already holds migration 1; check it, then the rest on empty tables.
    assert_eq!(describe(&store, &schema::SCHEMA_MIGRATIONS).await.len(), schema::SCHEMA_MIGRATIONS.columns.len());
    assert_eq!(MigrationRow::COLUMN_NAMES, schema::SCHEMA_MIGRATIONS.column_names().as_slice());

    check_round_trip(
        &store,
        GameRow {
            game_id: "202402290BOS".into(),
            game_date: date(),
            season: 2024,
            season_type: "Regular Season".into(),
            start_time_et: "7:30p".into(),
            away_team: "DAL".into(),
            home_team: "BOS".into(),
            away_pts: Some(110),
            home_pts: None,
            overtimes: 2,
            attendance: Some(19_156),
            arena: "TD Garden".into(),
            remarks: "at Paris, France".into(),
            has_box_score: 1,
            source_file: "standings/NBA_2024_games-february.html".into(),
            version: u64::MAX - 1,
        },
    )
    .await;
    check_round_trip(
        &store,
        PlayerBoxscoreRow {
            game_id: "202402290BOS".into(),
            game_date: date(),
            season: 2024,
            season_type: "Playoffs".into(),
            team: "BOS".into(),
            opponent: "DAL".into(),
            is_home: 1,
            player_id: "doncilu01".into(),
            player_name: "Luka Dončić".into(),
            starter: 1,
            status: "Played".into(),
            seconds: 2171,
            fgm: 1,
            fga: 2,
            fg3m: 3,
            fg3a: 4,
            ftm: 5,
            fta: 6,
            oreb: 7,
            dreb: 8,
            reb: 9,
            ast: 10,
            stl: 11,
            blk: 12,
            tov: 13,
            pf: 14,
            pts: 65_000,
            plus_minus: Some(-32_000),
            ts_pct: Some(0.427),
            efg_pct: None,
            usg_pct: Some(19.2),
            off_rtg: Some(91.0),
            def_rtg: None,
            bpm: Some(-6.3),
            row_index: 7,
            version: 3,
        },
    )
    .await;
    check_round_trip(
        &store,
        TeamBoxscoreRow {
            game_id: "202402290BOS".into(),
            game_date: date(),
            season: 2024,
            season_type: "IST Final".into(),
            team: "BOS".into(),
            opponent: "DAL".into(),
            is_home: 0,
            minutes: 265,
            fgm: 41,
            fga: 90,
            fg3m: 10,
            fg3a: 29,
            ftm: 15,
            fta: 20,
            oreb: 13,
            dreb: 31,
            reb: 44,
            ast: 23,
            stl: 5,
            blk: 4,
            tov: 11,
            pf: 18,
            pts: 107,
            opp_pts: 119,
            off_rtg: Some(104.2),
            def_rtg: None,
            periods: vec![24, 27, 20, 18, 10],
            overtimes: 1,
            title: "In-Season Tournament Final: A at B".into(),
            version: 4,
        },
    )
    .await;
    check_round_trip(
        &store,
        InactiveRow {
            game_id: "202402290BOS".into(),
            game_date: date(),
            season: 2024,
            team: "BOS".into(),
            opponent: "DAL".into(),
            player_id: "cancavl01".into(),
            player_name: "Vlatko Čančar".into(),
            version: 5,
        },
    )
    .await;
    check_round_trip(
        &store,
        QualityIssueRow {
            game_id: "202402290BOS".into(),
            game_date: date(),
            check_name: "player_points_formula".into(),
            severity: "error".into(),
            team: "BOS".into(),
            player_id: "x".into(),
            message: "has 3 pts but …".into(),
            source_file: "scores/202402290BOS.html".into(),
            detected_at: time(),
            version: 6,
        },
    )
    .await;
    check_round_trip(
        &store,
        IngestFileRow {
            run_id: "r1".into(),
            name: "scores/202402290BOS.html".into(),
            source: "a.tar.zst:scores/202402290BOS.html".into(),
            sha256: "ab".repeat(32),
            size: 351_340,
            status: "loaded".into(),
            reason: String::new(),
            rows_written: 40,
            seen_at: time(),
            seen_at_us: 1_709_296_245_123_456,
        },
    )
    .await;
}

#[tokio::test]
async fn analytics_row_structs_match_their_tables() {
    let store = fresh_store("rows2").await;
    check_round_trip(
        &store,
        PlayerGameSummaryRow {
            game_id: "g".into(),
            game_date: date(),
            season: 2024,
            season_type: "Regular Season".into(),
            team: "BOS".into(),
            opponent: "DAL".into(),
            is_home: 1,
            player_id: "p".into(),
            player_name: "Luka Dončić".into(),
            status: "Played".into(),
            starter: 1,
            minutes: 36.183_333_333_333_33,
            pts: 1,
            fgm: 2,
            fga: 3,
            fg3m: 4,
            fg3a: 5,
            ftm: 6,
            fta: 7,
            oreb: 8,
            dreb: 9,
            reb: 10,
            ast: 11,
            stl: 12,
            blk: 13,
            tov: 14,
            pf: 15,
            plus_minus: None,
            pts_per_min: 0.1,
            ts_pct: 0.2,
            efg_pct: 0.3,
            usg_pct: 19.2,
            ft_rate: 0.5,
            fg3_rate: 0.6,
            team_pts_share: 0.7,
            team_min_share: 0.8,
            team_fga_share: 0.9,
            version: 1,
        },
    )
    .await;
    check_round_trip(
        &store,
        TeamGameSummaryRow {
            game_id: "g".into(),
            game_date: date(),
            season: 2024,
            season_type: "Playoffs".into(),
            team: "BOS".into(),
            opponent: "DAL".into(),
            is_home: 0,
            won: 1,
            minutes: 265,
            pts: 120,
            opp_pts: 110,
            fga: 90,
            fta: 20,
            tov: 12,
            oreb: 10,
            dreb: 33,
            possessions: 95.315_288_043_478_26,
            pace: 95.3,
            off_rtg: 112.25,
            def_rtg: 124.84,
            starters_pts: 80,
            bench_pts: 40,
            starters_minutes: 170.5,
            bench_minutes: 94.5,
            starters_fga: 60,
            bench_fga: 30,
            starters_pts_per100: 84.0,
            bench_pts_per100: 42.0,
            version: 2,
        },
    )
    .await;
    check_round_trip(
        &store,
        PlayerFeaturesRow {
            game_id: "g".into(),
            game_date: date(),
            season: 2024,
            season_type: "Play-In".into(),
            team: "BOS".into(),
            opponent: "DAL".into(),
            is_home: 1,
            player_id: "p".into(),
            feature_version: 1,
            contract_hash: "abc".into(),
            features: vec![1.5, 0.0, 3.25],
            status: "Did Not Play".into(),
            target_pts: 0,
            target_minutes: 0.0,
            version: 3,
        },
    )
    .await;
    check_round_trip(
        &store,
        BuildRunRow {
            run_id: "r".into(),
            mode: "full".into(),
            started_at: time(),
            finished_at: time(),
            watermark: 1_795_725_689_162,
            from_date: date(),
            to_date: date(),
            games: 1,
            player_summary_rows: 2,
            team_summary_rows: 3,
            feature_rows: 4,
            feature_version: 1,
            contract_hash: "h".into(),
        },
    )
    .await;
    check_round_trip(
        &store,
        ValidationRunRow {
            run_id: "r".into(),
            started_at: time(),
            from_date: date(),
            to_date: date(),
            checks: 149,
            critical_failures: 0,
            warnings: 1,
            passed: 1,
        },
    )
    .await;
    check_round_trip(
        &store,
        ValidationResultRow {
            run_id: "r".into(),
            started_at: time(),
            check_name: "coverage_box_scores".into(),
            severity: "critical".into(),
            passed: 1,
            value: 0.9903,
            threshold: 0.95,
            message: "1023 of 1033".into(),
        },
    )
    .await;
    check_round_trip(
        &store,
        BackfillCheckpointRow {
            backfill_id: "b".into(),
            chunk_from: date(),
            chunk_to: date(),
            finished_at: time(),
            files_loaded: 10,
            feature_rows: 20,
            validation_passed: 1,
        },
    )
    .await;
    check_round_trip(
        &store,
        ModelRegistryRow {
            version: "20240301T123045000Z-abcdef12".into(),
            event: "promoted".into(),
            event_at: time(),
            event_at_us: 1_709_296_245_123_456,
            created_at: time(),
            source_commit: "d50dcd3".into(),
            feature_version: 1,
            contract_hash: "h".into(),
            objective: "absolute_error".into(),
            train_rows: 500_000,
            test_scored_rows: 16_160,
            test_mae: 4.87,
            best_baseline: "old_rule".into(),
            best_baseline_mae: 5.01,
            model_sha256: "00ff".into(),
            message: "gate passed".into(),
            manifest: "{\"version\":\"x\"}".into(),
        },
    )
    .await;
    check_round_trip(
        &store,
        PredictionRow {
            predicted_at: time(),
            method: "Predict".into(),
            model_version: "v1".into(),
            feature_version: 1,
            player_id: "doncilu01".into(),
            game_date: date(),
            team: "DAL".into(),
            opponent: "BOS".into(),
            is_home: 0,
            predicted_pts: 31.5,
            p10: 22.0,
            p90: 41.25,
            line: Some(30.5),
            p_over: None,
            call: "OVER".into(),
            features: vec![1.0, f32::MAX, -0.5],
            source: PredictionRow::SLATE.into(),
            run: "morning".into(),
            run_at: time(),
            availability_source: "injury_report".into(),
            opponent_availability_source: "unknown".into(),
            lineup_source: "unknown".into(),
            opponent_lineup_source: "official".into(),
            asked: 3,
            line_source: PredictionRow::LINE_CONSENSUS.into(),
            line_time: Some(time()),
            over_price: Some(1.909),
            under_price: Some(1.87),
        },
    )
    .await;
    check_round_trip(
        &store,
        PredictionGradeRow { game_date: date(), model_version: "v1".into(), predictions: 300, graded: 280, mae: 4.9, rmse: 6.3, bias: -0.2, graded_at: time() },
    )
    .await;
    check_round_trip(
        &store,
        GradedPredictionRow {
            game_date: date(),
            player_id: "doncilu01".into(),
            model_version: "v1".into(),
            source: PredictionRow::SLATE.into(),
            run: "pretip".into(),
            predicted_at: time(),
            run_at: time(),
            team: "DAL".into(),
            availability_source: "official".into(),
            lineup_source: "official".into(),
            predicted: 31.5,
            p10: 22.0,
            p90: 41.25,
            actual: 35,
            error: -3.5,
            abs_error: 3.5,
            within_3: 0,
            within_5: 1,
            in_interval: 1,
            line: Some(30.5),
            p_over: Some(0.56),
            call: "OVER".into(),
            outcome: GradedPredictionRow::HIT.into(),
            edge: Some(1.0),
            edge_bucket: "0-1.5".into(),
            graded_at: time(),
            line_source: "draftkings".into(),
            price: Some(1.909),
            profit: Some(0.909),
            closing_line: Some(31.5),
            clv: Some(1.0),
            line_abs_error: Some(4.5),
        },
    )
    .await;
    check_round_trip(
        &store,
        GradeSummaryRow {
            game_date: date(),
            model_version: "v1".into(),
            source: PredictionRow::REQUEST.into(),
            run: String::new(),
            edge_bucket: GradeSummaryRow::ALL.into(),
            predictions: 310,
            not_played: 12,
            graded: 290,
            mae: 4.8,
            rmse: 6.2,
            bias: 0.3,
            within_3: 0.41,
            within_5: 0.62,
            coverage: 0.79,
            calls: 80,
            passes: 150,
            over_calls: 50,
            over_hits: 27,
            over_pushes: 1,
            under_calls: 30,
            under_hits: 16,
            under_pushes: 0,
            graded_at: time(),
            lined: 120,
            lined_mae: 4.6,
            line_mae: 4.55,
            priced_calls: 79,
            profit: -2.75,
            roi: -0.0348,
            clv_calls: 60,
            clv_mean: 0.21,
            clv_toward: 31,
            clv_away: 18,
        },
    )
    .await;
    check_round_trip(
        &store,
        PropLineRow {
            snapshot_time: time(),
            game_date: date(),
            game_id: "202310270BOS".into(),
            book: "draftkings".into(),
            player_id: "tatumja01".into(),
            player_name: "Jayson Tatum".into(),
            team: "BOS".into(),
            line: 27.5,
            over_price: 1.87,
            under_price: 1.95,
            tipoff: time(),
            source_file: "lines/2023-10-27.json".into(),
            version: 3,
        },
    )
    .await;
    check_round_trip(
        &store,
        InjuryReportRow {
            report_time: time(),
            game_date: date(),
            team: "BRK".into(),
            player_id: "claxtni01".into(),
            player_name: "Nic Claxton".into(),
            status: "Doubtful".into(),
            reason: "Injury/Illness - Left Ankle; Sprain".into(),
            source_file: "injuries/2024-02-29.csv".into(),
            version: 7,
        },
    )
    .await;
    // NaN (an undefined rate) survives the round trip as NaN.
    let row = PlayerFeaturesRow {
        game_id: "nan".into(),
        game_date: date(),
        season: 2024,
        season_type: "Regular Season".into(),
        team: "BOS".into(),
        opponent: "DAL".into(),
        is_home: 1,
        player_id: "p".into(),
        feature_version: 1,
        contract_hash: "abc".into(),
        features: vec![f32::NAN, 2.0],
        status: "Played".into(),
        target_pts: 9,
        target_minutes: 20.0,
        version: 4,
    };
    store.insert(&[row]).await.unwrap();
    let back: Vec<PlayerFeaturesRow> = store.client().query("SELECT ?fields FROM player_features WHERE game_id = 'nan'").fetch_all().await.unwrap();
    assert!(back[0].features[0].is_nan() && back[0].features[1] == 2.0);
}

#[tokio::test]
async fn migrate_is_idempotent_and_versioned() {
    let store = fresh_store("migrate").await;
    assert_eq!(store.schema_version().await.unwrap(), Some(nba_store::SCHEMA_VERSION));
    // Second and third runs apply nothing and leave one row per version.
    assert!(store.migrate().await.unwrap().is_empty());
    assert!(store.migrate().await.unwrap().is_empty());
    let n: u64 = store.client().query("SELECT count() FROM schema_migrations").fetch_one().await.unwrap();
    assert_eq!(n, u64::from(nba_store::SCHEMA_VERSION), "one row per migration");
    for t in schema::RAW_TABLES.iter().chain(schema::ANALYTICS_TABLES) {
        assert_eq!(store.count(t).await.unwrap(), 0, "{}", t.name);
    }
}

/// A database made before migration 8 (`predictions` without the columns of migrations 8,
/// 10 and 11, and with two logged rows): migrating adds the columns in the declared order,
/// keeps the rows, reads them as a client's requests answered once at their own time, a
/// line as given in the request, and a rerun adds nothing.
#[tokio::test]
async fn migration_8_adds_the_prediction_columns_to_an_old_table() {
    let store = fresh_store("migrate8").await;
    let db = store.database().to_string();
    let old: Vec<String> = schema::PREDICTIONS.columns[..schema::PREDICTIONS.columns.len() - 12].iter().map(|(n, t)| format!("`{n}` {t}")).collect();
    for sql in [
        "DROP TABLE predictions".to_string(),
        format!("CREATE TABLE `{db}`.predictions ({}) {}", old.join(", "), schema::PREDICTIONS.engine),
        "ALTER TABLE schema_migrations DELETE WHERE version IN (8, 10, 11)".to_string(),
        "INSERT INTO predictions (predicted_at, method, model_version, player_id, game_date, predicted_pts, line) \
         VALUES ('2024-03-20 15:00:00', 'Predict', 'v1', 'doncilu01', '2024-03-20', 30.5, NULL), \
                ('2024-03-20 15:01:00', 'Predict', 'v1', 'doncilu01', '2024-03-20', 30.5, 28.5)"
            .to_string(),
    ] {
        store.client().query(&sql).execute().await.unwrap();
    }
    // The mutation of schema_migrations is asynchronous: wait until 8 is gone.
    for _ in 0..100 {
        let n: u64 = store.client().query("SELECT count() FROM schema_migrations WHERE version IN (8, 10, 11)").fetch_one().await.unwrap();
        if n == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(store.migrate().await.unwrap(), vec![8, 10, 11]);
    assert_eq!(
        describe(&store, &schema::PREDICTIONS).await,
        schema::PREDICTIONS.columns.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect::<Vec<_>>()
    );
    let rows: Vec<PredictionRow> = store.client().query("SELECT ?fields FROM predictions ORDER BY predicted_at").fetch_all().await.unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!((r.source.as_str(), r.run.as_str(), r.run_at, r.asked), (PredictionRow::REQUEST, "", r.predicted_at, 1));
        assert_eq!((r.predicted_pts, r.line_time, r.over_price, r.under_price), (30.5, None, None, None));
    }
    assert_eq!((rows[0].line, rows[0].line_source.as_str()), (None, ""), "no line, no source");
    assert_eq!((rows[1].line, rows[1].line_source.as_str()), (Some(28.5), PredictionRow::LINE_REQUEST), "a line logged before 11 was given in the request");
    assert!(store.migrate().await.unwrap().is_empty());
    assert_eq!(describe(&store, &schema::PREDICTIONS).await.len(), schema::PREDICTIONS.columns.len());
}

#[tokio::test]
async fn schema_version_is_none_for_a_missing_database() {
    let db = nba_testkit::unique_database("none");
    let store = Store::new(StoreConfig::new(nba_testkit::clickhouse_url(), db)).unwrap();
    store.drop_database().await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), None);
}

#[tokio::test]
async fn unreachable_server_fails_clearly_after_bounded_retries() {
    let mut config = StoreConfig::new("http://127.0.0.1:9", "nba");
    config.attempts = 3;
    config.backoff = std::time::Duration::from_millis(10);
    let store = Store::new(config).unwrap();
    let err = store.ping().await.unwrap_err().to_string();
    assert!(err.contains("http://127.0.0.1:9") && err.contains("3 attempt"), "{err}");
    let chain = anyhow_like(&store.ping().await.unwrap_err());
    assert!(chain.contains("onnect"), "the cause is kept as the source: {chain}");
}

#[test]
fn database_names_are_checked() {
    assert!(Store::new(StoreConfig::new("http://x", "nba; DROP")).is_err());
    assert!(Store::new(StoreConfig::new("http://x", "")).is_err());
    assert!(Store::new(StoreConfig::new("http://x", "nba_test_1")).is_ok());
}

#[tokio::test]
async fn delete_where_removes_only_matching_rows_and_waits() {
    let store = fresh_store("delete").await;
    let row = |id: &str| InactiveRow {
        game_id: id.into(),
        game_date: date(),
        season: 2024,
        team: "BOS".into(),
        opponent: "DAL".into(),
        player_id: "p".into(),
        player_name: "P".into(),
        version: 1,
    };
    store.insert(&[row("a"), row("b"), row("c")]).await.unwrap();
    store.delete_where(&schema::GAME_INACTIVES, "game_id", &["a".into(), "c".into()]).await.unwrap();
    // The mutation has finished when delete_where returns.
    let left: Vec<String> = store.client().query("SELECT game_id FROM game_inactives").fetch_all().await.unwrap();
    assert_eq!(left, vec!["b".to_string()]);
    let found = store.games_with_rows(&["a".into(), "b".into()]).await.unwrap();
    assert_eq!(found.into_iter().collect::<Vec<_>>(), vec!["b".to_string()]);
}

/// The error and its sources, as anyhow's `{:#}` prints them.
fn anyhow_like(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}
