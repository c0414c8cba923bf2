//! `nba-ingest injuries load` on hand-written reports of real sample games
//! (`tests/fixtures/injuries`): names as reports spell them resolve to the right ids,
//! loading twice adds nothing, every rejection is reported with its reason while the good
//! entries are kept, and the read side gives the games' official inactive lists back.

use crate::util::*;
use chrono::{DateTime, NaiveDate, Utc};
use nba_ingest::injuries;
use nba_store::Store;
use nba_store::injuries::InjuryReports;
use nba_store::rows::InjuryReportRow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

fn report(name: &str) -> PathBuf {
    nba_testkit::workspace_root().join("tests/fixtures/injuries").join(name)
}

fn good_reports() -> Vec<PathBuf> {
    ["2023-10-25.json", "2023-10-27.csv", "2023-06-12.csv"].map(report).to_vec()
}

/// A fresh database holding the sample archive (schedule, box scores, inactive lists).
async fn sample_store(name: &str) -> Store {
    let store = fresh_store(name).await;
    let loaded = nba_ingest::load::load(Some(&store), &opts(&[&nba_testkit::sample_archive()])).await.unwrap();
    assert!(loaded.rejected.is_empty(), "{:?}", loaded.rejected);
    store
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

fn time(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn ids(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    v.sort();
    v
}

async fn rows_of(store: &Store, file: &str) -> Vec<InjuryReportRow> {
    store.client().query("SELECT ?fields FROM injury_reports FINAL WHERE source_file = ?").bind(file).fetch_all().await.unwrap()
}

#[tokio::test]
async fn names_as_reports_spell_them_load_with_the_right_ids_and_a_second_load_adds_nothing() {
    let store = sample_store("inj_good").await;
    let files = good_reports();
    let args: Vec<&str> = ["injuries", "load"].into_iter().chain(files.iter().map(|p| p.to_str().unwrap())).collect();
    let out = run_cli(store.database(), store.url(), &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    // 45 entries in the JSON file (two reports), 40 in the CSV, 2 in the Finals file.
    assert!(stdout.contains("files: 3 seen, 3 loaded (0 with rejected entries), 0 unchanged, 0 rejected whole"), "{stdout}");
    assert!(stdout.contains("entries: 87 read, 87 written to injury_reports, 0 rejected"), "{stdout}");

    // (date, team code, player as written) → (id, status), from the latest report of each.
    let mut got: BTreeMap<(NaiveDate, String, String), (String, String)> = BTreeMap::new();
    for file in ["injuries/2023-10-25.json", "injuries/2023-10-27.csv", "injuries/2023-06-12.csv"] {
        let mut rows = rows_of(&store, file).await;
        rows.sort_by_key(|r| r.report_time);
        for r in rows {
            got.insert((r.game_date, r.team, r.player_name), (r.player_id, r.status));
        }
    }
    let expected = [
        ("2023-10-27", "BRK", "Nic Claxton", "claxtni01", "Out"),
        ("2023-10-27", "BRK", "Cam Johnson", "johnsca02", "Out"),
        ("2023-10-27", "BRK", "Lonnie Walker IV", "walkelo01", "Probable"),
        ("2023-10-27", "DAL", "Luka Doncic", "doncilu01", "Available"),
        ("2023-10-27", "DAL", "A.J. Lawson", "lawsoaj01", "Out"),
        ("2023-10-27", "DEN", "Vlatko Cancar", "cancavl01", "Out"),
        ("2023-10-27", "DEN", "huffja01", "huffja01", "Out"),
        ("2023-10-27", "DEN", "Nikola Jokic", "jokicni01", "Probable"),
        ("2023-10-27", "MEM", "Jackson Jr., Jaren", "jacksja02", "Probable"),
        ("2023-10-27", "MEM", "Ja Morant", "moranja01", "Out"),
        ("2023-10-27", "GSW", "Draymond Green", "greendr01", "Out"),
        ("2023-10-27", "LAC", "Marcus Morris Sr.", "morrima03", "Out"),
        ("2023-10-27", "LAC", "Brandon Boston Jr", "bostobr01", "Out"),
        ("2023-10-27", "LAC", "Bones Hyland", "hylanbo01", "Probable"),
        ("2023-10-27", "UTA", "Micah Potter", "pottemi01", "Out"),
        ("2023-10-27", "CHO", "PJ Washington", "washipj01", "Probable"),
        ("2023-10-27", "CHO", "Miles Bridges", "bridgmi02", "Out"),
        ("2023-10-27", "DET", "Bojan Bogdanovic", "bogdabo02", "Out"),
        // Memphis in the sample's 2020 game, New Orleans (against Memphis) here.
        ("2023-10-25", "NOP", "Jonas Valanciunas", "valanjo01", "Probable"),
        ("2023-10-25", "NOP", "Trey Murphy", "murphtr02", "Out"),
        ("2023-10-25", "NOP", "Naji Marshall", "marshna01", "Out"),
        ("2023-10-25", "CLE", "Craig Porter Jr", "portecr01", "Out"),
        ("2023-10-25", "CLE", "Dean Wade", "wadede01", "Doubtful"),
        ("2023-10-25", "BRK", "Ben Simmons", "simmobe01", "Questionable"),
        // Jalen Williams is on the same team: the exact spelling decides.
        ("2023-10-25", "OKC", "Jaylin Williams", "willija07", "Out"),
        ("2023-10-25", "OKC", "Kenrich Williams", "willike04", "Out"),
        ("2023-10-25", "DET", "Bojan Bogdanovic", "bogdabo02", "Out"),
        ("2023-06-12", "MIA", "Victor Oladipo", "oladivi01", "Out"),
        ("2023-06-12", "DEN", "", "", "None"),
    ];
    for (d, team, name, id, status) in expected {
        let key = (date(d), team.to_string(), name.to_string());
        assert_eq!(got.get(&key), Some(&(id.to_string(), status.to_string())), "{key:?}");
    }
    let ledger = scalar(&store, "SELECT count() FROM ingest_files WHERE name LIKE 'injuries/%' AND status = 'loaded'").await;
    assert_eq!(ledger, 3);

    let before = scalar(&store, "SELECT count() FROM injury_reports").await;
    assert_eq!(before, 87);
    let again = injuries::load(&store, &files).await.unwrap();
    assert!(again.all_good(), "{}", again.render());
    assert_eq!((again.files_unchanged, again.files_loaded, again.rows_written), (3, 0, 0));
    assert_eq!(scalar(&store, "SELECT count() FROM injury_reports").await, before, "a second load must add no rows");
    assert_eq!(scalar(&store, "SELECT count() FROM ingest_files WHERE name LIKE 'injuries/%' AND status = 'unchanged'").await, 3);
}

/// The official inactive lists of the reported games, from the pages.
async fn official_lists(store: &Store) -> BTreeMap<(NaiveDate, String), Vec<String>> {
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Entry {
        #[serde(with = "clickhouse::serde::chrono::date")]
        game_date: NaiveDate,
        team: String,
        player_id: String,
    }
    let rows: Vec<Entry> = store.select("official lists", "SELECT game_date, team, player_id FROM game_inactives FINAL").await.unwrap();
    let mut out: BTreeMap<(NaiveDate, String), Vec<String>> = BTreeMap::new();
    for r in rows {
        out.entry((r.game_date, r.team)).or_default().push(r.player_id);
    }
    for list in out.values_mut() {
        list.sort();
    }
    out
}

#[tokio::test]
async fn the_latest_report_before_tip_off_gives_the_official_inactive_lists() {
    let store = sample_store("inj_read").await;
    let loaded = injuries::load(&store, &good_reports()).await.unwrap();
    assert!(loaded.all_good(), "{}", loaded.render());
    let reports = InjuryReports::load(&store).await.unwrap();
    let official = official_lists(&store).await;

    // At 19:00 US Eastern every team reported on 2023-10-25 and 2023-10-27 is out exactly
    // as the page's inactive list says, Doubtful counted inactive; the suspended players the
    // pages show as "Not With Team" are Out on the report too.
    let suspended = |team: &str| match team {
        "MEM" => vec!["moranja01".to_string()],
        "CHO" => vec!["bridgmi02".to_string()],
        _ => Vec::new(),
    };
    let reported = [
        ("2023-10-25", &["BRK", "CLE", "NOP", "MEM", "OKC", "CHI", "DET", "MIA"][..]),
        ("2023-10-27", &["BRK", "DAL", "DEN", "MEM", "GSW", "SAC", "LAC", "UTA", "CHO", "DET"][..]),
    ];
    for (d, teams) in reported {
        let as_of = time(&format!("{d}T19:00:00-04:00"));
        for team in teams {
            let list = reports.inactive(date(d), team, as_of, false).unwrap_or_else(|| panic!("{d} {team} not reported"));
            let mut expected = official.get(&(date(d), team.to_string())).cloned().unwrap_or_default();
            expected.extend(suspended(team));
            expected.sort();
            assert_eq!(list.out, expected, "{d} {team}");
            assert_eq!(list.report_time, time(&format!("{d}T17:30:00-04:00")));
        }
    }

    let d = date("2023-10-25");
    // Before the 17:30 report the 13:30 one holds: Wade questionable, Marshall questionable.
    let early = reports.inactive(d, "CLE", time("2023-10-25T15:00:00-04:00"), false).unwrap();
    assert_eq!((early.report_time, early.out), (time("2023-10-25T13:30:00-04:00"), ids(&["allenja01", "portecr01", "rubiori01"])));
    let nop = reports.inactive(d, "NOP", time("2023-10-25T15:00:00-04:00"), false).unwrap();
    assert_eq!(nop.out, ids(&["alvarjo01", "murphtr02", "seabrde01"]));
    // Before the first report: unknown. A team that played but was not reported: unknown.
    assert_eq!(reports.inactive(d, "CLE", time("2023-10-25T13:29:59-04:00"), false), None);
    assert_eq!(reports.inactive(d, "NYK", time("2023-10-25T19:00:00-04:00"), false), None);
    // Doubtful plays when the flag says so.
    let doubtful_plays = reports.inactive(d, "CLE", time("2023-10-25T19:00:00-04:00"), true).unwrap();
    assert_eq!(doubtful_plays.out, ids(&["allenja01", "portecr01", "rubiori01"]));

    // Finals game 5: Denver reported with nobody on it (its page says "None"), Miami with Oladipo.
    let finals = date("2023-06-12");
    let as_of = time("2023-06-12T20:00:00-04:00");
    assert_eq!(reports.inactive(finals, "DEN", as_of, false).unwrap().out, Vec::<String>::new());
    assert!(!official.contains_key(&(finals, "DEN".to_string())));
    assert_eq!(reports.inactive(finals, "MIA", as_of, false).unwrap().out, official[&(finals, "MIA".to_string())]);
}

#[tokio::test]
async fn every_rejection_is_reported_with_its_reason_and_the_good_entries_are_kept() {
    let store = sample_store("inj_bad").await;
    let bad = report("bad.csv");
    let out = run_cli(store.database(), store.url(), &["injuries", "load", bad.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("files: 1 seen, 1 loaded (1 with rejected entries), 0 unchanged, 0 rejected whole"), "{stdout}");
    assert!(stdout.contains("entries: 16 read, 5 written to injury_reports, 11 rejected"), "{stdout}");

    // (line, check, words the reason must hold), in file order.
    let expected: [(u32, &str, &[&str]); 11] = [
        (4, "injury_unresolved_player", &["Tacko Fall"]),
        (5, "injury_ambiguous_player", &["J. Williams", "willija06", "willija07"]),
        (6, "injury_unknown_team", &["Seattle SuperSonics"]),
        (7, "injury_no_game", &["BOS", "2023-10-26"]),
        (8, "injury_bad_status", &["GTD"]),
        (9, "injury_bad_time", &["2023-10-25 5:30 PM"]),
        (10, "injury_bad_date", &["10/25/2023"]),
        (11, "injury_after_game_day", &["2023-10-26", "pre-game"]),
        (12, "injury_bad_entry", &["4 fields"]),
        (14, "injury_duplicate_player", &["Charlie Brown Jr.", "line 13"]),
        (15, "injury_bad_status", &["without a player"]),
    ];
    for (line, check, words) in expected {
        let printed = stdout
            .lines()
            .find(|l| l.contains(&format!("injuries/bad.csv line {line}: {check}:")))
            .unwrap_or_else(|| panic!("line {line} {check} not in\n{stdout}"));
        for w in words {
            assert!(printed.contains(w), "{printed} lacks {w}");
        }
    }

    // The same findings in data_quality_issues, located by line.
    #[derive(clickhouse::Row, serde::Deserialize, Debug)]
    struct Finding {
        check_name: String,
        message: String,
        severity: String,
    }
    let findings: Vec<Finding> =
        store.client().query("SELECT check_name, message, severity FROM data_quality_issues WHERE source_file = 'injuries/bad.csv'").fetch_all().await.unwrap();
    assert_eq!(findings.len(), expected.len(), "{findings:?}");
    for (line, check, words) in expected {
        let f = findings
            .iter()
            .find(|f| f.check_name == check && f.message.starts_with(&format!("line {line}: ")))
            .unwrap_or_else(|| panic!("line {line} {check}: {findings:?}"));
        assert!(words.iter().all(|w| f.message.contains(w)) && f.severity == "error", "{f:?}");
    }

    // The good lines are kept, resolved.
    let kept: BTreeSet<(String, String, String)> = rows_of(&store, "injuries/bad.csv").await.into_iter().map(|r| (r.team, r.player_id, r.status)).collect();
    let want: BTreeSet<(String, String, String)> =
        [("BOS", "davisjd01"), ("NYK", "brownch02"), ("NYK", "washidu02"), ("NYK", "toppija01"), ("BOS", "knighna01")]
            .iter()
            .map(|(t, id)| (t.to_string(), id.to_string(), "Out".to_string()))
            .collect();
    assert_eq!(kept, want);
    let ledger = "SELECT concat(status, ' ', toString(rows_written)) FROM ingest_files WHERE name = 'injuries/bad.csv' ORDER BY seen_at_us DESC LIMIT 1";
    assert_eq!(store.client().query(ledger).fetch_one::<String>().await.unwrap(), "rejected 5");

    // The file is read again next run (a name may resolve by then); its rows and findings
    // are replaced, not added.
    let again = injuries::load(&store, &[bad]).await.unwrap();
    assert_eq!((again.files_loaded, again.rows_written, again.rejected.len()), (1, 5, 11));
    assert_eq!(scalar(&store, "SELECT count() FROM injury_reports WHERE source_file = 'injuries/bad.csv'").await, 5);
    assert_eq!(scalar(&store, "SELECT count() FROM data_quality_issues WHERE source_file = 'injuries/bad.csv'").await, 11);
}

#[tokio::test]
async fn unreadable_and_malformed_files_are_rejected_whole_and_reported() {
    let store = fresh_store("inj_files").await;
    let dir = tempfile::tempdir().unwrap();
    let header_only = dir.path().join("wrong_header.csv");
    std::fs::write(&header_only, "time,date,team,name,status\n").unwrap();
    let broken_json = dir.path().join("broken.json");
    std::fs::write(&broken_json, r#"{"report_time": "2023-10-25T17:30:00-04:00", "games": [{"team": "BKN"}]}"#).unwrap();
    let missing = dir.path().join("missing.csv");
    let s = injuries::load(&store, &[header_only, broken_json, missing]).await.unwrap();
    assert!(!s.all_good());
    let reasons: Vec<String> = s.files_rejected.iter().map(|r| format!("{}: {}", r.source, r.reason)).collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].contains("wrong_header.csv") && reasons[0].contains("report_time,game_date,team,player,status,reason"), "{reasons:?}");
    assert!(reasons[1].contains("broken.json") && reasons[1].contains("game_date"), "{reasons:?}");
    assert!(reasons[2].contains("missing.csv") && reasons[2].contains("cannot be read"), "{reasons:?}");
    assert_eq!(scalar(&store, "SELECT count() FROM ingest_files WHERE status = 'rejected'").await, 3);
    assert_eq!(scalar(&store, "SELECT count() FROM injury_reports").await, 0);
}
