//! A whole game day through the slate run, on the sample: "today" is 2023-10-27 (the
//! clock is the run's `--as-of`). The pages up to 10-26 are loaded; the 10-27 injury
//! report (filed 17:30 ET) is loaded; the morning run (10:00 ET) knows nothing; the
//! pre-tip run (19:00 ET) sees the report and the announced lineups (the 10-27 box
//! scores' starters, as a lineups feed would send them); a rerun writes nothing; a
//! `Predict` with the same information gives the same numbers; then 10-27's pages are
//! loaded and the slate graded against points read independently.

use crate::util::*;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use nba_api::proto::predict::{InfoSource, PlayerList};
use nba_features::Given;
use nba_ingest::load::LoadOptions;
use nba_server::slate_run::SlateRunSummary;
use nba_store::Store;
use nba_store::rows::PredictionRow;
use std::collections::{HashMap, HashSet};
use std::path::Path;

const DAY: &str = "2023-10-27";

fn day() -> NaiveDate {
    DAY.parse().unwrap()
}

async fn slate(store: &Store, registry: &Path, run: &str, as_of: DateTime<Utc>, lineups: Option<&Path>) -> SlateRunSummary {
    run_slate(store, registry, DAY, run, as_of, lineups).await
}

async fn stored(store: &Store, run: &str) -> Vec<PredictionRow> {
    let sql = "SELECT ?fields FROM predictions WHERE game_date = toDate(?) AND source = 'slate' AND run = ? ORDER BY player_id";
    store.client().query(sql).bind(DAY).bind(run).fetch_all().await.unwrap()
}

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct Starter {
    team: String,
    player_id: String,
    player_name: String,
}

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct Game {
    home_team: String,
    away_team: String,
}

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct Points {
    player_id: String,
    pts: u16,
}

/// Teams of `DAY`'s injury report, read from the fixture itself (any spelling).
fn reported_teams() -> HashSet<String> {
    let text = std::fs::read_to_string(nba_testkit::workspace_root().join("tests/fixtures/injuries/2023-10-27.csv")).unwrap();
    text.lines().skip(1).filter_map(|l| l.split(',').nth(2)).map(|t| nba_names::canonical_team(t).unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_game_day_from_morning_slate_to_graded_calls() {
    let store = sample_database("slate_day", Some(day().pred_opt().unwrap())).await;
    let (_dir, registry) = registry_copy().await;
    let games: Vec<Game> =
        store.client().query("SELECT home_team, away_team FROM games FINAL WHERE game_date = toDate(?)").bind(DAY).fetch_all().await.unwrap();
    assert!(games.len() >= 5, "the sample's schedule has {DAY}'s games: {games:?}");
    let inj = nba_ingest::injuries::load(&store, &[nba_testkit::workspace_root().join("tests/fixtures/injuries/2023-10-27.csv")]).await.unwrap();
    // Three Charlotte players have no box score before 10-27, so no registry entry: they are
    // set aside (with the reason), the other 37 entries kept.
    assert_eq!((inj.rows_written, inj.rejected.len()), (37, 3), "{}", inj.render());
    assert!(inj.rejected.iter().all(|r| r.reason.contains("no known player")), "{}", inj.render());

    // Morning, 10:00 ET: no list is stored and the report is not filed yet.
    let morning = slate(&store, registry.root(), "morning", Utc.with_ymd_and_hms(2023, 10, 27, 14, 0, 0).unwrap(), None).await;
    assert!(morning.clean(), "{}", morning.render());
    assert_eq!((morning.games, morning.written, morning.already_stored), (games.len(), morning.players, 0));
    let rows = stored(&store, "morning").await;
    assert_eq!(rows.len(), morning.players);
    let playing: HashSet<String> = games.iter().flat_map(|g| [g.home_team.clone(), g.away_team.clone()]).collect();
    let lists = nba_features::indices_given(Given::InactiveLists);
    for r in &rows {
        assert!(playing.contains(&r.team), "{} plays for {} on {DAY}?", r.player_id, r.team);
        assert_eq!((r.availability_source.as_str(), r.lineup_source.as_str(), r.method.as_str()), ("unknown", "unknown", "Slate"), "{r:?}");
        assert_eq!(r.run_at, Utc.with_ymd_and_hms(2023, 10, 27, 14, 0, 0).unwrap());
        assert!(lists.iter().all(|&i| r.features[i].is_nan()), "{}: an unknown list is missing features, not 'nobody out'", r.player_id);
        assert!(r.p10 <= r.predicted_pts && r.predicted_pts <= r.p90);
    }
    // The same run again: nothing written twice.
    let again = slate(&store, registry.root(), "morning", Utc.with_ymd_and_hms(2023, 10, 27, 15, 0, 0).unwrap(), None).await;
    assert_eq!((again.written, again.already_stored), (0, morning.players));
    assert_eq!(stored(&store, "morning").await.len(), rows.len());

    // Lineups announced: the 10-27 box scores' starters, by name, from the whole sample.
    let full = sample_store().await;
    let starters: Vec<Starter> = full
        .client()
        .query("SELECT team, player_id, player_name FROM player_boxscores FINAL WHERE game_date = toDate(?) AND starter = 1 ORDER BY team, player_name")
        .bind(DAY)
        .fetch_all()
        .await
        .unwrap();
    let (mut teams, mut ids): (HashMap<String, Vec<String>>, HashMap<String, Vec<String>>) = Default::default();
    for s in starters {
        teams.entry(s.team.clone()).or_default().push(s.player_name);
        ids.entry(s.team).or_default().push(s.player_id);
    }
    assert_eq!(teams.len(), playing.len());
    let mut file = serde_json::json!({ "game_date": DAY, "teams": teams });
    file["teams"]["Seattle SuperSonics"] = serde_json::json!(["a", "b", "c", "d", "e"]);
    let dir = tempfile::tempdir().unwrap();
    let lineups = dir.path().join("lineups.json");
    std::fs::write(&lineups, serde_json::to_vec(&file).unwrap()).unwrap();

    // Pre-tip, 19:00 ET: the report is filed; lineups are given.
    let pretip = slate(&store, registry.root(), "pretip", Utc.with_ymd_and_hms(2023, 10, 27, 23, 0, 0).unwrap(), Some(&lineups)).await;
    // A lineup naming a player never seen here (no earlier box score, not on an earlier
    // inactive list: the sample lacks some teams' first games) cannot be resolved: those
    // teams are set aside, as is the made-up team; the rest is used.
    let sql = "SELECT DISTINCT player_id FROM player_boxscores FINAL WHERE game_date < toDate(?) \
               UNION ALL SELECT DISTINCT player_id FROM game_inactives FINAL WHERE game_date < toDate(?)";
    let seen: Vec<String> = store.client().query(sql).bind(DAY).bind(DAY).fetch_all().await.unwrap();
    let seen: HashSet<String> = seen.into_iter().collect();
    let unresolvable: HashSet<&str> = ids.iter().filter(|(_, v)| v.iter().any(|id| !seen.contains(id))).map(|(t, _)| t.as_str()).collect();
    assert_eq!(pretip.rejected_lineups.len(), unresolvable.len() + 1, "{unresolvable:?}\n{}", pretip.render());
    assert!(pretip.rejected_lineups.iter().any(|m| m.contains("Seattle SuperSonics") && m.contains("not a team playing")), "{}", pretip.render());
    for t in &unresolvable {
        assert!(pretip.rejected_lineups.iter().any(|m| m.contains(&format!("team {t:?}")) && m.contains("matches no player")), "{t}: {}", pretip.render());
    }
    assert!(pretip.failed.is_empty() && !pretip.clean());
    assert_eq!((pretip.written, pretip.players), (morning.players, morning.players));
    let pre = stored(&store, "pretip").await;
    let reported = reported_teams();
    let lineup_source = |t: &str| if unresolvable.contains(t) { "unknown" } else { "request" };
    for r in &pre {
        let expected = if reported.contains(&r.team) { "injury_report" } else { "unknown" };
        assert_eq!(
            (r.availability_source.as_str(), r.lineup_source.as_str(), r.opponent_lineup_source.as_str()),
            (expected, lineup_source(&r.team), lineup_source(&r.opponent)),
            "{r:?}"
        );
    }
    assert!(pre.iter().any(|r| r.availability_source == "injury_report") && pre.iter().any(|r| r.availability_source == "unknown"));

    // The same question through Predict (the server's clock is later than the report), the
    // lineups given by id: the same numbers, to the bit of the stored f32 (so the run also
    // resolved every starter's name to the right player).
    let server = TestServer::on(&store, &["--prediction-log", "false"]).await;
    let mut client = server.client().await;
    let both_given = |r: &&PredictionRow| r.lineup_source == "request" && r.opponent_lineup_source == "request";
    for r in pre.iter().filter(|r| r.availability_source == "injury_report").filter(both_given).take(6) {
        let lineup = |t: &str| Some(PlayerList { player_ids: ids[t].clone() });
        let mut req = request(&r.player_id, DAY, &r.opponent, r.is_home == 1);
        req.team = Some(r.team.clone());
        req.team_starters = lineup(&r.team);
        req.opponent_starters = lineup(&r.opponent);
        let a = client.predict(req).await.unwrap().into_inner();
        assert_eq!((a.predicted_points as f32, a.p10 as f32, a.p90 as f32), (r.predicted_pts, r.p10, r.p90), "{}", r.player_id);
        assert_eq!(a.availability_source(), InfoSource::InjuryReport);
        assert_eq!(a.model_version, r.model_version);
    }
    drop(server);

    // The game is played: its pages are loaded and built, and the slate is graded.
    let opts =
        LoadOptions { paths: vec![nba_testkit::sample_archive()], batch_pages: 200, workers: 2, dry_run: false, progress: false, dates: Some((day(), day())) };
    let s = nba_ingest::load::load(Some(&store), &opts).await.unwrap();
    assert!(s.rejected.is_empty());
    nba_ingest::build::build(&store, &Default::default()).await.unwrap();
    let points: Vec<Points> = full
        .client()
        .query("SELECT player_id, toUInt16(pts) AS pts FROM player_game_summary FINAL WHERE game_date = toDate(?) AND status = 'Played'")
        .bind(DAY)
        .fetch_all()
        .await
        .unwrap();
    let points: HashMap<&str, f64> = points.iter().map(|p| (p.player_id.as_str(), f64::from(p.pts))).collect();
    let graded: Vec<(f64, &PredictionRow)> = pre.iter().filter_map(|r| points.get(r.player_id.as_str()).map(|&p| (p, r))).collect();
    assert!(graded.len() > pre.len() / 2, "most of the slate played");
    let grades = nba_ingest::grade::grade(&store, day(), day()).await.unwrap();
    check_grades(&grades, &graded, &rows, pre.len());
    // Grading again replaces, never adds.
    nba_ingest::grade::grade(&store, day(), day()).await.unwrap();
    let n: u64 = store
        .client()
        .query("SELECT count() FROM graded_predictions FINAL WHERE game_date = toDate(?) AND source = 'slate'")
        .bind(DAY)
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(n as usize, 2 * graded.len());
}

/// Each slate run's grade equals the figures computed here from the whole sample's
/// points: the pre-tip run's MAE, coverage and counts, and the morning run graded apart.
fn check_grades(grades: &nba_ingest::grade::Grades, slate: &[(f64, &PredictionRow)], morning: &[PredictionRow], pretip_rows: usize) {
    let summary = |run: &str| {
        grades
            .summaries
            .iter()
            .find(|g| g.source == "slate" && g.run == run && g.edge_bucket == nba_store::rows::GradeSummaryRow::ALL)
            .unwrap_or_else(|| panic!("no summary of the {run} run: {:?}", grades.summaries))
    };
    let n = slate.len() as f64;
    let mae = slate.iter().map(|(p, r)| (f64::from(r.predicted_pts) - p).abs()).sum::<f64>() / n;
    let bias = slate.iter().map(|(p, r)| f64::from(r.predicted_pts) - p).sum::<f64>() / n;
    let covered = slate.iter().filter(|(p, r)| f64::from(r.p10) <= *p && *p <= f64::from(r.p90)).count() as f64 / n;
    let within_5 = slate.iter().filter(|(p, r)| (f64::from(r.predicted_pts) - p).abs() <= 5.0).count() as f64 / n;
    let g = summary("pretip");
    assert_eq!((g.predictions as usize, g.graded as usize, g.not_played as usize), (pretip_rows, slate.len(), pretip_rows - slate.len()));
    for (what, got, want) in [("MAE", g.mae, mae), ("bias", g.bias, bias), ("coverage", g.coverage, covered), ("within 5", g.within_5, within_5)] {
        assert!((got - want).abs() < 1e-4, "pre-tip {what}: graded {got}, by hand {want}");
    }
    // No line was given, so no call was made.
    assert_eq!((g.calls, g.over_calls, g.under_calls), (0, 0, 0));
    let m = summary("morning");
    assert_eq!((m.predictions as usize, m.graded as usize), (morning.len(), slate.len()));
    let graded_slate = grades.graded.iter().filter(|r| r.source == "slate").count();
    assert_eq!(graded_slate, 2 * slate.len(), "every played player graded once per run");
}
