//! `nba-ingest lines load` on hand-written sportsbook lines of real sample games
//! (`tests/fixtures/lines`), with the sample loaded up to the day before (as on the
//! morning of 2023-10-27): names as books spell them resolve to the right ids, every
//! rejection is reported with its place and reason while the good lines are kept, loading
//! twice adds nothing, and the read side gives the README's hand-computed consensus and
//! closing lines.

use crate::util::*;
use chrono::{DateTime, NaiveDate, Utc};
use nba_ingest::lines;
use nba_store::Store;
use nba_store::lines::{MarketLine, PropLines};
use nba_store::rows::PropLineRow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn folder() -> PathBuf {
    nba_testkit::workspace_root().join("tests/fixtures/lines")
}

fn good_files() -> Vec<PathBuf> {
    ["2023-10-27-morning.json", "2023-10-27-afternoon.json", "2023-10-27.csv"].map(|f| folder().join(f)).to_vec()
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// American odds as decimal, as the loader converts them.
fn american(x: f64) -> f64 {
    if x > 0.0 { 1.0 + x / 100.0 } else { 1.0 + 100.0 / -x }
}

/// A fresh database holding the sample up to 2023-10-26: the box scores of those days and
/// the October schedule (so the games of 2023-10-27 are known, their box scores not).
async fn store_before_the_day(name: &str) -> Store {
    let store = fresh_store(name).await;
    let mut options = opts(&[&nba_testkit::sample_archive()]);
    options.dates = Some((date("2000-01-01"), date("2023-10-26")));
    let loaded = nba_ingest::load::load(Some(&store), &options).await.unwrap();
    assert!(loaded.rejected.is_empty(), "{:?}", loaded.rejected);
    assert_eq!(scalar(&store, "SELECT count() FROM games FINAL WHERE game_date = '2023-10-27'").await, 11);
    assert_eq!(scalar(&store, "SELECT count() FROM player_boxscores WHERE game_date >= '2023-10-27'").await, 0);
    store
}

async fn rows_of(store: &Store, file: &str) -> Vec<PropLineRow> {
    store.client().query("SELECT ?fields FROM prop_lines FINAL WHERE source_file = ?").bind(file).fetch_all().await.unwrap()
}

/// `prop_lines` rows with and without FINAL, and the findings of lines files.
async fn line_counts(store: &Store) -> (u64, u64, u64) {
    (
        scalar(store, "SELECT count() FROM prop_lines").await,
        scalar(store, "SELECT count() FROM prop_lines FINAL").await,
        scalar(store, "SELECT count() FROM data_quality_issues WHERE source_file LIKE 'lines/%'").await,
    )
}

#[tokio::test]
async fn names_as_books_spell_them_load_with_the_right_ids_and_a_second_load_adds_nothing() {
    let store = store_before_the_day("lines_good").await;
    let s = lines::load(&store, &good_files()).await.unwrap();
    assert!(s.all_good(), "{}", s.render());
    // Morning 32 pairs (Claxton at two books), afternoon 30 (Claxton pulled), Caesars 10.
    assert_eq!((s.files_loaded, s.lines_read, s.rows_written, s.markets_skipped), (3, 72, 72, 1), "{}", s.render());

    let mut ids: BTreeMap<String, BTreeSet<(String, String)>> = BTreeMap::new();
    for file in ["lines/2023-10-27-morning.json", "lines/2023-10-27-afternoon.json", "lines/2023-10-27.csv"] {
        for r in rows_of(&store, file).await {
            ids.entry(r.player_name).or_default().insert((r.player_id, r.team));
        }
    }
    let expected = [
        ("Jayson Tatum", "tatumja01", "BOS"),
        ("Jaylen Brown", "brownja02", "BOS"),
        ("Tyler Herro", "herroty01", "MIA"),
        ("Jimmy Butler", "butleji01", "MIA"),
        ("Luka Doncic", "doncilu01", "DAL"),
        ("Kyrie Irving", "irvinky01", "DAL"),
        ("Nic Claxton", "claxtni01", "BRK"),
        ("Nikola Jokic", "jokicni01", "DEN"),
        ("Jaren Jackson Jr", "jacksja02", "MEM"),
        ("Jaren Jackson Jr.", "jacksja02", "MEM"),
        ("Stephen Curry", "curryst01", "GSW"),
        ("De'Aaron Fox", "foxde01", "SAC"),
    ];
    assert_eq!(ids.len(), expected.len(), "{ids:?}");
    for (name, id, team) in expected {
        assert_eq!(ids.get(name), Some(&BTreeSet::from([(id.to_string(), team.to_string())])), "{name}");
    }

    // The snapshot time: the market's last_update (DraftKings' own is 14:10:32), the
    // book's (FanDuel in the afternoon), else the wrapper's timestamp (BetMGM).
    let tatum = |rows: &[PropLineRow], book: &str| rows.iter().find(|r| r.player_id == "tatumja01" && r.book == book).cloned().unwrap();
    let morning = rows_of(&store, "lines/2023-10-27-morning.json").await;
    let afternoon = rows_of(&store, "lines/2023-10-27-afternoon.json").await;
    let caesars = rows_of(&store, "lines/2023-10-27.csv").await;
    let dk = tatum(&morning, "draftkings");
    assert_eq!((dk.snapshot_time, dk.line, dk.game_id.as_str()), (time("2023-10-27T14:02:11Z"), 27.5, "202310270BOS"));
    assert_eq!((dk.over_price, dk.under_price), (american(-115.0), american(-105.0)));
    assert_eq!(tatum(&afternoon, "fanduel").snapshot_time, time("2023-10-27T21:29:44Z"));
    assert_eq!((tatum(&afternoon, "fanduel").over_price, tatum(&afternoon, "fanduel").under_price), (1.89, 1.93));
    assert_eq!(tatum(&afternoon, "betmgm").snapshot_time, time("2023-10-27T21:35:00Z"));
    // Tip-off: the event's commence_time, or the schedule's "7:30p" US Eastern for the CSV.
    assert_eq!((dk.tipoff, tatum(&caesars, "caesars").tipoff), (time("2023-10-27T23:30:00Z"), time("2023-10-27T23:30:00Z")));
    let jokic = caesars.iter().find(|r| r.player_id == "jokicni01").unwrap();
    assert_eq!((jokic.snapshot_time, jokic.tipoff, jokic.game_id.as_str()), (time("2023-10-27T18:00:00Z"), time("2023-10-27T23:00:00Z"), "202310270MEM"));
    // BRK at DAL starts at 00:30 UTC on the 28th: still the game of the 27th.
    assert!(morning.iter().filter(|r| r.team == "DAL" || r.team == "BRK").all(|r| r.game_date == date("2023-10-27") && r.game_id == "202310270DAL"));
    let ledger = scalar(&store, "SELECT count() FROM ingest_files WHERE name LIKE 'lines/%' AND status = 'loaded'").await;
    assert_eq!(ledger, 3);

    let before = line_counts(&store).await;
    assert_eq!(before, (72, 72, 0));
    let again = lines::load(&store, &good_files()).await.unwrap();
    assert!(again.all_good(), "{}", again.render());
    assert_eq!((again.files_unchanged, again.files_loaded, again.rows_written), (3, 0, 0));
    assert_eq!(line_counts(&store).await, before, "a second load must add no rows");
}

/// (place, check, words the reason must hold) of every rejection, in file order.
type Expected = (&'static str, &'static str, &'static [&'static str]);

const BAD_CSV: [Expected; 15] = [
    ("line 5", "lines_bad_entry", &["8 fields"]),
    ("line 6", "lines_bad_time", &["2023-10-27 3:00 PM"]),
    ("line 7", "lines_bad_date", &["10/27/2023"]),
    ("line 8", "lines_unknown_team", &["Seattle SuperSonics"]),
    ("line 9", "lines_no_game", &["MEM at DEN", "2023-10-27", "that day: DEN at MEM"]),
    ("line 10", "lines_after_tipoff", &["2023-10-27 23:05:00", "2023-10-27 23:00:00", "in-game"]),
    ("line 11", "lines_unresolved_player", &["Tacko Fall"]),
    ("line 12", "lines_ambiguous_player", &["J. Williams", "willija06"]),
    ("line 13", "lines_player_not_on_teams", &["LeBron James", "jamesle01", "LAL", "neither BOS nor MIA"]),
    ("line 14", "lines_bad_line", &["-24.5", "negative"]),
    ("line 15", "lines_bad_line", &["NaN", "finite"]),
    ("line 16", "lines_not_odds", &["over price \"abc\""]),
    ("line 17", "lines_not_odds", &["under price \"-50\""]),
    ("line 18", "lines_one_side", &["Over 24.5 without its Under"]),
    ("line 20", "lines_duplicate", &["Jamal Murray", "pointsbet", "line 4"]),
];

const BAD_JSON: [Expected; 8] = [
    ("event 1 bookmakers[0].markets[1].outcomes[2]", "lines_one_side", &["Over 12.5 without its Under"]),
    ("event 1 bookmakers[0].markets[1].outcomes[3,4]", "lines_one_side", &["Over 8.5 but Under 9.5"]),
    ("event 1 bookmakers[0].markets[1].outcomes[5]", "lines_bad_entry", &["\"Yes\"", "neither Over nor Under"]),
    ("event 1 bookmakers[0].markets[1].outcomes[6]", "lines_bad_entry", &["description"]),
    ("event 1 bookmakers[0].markets[1].outcomes[7,8]", "lines_not_odds", &["over price \"abc\""]),
    ("event 2 bookmakers[0].markets[0].outcomes[0,1]", "lines_bad_time", &["commence_time", "tonight"]),
    ("event 3 bookmakers[0].markets[0].outcomes[0,1]", "lines_unknown_team", &["Seattle SuperSonics"]),
    ("event 4 bookmakers[0].markets[0].outcomes[0,1]", "lines_bad_time", &["no snapshot time", "last_update"]),
];

#[tokio::test]
async fn every_rejection_is_reported_with_its_place_and_reason_and_the_good_lines_are_kept() {
    let store = store_before_the_day("lines_bad").await;
    // The folder: its five .csv and .json files (not the README).
    let out = run_cli(store.database(), store.url(), &["lines", "load", folder().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("files: 5 seen, 5 loaded (2 with rejected lines), 0 unchanged, 0 rejected whole"), "{stdout}");
    // 72 good + 18 CSV entries (3 kept) + 10 JSON entries (2 kept); h2h and rebounds skipped.
    assert!(stdout.contains("lines: 100 read, 77 written to prop_lines, 23 rejected; 3 other markets skipped"), "{stdout}");
    let printed: Vec<&str> = stdout.lines().filter(|l| l.trim_start().starts_with("lines/bad.")).collect();
    assert_eq!(printed.len(), 23, "{stdout}");
    for (file, expected) in [("lines/bad.csv", &BAD_CSV[..]), ("lines/bad.json", &BAD_JSON[..])] {
        for (place, check, words) in expected {
            let line =
                printed.iter().find(|l| l.contains(&format!("{file} {place}: {check}: "))).unwrap_or_else(|| panic!("{file} {place} {check} not in\n{stdout}"));
            assert!(words.iter().all(|w| line.contains(w)), "{line} lacks one of {words:?}");
        }
    }

    // The same findings in data_quality_issues, located by place.
    #[derive(clickhouse::Row, serde::Deserialize, Debug)]
    struct Finding {
        check_name: String,
        message: String,
        severity: String,
        source_file: String,
    }
    let sql = "SELECT check_name, message, severity, source_file FROM data_quality_issues WHERE source_file LIKE 'lines/%'";
    let findings: Vec<Finding> = store.client().query(sql).fetch_all().await.unwrap();
    assert_eq!(findings.len(), 23, "{findings:?}");
    for (file, expected) in [("lines/bad.csv", &BAD_CSV[..]), ("lines/bad.json", &BAD_JSON[..])] {
        for (place, check, words) in expected {
            let f = findings
                .iter()
                .find(|f| f.source_file == file && f.check_name == *check && f.message.starts_with(&format!("{place}: ")))
                .unwrap_or_else(|| panic!("{file} {place} {check}: {findings:?}"));
            assert!(words.iter().all(|w| f.message.contains(w)) && f.severity == "error", "{f:?}");
        }
    }

    // The good lines of the bad files are kept, resolved.
    let kept = |rows: Vec<PropLineRow>| -> BTreeSet<(String, String, String)> {
        rows.into_iter().map(|r| (r.player_id, r.team, format!("{} {} {:.4} {:.4}", r.book, r.line, r.over_price, r.under_price))).collect()
    };
    let set =
        |v: &[(&str, &str, &str)]| -> BTreeSet<(String, String, String)> { v.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect() };
    assert_eq!(
        kept(rows_of(&store, "lines/bad.csv").await),
        set(&[
            ("murraja01", "DEN", "pointsbet 21.5 1.8696 1.9524"),
            ("porzikr01", "BOS", "pointsbet 20.5 1.9091 1.9091"),
            ("bridgmi01", "BRK", "pointsbet 19.5 1.8700 1.9500"),
        ])
    );
    assert_eq!(
        kept(rows_of(&store, "lines/bad.json").await),
        set(&[("adebaba01", "MIA", "espnbet 21.5 1.8696 1.9524"), ("banede01", "MEM", "espnbet 23.5 1.9091 1.9091")])
    );
    let ledger = "SELECT concat(status, ' ', toString(rows_written)) FROM ingest_files WHERE name = 'lines/bad.csv' ORDER BY seen_at_us DESC LIMIT 1";
    assert_eq!(store.client().query(ledger).fetch_one::<String>().await.unwrap(), "rejected 3");

    // Again: the good files are unchanged, the bad ones read again (a name may resolve by
    // then) and their rows and findings replaced, not added.
    let before = line_counts(&store).await;
    assert_eq!(before, (77, 77, 23));
    let again = lines::load(&store, &[folder()]).await.unwrap();
    assert_eq!((again.files_unchanged, again.files_loaded, again.rows_written, again.rejected.len()), (3, 2, 5, 23), "{}", again.render());
    assert_eq!(line_counts(&store).await, before, "a second load must add no rows");
}

/// The consensus line and the number of books.
fn line_of(m: Option<MarketLine>) -> (f32, u32) {
    m.map(|m| (m.line, m.books)).unwrap_or((f32::NAN, 0))
}

#[tokio::test]
async fn the_consensus_and_closing_lines_are_the_hand_computed_ones_of_the_readme() {
    let store = store_before_the_day("lines_consensus").await;
    let s = lines::load(&store, &good_files()).await.unwrap();
    assert!(s.all_good(), "{}", s.render());
    let lines = PropLines::load(&store).await.unwrap();
    assert_eq!(lines.len(), 11, "eleven players with lines on 2023-10-27");
    let day = date("2023-10-27");
    let (morning, midday) = (time("2023-10-27T14:30:00Z"), time("2023-10-27T18:30:00Z"));

    // README table: (player, at 14:30 UTC, at 18:30 UTC, closing), with the books counted.
    let table = [
        ("tatumja01", (27.5, 3), (27.5, 4), (28.0, 4)),
        ("butleji01", (20.5, 3), (21.0, 4), (20.0, 4)),
        ("jokicni01", (25.5, 3), (26.0, 4), (25.0, 4)),
        ("herroty01", (20.5, 3), (20.0, 4), (21.0, 4)),
        ("doncilu01", (32.5, 3), (32.5, 4), (33.5, 4)),
        ("claxtni01", (11.5, 2), (11.5, 2), (11.5, 2)),
    ];
    for (player, at_morning, at_midday, closing) in table {
        assert_eq!(line_of(lines.consensus_at(day, player, morning)), at_morning, "{player} 14:30");
        assert_eq!(line_of(lines.consensus_at(day, player, midday)), at_midday, "{player} 18:30");
        assert_eq!(line_of(lines.closing(day, player)), closing, "{player} closing");
    }

    // Tatum's prices, decimal: the median of each side (the mean of the middle two of four).
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    let t = lines.consensus_at(day, "tatumja01", morning).unwrap();
    assert_eq!(t.time, time("2023-10-27T14:05:20Z"), "BetMGM's market, the newest of the three");
    assert!(close(t.over_price, american(-115.0)) && close(t.under_price, american(-105.0)), "{t:?}");
    let t = lines.consensus_at(day, "tatumja01", midday).unwrap();
    assert_eq!(t.time, time("2023-10-27T18:00:00Z"));
    assert!(close(t.over_price, (american(-115.0) + american(-112.0)) / 2.0), "{t:?}");
    assert!(close(t.under_price, (american(-110.0) + american(-105.0)) / 2.0), "{t:?}");
    let t = lines.closing(day, "tatumja01").unwrap();
    assert_eq!(t.time, time("2023-10-27T21:35:00Z"), "BetMGM at the wrapper's timestamp");
    assert!(close(t.over_price, (1.89 + american(-110.0)) / 2.0) && close(t.under_price, (american(-110.0) + 1.93) / 2.0), "{t:?}");
    // Irving's line never moves; the prices move to the Over.
    let i = lines.closing(day, "irvinky01").unwrap();
    assert_eq!((i.line, i.books), (24.5, 4));
    assert!(close(i.over_price, (1.80 + american(-120.0)) / 2.0) && close(i.under_price, 2.02), "{i:?}");
    // Claxton was ruled out: his closing line is the morning's last (DraftKings, 14:02:11).
    assert_eq!(lines.closing(day, "claxtni01").unwrap().time, time("2023-10-27T14:02:11Z"));
    // Each book's own line at the close.
    assert_eq!(lines.book_at(day, "butleji01", "caesars", time("2023-10-27T23:29:59Z")).map(|m| m.line), Some(21.5));
    assert_eq!(lines.book_at(day, "butleji01", "fanduel", time("2023-10-27T23:29:59Z")).map(|m| m.line), Some(19.5));
}
