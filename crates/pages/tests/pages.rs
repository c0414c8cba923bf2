//! Parser tests on fixture pages cut from the sample (`tests/fixtures/pages`, made with
//! `scripts/cut_fixture.py`): one per kind of game and per did-not-play reason, with the
//! line score only inside an HTML comment as the site ships it. Expected values were read
//! off the pages by hand (or with grep), not from the parser.

// Test code: a failed unwrap is a failed test, with its message.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nba_pages::checks::{self, GameResult, Severity};
use nba_pages::*;
use std::path::PathBuf;

fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/pages").join(rel)
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(fixture_path(rel)).unwrap_or_else(|e| panic!("fixture {rel}: {e}"))
}

fn box_score(game_id: &str) -> BoxScore {
    let kind = PageKind::of_path(&format!("scores/{game_id}.html")).unwrap();
    match parse_page(&kind, &fixture(&format!("scores/{game_id}.html"))) {
        Ok(Page::BoxScore(b)) => *b,
        other => panic!("{game_id}: {other:?}"),
    }
}

fn player<'a>(game: &'a BoxScore, id: &str) -> &'a PlayerLine {
    game.teams().into_iter().flat_map(|t| t.players.iter()).find(|p| p.player_id == id).unwrap()
}

#[test]
fn regular_season_game() {
    let g = box_score("202310240DEN");
    assert_eq!(g.season, 2024);
    assert_eq!(g.season_type, SeasonType::RegularSeason);
    assert_eq!(g.game_date, chrono::NaiveDate::from_ymd_opt(2023, 10, 24).unwrap());
    assert_eq!((g.away.team.as_str(), g.home.team.as_str()), ("LAL", "DEN"));
    assert_eq!((g.away.players.len(), g.home.players.len()), (12, 15));
    assert_eq!((g.away.totals.pts, g.home.totals.pts), (107, 119));
    assert_eq!(g.away.totals.fga, 90);
    assert_eq!(g.away.minutes, 240);
    assert_eq!(g.overtimes(), 0);
    assert_eq!(g.away.periods.len(), 4);
    assert_eq!(g.away.periods.iter().sum::<u16>(), 107);

    let russell = player(&g, "russeda01");
    assert_eq!(russell.player_name, "D'Angelo Russell");
    assert!(russell.starter);
    assert_eq!(russell.status, PlayerStatus::Played);
    assert_eq!(russell.seconds, 36 * 60 + 11);
    assert_eq!((russell.stats.fgm, russell.stats.fga, russell.stats.pts), (4, 12, 11));
    assert_eq!(russell.plus_minus, Some(1));
    assert_eq!(russell.advanced.ts_pct, Some(0.427));
    assert_eq!(russell.advanced.usg_pct, Some(19.2));
    assert_eq!(russell.advanced.off_rtg, Some(91.0));
    assert_eq!(russell.advanced.bpm, Some(-6.3));

    let jokic = player(&g, "jokicni01");
    assert_eq!(jokic.seconds, 36 * 60 + 16);
    assert_eq!((jokic.stats.pts, jokic.stats.reb, jokic.stats.ast, jokic.plus_minus), (29, 13, 11, Some(15)));

    for team in g.teams() {
        assert_eq!(team.players.iter().filter(|p| p.starter).count(), 5, "{}", team.team);
        // Starters come first, as on the page.
        assert!(team.players[..5].iter().all(|p| p.starter));
    }
    // The inactive list, with player ids and UTF-8 names.
    let lal: Vec<_> = g.inactives.iter().filter(|i| i.team == "LAL").map(|i| i.player_id.as_str()).collect();
    assert_eq!(lal, ["castlco01", "fudgeal01", "hodgedm01", "hoodsja01", "vandeja01"]);
    let den: Vec<_> = g.inactives.iter().filter(|i| i.team == "DEN").map(|i| i.player_name.as_str()).collect();
    assert_eq!(den, ["Vlatko Čančar", "Jay Huff", "Hunter Tyson"]);
    assert!(checks::check_box_score(&g).is_empty());
}

#[test]
fn overtime_game() {
    let g = box_score("202310270SAS");
    assert_eq!(g.overtimes(), 1);
    assert_eq!((g.away.totals.pts, g.home.totals.pts), (122, 126));
    assert_eq!(g.home.periods.len(), 5);
    assert_eq!(g.home.periods.iter().sum::<u16>(), 126);
    assert_eq!(g.home.minutes, 265);
    assert!(checks::check_box_score(&g).is_empty());
}

#[test]
fn playoff_play_in_ist_final_and_bubble_games() {
    let finals = box_score("202306120DEN");
    assert_eq!((finals.season, finals.season_type), (2023, SeasonType::Playoffs));
    assert_eq!((finals.away.totals.pts, finals.home.totals.pts), (89, 94));
    // "DEN None": a team with nobody inactive.
    assert_eq!(finals.inactives.len(), 1);
    assert_eq!(finals.inactives[0].player_id, "oladivi01");
    assert!(finals.has_inactive_line);

    let play_in = box_score("202304110LAL");
    assert_eq!((play_in.season, play_in.season_type, play_in.overtimes()), (2023, SeasonType::PlayIn, 1));

    let ist = box_score("202312090LAL");
    assert_eq!((ist.season, ist.season_type), (2024, SeasonType::IstFinal));
    assert_eq!((ist.away.totals.pts, ist.home.totals.pts), (109, 123));

    let bubble = box_score("202008150POR");
    assert_eq!((bubble.season, bubble.season_type), (2020, SeasonType::PlayIn));
    assert_eq!((bubble.away.team.as_str(), bubble.home.team.as_str()), ("MEM", "POR"));
    for g in [&finals, &play_in, &ist, &bubble] {
        assert!(checks::check_box_score(g).is_empty(), "{}", g.game_id);
    }
}

#[test]
fn every_did_not_play_reason() {
    let cho = box_score("202310270CHO");
    let bridges = player(&cho, "bridgmi02");
    assert_eq!(bridges.status, PlayerStatus::NotWithTeam);
    assert_eq!((bridges.seconds, bridges.stats, bridges.plus_minus), (0, Counting::default(), None));
    assert_eq!(player(&cho, "ntilila01").status, PlayerStatus::DidNotDress);
    let dnp = cho.teams().into_iter().flat_map(|t| &t.players).filter(|p| p.status == PlayerStatus::DidNotPlay).count();
    assert_eq!(dnp, 8);
    // Did-not-play players are reserves, never starters.
    assert!(cho.teams().into_iter().flat_map(|t| &t.players).filter(|p| p.status != PlayerStatus::Played).all(|p| !p.starter));

    let sas = box_score("202310250SAS");
    assert_eq!(player(&sas, "grahade01").status, PlayerStatus::PlayerSuspended);
}

#[test]
fn schedule_page() {
    let kind = PageKind::of_path("standings/NBA_2023_games-june.html").unwrap();
    let Ok(Page::Schedule(s)) = parse_page(&kind, &fixture("standings/NBA_2023_games-june.html")) else { panic!() };
    assert_eq!((s.season, s.month.as_str()), (2023, "june"));
    assert_eq!(s.games.len(), 5);
    let g5 = s.games.iter().find(|g| g.game_id == "202306120DEN").unwrap();
    assert_eq!((g5.away_team.as_str(), g5.home_team.as_str(), g5.away_pts, g5.home_pts), ("MIA", "DEN", Some(89), Some(94)));
    assert_eq!(g5.season_type, SeasonType::Playoffs);
    assert!(g5.has_box_score);
    assert_eq!(g5.arena, "Ball Arena");
    assert!(s.games.iter().all(|g| g.season_type == SeasonType::Playoffs));

    // The box score and its schedule row agree; a contradicting schedule is flagged.
    let game = box_score("202306120DEN");
    assert!(checks::check_against_schedule(&GameResult::from(&game), &GameResult::from(g5)).is_empty());
    let mut wrong = g5.clone();
    wrong.home_pts = Some(95);
    let found = checks::check_against_schedule(&GameResult::from(&game), &GameResult::from(&wrong));
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].check, found[0].severity), ("schedule_final_score", Severity::Error));
}

#[test]
fn quality_checks_flag_bad_sums_formula_and_starters() {
    let mut g = box_score("202310240DEN");
    // An upstream error like 202101050MEM's: points that do not match the shots.
    let p = g.home.players.iter_mut().find(|p| p.player_id == "jokicni01").unwrap();
    p.stats.pts += 2;
    p.starter = false;
    let found = checks::check_box_score(&g);
    let names: Vec<_> = found.iter().map(|i| (i.check, i.team.as_str(), i.player_id.as_str())).collect();
    assert!(names.contains(&("player_points_formula", "DEN", "jokicni01")), "{names:?}");
    assert!(names.contains(&("team_totals_sum", "DEN", "")), "{names:?}");
    assert!(names.contains(&("five_starters", "DEN", "")), "{names:?}");
    assert!(found.iter().all(|i| i.game_id == "202310240DEN"));
}

// ---- bad input: a clear error naming what is wrong, never a panic ----

fn parse_box(game_id: &str, bytes: &[u8]) -> Result<Page, PageError> {
    parse_page(&PageKind::BoxScore(game_id.into()), bytes)
}

#[test]
fn truncated_page_is_rejected() {
    let page = fixture("scores/202310240DEN.html");
    for cut in [page.len() / 10, page.len() / 3, page.len() / 2, page.len() * 9 / 10] {
        let err = parse_box("202310240DEN", &page[..cut]);
        assert!(err.is_err(), "cut at {cut} parsed: {err:?}");
    }
}

#[test]
fn missing_team_table_is_rejected() {
    let page = String::from_utf8(fixture("scores/202310240DEN.html")).unwrap();
    let without = page.replace("id=\"box-LAL-game-basic\"", "id=\"gone\"");
    assert_eq!(parse_box("202310240DEN", without.as_bytes()), Err(PageError::TeamCount { found: vec!["DEN".into()] }));
    let without_adv = page.replace("id=\"box-LAL-game-advanced\"", "id=\"gone\"");
    assert_eq!(parse_box("202310240DEN", without_adv.as_bytes()), Err(PageError::MissingTable("box-LAL-game-advanced".into())));
}

#[test]
fn page_saved_under_another_games_name_is_rejected() {
    let page = fixture("scores/202310240DEN.html");
    // Same home team, other date: the self links give it away.
    let err = parse_box("202310250DEN", &page).unwrap_err();
    assert_eq!(err, PageError::WrongGame { expected: "202310250DEN".into(), found: "202310240DEN".into() });
    // Other home team: no table for it.
    assert!(matches!(parse_box("202310240BOS", &page), Err(PageError::HomeTeamMissing { .. }) | Err(PageError::WrongGame { .. })));
}

#[test]
fn not_html_empty_and_bad_encoding_are_rejected() {
    assert_eq!(parse_box("202310240DEN", b""), Err(PageError::Empty));
    assert_eq!(parse_box("202310240DEN", b"\x00\x01\x02garbage"), Err(PageError::NotHtml));
    assert_eq!(parse_box("202310240DEN", b"{\"json\": true}"), Err(PageError::NotHtml));
    // Latin-1 bytes where UTF-8 is expected.
    let latin1 = b"<html><h1>Lu\xe8ka</h1></html>";
    assert!(matches!(parse_box("202310240DEN", latin1), Err(PageError::NotUtf8 { offset: 12 })));
    // A schedule that is not a schedule.
    let kind = PageKind::of_path("NBA_2024_games-october.html").unwrap();
    assert_eq!(parse_page(&kind, b"<html><body>nothing</body></html>"), Err(PageError::MissingTable("schedule".into())));
}

#[test]
fn bad_cells_name_table_row_and_column() {
    let page = String::from_utf8(fixture("scores/202310240DEN.html")).unwrap();
    let bad = page.replacen(">36:11<", ">thirty<", 1);
    let err = parse_box("202310240DEN", bad.as_bytes()).unwrap_err().to_string();
    assert!(err.contains("box-LAL-game-basic") && err.contains("russeda01") && err.contains("mp") && err.contains("thirty"), "{err}");
}

#[test]
fn error_messages_read_well() {
    let e = PageError::MissingTable("line_score".into());
    assert_eq!(e.to_string(), "missing table \"line_score\" (truncated page, or not a box score)");
}

/// The cells of one player's row in a table, for edits.
fn edit_row(page: &str, table_id: &str, player_id: &str, edit: impl Fn(&str) -> String) -> String {
    let table = page.find(&format!("id=\"{table_id}\"")).unwrap();
    let cell = page[table..].find(&format!("data-append-csv=\"{player_id}\"")).unwrap() + table;
    let start = page[..cell].rfind("<tr").unwrap();
    let end = page[cell..].find("</tr>").unwrap() + cell;
    format!("{}{}{}", &page[..start], edit(&page[start..end]), &page[end..])
}

fn set_cell(row: &str, stat: &str, value: &str) -> String {
    let at = row.find(&format!("data-stat=\"{stat}\"")).unwrap_or_else(|| panic!("{stat} in {row}"));
    let open = row[at..].find('>').unwrap() + at + 1;
    let close = row[open..].find('<').unwrap() + open;
    format!("{}{value}{}", &row[..open], &row[close..])
}

#[test]
fn impossible_numbers_are_rejected() {
    let page = String::from_utf8(fixture("scores/202310240DEN.html")).unwrap();
    // Jokić: 29 points on 12 of 22, 3 of 5 from three, 2 of 4 free throws, 36:16 played.
    for (stat, value, why) in [
        ("pts", "900", "900 points, more than the record 100"),
        ("fg", "23", "fg 23 is more than fga 22"),
        ("fg3", "6", "fg3 6 is more than fg3a 5"),
        ("ft", "5", "ft 5 is more than fta 4"),
        ("trb", "99", "trb 99 is not orb"),
        ("mp", "49:00", "49:00 played in a game of 48 minutes"),
    ] {
        let bad = edit_row(&page, "box-DEN-game-basic", "jokicni01", |row| set_cell(row, stat, value));
        let err = parse_box("202310240DEN", bad.as_bytes()).unwrap_err();
        assert!(matches!(err, PageError::Impossible { ref team, ref row, .. } if team == "DEN" && row == "jokicni01"), "{stat}: {err:?}");
        assert!(err.to_string().contains(why), "{stat}: {err}");
    }
    // Minutes are still refused as unreadable where they cannot be minutes at all.
    let negative = edit_row(&page, "box-DEN-game-basic", "jokicni01", |row| set_cell(row, "mp", "-5:00"));
    assert!(matches!(parse_box("202310240DEN", negative.as_bytes()), Err(PageError::BadCell { .. })));
    // An overtime game allows 5 more minutes per overtime: 202310270SAS went to one.
    let ot = String::from_utf8(fixture("scores/202310270SAS.html")).unwrap();
    let table = ot.find("id=\"box-SAS-game-basic\"").unwrap();
    let first = &ot[table..];
    let at = first.find("data-append-csv=\"").unwrap() + "data-append-csv=\"".len();
    let id = &first[at..at + first[at..].find('"').unwrap()];
    let with_minutes = |mp: &str| edit_row(&ot, "box-SAS-game-basic", id, |row| set_cell(row, "mp", mp));
    assert!(parse_box("202310270SAS", with_minutes("53:00").as_bytes()).is_ok());
    let err = parse_box("202310270SAS", with_minutes("53:01").as_bytes()).unwrap_err().to_string();
    assert!(err.contains("53:01 played in a game of 53 minutes"), "{err}");
}

#[test]
fn a_box_score_dated_after_today_is_rejected() {
    let g = box_score("202310240DEN");
    let day = |y, m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    assert!(boxscore::check_not_future(&g, day(2023, 10, 24)).is_ok());
    // A day of slack for a clock that is off.
    assert!(boxscore::check_not_future(&g, day(2023, 10, 23)).is_ok());
    let err = boxscore::check_not_future(&g, day(2023, 10, 22)).unwrap_err();
    assert_eq!(err.to_string(), "game 202310240DEN is dated 2023-10-24, after today (2023-10-22): no box score can exist yet");
}

/// Pathological markup a hostile page can hold in the parts read with byte searches and the
/// inline reader: linear time. Before, each of these took minutes (a search of all
/// earlier items per item), so the test would not finish.
#[test]
fn pathological_markup_is_read_in_linear_time() {
    let started = std::time::Instant::now();
    // 200,000 distinct self links and team ids.
    let mut page = String::from("<html><h1>x</h1>");
    for i in 0..200_000u32 {
        page.push_str(&format!("<a href=\"/boxscores/pbp/2023{i:08}.html\"></a><table id=\"box-{}-game-basic\"></table>", base62(i)));
    }
    assert!(matches!(parse_box("202310240DEN", page.as_bytes()), Err(PageError::WrongGame { .. })));
    let ids = html::ids_between(&page, "id=\"box-", "-game-basic\"", 3);
    assert_eq!(ids.len(), 200_000);
    // An inactive line of 100,000 unclosed <strong> tags and 100,000 unmatched end tags.
    let line = format!("<div><strong>Inactive:</strong>{}{}</div>", "<strong>x ".repeat(100_000), "</b>y ".repeat(100_000));
    let items = html::inline_items(&line);
    assert_eq!(items.len(), 100_001);
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "{:?}", started.elapsed());
}

fn base62(mut i: u32) -> String {
    let digits = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut s = Vec::new();
    for _ in 0..3 {
        s.push(digits[(i % 62) as usize]);
        i /= 62;
    }
    String::from_utf8(s).unwrap()
}
