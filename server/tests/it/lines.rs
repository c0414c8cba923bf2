//! Stored prop lines on the sample, for a 2023-10-27 game (tip-off 23:30Z): two books and
//! a line move on one player, none on a teammate. A `Predict` without a line uses the
//! consensus (the median of the books' latest lines), `line_book` a book's latest, a
//! request's own line wins and `ignore_stored` uses none; the prediction log stores the
//! line with its source, snapshot time and prices; the slate run takes the consensus known
//! at its `--as-of` clock, never a later snapshot.

use crate::util::*;
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use nba_api::proto::predict::{Call, PredictRequest, PredictResponse};
use nba_server::slate_run::SlateRunSummary;
use nba_store::Store;
use nba_store::rows::{PredictionRow, PropLineRow};
use tonic::Code;

const DAY: &str = "2023-10-27";

fn day() -> NaiveDate {
    DAY.parse().unwrap()
}

fn at(hour: u32, min: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2023, 10, 27, hour, min, 0).unwrap()
}

/// The first 10-27 game's home team, its game id and opponent, and the team's two best
/// scorers before that day: the first gets lines, the second none.
#[derive(Debug, Clone)]
struct Game {
    game_id: String,
    team: String,
    opponent: String,
    lined: String,
    unlined: String,
}

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct GameRow {
    game_id: String,
    home_team: String,
    away_team: String,
}

async fn game(store: &Store) -> Game {
    let sql = "SELECT game_id, home_team, away_team FROM games FINAL WHERE game_date = toDate(?) ORDER BY game_id";
    let games: Vec<GameRow> = store.client().query(sql).bind(DAY).fetch_all().await.unwrap();
    let sql = "SELECT player_id FROM player_game_summary FINAL WHERE team = ? AND game_date < toDate(?) AND status = 'Played' \
               GROUP BY player_id ORDER BY sum(pts) DESC, player_id LIMIT 2";
    // The sample lacks some teams' first games: the first home team with a history.
    for g in games {
        let best: Vec<String> = store.client().query(sql).bind(&g.home_team).bind(DAY).fetch_all().await.unwrap();
        if let [lined, unlined] = &best[..] {
            return Game { game_id: g.game_id, team: g.home_team, opponent: g.away_team, lined: lined.clone(), unlined: unlined.clone() };
        }
    }
    panic!("no {DAY} home team has two scorers before that day");
}

/// DraftKings opens 22.5 at 15:00Z and moves to 24.5 at 21:00Z; FanDuel posts 23.5 at
/// 16:00Z. Tip-off 23:30Z.
async fn insert_lines(store: &Store, g: &Game) {
    let row = |time, book: &str, line, over_price, under_price| PropLineRow {
        snapshot_time: time,
        game_date: day(),
        game_id: g.game_id.clone(),
        book: book.into(),
        player_id: g.lined.clone(),
        player_name: g.lined.clone(),
        team: g.team.clone(),
        line,
        over_price,
        under_price,
        tipoff: at(23, 30),
        source_file: "server-tests".into(),
        version: 1,
    };
    let rows = [row(at(15, 0), "draftkings", 22.5, 1.87, 1.95), row(at(21, 0), "draftkings", 24.5, 1.91, 1.91), row(at(16, 0), "fanduel", 23.5, 1.83, 2.0)];
    store.insert(&rows).await.unwrap();
}

fn request_of(g: &Game, player: &str) -> PredictRequest {
    PredictRequest { team: Some(g.team.clone()), ..request(player, DAY, &g.opponent, true) }
}

fn time(p: &PredictResponse) -> Option<DateTime<Utc>> {
    p.line_time.as_deref().map(|t| DateTime::parse_from_rfc3339(t).unwrap().with_timezone(&Utc))
}

/// The answer used `line` from `source` (with its snapshot `time` and `books`): the edge
/// and the call are against it.
fn assert_line(p: &PredictResponse, line: f64, source: &str, time_: Option<DateTime<Utc>>, books: u32) {
    assert_eq!((p.line, p.line_source.as_str(), time(p), p.line_books), (Some(line), source, time_, books), "{p:?}");
    assert_eq!(p.edge, Some(p.predicted_points - line));
    assert!(p.p_over.is_some_and(|x| (0.0..=1.0).contains(&x)), "{p:?}");
    assert_ne!(p.call(), Call::Unspecified);
}

fn assert_no_line(p: &PredictResponse) {
    assert_eq!((p.line, p.line_source.as_str(), p.line_time.as_deref(), p.line_books), (None, "", None, 0), "{p:?}");
    assert_eq!((p.edge, p.p_over, p.call()), (None, None, Call::Unspecified));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_uses_the_stored_consensus_or_a_books_line_and_logs_it() {
    let store = sample_database("lines_predict", day().pred_opt()).await;
    let g = game(&store).await;
    insert_lines(&store, &g).await;
    // A long log window: the repeated answer below is collapsed whatever the machine's speed.
    let server = TestServer::on(&store, &["--prediction-log-window-secs", "300"]).await;
    let mut client = server.client().await;
    let ask = |req: PredictRequest| {
        let mut c = client.clone();
        async move { c.predict(req.clone()).await.unwrap_or_else(|s| panic!("{req:?}: {s:?}")).into_inner() }
    };
    let base = request_of(&g, &g.lined);

    // The server's clock is years after the game: every snapshot is known. DraftKings 24.5
    // (moved at 21:00) and FanDuel 23.5: the median of two is their mean.
    let consensus = ask(base.clone()).await;
    assert_line(&consensus, 24.0, "consensus", Some(at(21, 0)), 2);
    let dk = ask(PredictRequest { line_book: Some("draftkings".into()), ..base.clone() }).await;
    assert_line(&dk, 24.5, "draftkings", Some(at(21, 0)), 1);
    let fd = ask(PredictRequest { line_book: Some("FanDuel".into()), ..base.clone() }).await;
    assert_line(&fd, 23.5, "fanduel", Some(at(16, 0)), 1);
    let given = ask(PredictRequest { line: Some(20.5), ..base.clone() }).await;
    assert_line(&given, 20.5, "request", None, 0);
    // The same prediction whatever the line.
    for p in [&dk, &fd, &given] {
        assert_eq!((p.predicted_points, p.p10, p.p90), (consensus.predicted_points, consensus.p10, consensus.p90));
    }
    assert_no_line(&ask(PredictRequest { ignore_stored: true, ..base.clone() }).await);
    assert_no_line(&ask(PredictRequest { line_book: Some("betmgm".into()), ..base.clone() }).await);
    assert_no_line(&ask(request_of(&g, &g.unlined)).await);

    let e = client.predict(PredictRequest { line: Some(22.5), line_book: Some("draftkings".into()), ..base.clone() }).await.unwrap_err();
    assert_eq!((e.code(), e.message().starts_with("line_book:")), (Code::InvalidArgument, true), "{e:?}");
    let e = client.predict(PredictRequest { line_book: Some("draft kings".into()), ..base.clone() }).await.unwrap_err();
    assert_eq!((e.code(), e.message().starts_with("line_book:")), (Code::InvalidArgument, true), "{e:?}");

    // Shutdown flushes the log: one row per answer, each with its line's source, snapshot
    // time and prices (the consensus's are the medians of the books' prices).
    server.stop().await.unwrap();
    let sql = "SELECT ?fields FROM predictions WHERE game_date = toDate(?) AND player_id = ? AND method = 'Predict'";
    let rows: Vec<PredictionRow> = store.client().query(sql).bind(DAY).bind(&g.lined).fetch_all().await.unwrap();
    let mut logged: Vec<_> = rows.iter().map(|r| (r.line_source.as_str(), r.line, r.line_time, r.over_price, r.under_price, r.asked)).collect();
    logged.sort_by(|a, b| a.0.cmp(b.0));
    let (over, under) = ((1.91 + 1.83) / 2.0, (1.91 + 2.0) / 2.0);
    assert_eq!(
        logged,
        [
            ("", None, None, None, None, 2),
            ("consensus", Some(24.0), Some(at(21, 0)), Some(over), Some(under), 1),
            ("draftkings", Some(24.5), Some(at(21, 0)), Some(1.91), Some(1.91), 1),
            ("fanduel", Some(23.5), Some(at(16, 0)), Some(1.83), Some(2.0), 1),
            ("request", Some(20.5), None, None, None, 1),
        ],
        "ignore_stored and the book without a line are the same answer (asked twice)"
    );
    for r in &rows {
        assert_eq!(r.call.is_empty(), r.line.is_none(), "{r:?}");
    }
}

async fn slate(store: &Store, run: &str, as_of: DateTime<Utc>) -> (SlateRunSummary, Vec<PredictionRow>) {
    let registry = &trained().await.root;
    let s = run_slate(store, registry, DAY, run, as_of, None).await;
    assert!(s.clean() && s.written > 1, "{}", s.render());
    let sql = "SELECT ?fields FROM predictions WHERE game_date = toDate(?) AND source = 'slate' AND run = ? ORDER BY player_id";
    let rows: Vec<PredictionRow> = store.client().query(sql).bind(DAY).bind(run).fetch_all().await.unwrap();
    assert_eq!(rows.len(), s.written);
    (s, rows)
}

/// The slate stores the consensus known at its clock: none before the first snapshot, the
/// two books' opening lines before DraftKings moves, the moved line after.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slate_stores_the_consensus_known_at_its_clock() {
    let store = sample_database("lines_slate", day().pred_opt()).await;
    let g = game(&store).await;
    insert_lines(&store, &g).await;
    let lined = |rows: &[PredictionRow]| -> PredictionRow {
        rows.iter().find(|r| r.player_id == g.lined).cloned().unwrap_or_else(|| panic!("{} not on the slate", g.lined))
    };
    let others_have_none = |rows: &[PredictionRow]| {
        for r in rows.iter().filter(|r| r.player_id != g.lined) {
            assert_eq!((r.line, r.line_source.as_str(), r.line_time, r.call.as_str()), (None, "", None, ""), "{r:?}");
        }
    };

    let (s, rows) = slate(&store, "early", at(14, 0)).await;
    assert_eq!(s.with_line, 0, "{}", s.render());
    assert_eq!(lined(&rows).line, None, "nothing posted by 14:00");
    others_have_none(&rows);

    // 18:00: DraftKings 22.5 and FanDuel 23.5, not DraftKings' 21:00 move.
    let (s, rows) = slate(&store, "afternoon", at(18, 0)).await;
    assert_eq!(s.with_line, 1, "{}", s.render());
    assert!(s.render().contains(&format!("stored lines: 1 of {} written players", s.written)), "{}", s.render());
    let r = lined(&rows);
    let (over, under) = ((1.87 + 1.83) / 2.0, (1.95 + 2.0) / 2.0);
    assert_eq!((r.line, r.line_source.as_str(), r.line_time, r.over_price, r.under_price), (Some(23.0), "consensus", Some(at(16, 0)), Some(over), Some(under)));
    assert!(["OVER", "UNDER", "PASS"].contains(&r.call.as_str()), "{r:?}");
    assert!(r.p_over.is_some());
    others_have_none(&rows);

    let (s, rows) = slate(&store, "pretip", at(22, 0)).await;
    assert_eq!(s.with_line, 1);
    let r = lined(&rows);
    assert_eq!((r.line, r.line_time), (Some(24.0), Some(at(21, 0))));
}
