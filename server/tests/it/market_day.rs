//! A market day from line files to graded calls, on the sample's 2023-10-27 with the
//! hand-written line files of `tests/fixtures/lines/` (their README has the consensus
//! computed by hand). The pages up to 10-26 are loaded; `nba-ingest lines load` stores the
//! three good files; the morning slate (14:30 UTC) prices every player against the
//! consensus known then; clients ask `Predict` without a line after the games (the
//! closing consensus); the 10-27 pages are loaded and `nba-ingest grade` grades both.
//! Every line, price and market figure is checked against the README's numbers and the
//! points scored, written here by hand; the model's calls are read from its answers.

use crate::util::*;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use nba_ingest::load::LoadOptions;
use nba_store::Store;
use nba_store::rows::{GradeSummaryRow, GradedPredictionRow, PredictionRow};
use std::collections::HashMap;
use std::process::ExitCode;

const DAY: &str = "2023-10-27";

fn day() -> NaiveDate {
    DAY.parse().unwrap()
}

/// One player of the fixtures: where he played, the consensus at 14:30 UTC and at the
/// close (README "Expected consensus"), his points (None: on the inactive list).
struct Lined {
    id: &'static str,
    opponent: &'static str,
    home: bool,
    morning: f32,
    closing: f32,
    books_at_close: u32,
    scored: Option<u16>,
}

const PLAYERS: [Lined; 11] = [
    Lined { id: "tatumja01", opponent: "MIA", home: true, morning: 27.5, closing: 28.0, books_at_close: 4, scored: Some(22) },
    Lined { id: "brownja02", opponent: "MIA", home: true, morning: 23.5, closing: 22.5, books_at_close: 4, scored: Some(27) },
    Lined { id: "herroty01", opponent: "BOS", home: false, morning: 20.5, closing: 21.0, books_at_close: 4, scored: Some(28) },
    Lined { id: "butleji01", opponent: "BOS", home: false, morning: 20.5, closing: 20.0, books_at_close: 4, scored: Some(14) },
    Lined { id: "doncilu01", opponent: "BRK", home: true, morning: 32.5, closing: 33.5, books_at_close: 4, scored: Some(49) },
    Lined { id: "irvinky01", opponent: "BRK", home: true, morning: 24.5, closing: 24.5, books_at_close: 4, scored: Some(17) },
    Lined { id: "claxtni01", opponent: "DAL", home: false, morning: 11.5, closing: 11.5, books_at_close: 2, scored: None },
    Lined { id: "jokicni01", opponent: "MEM", home: false, morning: 25.5, closing: 25.0, books_at_close: 4, scored: Some(22) },
    Lined { id: "jacksja02", opponent: "DEN", home: true, morning: 18.5, closing: 17.5, books_at_close: 4, scored: Some(21) },
    Lined { id: "curryst01", opponent: "SAC", home: false, morning: 28.5, closing: 29.5, books_at_close: 4, scored: Some(41) },
    Lined { id: "foxde01", opponent: "GSW", home: true, morning: 25.5, closing: 26.0, books_at_close: 4, scored: Some(39) },
];

/// Decimal prices of the README's worked examples: (player, at 14:30 or closing, over, under).
const PRICES: [(&str, bool, f64, f64); 3] =
    [("tatumja01", true, 1.0 + 100.0 / 115.0, 1.0 + 100.0 / 105.0), ("tatumja01", false, 1.8995, 1.9195), ("irvinky01", false, 1.8167, 2.02)];

fn morning_clock() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 10, 27, 14, 30, 0).unwrap()
}

fn fixture(name: &str) -> String {
    nba_testkit::workspace_root().join("tests/fixtures/lines").join(name).display().to_string()
}

/// `nba-ingest ARGS...` on `store`, in-process through the binary's own entry.
async fn nba_ingest(store: &Store, args: &[&str]) -> ExitCode {
    use clap::Parser;
    let mut argv = vec!["nba-ingest", "--clickhouse-url", store.url(), "--database", store.database(), "--progress", "never"];
    argv.extend(args);
    nba_ingest::run(nba_ingest::cli::Cli::try_parse_from(&argv).unwrap()).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_market_day_from_line_files_to_graded_calls() {
    let store = sample_database("market_day", day().pred_opt()).await;
    let (_dir, registry) = registry_copy().await;

    // Lines: the morning and afternoon JSON and Caesars' CSV, all good.
    let files = [fixture("2023-10-27-morning.json"), fixture("2023-10-27-afternoon.json"), fixture("2023-10-27.csv")];
    let mut args = vec!["lines", "load"];
    args.extend(files.iter().map(String::as_str));
    assert_eq!(nba_ingest(&store, &args).await, ExitCode::SUCCESS);

    // The morning slate prices each player against the consensus known at 14:30.
    let morning = run_slate(&store, registry.root(), DAY, "morning", morning_clock(), None).await;
    assert!(morning.clean(), "{}", morning.render());
    assert_eq!(morning.with_line, PLAYERS.len(), "only the fixtures' players have lines: {}", morning.render());
    let slate_rows = stored(&store, "slate").await;
    for p in &PLAYERS {
        let r = &slate_rows[p.id];
        assert_eq!((r.line, r.line_source.as_str()), (Some(p.morning), PredictionRow::LINE_CONSENSUS), "{} at 14:30", p.id);
        assert!(r.line_time.unwrap() <= morning_clock(), "{}: a snapshot from after the run's clock", p.id);
    }

    // After the games, clients ask without a line: the closing consensus.
    let server = TestServer::on(&store, &["--prediction-log-window-secs", "1"]).await;
    let mut client = server.client().await;
    for p in &PLAYERS {
        let a = client.predict(request(p.id, DAY, p.opponent, p.home)).await.unwrap().into_inner();
        assert_eq!((a.line, a.line_source.as_str(), a.line_books), (Some(f64::from(p.closing)), "consensus", p.books_at_close), "{}", p.id);
        assert!(a.edge.is_some() && a.p_over.is_some(), "{}: a line gives an edge and P(over)", p.id);
    }
    server.stop().await.unwrap();
    let request_rows = stored(&store, "request").await;
    assert_eq!(request_rows.len(), PLAYERS.len(), "one logged answer per player");
    check_prices(&slate_rows, &request_rows);

    // The games are played and graded through the CLI.
    let opts =
        LoadOptions { paths: vec![nba_testkit::sample_archive()], batch_pages: 200, workers: 2, dry_run: false, progress: false, dates: Some((day(), day())) };
    assert!(nba_ingest::load::load(Some(&store), &opts).await.unwrap().rejected.is_empty());
    nba_ingest::build::build(&store, &Default::default()).await.unwrap();
    assert_eq!(nba_ingest(&store, &["grade", "--from", DAY, "--to", DAY]).await, ExitCode::SUCCESS);

    let graded = graded_rows(&store).await;
    let summaries = summaries(&store).await;
    let mut calls = 0;
    for (source, run, said) in [("slate", "morning", &slate_rows), ("request", "", &request_rows)] {
        let want = by_hand(said, |p| if source == "slate" { p.morning } else { p.closing });
        check_rows(&graded, source, &want);
        let got = summaries.iter().find(|s| s.source == source && s.run == run).unwrap_or_else(|| panic!("no {source} summary: {summaries:?}"));
        check_summary(got, &want, source);
        calls += want.iter().filter(|w| w.price.is_some()).count();
    }
    assert!(calls >= 2, "the day must have calls to grade ({calls}): the model and the lines changed?");

    // The report prints those figures.
    let report = nba_ingest::grade::render(&nba_ingest::grade::grade(&store, day(), day()).await.unwrap());
    for s in summaries.iter().filter(|s| s.lined > 0 && s.priced_calls > 0) {
        assert!(report.contains(&format!("{:+.1} %", s.roi * 100.0)), "the ROI of {}/{} in:\n{report}", s.source, s.run);
    }
}

/// Predictions of `DAY` of one source, by player (the slate's of the fixtures' players).
async fn stored(store: &Store, source: &str) -> HashMap<String, PredictionRow> {
    let sql = "SELECT ?fields FROM predictions WHERE game_date = toDate(?) AND source = ? ORDER BY player_id";
    let rows: Vec<PredictionRow> = store.client().query(sql).bind(DAY).bind(source).fetch_all().await.unwrap();
    rows.into_iter().filter(|r| PLAYERS.iter().any(|p| p.id == r.player_id)).map(|r| (r.player_id.clone(), r)).collect()
}

/// The README's worked prices, as stored with the morning slate and the answers.
fn check_prices(slate: &HashMap<String, PredictionRow>, request: &HashMap<String, PredictionRow>) {
    for (id, morning, over, under) in PRICES {
        let r = if morning { &slate[id] } else { &request[id] };
        let (got_over, got_under) = (r.over_price.unwrap(), r.under_price.unwrap());
        assert!((got_over - over).abs() < 1e-4 && (got_under - under).abs() < 1e-4, "{id}: ({got_over}, {got_under}) vs by hand ({over}, {under})");
    }
}

/// What grading must say about one played player's prediction.
struct Expected {
    id: &'static str,
    call: String,
    model_error: f64,
    line_error: f64,
    outcome: &'static str,
    price: Option<f64>,
    profit: Option<f64>,
    clv: Option<f64>,
}

/// The grade of each played player's prediction, from the hand tables: his points, the
/// line he was priced against, the closing line; the call and prices as stored.
fn by_hand(said: &HashMap<String, PredictionRow>, line_of: impl Fn(&Lined) -> f32) -> Vec<Expected> {
    let mut out = Vec::new();
    for p in PLAYERS.iter().filter(|p| p.scored.is_some()) {
        let r = &said[p.id];
        let (line, scored, closing) = (f64::from(line_of(p)), f64::from(p.scored.unwrap()), f64::from(p.closing));
        let (outcome, price, clv) = match r.call.as_str() {
            "OVER" => (
                if scored > line {
                    "hit"
                } else if scored < line {
                    "miss"
                } else {
                    "push"
                },
                r.over_price,
                Some(closing - line),
            ),
            "UNDER" => (
                if scored < line {
                    "hit"
                } else if scored > line {
                    "miss"
                } else {
                    "push"
                },
                r.under_price,
                Some(line - closing),
            ),
            _ => ("", None, None),
        };
        let profit = price.map(|price| match outcome {
            "hit" => price - 1.0,
            "miss" => -1.0,
            _ => 0.0,
        });
        let model_error = (f64::from(r.predicted_pts) - scored).abs();
        out.push(Expected { id: p.id, call: r.call.clone(), model_error, line_error: (line - scored).abs(), outcome, price, profit, clv });
    }
    out
}

async fn graded_rows(store: &Store) -> Vec<GradedPredictionRow> {
    let sql = "SELECT ?fields FROM graded_predictions FINAL WHERE game_date = toDate(?)";
    store.client().query(sql).bind(DAY).fetch_all().await.unwrap()
}

async fn summaries(store: &Store) -> Vec<GradeSummaryRow> {
    let sql = "SELECT ?fields FROM grade_summaries FINAL WHERE game_date = toDate(?) AND edge_bucket = 'all'";
    store.client().query(sql).bind(DAY).fetch_all().await.unwrap()
}

fn close(a: Option<f64>, b: Option<f64>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() < 1e-6,
        (a, b) => a.is_none() && b.is_none(),
    }
}

fn check_rows(graded: &[GradedPredictionRow], source: &str, want: &[Expected]) {
    for w in want {
        let g = graded.iter().find(|g| g.source == source && g.player_id == w.id).unwrap_or_else(|| panic!("{source} {} not graded", w.id));
        assert_eq!((g.call.as_str(), g.outcome.as_str()), (w.call.as_str(), w.outcome), "{source} {}", w.id);
        assert!(close(g.line_abs_error, Some(w.line_error)) && close(g.price, w.price), "{source} {}: line error / price", w.id);
        assert!(close(g.profit, w.profit) && close(g.clv, w.clv), "{source} {}: profit {:?} vs {:?}, CLV {:?} vs {:?}", w.id, g.profit, w.profit, g.clv, w.clv);
    }
    let claxton = graded.iter().find(|g| g.source == source && g.player_id == "claxtni01");
    assert!(claxton.is_none(), "Claxton was inactive: not graded");
}

/// The summary's market figures: on exactly the lined rows (the ten who played), the
/// model's and the line's MAE; the priced calls' return; the closing-line value.
fn check_summary(s: &GradeSummaryRow, want: &[Expected], source: &str) {
    let n = want.len() as f64;
    let mean = |f: &dyn Fn(&Expected) -> f64| want.iter().map(f).sum::<f64>() / n;
    let calls: Vec<&Expected> = want.iter().filter(|w| w.price.is_some()).collect();
    let profit: f64 = calls.iter().map(|w| w.profit.unwrap()).sum();
    let clvs: Vec<f64> = calls.iter().map(|w| w.clv.unwrap()).collect();
    assert_eq!(s.lined, want.len() as u64, "{source}: lined rows");
    assert!((s.lined_mae - mean(&|w| w.model_error)).abs() < 1e-4, "{source}: model MAE on the lined rows {}", s.lined_mae);
    assert!((s.line_mae - mean(&|w| w.line_error)).abs() < 1e-9, "{source}: line MAE {}", s.line_mae);
    assert_eq!((s.priced_calls, s.clv_calls), (calls.len() as u64, calls.len() as u64), "{source}: priced calls");
    assert!((s.profit - profit).abs() < 1e-9, "{source}: profit {} vs {profit}", s.profit);
    if calls.is_empty() {
        assert!(s.roi.is_nan() && s.clv_mean.is_nan(), "{source}: no calls, no ROI");
    } else {
        assert!((s.roi - profit / calls.len() as f64).abs() < 1e-9, "{source}: ROI {}", s.roi);
        assert!((s.clv_mean - clvs.iter().sum::<f64>() / clvs.len() as f64).abs() < 1e-9, "{source}: CLV {}", s.clv_mean);
    }
    let toward = clvs.iter().filter(|c| **c > 0.0).count() as u64;
    let away = clvs.iter().filter(|c| **c < 0.0).count() as u64;
    assert_eq!((s.clv_toward, s.clv_away), (toward, away), "{source}: CLV toward/away");
    let hits = |call: &str| want.iter().filter(|w| w.call == call && w.outcome == "hit").count() as u64;
    let count = |call: &str| want.iter().filter(|w| w.call == call).count() as u64;
    assert_eq!((s.over_calls, s.over_hits, s.under_calls, s.under_hits), (count("OVER"), hits("OVER"), count("UNDER"), hits("UNDER")), "{source}: hit rates");
    if source == "request" {
        // Priced at the closing line itself: no closing-line value either way.
        assert_eq!((s.clv_toward, s.clv_away), (0, 0));
    }
}
