//! `nba-ingest load` on real pages: counts against independent figures, idempotency,
//! replacement of changed pages, recovery, and bad input.

use crate::util::*;
use nba_ingest::load::{self, LoadSummary};
use std::path::{Path, PathBuf};
use std::process::Command;

#[tokio::test]
async fn sample_loads_with_independent_counts_and_reloading_writes_nothing() {
    let store = fresh_store("sample").await;
    let sample = nba_testkit::sample_archive();
    let first = load::load(Some(&store), &opts(&[&sample])).await.unwrap();
    assert_eq!((first.files_seen, first.loaded, first.box_scores, first.schedule_pages), (59, 59, 57, 2));
    assert!(first.rejected.is_empty(), "{:?}", first.rejected);

    // Figures from scripts/independent_counts.py on the same archive.
    assert_eq!(scalar(&store, "SELECT count() FROM games").await, 59);
    assert_eq!(scalar(&store, "SELECT count() FROM player_boxscores").await, 1597);
    assert_eq!(scalar(&store, "SELECT count() FROM player_boxscores WHERE status = 'Played'").await, 1253);
    assert_eq!(scalar(&store, "SELECT toUInt64(sum(pts)) FROM player_boxscores").await, 12691);
    assert_eq!(scalar(&store, "SELECT count() FROM player_boxscores WHERE starter = 1").await, 570);
    assert_eq!(scalar(&store, "SELECT count() FROM player_boxscores WHERE status = 'Did Not Play'").await, 332);
    assert_eq!(scalar(&store, "SELECT count() FROM player_boxscores WHERE status = 'Did Not Dress'").await, 3);
    assert_eq!(scalar(&store, "SELECT count() FROM player_boxscores WHERE status = 'Not With Team'").await, 7);
    assert_eq!(scalar(&store, "SELECT count() FROM player_boxscores WHERE status = 'Player Suspended'").await, 2);
    assert_eq!(scalar(&store, "SELECT count() FROM game_inactives").await, 388);
    assert_eq!(scalar(&store, "SELECT count() FROM team_boxscores").await, 114);
    // Every team-game's players add up to its Team Totals: no findings on real pages.
    assert_eq!(scalar(&store, "SELECT count() FROM data_quality_issues").await, 0);
    // Season types from the pages' titles.
    assert_eq!(scalar(&store, "SELECT count() FROM team_boxscores WHERE season_type = 'Playoffs'").await, 2);
    assert_eq!(scalar(&store, "SELECT count() FROM team_boxscores WHERE season_type = 'Play-In'").await, 4);
    assert_eq!(scalar(&store, "SELECT count() FROM team_boxscores WHERE season_type = 'IST Final'").await, 2);
    assert_eq!(scalar(&store, "SELECT count() FROM ingest_files WHERE status = 'loaded'").await, 59);
    let before = counts(&store).await;

    let again = load::load(Some(&store), &opts(&[&sample])).await.unwrap();
    assert_eq!((again.loaded, again.unchanged), (0, 59));
    assert_eq!(again.rows_total(), 0);
    assert_eq!(counts(&store).await, before, "a second load must not write data rows");
    assert_eq!(scalar(&store, "SELECT count() FROM ingest_files WHERE status = 'unchanged'").await, 59);
}

/// One season end to end: every page loads, counts match the independent figures, and
/// box scores agree with the schedule pages (final scores, teams, overtimes, types).
#[tokio::test]
async fn season_2024_matches_independent_counts() {
    let store = fresh_store("season").await;
    let archive = nba_testkit::season_archive(2024);
    let s = load::load(Some(&store), &opts(&[&archive])).await.unwrap();
    assert_eq!((s.box_scores, s.schedule_pages), (1023, 7));
    assert!(s.rejected.is_empty(), "{:?}", s.rejected);
    assert_eq!(scalar(&store, "SELECT count() FROM games").await, 1231);
    // The schedule links 1,033 box scores; ten of those pages are missing from the archive.
    assert_eq!(scalar(&store, "SELECT count() FROM games WHERE has_box_score = 1").await, 1033);
    assert_eq!(scalar(&store, "SELECT count() FROM player_boxscores").await, 26942);
    assert_eq!(scalar(&store, "SELECT count() FROM player_boxscores WHERE status = 'Played'").await, 21948);
    assert_eq!(scalar(&store, "SELECT toUInt64(sum(pts)) FROM player_boxscores").await, 234513);
    assert_eq!(scalar(&store, "SELECT count() FROM player_boxscores WHERE starter = 1").await, 10230);
    assert_eq!(scalar(&store, "SELECT count() FROM game_inactives").await, 9046);
    assert_eq!(scalar(&store, "SELECT count() FROM team_boxscores").await, 2046);
    assert_eq!(scalar(&store, "SELECT count() FROM data_quality_issues").await, 0, "{:?}", s.quality);
    // Every box score found its schedule row and agreed with it.
    assert_eq!(scalar(&store, "SELECT count() FROM team_boxscores WHERE game_id NOT IN (SELECT game_id FROM games WHERE has_box_score = 1)").await, 0);
}

#[tokio::test]
async fn changed_page_replaces_its_game() {
    let store = fresh_store("changed").await;
    let dir = tempfile::tempdir().unwrap();
    let page_path = dir.path().join("202310240DEN.html");
    let original = std::fs::read_to_string(fixture("scores/202310240DEN.html")).unwrap();
    std::fs::write(&page_path, &original).unwrap();
    load::load(Some(&store), &opts(&[dir.path()])).await.unwrap();
    let rows_for_game = "SELECT count() FROM player_boxscores WHERE game_id = '202310240DEN'";
    assert_eq!(scalar(&store, rows_for_game).await, 27);

    // A corrected page: Jokić's points changed (now breaking the points formula) and the
    // last DEN reserve (a did-not-play row) removed.
    let jokic_points = "data-stat=\"pts\">29</td><td class=\"right \" data-stat=\"plus_minus\">+15<";
    assert_eq!(original.matches(jokic_points).count(), 1, "the edit must hit Jokić's row only");
    let changed = original.replacen(jokic_points, &jokic_points.replace(">29<", ">31<"), 1);
    let changed = remove_player_row(&changed, "box-DEN-game-basic", "jordade01");
    std::fs::write(&page_path, &changed).unwrap();
    let s = load::load(Some(&store), &opts(&[dir.path()])).await.unwrap();
    assert_eq!(s.loaded, 1);
    assert_eq!(scalar(&store, rows_for_game).await, 26, "the removed row is gone, nothing duplicated");
    assert_eq!(scalar(&store, "SELECT toUInt64(pts) FROM player_boxscores WHERE player_id = 'jokicni01'").await, 31);
    assert_eq!(scalar(&store, "SELECT count() FROM data_quality_issues WHERE check_name = 'player_points_formula' AND player_id = 'jokicni01'").await, 1);
    assert_eq!(scalar(&store, "SELECT count() FROM team_boxscores").await, 2);

    // Restoring the page restores the rows and clears the finding.
    std::fs::write(&page_path, &original).unwrap();
    load::load(Some(&store), &opts(&[dir.path()])).await.unwrap();
    assert_eq!(scalar(&store, rows_for_game).await, 27);
    assert_eq!(scalar(&store, "SELECT count() FROM data_quality_issues").await, 0);
    assert_eq!(scalar(&store, "SELECT toUInt64(pts) FROM player_boxscores WHERE player_id = 'jokicni01'").await, 29);
}

fn remove_player_row(page: &str, table_id: &str, player_id: &str) -> String {
    let table = page.find(&format!("id=\"{table_id}\"")).unwrap();
    let cell = page[table..].find(&format!("data-append-csv=\"{player_id}\"")).unwrap() + table;
    let start = page[..cell].rfind("<tr").unwrap();
    let end = page[cell..].find("</tr>").unwrap() + cell + "</tr>".len();
    format!("{}{}", &page[..start], &page[end..])
}

#[tokio::test]
async fn rows_left_by_an_interrupted_run_are_replaced_not_duplicated() {
    let store = fresh_store("interrupted").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("scores/202310240DEN.html"), dir.path().join("202310240DEN.html")).unwrap();
    load::load(Some(&store), &opts(&[dir.path()])).await.unwrap();
    // Simulate a crash after the data was written but before the ledger entry.
    store.client().query("TRUNCATE TABLE ingest_files").execute().await.unwrap();
    let s = load::load(Some(&store), &opts(&[dir.path()])).await.unwrap();
    assert_eq!(s.loaded, 1);
    assert_eq!(scalar(&store, "SELECT count() FROM player_boxscores").await, 27);
    assert_eq!(scalar(&store, "SELECT count() FROM game_inactives").await, 8);
    assert_eq!(scalar(&store, "SELECT count() FROM team_boxscores").await, 2);
}

#[tokio::test]
async fn bad_inputs_are_set_aside_with_reasons_and_the_rest_is_loaded() {
    let store = fresh_store("bad").await;
    let url = nba_testkit::clickhouse_url();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = std::fs::read(fixture("scores/202310240DEN.html")).unwrap();
    std::fs::write(d.join("202310240DEN.html"), &good).unwrap();
    let sas = std::fs::read(fixture("scores/202310250SAS.html")).unwrap();
    std::fs::write(d.join("202310250SAS.html"), &sas[..sas.len() / 2]).unwrap(); // truncated
    std::fs::write(d.join("202310260DEN.html"), b"Service Unavailable. Try again later.").unwrap(); // not HTML
    std::fs::write(d.join("202310290DEN.html"), b"\x89PNG\r\n\x1a\n\0\0binary").unwrap(); // binary
    std::fs::write(d.join("202310270DEN.html"), b"").unwrap(); // empty
    let cho = std::fs::read_to_string(fixture("scores/202310270CHO.html")).unwrap();
    std::fs::write(d.join("202310270CHO.html"), cho.replace("box-DET-game-basic", "box-gone")).unwrap(); // missing a team table
    std::fs::write(d.join("notes.html"), b"<html></html>").unwrap(); // not a page name
    // An archive whose second member is cut off.
    let archive = d.join("broken.tar.gz");
    write_truncated_tar_gz(
        &archive,
        &[("scores/202310270SAS.html", fixture("scores/202310270SAS.html")), ("scores/202312090LAL.html", fixture("scores/202312090LAL.html"))],
    );

    let out = run_cli(store.database(), url, &["load", d.to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "rejections give exit code 1\n{stdout}\n{stderr}");
    assert!(stdout.contains("2 loaded") && stdout.contains("8 rejected"), "{stdout}");
    for (file, reason) in [
        ("202310250SAS.html", "expected the tables of 2 teams"),
        ("202310260DEN.html", "not an HTML page"),
        ("202310290DEN.html", "not valid UTF-8"),
        ("202310270DEN.html", "empty"),
        ("202310270CHO.html", "expected the tables of 2 teams"),
        ("notes.html", "neither a box-score page"),
        ("broken.tar.gz:scores/202312090LAL.html", "archive member truncated"),
        ("broken.tar.gz: unreadable archive", "unreadable archive"),
    ] {
        let line = stdout.lines().find(|l| l.contains(file)).unwrap_or_else(|| panic!("{file} not listed:\n{stdout}"));
        assert!(line.contains(reason), "{line}");
    }
    // The good pages (one folder page, the archive's intact first member) are loaded.
    assert_eq!(scalar(&store, "SELECT count(DISTINCT game_id) FROM player_boxscores").await, 2);
    assert_eq!(scalar(&store, "SELECT count() FROM ingest_files WHERE status = 'rejected' AND reason != ''").await, 8);
    assert_eq!(scalar(&store, "SELECT count() FROM ingest_files WHERE status = 'loaded'").await, 2);

    // Rejected files are retried on the next run (and rejected again); nothing else changes.
    let before = counts(&store).await;
    let again = run_cli(store.database(), url, &["load", d.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(counts(&store).await, before);
}

fn write_truncated_tar_gz(path: &Path, members: &[(&str, PathBuf)]) {
    let mut builder = tar::Builder::new(Vec::new());
    for (name, file) in members {
        let body = std::fs::read(file).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        builder.append_data(&mut h, name, body.as_slice()).unwrap();
    }
    let tar = builder.into_inner().unwrap();
    let first_len = std::fs::read(&members[0].1).unwrap().len();
    // Keep the first member whole and half of the second.
    let keep = 512 + first_len.div_ceil(512) * 512 + 512 + 4096;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &tar[..keep]).unwrap();
    std::fs::write(path, gz.finish().unwrap()).unwrap();
}

#[tokio::test]
async fn dry_run_parses_and_writes_nothing() {
    let sample = nba_testkit::sample_archive();
    let mut o = opts(&[&sample]);
    o.dry_run = true;
    let s: LoadSummary = load::load(None, &o).await.unwrap();
    assert_eq!((s.loaded, s.box_scores), (59, 57));
    assert_eq!(s.rows_total(), 0);
}

#[tokio::test]
async fn cli_migrate_is_idempotent_and_load_requires_a_schema() {
    let url = nba_testkit::clickhouse_url();
    let db = nba_testkit::unique_database("cli");
    // Names come back with PIDs and the server outlives the run: start without it.
    nba_store::Store::new(nba_store::StoreConfig::new(url, db.clone())).unwrap().drop_database().await.unwrap();
    let sample = nba_testkit::sample_archive();
    let out = run_cli(&db, url, &["load", sample.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("nba-ingest migrate"), "{stderr}");

    for _ in 0..2 {
        let out = run_cli(&db, url, &["migrate"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains(&format!("schema version {}", nba_store::SCHEMA_VERSION)), "{stdout}");
    }
}

#[test]
fn unreachable_clickhouse_is_a_clear_error_with_exit_code_2() {
    let sample = nba_testkit::sample_archive();
    let out = run_cli("nba", "http://127.0.0.1:9", &["load", sample.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("http://127.0.0.1:9") && stderr.contains("after 2 attempt"), "{stderr}");
}

#[test]
fn help_explains_every_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_nba-ingest")).args(["load", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in ["--clickhouse-url", "--database", "--batch-pages", "--workers", "--dry-run", "--progress", "--verbose", "CLICKHOUSE_URL", "NBA_DATABASE"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}
