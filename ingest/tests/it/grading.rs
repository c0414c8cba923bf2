//! `nba-ingest grade` on a real day of the sample: slate runs and client requests with
//! lines and calls, graded against the points read independently from the raw box
//! scores, every graded row and summary figure computed by hand here; then the same
//! against stored sportsbook lines: prices, returns, closing lines, the line's own MAE.

use crate::util::*;
use chrono::{NaiveDate, TimeZone, Utc};
use nba_store::Store;
use nba_store::rows::{GradeSummaryRow, GradedPredictionRow, ModelRegistryRow, PredictionRow, PropLineRow};
use std::collections::HashMap;

const VERSION: &str = "v-grading";

/// A player of the graded day as the raw box score has him.
#[derive(Debug, Clone, clickhouse::Row, serde::Deserialize)]
struct Boxed {
    player_id: String,
    team: String,
    status: String,
    pts: u16,
}

/// One prediction written into `predictions`.
#[derive(Debug, Clone)]
struct Said {
    player: String,
    team: String,
    source: &'static str,
    run: &'static str,
    minute: u32,
    predicted: f32,
    p10: f32,
    p90: f32,
    line: Option<f32>,
    call: &'static str,
    /// `request` for a client's line, `consensus` or a book's key for a stored one.
    line_source: &'static str,
    over_price: Option<f64>,
    under_price: Option<f64>,
}

impl Said {
    fn row(&self, day: NaiveDate) -> PredictionRow {
        let at = Utc.with_ymd_and_hms(2023, 10, 24, 14, self.minute, 0).unwrap();
        PredictionRow {
            predicted_at: at,
            method: if self.source == PredictionRow::SLATE { "Slate".into() } else { "Predict".into() },
            model_version: VERSION.into(),
            feature_version: 4,
            player_id: self.player.clone(),
            game_date: day,
            team: self.team.clone(),
            opponent: String::new(),
            is_home: 0,
            predicted_pts: self.predicted,
            p10: self.p10,
            p90: self.p90,
            line: self.line,
            p_over: self.line.map(|_| 0.6),
            call: self.call.into(),
            features: vec![1.0, 2.0],
            source: self.source.into(),
            run: self.run.into(),
            run_at: at,
            availability_source: "official".into(),
            opponent_availability_source: "official".into(),
            lineup_source: "unknown".into(),
            opponent_lineup_source: "unknown".into(),
            asked: 1,
            line_source: self.line_source.into(),
            line_time: self.over_price.map(|_| at),
            over_price: self.over_price,
            under_price: self.under_price,
        }
    }
}

/// Who said it when: source, slate run, minute past 14:00 UTC.
type When = (&'static str, &'static str, u32);

fn said(p: &Boxed, (source, run, minute): When, predicted: f32, interval: (f32, f32), line: Option<f32>, call: &'static str) -> Said {
    let line_source = if line.is_some() { PredictionRow::LINE_REQUEST } else { "" };
    Said {
        player: p.player_id.clone(),
        team: p.team.clone(),
        source,
        run,
        minute,
        predicted,
        p10: interval.0,
        p90: interval.1,
        line,
        call,
        line_source,
        over_price: None,
        under_price: None,
    }
}

/// What the grade of one prediction must be, worked out here from its points.
#[derive(Debug, PartialEq)]
struct Expected {
    actual: u16,
    error: f64,
    within_3: u8,
    within_5: u8,
    in_interval: u8,
    outcome: &'static str,
    edge: Option<f64>,
    bucket: &'static str,
}

fn expected(s: &Said, pts: u16) -> Expected {
    let error = f64::from(s.predicted) - f64::from(pts);
    let edge = s.line.map(|l| f64::from(s.predicted) - f64::from(l));
    let bucket = match edge.map(f64::abs) {
        None => "",
        Some(e) if e < 1.5 => "0-1.5",
        Some(e) if e < 3.0 => "1.5-3",
        Some(e) if e < 5.0 => "3-5",
        Some(_) => "5+",
    };
    let points = f64::from(pts);
    let outcome = match (s.call, s.line.map(f64::from)) {
        ("OVER" | "UNDER", Some(l)) if points == l => "push",
        ("OVER", Some(l)) => {
            if points > l {
                "hit"
            } else {
                "miss"
            }
        }
        ("UNDER", Some(l)) => {
            if points < l {
                "hit"
            } else {
                "miss"
            }
        }
        _ => "",
    };
    Expected {
        actual: pts,
        error,
        within_3: u8::from(error.abs() <= 3.0),
        within_5: u8::from(error.abs() <= 5.0),
        in_interval: u8::from(f64::from(s.p10) <= points && points <= f64::from(s.p90)),
        outcome,
        edge,
        bucket,
    }
}

async fn graded_rows(store: &Store) -> Vec<GradedPredictionRow> {
    store.client().query("SELECT ?fields FROM graded_predictions ORDER BY source, run, player_id").fetch_all().await.unwrap()
}

async fn summaries(store: &Store) -> Vec<GradeSummaryRow> {
    store.client().query("SELECT ?fields FROM grade_summaries ORDER BY source, run, edge_bucket").fetch_all().await.unwrap()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9 || (a.is_nan() && b.is_nan())
}

/// The sample loaded and built into a fresh database: the store, its first day and that
/// day's players as the raw box scores have them (not the summary grading reads).
async fn graded_day(name: &str) -> (Store, String, NaiveDate, Vec<Boxed>) {
    let store = fresh_store(name).await;
    nba_ingest::load::load(Some(&store), &opts(&[&nba_testkit::sample_archive()])).await.unwrap();
    nba_ingest::build::build(&store, &Default::default()).await.unwrap();
    let date: String = store.client().query("SELECT toString(min(game_date)) FROM player_boxscores").fetch_one().await.unwrap();
    let day: NaiveDate = date.parse().unwrap();
    let boxed: Vec<Boxed> = store
        .client()
        .query("SELECT player_id, team, status, pts FROM player_boxscores FINAL WHERE game_date = toDate(?) ORDER BY player_id")
        .bind(&date)
        .fetch_all()
        .await
        .unwrap();
    (store, date, day, boxed)
}

/// The graded version's registry event (its test MAE, 2.5, is what `live_calibration`
/// compares with).
fn registry_row() -> ModelRegistryRow {
    ModelRegistryRow {
        version: VERSION.into(),
        event: "promoted".into(),
        event_at: Utc::now(),
        event_at_us: 1,
        created_at: Utc::now(),
        source_commit: String::new(),
        feature_version: 4,
        contract_hash: String::new(),
        objective: "absolute_error".into(),
        train_rows: 1,
        test_scored_rows: 1,
        test_mae: 2.5,
        best_baseline: String::new(),
        best_baseline_mae: 0.0,
        model_sha256: String::new(),
        message: String::new(),
        manifest: String::new(),
    }
}

#[tokio::test]
async fn grade_scores_every_slate_run_and_request_and_its_call() {
    let (store, date, day, boxed) = graded_day("grading").await;
    let played: Vec<&Boxed> = boxed.iter().filter(|b| b.status == "Played").collect();
    let p: Vec<&Boxed> = played.iter().copied().take(6).collect();
    let dnp = boxed.iter().find(|b| b.status != "Played").expect("a did-not-play row that day");
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Inactive {
        player_id: String,
        team: String,
    }
    let inactive: Inactive =
        store.client().query("SELECT player_id, team FROM game_inactives FINAL WHERE game_date = toDate(?) LIMIT 1").bind(&date).fetch_one().await.unwrap();
    let inactive = Boxed { player_id: inactive.player_id, team: inactive.team, status: "Inactive".into(), pts: 0 };
    let nobody = Boxed { player_id: "nobodyxx01".into(), team: "XXX".into(), status: String::new(), pts: 0 };
    let pts = |b: &Boxed| f32::from(b.pts);
    let (slate, request) = (PredictionRow::SLATE, PredictionRow::REQUEST);
    let (m, t, r): (When, When, When) = ((slate, "morning", 0), (slate, "pretip", 50), (request, "", 45));

    // Morning slate: an OVER hit (edge 2.5), an UNDER hit below its interval (edge -4.5),
    // an OVER on an integer line the player scored exactly (push, edge 6), a PASS
    // (edge 0.5), and two players who did not play.
    let morning = [
        said(p[0], m, pts(p[0]) + 2.0, (pts(p[0]) - 5.0, pts(p[0]) + 5.0), Some(pts(p[0]) - 0.5), "OVER"),
        said(p[1], m, pts(p[1]) - 4.0, (pts(p[1]) + 1.0, pts(p[1]) + 8.0), Some(pts(p[1]) + 0.5), "UNDER"),
        said(p[2], m, pts(p[2]) + 6.0, (pts(p[2]) - 2.0, pts(p[2]) + 9.0), Some(pts(p[2])), "OVER"),
        said(p[3], m, pts(p[3]) + 1.0, (pts(p[3]) - 6.0, pts(p[3]) + 6.0), Some(pts(p[3]) + 0.5), "PASS"),
        said(dnp, m, 10.0, (4.0, 16.0), Some(9.5), "OVER"),
        said(&inactive, m, 5.0, (1.0, 9.0), None, ""),
    ];
    // Pre-tip slate: the same player again, now an UNDER miss, and an OVER miss.
    let pretip = [
        said(p[0], t, pts(p[0]) - 3.0, (pts(p[0]) - 9.0, pts(p[0]) - 1.0), Some(pts(p[0]) - 0.5), "UNDER"),
        said(p[4], t, pts(p[4]) + 3.5, (pts(p[4]) - 3.0, pts(p[4]) + 9.0), Some(pts(p[4]) + 1.5), "OVER"),
    ];
    // Requests: the latest per player counts (p5's earlier call on a line is replaced
    // by a prediction without a line); a big OVER edge; a player whose game is unknown.
    let earlier = said(p[5], (request, "", 5), 99.0, (80.0, 120.0), Some(50.5), "OVER");
    let requests = [
        said(p[5], (request, "", 40), pts(p[5]) - 0.5, (pts(p[5]) - 7.0, pts(p[5]) + 7.0), None, ""),
        said(p[1], r, pts(p[1]) + 10.0, (pts(p[1]) + 2.0, pts(p[1]) + 18.0), Some(pts(p[1]) - 2.5), "OVER"),
        said(&nobody, r, 12.0, (6.0, 18.0), Some(11.5), "OVER"),
    ];
    let all: Vec<&Said> = morning.iter().chain(&pretip).chain([&earlier]).chain(&requests).collect();
    store.insert(&all.iter().map(|s| s.row(day)).collect::<Vec<_>>()).await.unwrap();
    store.insert(&[registry_row()]).await.unwrap();

    let url = nba_testkit::clickhouse_url();
    let out = run_cli(store.database(), url, &["grade", "--from", &date, "--to", &date]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(printed.contains("slate/morning") && printed.contains("slate/pretip") && printed.contains("52.4 %"), "{printed}");

    // Every graded row, against the points of the raw box score.
    let graded_said: Vec<&Said> = morning[..4].iter().chain(&pretip).chain(&requests[..2]).collect();
    let points: HashMap<&str, u16> = played.iter().map(|b| (b.player_id.as_str(), b.pts)).collect();
    let rows = graded_rows(&store).await;
    assert_eq!(rows.len(), graded_said.len(), "{rows:#?}");
    for s in &graded_said {
        let r = rows.iter().find(|r| r.player_id == s.player && r.source == s.source && r.run == s.run).unwrap_or_else(|| panic!("no graded row for {s:?}"));
        let want = expected(s, points[s.player.as_str()]);
        let got = Expected {
            actual: r.actual,
            error: r.error,
            within_3: r.within_3,
            within_5: r.within_5,
            in_interval: r.in_interval,
            outcome: match r.outcome.as_str() {
                "hit" => "hit",
                "miss" => "miss",
                "push" => "push",
                "" => "",
                other => panic!("outcome {other:?}"),
            },
            edge: r.edge,
            bucket: match r.edge_bucket.as_str() {
                "0-1.5" => "0-1.5",
                "1.5-3" => "1.5-3",
                "3-5" => "3-5",
                "5+" => "5+",
                "" => "",
                other => panic!("bucket {other:?}"),
            },
        };
        assert_eq!(got, want, "{s:?}");
        assert_eq!((r.abs_error, r.predicted, r.line, r.call.as_str(), r.model_version.as_str()), (want.error.abs(), s.predicted, s.line, s.call, VERSION));
        // A client's line, no prices, no lines stored: the line's error, nothing priced.
        assert_eq!((r.line_source.as_str(), r.price, r.profit, r.closing_line, r.clv), (s.line_source, None, None, None, None), "{s:?}");
        assert_eq!(r.line_abs_error, s.line.map(|l| (f64::from(l) - f64::from(want.actual)).abs()), "{s:?}");
    }
    // The designed cases came out as designed: the integer line scored exactly is a push.
    let outcome_of = |player: &str, run: &str| rows.iter().find(|r| r.player_id == player && r.run == run).map(|r| r.outcome.clone()).unwrap();
    assert_eq!(
        [
            outcome_of(&p[0].player_id, "morning"),
            outcome_of(&p[1].player_id, "morning"),
            outcome_of(&p[2].player_id, "morning"),
            outcome_of(&p[0].player_id, "pretip")
        ],
        ["hit", "hit", "push", "miss"]
    );
    assert!(rows.iter().all(|r| r.player_id != dnp.player_id && r.player_id != inactive.player_id && r.player_id != nobody.player_id));
    let p5 = rows.iter().find(|r| r.player_id == p[5].player_id).unwrap();
    assert_eq!((p5.line, p5.call.as_str(), p5.outcome.as_str()), (None, "", ""), "the latest request is graded, not the earlier one");

    // The summaries, per source, run and edge bucket, worked out from the same points.
    let sums = summaries(&store).await;
    let find = |source: &str, run: &str, bucket: &str| -> &GradeSummaryRow {
        sums.iter()
            .find(|s| s.source == source && s.run == run && s.edge_bucket == bucket)
            .unwrap_or_else(|| panic!("no summary {source}/{run}/{bucket}: {sums:#?}"))
    };
    let check_all = |s: &GradeSummaryRow, selected: &[&Said], graded: &[&Said], not_played: u64| {
        let e: Vec<Expected> = graded.iter().map(|g| expected(g, points[g.player.as_str()])).collect();
        let n = e.len() as f64;
        let mae = e.iter().map(|x| x.error.abs()).sum::<f64>() / n;
        let bias = e.iter().map(|x| x.error).sum::<f64>() / n;
        let coverage = e.iter().map(|x| f64::from(x.in_interval)).sum::<f64>() / n;
        let within_5 = e.iter().map(|x| f64::from(x.within_5)).sum::<f64>() / n;
        assert_eq!((s.predictions, s.not_played, s.graded), (selected.len() as u64, not_played, graded.len() as u64), "{s:?}");
        assert!(
            close(s.mae, mae) && close(s.bias, bias) && close(s.coverage, coverage) && close(s.within_5, within_5),
            "{s:?}: mae {mae} bias {bias} coverage {coverage}"
        );
        let count =
            |call: &str, outcome: &str| graded.iter().zip(&e).filter(|(g, x)| g.call == call && (outcome.is_empty() || x.outcome == outcome)).count() as u64;
        assert_eq!(
            (s.over_calls, s.over_hits, s.over_pushes, s.under_calls, s.under_hits, s.under_pushes, s.passes),
            (
                count("OVER", ""),
                count("OVER", "hit"),
                count("OVER", "push"),
                count("UNDER", ""),
                count("UNDER", "hit"),
                count("UNDER", "push"),
                count("PASS", "")
            ),
            "{s:?}"
        );
        assert_eq!(s.calls, s.over_calls + s.under_calls);
    };
    let morning_refs: Vec<&Said> = morning.iter().collect();
    check_all(find("slate", "morning", "all"), &morning_refs, &morning_refs[..4], 2);
    let pretip_refs: Vec<&Said> = pretip.iter().collect();
    check_all(find("slate", "pretip", "all"), &pretip_refs, &pretip_refs, 0);
    let request_refs: Vec<&Said> = requests.iter().collect();
    // The unknown player's game is not loaded: selected, neither graded nor not played.
    check_all(find("request", "", "all"), &request_refs, &request_refs[..2], 0);
    // Morning by edge: 0-1.5 holds the PASS (graded) and the did-not-play OVER (0.5);
    // 1.5-3 the OVER hit; 3-5 the UNDER hit; 5+ the push.
    check_all(find("slate", "morning", "0-1.5"), &[&morning[3], &morning[4]], &[&morning[3]], 1);
    check_all(find("slate", "morning", "1.5-3"), &[&morning[0]], &[&morning[0]], 0);
    check_all(find("slate", "morning", "3-5"), &[&morning[1]], &[&morning[1]], 0);
    check_all(find("slate", "morning", "5+"), &[&morning[2]], &[&morning[2]], 0);
    assert_eq!(sums.iter().filter(|s| s.source == "slate" && s.run == "morning").count(), 5);
    // Requests by edge: the big OVER (12.5) in 5+, the unknown player's 0.5 in 0-1.5.
    check_all(find("request", "", "5+"), &[&requests[1]], &[&requests[1]], 0);
    check_all(find("request", "", "0-1.5"), &[&requests[2]], &[], 0);

    // Grading again writes nothing twice (no FINAL: what is physically there).
    let before = (scalar(&store, "SELECT count() FROM graded_predictions").await, scalar(&store, "SELECT count() FROM grade_summaries").await);
    let again = run_cli(store.database(), url, &["grade", "--from", &date, "--to", &date]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert_eq!((scalar(&store, "SELECT count() FROM graded_predictions").await, scalar(&store, "SELECT count() FROM grade_summaries").await), before);
    assert_eq!(before, (graded_said.len() as u64, sums.len() as u64));
    let strip = |mut v: Vec<GradedPredictionRow>| {
        v.iter_mut().for_each(|r| r.graded_at = chrono::DateTime::UNIX_EPOCH);
        v
    };
    assert_eq!(strip(graded_rows(&store).await), strip(rows.clone()));

    // The monitoring queries on the same rows.
    let hit = run_cli(store.database(), url, &["query", "call_hit_rate", "--format", "TSV"]);
    assert!(hit.status.success(), "{}", String::from_utf8_lossy(&hit.stderr));
    let hit = String::from_utf8_lossy(&hit.stdout).into_owned();
    // slate/morning/all: OVER 1 hit of 1 decided (the push is not decided), UNDER 1 of 1.
    let line = hit.lines().find(|l| l.starts_with(&format!("{VERSION}\tslate\tmorning\tall\t"))).unwrap_or_else(|| panic!("{hit}"));
    let cols: Vec<&str> = line.split('\t').collect();
    assert_eq!(&cols[4..12], ["3", "2", "1", "1", "1", "1", "1", "0.524"], "{line}");
    let pretip_line = hit.lines().find(|l| l.starts_with(&format!("{VERSION}\tslate\tpretip\tall\t"))).unwrap_or_else(|| panic!("{hit}"));
    let cols: Vec<&str> = pretip_line.split('\t').collect();
    assert_eq!((cols[4], cols[10], cols[12]), ("2", "0", "-1"), "two misses lose two units: {pretip_line}");

    let live = run_cli(store.database(), url, &["query", "live_calibration", "--format", "TSV"]);
    assert!(live.status.success(), "{}", String::from_utf8_lossy(&live.stderr));
    let live = String::from_utf8_lossy(&live.stdout).into_owned();
    let line = live.lines().find(|l| l.starts_with(&format!("{VERSION}\tslate\tmorning\t"))).unwrap_or_else(|| panic!("{live}"));
    let cols: Vec<&str> = line.split('\t').collect();
    let morning_all = find("slate", "morning", "all");
    assert_eq!((cols[3], cols[4]), ("1", "4"), "{line}");
    let num = |s: &str| s.parse::<f64>().unwrap();
    assert!((num(cols[5]) - morning_all.coverage).abs() < 1e-4 && num(cols[6]) == 0.8, "{line}");
    assert!((num(cols[7]) - morning_all.mae).abs() < 1e-3 && num(cols[8]) == 2.5, "{line}");
    assert!((num(cols[9]) - num(cols[7]) / 2.5).abs() < 2e-3, "{line}");
}

/// One book's snapshot of a player's line on the graded day (tip-off 23:30 UTC).
fn snapshot(p: &Boxed, day: NaiveDate, book: &str, hour: u32, line: f32) -> PropLineRow {
    let at = |h: u32, m: u32| Utc.from_utc_datetime(&day.and_hms_opt(h, m, 0).unwrap());
    PropLineRow {
        snapshot_time: at(hour, 0),
        game_date: day,
        game_id: format!("{}0{}", day.format("%Y%m%d"), p.team),
        book: book.into(),
        player_id: p.player_id.clone(),
        player_name: p.player_id.clone(),
        team: p.team.clone(),
        line,
        over_price: 1.91,
        under_price: 1.91,
        tipoff: at(23, 30),
        source_file: "lines/grading.json".into(),
        version: 1,
    }
}

/// A call on a stored line at its prices.
fn on_stored(s: Said, line_source: &'static str, over: f64, under: f64) -> Said {
    Said { line_source, over_price: Some(over), under_price: Some(under), ..s }
}

#[tokio::test]
async fn grade_against_stored_lines_prices_returns_and_closing_lines() {
    let (store, date, day, boxed) = graded_day("grading_market").await;
    // Players who scored at least 5, so every line below is a real points line.
    let p: Vec<&Boxed> = boxed.iter().filter(|b| b.status == "Played" && b.pts >= 5).take(6).collect();
    let pts = |b: &Boxed| f32::from(b.pts);
    let (m, r): (When, When) = ((PredictionRow::SLATE, "morning", 0), (PredictionRow::REQUEST, "", 45));
    let wide = |b: &Boxed| (pts(b) - 10.0, pts(b) + 10.0);

    // With P a player's points (each line is P plus or minus a half point or more):
    // | p | said                     | line  | O/U price | predicted | outcome | profit | model |err| | line |err| | closing | CLV  |
    // | 0 | morning OVER, consensus  | P-0.5 | 1.91/1.91 | P+2       | hit     | +0.91  | 2           | 0.5        | P       | +0.5 |
    // | 1 | morning UNDER, fanduel   | P+1.5 | 1.80/2.05 | P-2       | hit     | +1.05  | 2           | 1.5        | P+2.5   | -1   |
    // | 2 | morning OVER, consensus  | P+0.5 | 2.20/1.70 | P+4       | miss    | -1     | 4           | 0.5        | P+0.5   | 0    |
    // | 3 | morning PASS, consensus  | P+0.5 | 1.91/1.91 | P+1       |         |        | 1           | 0.5        | P+0.5   |      |
    // | 4 | request OVER, own line   | P-1.5 | none      | P+1       | hit     |        | 1           | 1.5        | none    |      |
    // | 5 | morning, no line         |       |           | P-3       |         |        | 3           |            |         |      |
    // p0 closes at the median of DraftKings (moved from P-0.5 to P+0.5) and FanDuel
    // (P-0.5): their mean, P. p1's FanDuel moved from P+1.5 to P+2.5: UNDER P+1.5 lost a
    // point of value.
    let said = [
        on_stored(said(p[0], m, pts(p[0]) + 2.0, wide(p[0]), Some(pts(p[0]) - 0.5), "OVER"), "consensus", 1.91, 1.91),
        on_stored(said(p[1], m, pts(p[1]) - 2.0, wide(p[1]), Some(pts(p[1]) + 1.5), "UNDER"), "fanduel", 1.80, 2.05),
        on_stored(said(p[2], m, pts(p[2]) + 4.0, wide(p[2]), Some(pts(p[2]) + 0.5), "OVER"), "consensus", 2.20, 1.70),
        on_stored(said(p[3], m, pts(p[3]) + 1.0, wide(p[3]), Some(pts(p[3]) + 0.5), "PASS"), "consensus", 1.91, 1.91),
        said(p[4], r, pts(p[4]) + 1.0, wide(p[4]), Some(pts(p[4]) - 1.5), "OVER"),
        said(p[5], m, pts(p[5]) - 3.0, wide(p[5]), None, ""),
    ];
    let lines = [
        snapshot(p[0], day, "draftkings", 15, pts(p[0]) - 0.5),
        snapshot(p[0], day, "draftkings", 22, pts(p[0]) + 0.5),
        snapshot(p[0], day, "fanduel", 15, pts(p[0]) - 0.5),
        snapshot(p[1], day, "fanduel", 16, pts(p[1]) + 1.5),
        snapshot(p[1], day, "fanduel", 20, pts(p[1]) + 2.5),
        snapshot(p[2], day, "betmgm", 14, pts(p[2]) + 0.5),
        snapshot(p[3], day, "betmgm", 14, pts(p[3]) + 0.5),
    ];
    store.insert(&said.iter().map(|s| s.row(day)).collect::<Vec<_>>()).await.unwrap();
    store.insert(&lines).await.unwrap();

    let url = nba_testkit::clickhouse_url();
    let out = run_cli(store.database(), url, &["grade", "--from", &date, "--to", &date]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(printed.contains("against the market") && printed.contains("+32.0 %"), "{printed}");

    let rows = graded_rows(&store).await;
    assert_eq!(rows.len(), 6, "{rows:#?}");
    let row = |b: &Boxed| rows.iter().find(|r| r.player_id == b.player_id).unwrap_or_else(|| panic!("{} not graded", b.player_id));
    let (r0, r1, r2, r3, r4, r5) = (row(p[0]), row(p[1]), row(p[2]), row(p[3]), row(p[4]), row(p[5]));
    assert_eq!([&r0.outcome, &r1.outcome, &r2.outcome, &r3.outcome, &r4.outcome, &r5.outcome].map(|o| o.as_str()), ["hit", "hit", "miss", "", "hit", ""]);
    assert_eq!(
        [&r0.line_source, &r1.line_source, &r2.line_source, &r3.line_source, &r4.line_source, &r5.line_source].map(|o| o.as_str()),
        ["consensus", "fanduel", "consensus", "consensus", "request", ""]
    );
    assert_eq!([r0.price, r1.price, r2.price, r3.price, r4.price, r5.price], [Some(1.91), Some(2.05), Some(2.20), None, None, None]);
    let profits = [r0.profit, r1.profit, r2.profit, r3.profit, r4.profit, r5.profit];
    assert!(close(profits[0].unwrap(), 0.91) && close(profits[1].unwrap(), 1.05) && profits[2] == Some(-1.0), "{profits:?}");
    assert_eq!(&profits[3..], [None, None, None]);
    assert_eq!(
        [r0.closing_line, r1.closing_line, r2.closing_line, r3.closing_line, r4.closing_line, r5.closing_line],
        [Some(pts(p[0])), Some(pts(p[1]) + 2.5), Some(pts(p[2]) + 0.5), Some(pts(p[3]) + 0.5), None, None]
    );
    assert_eq!([r0.clv, r1.clv, r2.clv, r3.clv, r4.clv, r5.clv], [Some(0.5), Some(-1.0), Some(0.0), None, None, None]);
    assert_eq!(
        [r0.line_abs_error, r1.line_abs_error, r2.line_abs_error, r3.line_abs_error, r4.line_abs_error, r5.line_abs_error],
        [Some(0.5), Some(1.5), Some(0.5), Some(0.5), Some(1.5), None]
    );

    // Summaries. Morning, all: 5 graded (p0-p3, p5), MAE (2+2+4+1+3)/5 = 2.4; lined 4
    // (p0-p3): model (2+2+4+1)/4 = 2.25 beside the line's (0.5+1.5+0.5+0.5)/4 = 0.75;
    // priced 3 (p3 is a PASS), profit 0.91+1.05-1 = 0.96, ROI 0.32; CLV (0.5-1+0)/3 =
    // -1/6, toward 1, away 1.
    let sums = summaries(&store).await;
    let find = |source: &str, bucket: &str| {
        sums.iter().find(|s| s.source == source && s.edge_bucket == bucket).unwrap_or_else(|| panic!("{source}/{bucket}: {sums:#?}"))
    };
    let all = find("slate", "all");
    assert_eq!((all.graded, all.lined, all.priced_calls, all.clv_calls, all.clv_toward, all.clv_away), (5, 4, 3, 3, 1, 1), "{all:?}");
    assert!(close(all.mae, 2.4) && close(all.lined_mae, 2.25) && close(all.line_mae, 0.75), "{all:?}");
    assert!(close(all.profit, 0.96) && close(all.roi, 0.32) && close(all.clv_mean, -1.0 / 6.0), "{all:?}");
    // Morning, 3-5 (edges -3.5 and 3.5: p1, p2): model (2+4)/2 = 3, line (1.5+0.5)/2 = 1;
    // profit 1.05-1 = 0.05, ROI 0.025; CLV (-1+0)/2 = -0.5, away 1.
    let mid = find("slate", "3-5");
    assert_eq!((mid.lined, mid.priced_calls, mid.clv_calls, mid.clv_toward, mid.clv_away), (2, 2, 2, 0, 1), "{mid:?}");
    assert!(close(mid.lined_mae, 3.0) && close(mid.line_mae, 1.0) && close(mid.roi, 0.025) && close(mid.clv_mean, -0.5), "{mid:?}");
    // The request: lined 1, model 1 beside the line's 1.5; a hit, but nothing priced.
    let req = find("request", "all");
    assert_eq!((req.lined, req.over_hits, req.priced_calls, req.profit, req.clv_calls), (1, 1, 0, 0.0, 0), "{req:?}");
    assert!(close(req.lined_mae, 1.0) && close(req.line_mae, 1.5) && req.roi.is_nan() && req.clv_mean.is_nan(), "{req:?}");

    // The `market` monitoring query on the same rows (30 days; one graded day here).
    let q = run_cli(store.database(), url, &["query", "market", "--format", "TSV"]);
    assert!(q.status.success(), "{}", String::from_utf8_lossy(&q.stderr));
    let q = String::from_utf8_lossy(&q.stdout).into_owned();
    let cols = |prefix: &str| -> Vec<String> {
        let line = q.lines().find(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix:?} in\n{q}"));
        line.split('\t').map(String::from).collect()
    };
    // lined, model_mae, line_mae, over hit rate (p0 hit, p2 miss), under (p1 hit),
    // break-even, priced, profit, roi, clv calls, mean, toward, away.
    let morning = cols(&format!("{VERSION}\tslate\tmorning\tall\t"));
    assert_eq!(&morning[4..], ["4", "2.25", "0.75", "0.5", "1", "0.524", "3", "0.96", "0.32", "3", "-0.167", "1", "1"], "{q}");
    let request = cols(&format!("{VERSION}\trequest\t\tall\t"));
    assert_eq!(&request[4..], ["1", "1", "1.5", "1", "nan", "0.524", "0", "0", "nan", "0", "nan", "0", "0"], "{q}");
    // Buckets without a lined row are left out: the morning has 0-1.5 (p3), 1.5-3 (p0), 3-5.
    let buckets: Vec<&str> = q.lines().filter(|l| l.contains("\tslate\tmorning\t")).map(|l| l.split('\t').nth(3).unwrap_or("")).collect();
    assert_eq!(buckets, ["0-1.5", "1.5-3", "3-5", "all"], "{q}");

    // Days add up by their counts: a day before with 2 lined rows (model 1, line 2), one
    // OVER call that hit at 1.90 and no closing line (its NaN CLV mean must not count).
    // Morning over both days: lined 6, model (4*2.25 + 2*1)/6 = 11/6 = 1.833, line
    // (4*0.75 + 2*2)/6 = 7/6 = 1.167, OVER 2 hits of 3, priced 4, profit 0.96+0.9 = 1.86,
    // ROI 0.465, CLV still -1/6 on 3 calls.
    let before = GradeSummaryRow {
        game_date: day.pred_opt().unwrap(),
        lined: 2,
        lined_mae: 1.0,
        line_mae: 2.0,
        over_calls: 1,
        over_hits: 1,
        over_pushes: 0,
        under_calls: 0,
        under_hits: 0,
        under_pushes: 0,
        calls: 1,
        priced_calls: 1,
        profit: 0.9,
        roi: 0.9,
        clv_calls: 0,
        clv_mean: f64::NAN,
        clv_toward: 0,
        clv_away: 0,
        ..all.clone()
    };
    store.insert(&[before]).await.unwrap();
    let q = run_cli(store.database(), url, &["query", "market", "--format", "TSV"]);
    assert!(q.status.success(), "{}", String::from_utf8_lossy(&q.stderr));
    let q = String::from_utf8_lossy(&q.stdout).into_owned();
    let line = q.lines().find(|l| l.starts_with(&format!("{VERSION}\tslate\tmorning\tall\t"))).unwrap_or_else(|| panic!("{q}"));
    let two_days: Vec<&str> = line.split('\t').skip(4).collect();
    assert_eq!(two_days, ["6", "1.833", "1.167", "0.667", "1", "0.524", "4", "1.86", "0.465", "3", "-0.167", "1", "1"], "{q}");
}
