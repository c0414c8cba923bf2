//! `nba-ingest lines load FILE...`: sportsbook player-points lines (the odds APIs'
//! event-odds JSON or our CSV, shapes in [`parse`] and docs/ingest.md) into `prop_lines`,
//! which the server, the slate and grading read through `nba_store::lines` (a book's
//! latest line at a time, the consensus across books, the closing line).
//!
//! Per file: read, skip when the ledger already holds its content (so loading the same
//! file twice writes nothing), parse, check every Over/Under pair (snapshot time, game
//! date, teams, both sides at one line, the line, the prices as odds, the game in `games`,
//! taken before tip-off, the player resolved on one of the two teams, not listed twice),
//! then replace what an earlier version of the file wrote with the good lines and the
//! findings, and record the file in the `ingest_files` ledger last. A bad pair is rejected
//! alone, with its place in the file and the reason, into `data_quality_issues` and the
//! summary; the file's other lines are kept. A file with rejected lines is recorded as
//! `rejected`, so the next run reads it again (a name may resolve once more box scores
//! are loaded). Prices are stored as decimal odds; only pre-game snapshots are stored.

pub mod parse;

use crate::load::{FileStatus, Rejection};
use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use nba_names::{Candidate, PlayerRegistry, Resolution};
use nba_store::rows::{IngestFileRow, PropLineRow, QualityIssueRow};
use nba_store::{Store, schema};
use parse::{GameWhen, RawLine};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Prefix of the ledger name (`ingest_files.name`) and `source_file` of a lines file:
/// `lines/<file name>`. The file name identifies a lines file.
pub const LEDGER_PREFIX: &str = "lines/";

/// Severity of every prop-line finding: the line was not loaded.
const SEVERITY: &str = "error";

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

/// One rejected line.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedLine {
    /// The file's ledger name (`lines/<file name>`).
    pub file: String,
    /// Where in the file: `line 7`, `event 2 bookmakers[1].markets[0].outcomes[4,5]`.
    pub location: String,
    /// One of [`checks`].
    pub check: &'static str,
    pub reason: String,
}

/// What a `lines load` run did.
#[derive(Debug, Default, Clone)]
pub struct LinesSummary {
    pub files_seen: u64,
    /// Files read and written (with or without rejected lines).
    pub files_loaded: u64,
    /// Of those, files with rejected lines (ledgered `rejected`, read again next run).
    pub files_with_rejections: u64,
    /// Files whose content the ledger already held: nothing read or written.
    pub files_unchanged: u64,
    /// Files refused whole (unreadable, not either shape), with the reason.
    pub files_rejected: Vec<Rejection>,
    /// Over/Under pairs (and entries that are not lines at all) read.
    pub lines_read: u64,
    /// Rows written to `prop_lines`.
    pub rows_written: u64,
    /// JSON markets other than `player_points`: skipped, not rejected.
    pub markets_skipped: u64,
    pub rejected: Vec<RejectedLine>,
}

impl LinesSummary {
    /// Nothing rejected: exit code 0.
    pub fn all_good(&self) -> bool {
        self.files_rejected.is_empty() && self.rejected.is_empty()
    }

    /// The end-of-run summary for people.
    pub fn render(&self) -> String {
        let mut out = String::from("prop lines load summary\n");
        let _ = writeln!(
            out,
            "  files: {} seen, {} loaded ({} with rejected lines), {} unchanged, {} rejected whole",
            self.files_seen,
            self.files_loaded,
            self.files_with_rejections,
            self.files_unchanged,
            self.files_rejected.len()
        );
        let _ = writeln!(
            out,
            "  lines: {} read, {} written to prop_lines, {} rejected; {} other markets skipped",
            self.lines_read,
            self.rows_written,
            self.rejected.len(),
            self.markets_skipped
        );
        if !self.rejected.is_empty() {
            let _ = writeln!(out, "  rejected lines (table data_quality_issues; the file is read again next run):");
            for r in &self.rejected {
                let _ = writeln!(out, "    {} {}: {}: {}", r.file, r.location, r.check, r.reason);
            }
        }
        if !self.files_rejected.is_empty() {
            let _ = writeln!(out, "  rejected files (recorded in ingest_files; rerun after fixing):");
            for r in &self.files_rejected {
                let _ = writeln!(out, "    {}: {}", r.source, r.reason);
            }
        }
        out
    }
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
        #[derive(clickhouse::Row, serde::Deserialize)]
        struct Game {
            game_id: String,
            #[serde(with = "clickhouse::serde::chrono::date")]
            game_date: NaiveDate,
            start_time_et: String,
            away_team: String,
            home_team: String,
        }
        let registry = PlayerRegistry::load(store).await.context("reading the player registry")?;
        let sql = "SELECT game_id, game_date, start_time_et, away_team, home_team FROM games FINAL";
        let rows: Vec<Game> = store.select("read the schedule", sql).await?;
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

/// Loads prop-line files (folders: their `.csv` and `.json` files). Errors only for what
/// stops the run (ClickHouse unreachable after retries, no schema); bad files and lines
/// are in the summary.
pub async fn load(store: &Store, paths: &[PathBuf]) -> anyhow::Result<LinesSummary> {
    crate::load::check_schema(store).await?;
    let run_id = format!("{}-{}", Utc::now().format("%Y%m%dT%H%M%S%.3fZ"), std::process::id());
    // One version per run, as `load`: the newest run's row wins for a key.
    let version = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
    let ledger = store.ledger_loaded().await?;
    let reference = Reference::load(store).await?;
    let mut summary = LinesSummary::default();
    for path in expand(paths, &mut summary) {
        load_file(store, &reference, &ledger, &path, (&run_id, version), &mut summary).await?;
    }
    Ok(summary)
}

/// The files to read: files as given, folders' `.csv` and `.json` files in name order
/// (a fixtures folder's README is not a lines file). A path that does not exist is a
/// rejected file.
fn expand(paths: &[PathBuf], summary: &mut LinesSummary) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let Ok(dir) = std::fs::read_dir(path) else {
                summary.files_rejected.push(Rejection { name: String::new(), source: path.display().to_string(), reason: "folder cannot be read".into() });
                continue;
            };
            let mut found: Vec<PathBuf> = dir
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv") || x.eq_ignore_ascii_case("json")))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    files
}

/// `lines/<file name>`.
pub fn ledger_name(path: &Path) -> String {
    format!("{LEDGER_PREFIX}{}", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default())
}

/// One file: read, skip if unchanged, parse, check, write, ledger.
async fn load_file(
    store: &Store,
    reference: &Reference,
    ledger: &HashMap<String, String>,
    path: &Path,
    (run_id, version): (&str, u64),
    summary: &mut LinesSummary,
) -> anyhow::Result<()> {
    let name = ledger_name(path);
    let source = path.display().to_string();
    summary.files_seen += 1;
    let mut entry = IngestFileRow {
        run_id: run_id.to_string(),
        name: name.clone(),
        source: source.clone(),
        sha256: String::new(),
        size: 0,
        status: FileStatus::Rejected.as_str().to_string(),
        reason: String::new(),
        rows_written: 0,
        seen_at: Utc::now(),
        seen_at_us: 0,
    };
    let parsed = match std::fs::read(path) {
        Err(e) => Err(format!("cannot be read: {e}")),
        Ok(bytes) => {
            entry.sha256 = hex::encode(Sha256::digest(&bytes));
            entry.size = bytes.len() as u64;
            if ledger.get(&name) == Some(&entry.sha256) {
                summary.files_unchanged += 1;
                entry.status = FileStatus::Unchanged.as_str().to_string();
                return write_ledger(store, entry).await;
            }
            parse::parse_file(&bytes).map_err(|e| e.to_string())
        }
    };
    let parsed = match parsed {
        Ok(p) => p,
        Err(reason) => {
            tracing::warn!(file = %source, %reason, "prop lines file rejected");
            summary.files_rejected.push(Rejection { name, source, reason: reason.clone() });
            entry.reason = reason;
            return write_ledger(store, entry).await;
        }
    };
    let checked = check_lines(&parsed, reference, &name, version);
    let total = parsed.lines.len() + parsed.malformed.len();
    write_file_rows(store, &name, &checked).await?;
    summary.files_loaded += 1;
    summary.lines_read += total as u64;
    summary.markets_skipped += parsed.markets_skipped;
    summary.rows_written += checked.rows.len() as u64;
    entry.rows_written = checked.rows.len() as u64;
    if checked.rejected.is_empty() {
        entry.status = FileStatus::Loaded.as_str().to_string();
    } else {
        summary.files_with_rejections += 1;
        entry.reason = format!("{} of {total} lines rejected (see data_quality_issues); the other {} loaded", checked.rejected.len(), checked.rows.len());
    }
    summary.rejected.extend(checked.rejected.into_iter().map(|(r, _)| r));
    write_ledger(store, entry).await
}

async fn write_ledger(store: &Store, mut entry: IngestFileRow) -> anyhow::Result<()> {
    (entry.seen_at, entry.seen_at_us) = nba_store::rows::ledger_time();
    store.insert(&[entry]).await?;
    Ok(())
}

/// A file's lines after the checks: rows to write, and rejections with the
/// `data_quality_issues` row of each.
#[derive(Debug, Default)]
pub struct CheckedFile {
    pub rows: Vec<PropLineRow>,
    pub rejected: Vec<(RejectedLine, QualityIssueRow)>,
}

/// Checks every line of a parsed file (see [`check_line`]), then rejects a book's line
/// for a player at a snapshot given twice, which would leave the stored one to chance.
pub fn check_lines(parsed: &parse::ParsedFile, reference: &Reference, file: &str, version: u64) -> CheckedFile {
    let now = Utc::now();
    let mut out = CheckedFile::default();
    let reject = |location: &str, finding: Finding| {
        let issue = QualityIssueRow {
            // Empty: a box-score load replaces its game's findings, and this one is about
            // a line of this file.
            game_id: String::new(),
            game_date: finding.date.unwrap_or_default(),
            check_name: finding.check.to_string(),
            severity: SEVERITY.to_string(),
            team: finding.team,
            player_id: finding.player,
            message: format!("{location}: {}", finding.reason),
            source_file: file.to_string(),
            detected_at: now,
            version,
        };
        (RejectedLine { file: file.to_string(), location: location.to_string(), check: finding.check, reason: finding.reason }, issue)
    };
    for (location, reason) in &parsed.malformed {
        let finding = Finding { check: checks::BAD_ENTRY, reason: reason.clone(), team: String::new(), player: String::new(), date: None };
        out.rejected.push(reject(location, finding));
    }
    // The table's key: (game date, player, book, snapshot).
    let mut listed: HashMap<(NaiveDate, String, String, DateTime<Utc>), &str> = HashMap::new();
    for raw in &parsed.lines {
        match check_line(raw, reference) {
            Err(finding) => out.rejected.push(reject(&raw.location, finding)),
            Ok(row) => {
                let key = (row.game_date, row.player_id.clone(), row.book.clone(), row.snapshot_time);
                if let Some(first) = listed.get(&key) {
                    let reason = format!("{}'s line at {} is given twice by {} (first at {first})", raw.player.trim(), row.snapshot_time, row.book);
                    let finding =
                        Finding { check: checks::DUPLICATE, reason, team: row.team.clone(), player: raw.player.trim().to_string(), date: Some(row.game_date) };
                    out.rejected.push(reject(&raw.location, finding));
                    continue;
                }
                listed.insert(key, &raw.location);
                out.rows.push(PropLineRow { source_file: file.to_string(), version, ..row });
            }
        }
    }
    // Rejections in file order: malformed entries were taken first.
    out.rejected.sort_by_key(|(r, _)| location_order(&r.location));
    out
}

/// Orders `line N` numerically, JSON places by event, bookmaker, market and outcome.
fn location_order(location: &str) -> Vec<u64> {
    location.split(|c: char| !c.is_ascii_digit()).filter(|n| !n.is_empty()).map(|n| n.parse().unwrap_or(u64::MAX)).collect()
}

/// Why a line was rejected, and what of it is known.
#[derive(Debug)]
pub struct Finding {
    pub check: &'static str,
    pub reason: String,
    /// The player's team code when known, else the game's teams as known or written.
    pub team: String,
    /// The player as the book wrote him.
    pub player: String,
    pub date: Option<NaiveDate>,
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
        GameWhen::Date(d) => (parse::parse_game_date(d).map_err(|r| fail(checks::BAD_DATE, r, &written, None))?, None),
        GameWhen::Commence(c) => {
            let start = parse::parse_time("commence_time", c).map_err(|r| fail(checks::BAD_TIME, r, &written, None))?;
            (crate::injuries::parse::eastern_date(start), Some(start))
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
    let mut on_teams: Vec<Candidate> = Vec::new();
    for answer in &answers {
        if let Resolution::Resolved(c) = answer
            && on_game(c)
            && !on_teams.iter().any(|o| o.player_id == c.player_id)
        {
            on_teams.push(c.clone());
        }
    }
    match on_teams.as_slice() {
        [one] => return Ok((one.player_id.clone(), one.team.clone())),
        [_, _, ..] => return Err((checks::AMBIGUOUS_PLAYER, format!("{player:?} may be any of {}", listed(&on_teams)))),
        [] => {}
    }
    let ambiguous: Vec<Candidate> = answers.iter().filter_map(|a| if let Resolution::Ambiguous(cs) = a { Some(cs.clone()) } else { None }).flatten().collect();
    if !ambiguous.is_empty() {
        let mut unique: Vec<Candidate> = Vec::new();
        for c in ambiguous {
            if !unique.iter().any(|u| u.player_id == c.player_id) {
                unique.push(c);
            }
        }
        return Err((checks::AMBIGUOUS_PLAYER, format!("{player:?} may be any of {}", listed(&unique))));
    }
    match &answers[0] {
        Resolution::Resolved(c) => Err(not_on(listed(std::slice::from_ref(c)))),
        _ => Err((checks::UNRESOLVED_PLAYER, format!("no known player is named {player:?}"))),
    }
}

/// Replaces what an earlier version of the file wrote (its line rows and findings, only
/// where there are any: each delete is a mutation), then inserts the good rows and the
/// findings.
async fn write_file_rows(store: &Store, file: &str, checked: &CheckedFile) -> anyhow::Result<()> {
    let names = [file.to_string()];
    for table in [&schema::PROP_LINES, &schema::DATA_QUALITY_ISSUES] {
        if !store.distinct_in(table, "source_file", &names).await?.is_empty() {
            store.delete_where(table, "source_file", &names).await?;
        }
    }
    store.insert(&checked.rows).await?;
    let issues: Vec<QualityIssueRow> = checked.rejected.iter().map(|(_, issue)| issue.clone()).collect();
    store.insert(&issues).await?;
    Ok(())
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

    #[test]
    fn json_places_sort_by_their_numbers() {
        let mut places = vec![
            "event 2 bookmakers[0].markets[0].outcomes[1]",
            "event 1 bookmakers[10].markets[0].outcomes[0,1]",
            "event 1 bookmakers[2].markets[0].outcomes[3]",
        ];
        places.sort_by_key(|p| location_order(p));
        assert_eq!(
            places,
            ["event 1 bookmakers[2].markets[0].outcomes[3]", "event 1 bookmakers[10].markets[0].outcomes[0,1]", "event 2 bookmakers[0].markets[0].outcomes[1]"]
        );
    }
}
