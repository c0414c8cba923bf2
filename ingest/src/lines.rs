//! `nba-ingest lines load FILE...`: sportsbook player-points lines (the odds APIs'
//! event-odds JSON or our CSV, shapes in [`parse`] and docs/ingest.md) into `prop_lines`,
//! which the server, the slate and grading read through `nba_store::lines` (a book's
//! latest line at a time, the consensus across books, the closing line).
//!
//! Each file goes through the skeleton of [`crate::feed`] (ledger, whole-file refusal,
//! replacing an earlier version's rows); here is what is particular to prop lines: the
//! checks of every Over/Under pair (snapshot time, game date, teams, both sides at one
//! line, the line, the prices as odds, the game in `games`, taken before tip-off, the
//! player resolved on one of the two teams, not listed twice). A bad pair is rejected
//! alone, with its place in the file and the reason, into `data_quality_issues` and the
//! summary; the file's other lines are kept. A file with rejected lines is recorded as
//! `rejected`, so the next run reads it again (a name may resolve once more box scores
//! are loaded). Prices are stored as decimal odds; only pre-game snapshots are stored.

pub mod parse;

use crate::feed::{self, Feed, FeedSummary, FileChecks, Finding};
use chrono::{DateTime, NaiveDate, Utc};
use nba_names::{Candidate, PlayerRegistry, Resolution};
use nba_store::Store;
use nba_store::rows::PropLineRow;
use parse::{GameWhen, RawLine};
use std::collections::HashMap;
use std::path::PathBuf;

/// Why a line was rejected: the `check_name` in `data_quality_issues`.
pub mod checks {
    pub const BAD_ENTRY: &str = "lines_bad_entry";
    pub const BAD_TIME: &str = "lines_bad_time";
    pub const BAD_DATE: &str = "lines_bad_date";
    pub const UNKNOWN_TEAM: &str = "lines_unknown_team";
    pub const NO_GAME: &str = "lines_no_game";
    pub const AFTER_TIPOFF: &str = "lines_after_tipoff";
    pub const UNRESOLVED_PLAYER: &str = "lines_unresolved_player";
    pub const AMBIGUOUS_PLAYER: &str = "lines_ambiguous_player";
    pub const PLAYER_NOT_ON_TEAMS: &str = "lines_player_not_on_teams";
    pub const BAD_LINE: &str = "lines_bad_line";
    pub const NOT_ODDS: &str = "lines_not_odds";
    pub const ONE_SIDE: &str = "lines_one_side";
    pub const DUPLICATE: &str = "lines_duplicate";
}

/// A scheduled game as the checks need it.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledGame {
    pub game_id: String,
    /// From `start_time_et` on the game date (US Eastern), else the end of that day.
    pub tipoff: DateTime<Utc>,
}

/// What every line is checked against: the players and the schedule.
pub struct Reference {
    pub registry: PlayerRegistry,
    /// (game date, home, away) → the game.
    pub games: HashMap<(NaiveDate, String, String), ScheduledGame>,
}

impl Reference {
    /// The registry (`nba_names::PlayerRegistry::load`) and the `games` table.
    pub async fn load(store: &Store) -> anyhow::Result<Self> {
        let (registry, rows) = feed::players_and_schedule(store).await?;
        let games = rows
            .into_iter()
            .map(|g| {
                let tipoff = parse::schedule_tipoff(g.game_date, &g.start_time_et);
                ((g.game_date, g.home_team, g.away_team), ScheduledGame { game_id: g.game_id, tipoff })
            })
            .collect();
        Ok(Reference { registry, games })
    }

    /// The games of `team` on `date`, as "AWAY at HOME", for the reason of a missing game.
    fn games_of(&self, date: NaiveDate, team: &str) -> Vec<String> {
        let mut found: Vec<String> =
            self.games.keys().filter(|(d, h, a)| *d == date && (h == team || a == team)).map(|(_, h, a)| format!("{a} at {h}")).collect();
        found.sort();
        found
    }
}

/// What a `lines load` run did: the files and rows of [`FeedSummary`], and the lines read
/// and markets skipped.
pub type LinesSummary = FeedSummary<LineCounts>;

/// The prop-line counts of a run beside [`FeedSummary`]'s.
#[derive(Debug, Default, Clone)]
pub struct LineCounts {
    /// Over/Under pairs (and entries that are not lines at all) read.
    pub lines_read: u64,
    /// JSON markets other than `player_points`: skipped, not rejected.
    pub markets_skipped: u64,
}

impl LinesSummary {
    /// The end-of-run summary for people.
    pub fn render(&self) -> String {
        let counts = format!(
            "lines: {} read, {} written to prop_lines, {} rejected; {} other markets skipped",
            self.lines_read,
            self.rows_written,
            self.rejected.len(),
            self.markets_skipped
        );
        self.render_with("prop lines", FEED.entries, &counts)
    }
}

/// Adds a loaded file's pairs (good or bad) and skipped markets to the run's counts;
/// returns how many pairs.
fn count_lines(counts: &mut LineCounts, parsed: &parse::ParsedFile) -> usize {
    let read = parsed.lines.len() + parsed.malformed.len();
    counts.markets_skipped += parsed.markets_skipped;
    counts.lines_read += read as u64;
    read
}

/// The prop-lines feed for [`crate::feed`]: a file's entries are its Over/Under pairs. A
/// lines file is `lines/<file name>` in the ledger (`ingest_files.name`) and in
/// `source_file`: the file name identifies it.
const FEED: Feed<Reference, parse::ParsedFile, PropLineRow, LineCounts> = Feed {
    ledger_prefix: "lines/",
    entries: "lines",
    refused: "prop lines file rejected",
    parse: parse::parse_file,
    check: check_lines,
    count_read: count_lines,
};

/// Loads prop-line files (folders: their `.csv` and `.json` files). Errors only for what
/// stops the run (ClickHouse unreachable after retries, no schema); bad files and lines
/// are in the summary.
pub async fn load(store: &Store, paths: &[PathBuf]) -> anyhow::Result<LinesSummary> {
    let run = feed::Run::start(store).await?;
    run.load_files(store, &FEED, &Reference::load(store).await?, paths).await
}

/// A file's lines after the checks: line rows, and rejections with their findings.
pub type CheckedFile = feed::CheckedFile<PropLineRow>;

/// Checks every line of a parsed file (see [`check_line`]), then rejects a book's line
/// for a player at a snapshot given twice, which would leave the stored one to chance.
pub fn check_lines(parsed: &parse::ParsedFile, reference: &Reference, file: &str, version: u64) -> CheckedFile {
    let mut out = FileChecks::new(file, version, &parsed.malformed, checks::BAD_ENTRY);
    for raw in &parsed.lines {
        // The table's key: (game date, player, book, snapshot).
        let checked = check_line(raw, reference).map(|row| {
            ((row.game_date, row.player_id.clone(), row.book.clone(), row.snapshot_time), PropLineRow { source_file: file.to_string(), version, ..row })
        });
        out.add(&raw.location, checked, |row, first| {
            let player = raw.player.trim();
            let reason = format!("{player}'s line at {} is given twice by {} (first at {first})", row.snapshot_time, row.book);
            Finding { check: checks::DUPLICATE, reason, team: row.team.clone(), player: player.to_string(), date: Some(row.game_date) }
        });
    }
    out.finish()
}

/// The checks of one line, in order: book, snapshot time, game date (and tip-off of an
/// event), teams, both sides at one line, the line, the prices, the game in the schedule,
/// taken before tip-off, the player on one of the two teams. The row it gives has no
/// `source_file` or `version` yet.
fn check_line(raw: &RawLine, reference: &Reference) -> Result<PropLineRow, Finding> {
    let player = raw.player.trim();
    let fail = |check, reason: String, team: &str, date| Finding { check, reason, team: team.to_string(), player: player.to_string(), date };
    let written = format!("{} at {}", raw.away_team.trim(), raw.home_team.trim());
    let book = raw.book.trim().to_lowercase();
    if book.is_empty() {
        return Err(fail(checks::BAD_ENTRY, "no book".into(), &written, None));
    }
    let time = match (&raw.when, raw.snapshot_time.trim().is_empty()) {
        (GameWhen::Commence(_), true) => {
            let reason = "no snapshot time: neither the market nor the bookmaker has a last_update, and no historical timestamp wraps the file";
            return Err(fail(checks::BAD_TIME, reason.to_string(), &written, None));
        }
        _ => parse::parse_time("snapshot_time", &raw.snapshot_time).map_err(|r| fail(checks::BAD_TIME, r, &written, None))?,
    };
    let (date, commence) = match &raw.when {
        GameWhen::Date(d) => (feed::parse_game_date(d).map_err(|r| fail(checks::BAD_DATE, r, &written, None))?, None),
        GameWhen::Commence(c) => {
            let start = parse::parse_time("commence_time", c).map_err(|r| fail(checks::BAD_TIME, r, &written, None))?;
            (feed::eastern_date(start), Some(start))
        }
    };
    let team_of = |t: &str| {
        nba_names::canonical_team(t).ok_or_else(|| fail(checks::UNKNOWN_TEAM, format!("team {:?} is not an NBA team", t.trim()), &written, Some(date)))
    };
    let (home, away) = (team_of(&raw.home_team)?, team_of(&raw.away_team)?);
    let teams = format!("{away} at {home}");
    let (line, over_price, under_price) = check_sides(raw).map_err(|(c, r)| fail(c, r, &teams, Some(date)))?;
    let game = reference.games.get(&(date, home.to_string(), away.to_string())).ok_or_else(|| {
        let mut known = reference.games_of(date, home);
        known.extend(reference.games_of(date, away));
        known.dedup();
        let that_day = if known.is_empty() { "neither team plays that day".to_string() } else { format!("that day: {}", known.join(", ")) };
        fail(checks::NO_GAME, format!("no game {teams} on {date} in the schedule (table games); {that_day}"), &teams, Some(date))
    })?;
    let tipoff = commence.unwrap_or(game.tipoff);
    if time >= tipoff {
        let reason = format!("snapshot {time} is at or after tip-off {tipoff}: an in-game line, not a pre-game one");
        return Err(fail(checks::AFTER_TIPOFF, reason, &teams, Some(date)));
    }
    let (player_id, team) = resolve_player(&reference.registry, player, (home, away), date).map_err(|(c, r)| fail(c, r, &teams, Some(date)))?;
    Ok(PropLineRow {
        snapshot_time: time,
        game_date: date,
        game_id: game.game_id.clone(),
        book,
        player_id,
        player_name: player.to_string(),
        team,
        line,
        over_price,
        under_price,
        tipoff,
        source_file: String::new(),
        version: 0,
    })
}

/// Both sides at one line, the line itself, and both prices as decimal odds.
fn check_sides(raw: &RawLine) -> Result<(f32, f64, f64), (&'static str, String)> {
    let (over, under) = match (&raw.over, &raw.under) {
        (Some(o), Some(u)) => (o, u),
        (Some(o), None) => return Err((checks::ONE_SIDE, format!("Over {} without its Under", o.point.trim()))),
        (None, Some(u)) => return Err((checks::ONE_SIDE, format!("Under {} without its Over", u.point.trim()))),
        (None, None) => return Err((checks::ONE_SIDE, "neither side has a price".to_string())),
    };
    let line = parse::parse_line(&over.point).map_err(|r| (checks::BAD_LINE, r))?;
    let under_line = parse::parse_line(&under.point).map_err(|r| (checks::BAD_LINE, r))?;
    if line != under_line {
        return Err((checks::ONE_SIDE, format!("Over {line} but Under {under_line}: the two sides are not one line")));
    }
    let price = |side: &str, text: &str| parse::decimal_odds(text).map_err(|r| (checks::NOT_ODDS, format!("{side} {r}")));
    Ok((line, price("over", &over.price)?, price("under", &under.price)?))
}

/// The player's id and team: a known basketball-reference id as is (his team at the
/// date), otherwise the name through the registry with each team of the game and the
/// date. Accepted only on one of the two teams; a name that is nobody, several players
/// equally, or a player of another team is rejected (with the candidates).
fn resolve_player(registry: &PlayerRegistry, player: &str, (home, away): (&str, &str), date: NaiveDate) -> Result<(String, String), (&'static str, String)> {
    let on_game = |c: &Candidate| c.team == home || c.team == away;
    let listed = |cs: &[Candidate]| cs.iter().map(|c| format!("{} ({}, {}, score {:.2})", c.player_id, c.name, c.team, c.score)).collect::<Vec<_>>().join(", ");
    let not_on = |who: String| (checks::PLAYER_NOT_ON_TEAMS, format!("{player:?} is {who}, on neither {home} nor {away} on {date}"));
    if registry.name_of(player).is_some() {
        let found = registry.candidates(player, Some(home), Some(date), 1);
        return match found.first() {
            Some(c) if on_game(c) => Ok((c.player_id.clone(), c.team.clone())),
            _ => Err(not_on(listed(&found))),
        };
    }
    let answers = [home, away].map(|team| registry.resolve(player, Some(team), Some(date)));
    let resolved = answers.iter().filter_map(|a| if let Resolution::Resolved(c) = a { Some(c) } else { None });
    let on_teams = distinct_players(resolved.filter(|c| on_game(c)));
    match on_teams.as_slice() {
        [one] => return Ok((one.player_id.clone(), one.team.clone())),
        [_, _, ..] => return Err((checks::AMBIGUOUS_PLAYER, format!("{player:?} may be any of {}", listed(&on_teams)))),
        [] => {}
    }
    let ambiguous = distinct_players(answers.iter().filter_map(|a| if let Resolution::Ambiguous(cs) = a { Some(cs) } else { None }).flatten());
    if !ambiguous.is_empty() {
        return Err((checks::AMBIGUOUS_PLAYER, format!("{player:?} may be any of {}", listed(&ambiguous))));
    }
    match &answers[0] {
        Resolution::Resolved(c) => Err(not_on(listed(std::slice::from_ref(c)))),
        _ => Err((checks::UNRESOLVED_PLAYER, format!("no known player is named {player:?}"))),
    }
}

/// The candidates, each player once (the first of his), in order.
fn distinct_players<'a>(candidates: impl Iterator<Item = &'a Candidate>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    for c in candidates {
        if !out.iter().any(|o| o.player_id == c.player_id) {
            out.push(c.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use nba_names::PlayerSighting;
    use parse::RawSide;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2023, 10, 27).unwrap()
    }

    fn utc(s: &str) -> DateTime<Utc> {
        parse::parse_time("t", s).unwrap()
    }

    /// Two games of 2023-10-27 and a few players, one of them named like another.
    fn reference() -> Reference {
        let seen = |id: &str, name: &str, team: &str| PlayerSighting {
            player_id: id.into(),
            name: name.into(),
            team: team.into(),
            first: NaiveDate::from_ymd_opt(2023, 10, 24).unwrap(),
            last: NaiveDate::from_ymd_opt(2023, 10, 26).unwrap(),
        };
        let registry = PlayerRegistry::new([
            seen("tatumja01", "Jayson Tatum", "BOS"),
            seen("butleji01", "Jimmy Butler", "MIA"),
            seen("doncilu01", "Luka Dončić", "DAL"),
            seen("claxtni01", "Nic Claxton", "BRK"),
            seen("jamesle01", "LeBron James", "LAL"),
            seen("willija06", "Jalen Williams", "OKC"),
            seen("willija07", "Jaylin Williams", "OKC"),
        ]);
        let game = |id: &str, tipoff: &str| ScheduledGame { game_id: id.into(), tipoff: utc(tipoff) };
        let games = HashMap::from([
            ((day(), "BOS".to_string(), "MIA".to_string()), game("202310270BOS", "2023-10-27T23:30:00Z")),
            ((day(), "DAL".to_string(), "BRK".to_string()), game("202310270DAL", "2023-10-28T00:30:00Z")),
        ]);
        Reference { registry, games }
    }

    /// A good CSV line: Tatum, DraftKings, 14:00 UTC.
    fn raw() -> RawLine {
        let side = |price: &str| Some(RawSide { point: "27.5".into(), price: price.into() });
        RawLine {
            location: "line 2".into(),
            snapshot_time: "2023-10-27T14:00:00Z".into(),
            book: " DraftKings ".into(),
            when: GameWhen::Date("2023-10-27".into()),
            home_team: "Boston Celtics".into(),
            away_team: "MIA".into(),
            player: "Jayson Tatum".into(),
            over: side("-115"),
            under: side("+105"),
        }
    }

    fn checked(lines: Vec<RawLine>) -> CheckedFile {
        let parsed = parse::ParsedFile { lines, malformed: vec![("line 9".into(), "3 fields".into())], markets_skipped: 0 };
        check_lines(&parsed, &reference(), "lines/test.csv", 7)
    }

    #[test]
    fn a_good_line_is_stored_with_decimal_odds_the_player_team_and_the_tipoff() {
        let json = RawLine {
            when: GameWhen::Commence("2023-10-28T00:40:00Z".into()),
            home_team: "DAL".into(),
            away_team: "Brooklyn Nets".into(),
            player: "Luka Doncic".into(),
            over: Some(RawSide { point: "32.5".into(), price: "1.87".into() }),
            under: Some(RawSide { point: "32.5".into(), price: "1.95".into() }),
            ..raw()
        };
        let out = checked(vec![raw(), json]);
        assert_eq!(out.rejected.len(), 1, "only the malformed entry");
        assert_eq!((out.rejected[0].0.check, out.rejected[0].1.message.as_str()), (checks::BAD_ENTRY, "line 9: 3 fields"));
        let tatum = &out.rows[0];
        assert_eq!(
            (tatum.book.as_str(), tatum.player_id.as_str(), tatum.team.as_str(), tatum.game_id.as_str()),
            ("draftkings", "tatumja01", "BOS", "202310270BOS")
        );
        assert_eq!((tatum.line, tatum.snapshot_time, tatum.tipoff), (27.5, utc("2023-10-27T14:00:00Z"), utc("2023-10-27T23:30:00Z")));
        assert!((tatum.over_price - (1.0 + 100.0 / 115.0)).abs() < 1e-12 && (tatum.under_price - 2.05).abs() < 1e-12);
        assert_eq!((tatum.source_file.as_str(), tatum.version, tatum.player_name.as_str()), ("lines/test.csv", 7, "Jayson Tatum"));
        // An event: its date is the US Eastern date of its start, its tip-off its start.
        let luka = &out.rows[1];
        assert_eq!((luka.game_date, luka.player_id.as_str(), luka.team.as_str()), (day(), "doncilu01", "DAL"));
        assert_eq!((luka.tipoff, luka.over_price, luka.under_price), (utc("2023-10-28T00:40:00Z"), 1.87, 1.95));
        // A player of the away team, and a player given by id.
        let butler = checked(vec![RawLine { player: "butleji01".into(), ..raw() }]);
        assert_eq!((butler.rows[0].player_id.as_str(), butler.rows[0].team.as_str()), ("butleji01", "MIA"));
    }

    #[test]
    fn every_check_rejects_its_line_alone_with_the_reason() {
        let side = |point: &str, price: &str| Some(RawSide { point: point.into(), price: price.into() });
        let cases: Vec<(RawLine, &str, &[&str])> = vec![
            (RawLine { book: " ".into(), ..raw() }, checks::BAD_ENTRY, &["no book"]),
            (RawLine { snapshot_time: "2023-10-27 14:00".into(), ..raw() }, checks::BAD_TIME, &["snapshot_time", "2023-10-27 14:00"]),
            (RawLine { snapshot_time: String::new(), ..raw() }, checks::BAD_TIME, &["no snapshot_time"]),
            (
                RawLine { snapshot_time: String::new(), when: GameWhen::Commence("2023-10-27T23:30:00Z".into()), ..raw() },
                checks::BAD_TIME,
                &["no snapshot time", "last_update", "timestamp"],
            ),
            (RawLine { when: GameWhen::Commence("tonight".into()), ..raw() }, checks::BAD_TIME, &["commence_time", "tonight"]),
            (RawLine { when: GameWhen::Date("10/27/2023".into()), ..raw() }, checks::BAD_DATE, &["10/27/2023"]),
            (RawLine { away_team: "Seattle SuperSonics".into(), ..raw() }, checks::UNKNOWN_TEAM, &["Seattle SuperSonics"]),
            (RawLine { home_team: "MIA".into(), away_team: "BOS".into(), ..raw() }, checks::NO_GAME, &["BOS at MIA", "that day: MIA at BOS"]),
            (RawLine { when: GameWhen::Date("2023-10-26".into()), ..raw() }, checks::NO_GAME, &["2023-10-26", "neither team plays"]),
            (RawLine { snapshot_time: "2023-10-27T23:30:00Z".into(), ..raw() }, checks::AFTER_TIPOFF, &["23:30:00", "in-game"]),
            (RawLine { player: "Tacko Fall".into(), ..raw() }, checks::UNRESOLVED_PLAYER, &["Tacko Fall"]),
            (RawLine { player: "J. Williams".into(), ..raw() }, checks::AMBIGUOUS_PLAYER, &["willija06", "willija07"]),
            (RawLine { player: "LeBron James".into(), ..raw() }, checks::PLAYER_NOT_ON_TEAMS, &["jamesle01", "LAL", "neither BOS nor MIA"]),
            (RawLine { player: "jamesle01".into(), ..raw() }, checks::PLAYER_NOT_ON_TEAMS, &["neither BOS nor MIA"]),
            (RawLine { over: side("-2.5", "-110"), under: side("-2.5", "-110"), ..raw() }, checks::BAD_LINE, &["negative"]),
            (RawLine { over: side("NaN", "-110"), under: side("NaN", "-110"), ..raw() }, checks::BAD_LINE, &["finite"]),
            (RawLine { over: side("27.5", "abc"), ..raw() }, checks::NOT_ODDS, &["over price \"abc\""]),
            (RawLine { under: side("27.5", "-50"), ..raw() }, checks::NOT_ODDS, &["under price \"-50\""]),
            (RawLine { under: side("27.5", "1.0"), ..raw() }, checks::NOT_ODDS, &["\"1.0\""]),
            (RawLine { under: None, ..raw() }, checks::ONE_SIDE, &["Over 27.5 without its Under"]),
            (RawLine { over: None, ..raw() }, checks::ONE_SIDE, &["Under 27.5 without its Over"]),
            (RawLine { under: side("28.5", "-110"), ..raw() }, checks::ONE_SIDE, &["Over 27.5 but Under 28.5"]),
        ];
        for (line, check, words) in cases {
            let what = format!("{line:?}");
            let out = checked(vec![line]);
            assert!(out.rows.is_empty(), "{what}");
            let (rejected, issue) = &out.rejected[0];
            assert_eq!(rejected.check, check, "{what}: {rejected:?}");
            assert!(words.iter().all(|w| rejected.reason.contains(w)), "{what}: {rejected:?} lacks one of {words:?}");
            assert_eq!((issue.check_name.as_str(), issue.severity.as_str(), issue.source_file.as_str()), (check, "error", "lines/test.csv"));
            assert_eq!(issue.message, format!("line 2: {}", rejected.reason));
            assert!(issue.game_id.is_empty());
        }
    }

    #[test]
    fn the_same_book_player_and_snapshot_twice_keeps_the_first() {
        let moved = RawLine { location: "line 3".into(), over: Some(RawSide { point: "28.5".into(), price: "-110".into() }), under: None, ..raw() };
        let second = RawLine { location: "line 4".into(), book: "draftkings".into(), ..raw() };
        let later = RawLine { location: "line 5".into(), snapshot_time: "2023-10-27T14:00:01Z".into(), ..raw() };
        let other_book = RawLine { location: "line 6".into(), book: "fanduel".into(), ..raw() };
        let out = checked(vec![raw(), moved, second, later, other_book]);
        let rejected: Vec<(&str, &str)> = out.rejected.iter().map(|(r, _)| (r.location.as_str(), r.check)).collect();
        assert_eq!(rejected, [("line 3", checks::ONE_SIDE), ("line 4", checks::DUPLICATE), ("line 9", checks::BAD_ENTRY)]);
        assert!(out.rejected[1].0.reason.contains("first at line 2"), "{:?}", out.rejected[1]);
        assert_eq!(out.rows.len(), 3);
    }
}
