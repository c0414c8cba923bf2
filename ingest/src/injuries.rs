//! `nba-ingest injuries load FILE...`: injury reports (CSV or JSON, shapes in [`parse`] and
//! docs/ingest.md) into `injury_reports`, which the server reads through
//! `nba_store::injuries` for a game that has no official inactive list yet.
//!
//! Each file goes through the skeleton of [`crate::feed`] (ledger, whole-file refusal,
//! replacing an earlier version's rows); here is what is particular to injury reports:
//! the checks of every entry (time, date, team, status, a game of that team on that date
//! in `games`, filed before the game's day ended, the player resolved through
//! `nba_names`, not listed twice). A bad entry is rejected alone, with its place in the
//! file and the reason, into `data_quality_issues` and the summary; the file's other
//! entries are kept. A file with rejected entries is recorded as `rejected`, so the next
//! run reads it again (a name may resolve once more box scores are loaded).

pub mod parse;

use crate::feed::{self, Feed, FeedSummary, FileChecks, Finding};
use chrono::{DateTime, NaiveDate, Utc};
use nba_names::{PlayerRegistry, Resolution};
use nba_store::Store;
use nba_store::injuries::InjuryStatus;
use nba_store::rows::InjuryReportRow;
use parse::RawEntry;
use std::collections::HashMap;
use std::path::PathBuf;

/// Why an entry was rejected: the `check_name` in `data_quality_issues`.
pub mod checks {
    pub const BAD_ENTRY: &str = "injury_bad_entry";
    pub const BAD_TIME: &str = "injury_bad_time";
    pub const BAD_DATE: &str = "injury_bad_date";
    pub const UNKNOWN_TEAM: &str = "injury_unknown_team";
    pub const BAD_STATUS: &str = "injury_bad_status";
    pub const NO_GAME: &str = "injury_no_game";
    pub const AFTER_GAME_DAY: &str = "injury_after_game_day";
    pub const UNRESOLVED_PLAYER: &str = "injury_unresolved_player";
    pub const AMBIGUOUS_PLAYER: &str = "injury_ambiguous_player";
    pub const DUPLICATE_PLAYER: &str = "injury_duplicate_player";
}

/// What an `injuries load` run did: the files and rows of [`FeedSummary`], and the
/// entries read.
pub type InjurySummary = FeedSummary<EntryCounts>;

/// The injury-report counts of a run beside [`FeedSummary`]'s.
#[derive(Debug, Default, Clone)]
pub struct EntryCounts {
    /// Entries read (good or bad) from the files loaded.
    pub entries_read: u64,
}

impl InjurySummary {
    /// The end-of-run summary for people.
    pub fn render(&self) -> String {
        let counts = format!("entries: {} read, {} written to injury_reports, {} rejected", self.entries_read, self.rows_written, self.rejected.len());
        self.render_with("injury reports", FEED.entries, &counts)
    }
}

/// Adds a loaded file's entries (good or bad) to the run's counts; returns how many.
fn count_entries(counts: &mut EntryCounts, parsed: &parse::ParsedFile) -> usize {
    let read = parsed.entries.len() + parsed.malformed.len();
    counts.entries_read += read as u64;
    read
}

/// What every entry is checked against: the players and the schedule.
pub struct Reference {
    pub registry: PlayerRegistry,
    /// (game date, team) → game id, both sides of every scheduled game.
    pub schedule: HashMap<(NaiveDate, String), String>,
}

impl Reference {
    /// The registry (`nba_names::PlayerRegistry::load`) and the `games` table.
    pub async fn load(store: &Store) -> anyhow::Result<Self> {
        let (registry, games) = feed::players_and_schedule(store).await?;
        let mut schedule = HashMap::new();
        for g in games {
            schedule.insert((g.game_date, g.away_team), g.game_id.clone());
            schedule.insert((g.game_date, g.home_team), g.game_id);
        }
        Ok(Reference { registry, schedule })
    }
}

/// Loads injury-report files (folders: their `.csv` and `.json` files). Errors only for
/// what stops the run (ClickHouse unreachable after retries, no schema); bad files and
/// entries are in the summary.
pub async fn load(store: &Store, paths: &[PathBuf]) -> anyhow::Result<InjurySummary> {
    let run = feed::Run::start(store).await?;
    run.load_files(store, &FEED, &Reference::load(store).await?, paths).await
}

/// The injury-report feed for [`crate::feed`]. A report file is `injuries/<file name>`
/// in the ledger (`ingest_files.name`) and in `source_file`: the file name identifies it.
const FEED: Feed<Reference, parse::ParsedFile, InjuryReportRow, EntryCounts> = Feed {
    ledger_prefix: "injuries/",
    entries: "entries",
    refused: "injury report rejected",
    parse: parse::parse_file,
    check: check_entries,
    count_read: count_entries,
};

/// A file's entries after the checks: report rows, and rejections with their findings.
pub type CheckedFile = feed::CheckedFile<InjuryReportRow>;

/// Checks every entry of a parsed file (see [`check_entry`]), then rejects a player listed
/// twice in one report for one team, which would leave his status to chance.
pub fn check_entries(parsed: &parse::ParsedFile, reference: &Reference, file: &str, version: u64) -> CheckedFile {
    let mut out = FileChecks::new(file, version, &parsed.malformed, checks::BAD_ENTRY);
    for raw in &parsed.entries {
        let checked = check_entry(raw, reference).map(|good| {
            let key = (good.report_time, good.game_date, good.team, good.player_id.clone());
            (key, good.into_row(raw, file, version))
        });
        out.add(&raw.location, checked, |row, first| {
            let reason = format!("{} is listed twice in the report of {} for {} (first at {first})", raw.player, row.report_time, row.team);
            Finding { check: checks::DUPLICATE_PLAYER, reason, team: row.team.clone(), player: raw.player.clone(), date: Some(row.game_date) }
        });
    }
    out.finish()
}

/// An entry that passed the checks.
#[derive(Debug)]
struct GoodEntry {
    report_time: DateTime<Utc>,
    game_date: NaiveDate,
    team: &'static str,
    player_id: String,
    status: InjuryStatus,
}

impl GoodEntry {
    fn into_row(self, raw: &RawEntry, file: &str, version: u64) -> InjuryReportRow {
        InjuryReportRow {
            report_time: self.report_time,
            game_date: self.game_date,
            team: self.team.to_string(),
            player_id: self.player_id,
            player_name: raw.player.trim().to_string(),
            status: self.status.as_str().to_string(),
            reason: raw.reason.trim().to_string(),
            source_file: file.to_string(),
            version,
        }
    }
}

/// The checks of one entry, in order: time, date, team, status (and that exactly the
/// `None` entry has no player), a game of the team that day, filed before the game's day
/// ended (US Eastern), the player resolved.
fn check_entry(raw: &RawEntry, reference: &Reference) -> Result<GoodEntry, Finding> {
    let player = raw.player.trim();
    let fail = |check, reason: String, team: &str, date| Finding { check, reason, team: team.to_string(), player: player.to_string(), date };
    let date = feed::parse_game_date(&raw.game_date).map_err(|r| fail(checks::BAD_DATE, r, &raw.team, None))?;
    let time = parse::parse_report_time(&raw.report_time).map_err(|r| fail(checks::BAD_TIME, r, &raw.team, Some(date)))?;
    let team = nba_names::canonical_team(&raw.team)
        .ok_or_else(|| fail(checks::UNKNOWN_TEAM, format!("team {:?} is not an NBA team", raw.team), &raw.team, Some(date)))?;
    let status = check_status(&raw.status, player).map_err(|r| fail(checks::BAD_STATUS, r, team, Some(date)))?;
    if !reference.schedule.contains_key(&(date, team.to_string())) {
        return Err(fail(checks::NO_GAME, format!("{team} has no game on {date} in the schedule (table games)"), team, Some(date)));
    }
    let filed_on = feed::eastern_date(time);
    if filed_on > date {
        let reason = format!("filed {} ({filed_on} US Eastern), after the game's day {date} ended: not a pre-game report", raw.report_time.trim());
        return Err(fail(checks::AFTER_GAME_DAY, reason, team, Some(date)));
    }
    let player_id = if status == InjuryStatus::Nobody {
        String::new()
    } else {
        resolve_player(&reference.registry, player, team, date).map_err(|(c, r)| fail(c, r, team, Some(date)))?
    };
    Ok(GoodEntry { report_time: time, game_date: date, team, player_id, status })
}

/// One of the five statuses with a player, or `None` without one.
fn check_status(status: &str, player: &str) -> Result<InjuryStatus, String> {
    let five = InjuryStatus::PLAYER_STATUSES.map(|s| s.as_str()).join(", ");
    match (InjuryStatus::parse(status), player.is_empty()) {
        (None, _) => Err(format!("status {status:?} is not one of {five} (or None for a team with nobody listed)")),
        (Some(InjuryStatus::Nobody), true) => Ok(InjuryStatus::Nobody),
        (Some(InjuryStatus::Nobody), false) => Err(format!("status None is for the entry without a player (a team with nobody listed), not for {player:?}")),
        (Some(_), true) => Err(format!("an entry without a player must have status None, not {status:?}")),
        (Some(s), false) => Ok(s),
    }
}

/// A known player id as is, otherwise the name through the registry with the team and
/// date; unresolved and ambiguous names are rejected (with the candidates).
fn resolve_player(registry: &PlayerRegistry, player: &str, team: &str, date: NaiveDate) -> Result<String, (&'static str, String)> {
    if registry.name_of(player).is_some() {
        return Ok(player.to_string());
    }
    match registry.resolve(player, Some(team), Some(date)) {
        Resolution::Resolved(c) => Ok(c.player_id),
        Resolution::NotFound => Err((checks::UNRESOLVED_PLAYER, format!("no known player is named {player:?}"))),
        Resolution::Ambiguous(candidates) => {
            let listed: Vec<String> = candidates.iter().map(|c| format!("{} ({}, {}, score {:.2})", c.player_id, c.name, c.team, c.score)).collect();
            Err((checks::AMBIGUOUS_PLAYER, format!("{player:?} may be any of {}", listed.join(", "))))
        }
    }
}
