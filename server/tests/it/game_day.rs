//! Game-day information against the sample (every game of 2023-10-24 to 2023-10-31):
//! each answer names where each team's inactive list and lineup came from; a list not
//! known is missing features, never "nobody out"; an injury report fills in for a game not
//! stored yet; the same game predicted four ways; teams in any spelling.

use crate::util::*;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use nba_api::proto::predict::prediction_service_client::PredictionServiceClient;
use nba_api::proto::predict::{ExplainResponse, InfoSource, PlayerList, PredictRequest, PredictResponse};
use nba_features::Given;
use nba_store::Store;
use nba_store::rows::InjuryReportRow;
use std::collections::HashMap;
use tonic::Code;
use tonic::transport::Channel;

#[derive(Debug, Clone, clickhouse::Row, serde::Deserialize)]
struct FeatureRow {
    player_id: String,
    team: String,
    opponent: String,
    is_home: u8,
    features: Vec<f32>,
}

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct TeamPlayer {
    team: String,
    player_id: String,
}

/// The builder's rows of `date` for players with an earlier game, best scorers first.
async fn rows_of(store: &Store, date: &str) -> Vec<FeatureRow> {
    let sql = "SELECT f.player_id AS player_id, f.team AS team, f.opponent AS opponent, f.is_home AS is_home, f.features AS features \
               FROM (SELECT * FROM player_features FINAL WHERE game_date = toDate(?)) AS f \
               INNER JOIN (SELECT player_id, sum(pts) AS before FROM player_game_summary FINAL WHERE game_date < toDate(?) GROUP BY player_id) AS b \
               USING player_id ORDER BY b.before DESC, f.player_id";
    store.client().query(sql).bind(date).bind(date).fetch_all().await.unwrap()
}

/// (team, player) pairs of a query's answer, grouped by team.
async fn by_team(store: &Store, sql: &str, date: &str) -> HashMap<String, Vec<String>> {
    let rows: Vec<TeamPlayer> = store.client().query(sql).bind(date).fetch_all().await.unwrap();
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for r in rows {
        out.entry(r.team).or_default().push(r.player_id);
    }
    out
}

/// The official inactive lists of `date` by team (a team without rows had nobody).
async fn official_inactive(store: &Store, date: &str) -> HashMap<String, Vec<String>> {
    by_team(store, "SELECT team, player_id FROM game_inactives FINAL WHERE game_date = toDate(?) ORDER BY team, player_id", date).await
}

/// The box score's starters of `date` by team.
async fn official_starters(store: &Store, date: &str) -> HashMap<String, Vec<String>> {
    by_team(store, "SELECT team, player_id FROM player_game_summary FINAL WHERE game_date = toDate(?) AND starter = 1 ORDER BY team, player_id", date).await
}

/// A team's best scorers before `date` other than `except` (who played on `date` when it
/// is a game day of the team), best first.
async fn teammates(store: &Store, team: &str, date: &str, except: &str) -> Vec<String> {
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct P {
        player_id: String,
    }
    let sql = "SELECT player_id FROM player_game_summary FINAL WHERE team = ? AND game_date < toDate(?) AND player_id != ? AND status = 'Played' \
               AND player_id NOT IN (SELECT player_id FROM game_inactives FINAL WHERE game_date = toDate(?)) \
               GROUP BY player_id ORDER BY sum(pts) DESC, player_id LIMIT 3";
    let ps: Vec<P> = store.client().query(sql).bind(team).bind(date).bind(except).bind(date).fetch_all().await.unwrap();
    ps.into_iter().map(|p| p.player_id).collect()
}

fn list(ids: &[String]) -> Option<PlayerList> {
    Some(PlayerList { player_ids: ids.to_vec() })
}

fn request_for(row: &FeatureRow, date: &str) -> PredictRequest {
    PredictRequest { team: Some(row.team.clone()), ..request(&row.player_id, date, &row.opponent, row.is_home == 1) }
}

async fn explain(client: &mut PredictionServiceClient<Channel>, req: PredictRequest) -> (PredictResponse, ExplainResponse) {
    let ex = client.explain(req.clone()).await.unwrap_or_else(|s| panic!("{req:?}: {s:?}")).into_inner();
    (ex.prediction.clone().unwrap(), ex)
}

fn sources(p: &PredictResponse) -> [InfoSource; 4] {
    [p.availability_source(), p.opponent_availability_source(), p.lineup_source(), p.opponent_lineup_source()]
}

fn values(ex: &ExplainResponse) -> Vec<f32> {
    ex.features.iter().map(|f| f.value).collect()
}

fn value(ex: &ExplainResponse, name: &str) -> f32 {
    ex.features[nba_features::contract::index_of(name).unwrap()].value
}

/// `row` with the features that read `given` missing, as served while it is unknown.
fn without(row: &[f32], given: &[Given]) -> Vec<f32> {
    let mut v = row.to_vec();
    for i in given.iter().flat_map(|g| nba_features::indices_given(*g)) {
        v[i] = f32::NAN;
    }
    v
}

fn assert_bits(what: &str, served: &[f32], expected: &[f32]) {
    assert_eq!(served.len(), expected.len(), "{what}");
    let names = nba_features::feature_names();
    for (i, (a, b)) in served.iter().zip(expected).enumerate() {
        assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "{what}: feature {i} ({}): server {a}, expected {b}", names[i]);
    }
}

fn report(time: DateTime<Utc>, date: NaiveDate, team: &str, player: &str, status: &str) -> InjuryReportRow {
    InjuryReportRow {
        report_time: time,
        game_date: date,
        team: team.into(),
        player_id: player.into(),
        player_name: player.into(),
        status: status.into(),
        reason: String::new(),
        source_file: "server-tests".into(),
        version: 1,
    }
}

/// One team's report: each player Out, or the "nobody" row when the list is empty.
fn report_out(time: DateTime<Utc>, date: NaiveDate, team: &str, out: &[String]) -> Vec<InjuryReportRow> {
    if out.is_empty() {
        return vec![report(time, date, team, "", "None")];
    }
    out.iter().map(|p| report(time, date, team, p, "Out")).collect()
}

/// Inserts report rows and makes the server read them now.
async fn file_reports(store: &Store, server: &TestServer, rows: &[InjuryReportRow]) {
    store.insert(rows).await.unwrap();
    let (code, body) = server.reload().await;
    assert_eq!((code, &body["features_refresh"]["result"]), (200, &serde_json::json!("reloaded")), "{body}");
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().with_timezone(&Utc)
}

fn report_time(p: &PredictResponse) -> Option<DateTime<Utc>> {
    p.injury_report_time.as_deref().map(at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_games_are_official_and_equal_the_builders_rows_with_or_without_lineups() {
    let store = sample_store().await;
    let server = TestServer::on(store, &[]).await;
    let mut client = server.client().await;
    let mut checked = 0;
    for date in ["2023-10-27", "2023-10-31"] {
        let inactive = official_inactive(store, date).await;
        let rows = rows_of(store, date).await;
        assert!(rows.len() > 40, "{date}: {} rows", rows.len());
        for row in rows {
            let what = format!("{} {date}", row.player_id);
            let (p, ex) = explain(&mut client, request_for(&row, date)).await;
            assert_bits(&what, &values(&ex), &row.features);
            assert_eq!(sources(&p), [InfoSource::Official; 4], "{what}");
            assert_eq!(p.injury_report_time, None);
            // The morning view: official lists given, lineups not announced yet.
            let mut morning = request_for(&row, date);
            morning.ignore_stored = true;
            morning.team_inactive = list(inactive.get(&row.team).map_or(&[][..], Vec::as_slice));
            morning.opponent_inactive = list(inactive.get(&row.opponent).map_or(&[][..], Vec::as_slice));
            let (p, ex) = explain(&mut client, morning).await;
            assert_bits(&format!("{what} without lineups"), &values(&ex), &without(&row.features, &[Given::Lineups]));
            assert_eq!(sources(&p), [InfoSource::Request, InfoSource::Request, InfoSource::Unknown, InfoSource::Unknown], "{what}");
            assert!(value(&ex, "starts_tonight").is_nan());
            let starts = row.features[nba_features::contract::index_of("starts_tonight").unwrap()];
            assert!(starts == 0.0 || starts == 1.0, "{what}: the builder's row knows the lineup ({starts})");
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_game_is_unknown_until_an_injury_report_says_who_is_out() {
    let store = sample_database("server_future", None).await;
    let last = "2023-10-31";
    let row = rows_of(&store, last).await.into_iter().next().unwrap();
    let mates = teammates(&store, &row.team, "2023-11-05", &row.player_id).await;
    let (date, day) = ("2023-11-05", NaiveDate::from_ymd_opt(2023, 11, 5).unwrap());
    let server = TestServer::on(&store, &[]).await;
    let mut client = server.client().await;
    let future = request_for(&row, date);

    // Nothing known: every request-time feature missing, the rest computed.
    let (p, ex) = explain(&mut client, future.clone()).await;
    assert_eq!(sources(&p), [InfoSource::Unknown; 4]);
    assert_eq!(p.injury_report_time, None);
    for (i, f) in nba_features::features().iter().enumerate() {
        if f.timing.is_request_time() {
            assert!(ex.features[i].value.is_nan(), "{} is {} with nothing known", f.name, ex.features[i].value);
        }
    }
    assert!(value(&ex, "pts_avg_10").is_finite());
    // What the vector is with a list given, to compare each report with.
    let given_client = client.clone();
    let given = |team_out: &[String]| {
        let mut c = given_client.clone();
        let req = PredictRequest { team_inactive: list(team_out), opponent_inactive: list(&[]), ..future.clone() };
        async move { explain(&mut c, req).await.1 }
    };

    // An afternoon report: his best teammate Out; the opponent reported with nobody.
    let afternoon = Utc.with_ymd_and_hms(2023, 11, 5, 20, 0, 0).unwrap();
    let mut rows = report_out(afternoon, day, &row.team, &mates[..1]);
    rows.extend(report_out(afternoon, day, &row.opponent, &[]));
    file_reports(&store, &server, &rows).await;
    let (p, ex) = explain(&mut client, future.clone()).await;
    assert_eq!(sources(&p), [InfoSource::InjuryReport, InfoSource::InjuryReport, InfoSource::Unknown, InfoSource::Unknown]);
    assert_eq!(report_time(&p), Some(afternoon));
    assert!(value(&ex, "team_out_pts_share") > 0.0 && value(&ex, "opp_out_pts_share") == 0.0, "{}", value(&ex, "team_out_pts_share"));
    assert_bits("afternoon report", &values(&ex), &values(&given(&mates[..1]).await));

    // The evening report replaces it: he is Questionable now, the next teammate Doubtful;
    // a report filed tomorrow (after "now") is not seen yet.
    let evening = afternoon + chrono::Duration::hours(3);
    let tomorrow = Utc::now() + chrono::Duration::days(1);
    file_reports(
        &store,
        &server,
        &[
            report(evening, day, &row.team, &mates[0], "Questionable"),
            report(evening, day, &row.team, &mates[1], "Doubtful"),
            report(tomorrow, day, &row.team, &mates[2], "Out"),
        ],
    )
    .await;
    let (p, ex) = explain(&mut client, future.clone()).await;
    assert_eq!((p.availability_source(), report_time(&p)), (InfoSource::InjuryReport, Some(evening)));
    assert_eq!(p.opponent_availability_source(), InfoSource::InjuryReport, "the opponent's earlier report still stands");
    assert_bits("evening report", &values(&ex), &values(&given(&mates[1..2]).await));

    // With --doubtful-plays the Doubtful teammate plays: nobody is out.
    let plays = TestServer::on(&store, &["--doubtful-plays"]).await;
    let (p, ex) = explain(&mut plays.client().await, future.clone()).await;
    assert_eq!((p.availability_source(), report_time(&p)), (InfoSource::InjuryReport, Some(evening)));
    assert_eq!(value(&ex, "team_out_pts_share"), 0.0);
    assert_bits("evening report, doubtful plays", &values(&ex), &values(&given(&[]).await));
    plays.stop().await.unwrap();
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_past_game_four_ways_names_each_source() {
    let (date, day) = ("2023-10-27", NaiveDate::from_ymd_opt(2023, 10, 27).unwrap());
    let full = sample_store().await;
    // The same league with the pages up to the day before: the game is scheduled, not stored.
    let before = sample_database("server_before_game", day.pred_opt()).await;
    let inactive = official_inactive(full, date).await;
    let starters = official_starters(full, date).await;
    let of = |m: &HashMap<String, Vec<String>>, team: &str| m.get(team).cloned().unwrap_or_default();
    // The best scorer of the day whose team had somebody on the official list.
    let row = rows_of(full, date).await.into_iter().find(|r| !of(&inactive, &r.team).is_empty()).unwrap();
    let doubtful = teammates(full, &row.team, date, &row.player_id).await.remove(0);
    let (team_out, opp_out) = (of(&inactive, &row.team), of(&inactive, &row.opponent));

    // Reported before the game: the official lists Out, and a teammate who played Doubtful.
    let filed = Utc.with_ymd_and_hms(2023, 10, 27, 21, 30, 0).unwrap();
    let mut reports = report_out(filed, day, &row.team, &team_out);
    reports.extend(report_out(filed, day, &row.opponent, &opp_out));
    reports.push(report(filed, day, &row.team, &doubtful, "Doubtful"));
    before.insert(&reports).await.unwrap();

    let official = TestServer::on(full, &[]).await;
    let plays = TestServer::on(&before, &["--doubtful-plays"]).await;
    let strict = TestServer::on(&before, &[]).await;
    let req = request_for(&row, date);

    // 1. Official: the stored game, bit for bit the builder's row.
    let (p, ex) = explain(&mut official.client().await, req.clone()).await;
    assert_eq!(sources(&p), [InfoSource::Official; 4]);
    assert_bits("official", &values(&ex), &row.features);

    // 2. Injury report: the game is not stored; the report's lists are the official ones
    // (Doubtful plays), so only the lineups are missing.
    let mut client = plays.client().await;
    let (p, ex) = explain(&mut client, req.clone()).await;
    assert_eq!(sources(&p), [InfoSource::InjuryReport, InfoSource::InjuryReport, InfoSource::Unknown, InfoSource::Unknown]);
    assert_eq!(report_time(&p), Some(filed));
    assert_bits("injury report", &values(&ex), &without(&row.features, &[Given::Lineups]));
    let (p, strict_ex) = explain(&mut strict.client().await, req.clone()).await;
    assert_eq!(p.availability_source(), InfoSource::InjuryReport);
    assert!(value(&strict_ex, "team_out_pts_share") > value(&ex, "team_out_pts_share"), "the Doubtful teammate counts as out by default");

    // 3. Unknown: stored lists and reports ignored.
    let (p, ex) = explain(&mut client, PredictRequest { ignore_stored: true, ..req.clone() }).await;
    assert_eq!(sources(&p), [InfoSource::Unknown; 4]);
    assert_eq!(p.injury_report_time, None);
    assert_bits("unknown", &values(&ex), &without(&row.features, &[Given::Lineups, Given::InactiveLists]));

    // 4. Request: everything given, on the server where the game is not stored.
    let given = PredictRequest {
        ignore_stored: true,
        team_inactive: list(&team_out),
        opponent_inactive: list(&opp_out),
        team_starters: list(&of(&starters, &row.team)),
        opponent_starters: list(&of(&starters, &row.opponent)),
        ..req
    };
    let (p, ex) = explain(&mut client, given).await;
    assert_eq!(sources(&p), [InfoSource::Request; 4]);
    assert_bits("request", &values(&ex), &row.features);
    for s in [official, plays, strict] {
        s.stop().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn teams_in_any_spelling_answer_the_platform_s_codes() {
    let store = sample_store().await;
    let date = "2023-10-31";
    let rows = rows_of(store, date).await;
    let row = rows.iter().find(|r| r.opponent == "PHO").or_else(|| rows.iter().find(|r| r.team == "PHO")).unwrap().clone();
    let server = TestServer::on(store, &[]).await;
    let mut client = server.client().await;
    let phoenix_is_opponent = row.opponent == "PHO";
    for spelling in ["PHX", "Phoenix Suns", "pho", "PHO"] {
        let mut req = request_for(&row, date);
        if phoenix_is_opponent {
            req.opponent = spelling.into();
        } else {
            req.team = Some(spelling.into());
        }
        let (p, ex) = explain(&mut client, req).await;
        assert_eq!((p.team.as_str(), p.opponent.as_str()), (row.team.as_str(), row.opponent.as_str()), "{spelling}");
        assert_bits(spelling, &values(&ex), &row.features);
    }
    let code = |req: PredictRequest| {
        let mut c = client.clone();
        async move { c.predict(req).await.unwrap_err() }
    };
    let e = code(PredictRequest { opponent: "Seattle SuperSonics".into(), ..request_for(&row, date) }).await;
    assert_eq!((e.code(), e.message().starts_with("opponent:")), (Code::InvalidArgument, true), "{e:?}");
    let e = code(PredictRequest { team: Some("Springfield Isotopes".into()), ..request_for(&row, date) }).await;
    assert_eq!((e.code(), e.message().starts_with("team:")), (Code::InvalidArgument, true), "{e:?}");
    // Lineups are player ids, five of them.
    let six: Vec<String> = rows.iter().take(6).map(|r| r.player_id.clone()).collect();
    let e = code(PredictRequest { team_starters: list(&six), ..request_for(&row, date) }).await;
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("team_starters:") && e.message().contains("6 players") && e.message().contains('5'), "{}", e.message());
    let e = code(PredictRequest { opponent_starters: list(&["not an id".to_string()]), ..request_for(&row, date) }).await;
    assert_eq!((e.code(), e.message().starts_with("opponent_starters:")), (Code::InvalidArgument, true), "{e:?}");
    server.stop().await.unwrap();
}
