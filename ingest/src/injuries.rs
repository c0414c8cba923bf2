//! `nba-ingest injuries load FILE...`: injury reports (CSV or JSON, shapes in [`parse`] and
//! docs/ingest.md) into `injury_reports`, which the server reads through
//! `nba_store::injuries` for a game that has no official inactive list yet.
//!
//! Per file: read, skip when the ledger already holds its content (so loading the same
//! file twice writes nothing), parse, check every entry (time, date, team, status, a game
//! of that team on that date in `games`, filed before the game's day ended, the player
//! resolved through `nba_names`, not listed twice), then replace what an earlier version
//! of the file wrote with the good entries and the findings, and record the file in the
//! `ingest_files` ledger last. A bad entry is rejected alone, with its place in the file
//! and the reason, into `data_quality_issues` and the summary; the file's other entries
//! are kept. A file with rejected entries is recorded as `rejected`, so the next run reads
//! it again (a name may resolve once more box scores are loaded).

pub mod parse;

use crate::load::{FileStatus, Rejection};
use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use nba_names::{PlayerRegistry, Resolution};
use nba_store::injuries::InjuryStatus;
use nba_store::rows::{IngestFileRow, InjuryReportRow, QualityIssueRow};
use nba_store::{Store, schema};
use parse::RawEntry;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Prefix of the ledger name (`ingest_files.name`) and `source_file` of an injury-report
/// file: `injuries/<file name>`. The file name identifies a report file.
pub const LEDGER_PREFIX: &str = "injuries/";

/// Severity of every injury-report finding: the entry was not loaded.
const SEVERITY: &str = "error";

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

/// One rejected entry.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedEntry {
    /// The file's ledger name (`injuries/<file name>`).
    pub file: String,
    /// Where in the file: `line 7`, `report 1 games[2].players[0]`.
    pub location: String,
    /// One of [`checks`].
    pub check: &'static str,
    pub reason: String,
}

/// What an `injuries load` run did.
#[derive(Debug, Default, Clone)]
pub struct InjurySummary {
    pub files_seen: u64,
    /// Files read and written (with or without rejected entries).
    pub files_loaded: u64,
    /// Of those, files with rejected entries (ledgered `rejected`, read again next run).
    pub files_with_rejections: u64,
    /// Files whose content the ledger already held: nothing read or written.
    pub files_unchanged: u64,
    /// Files refused whole (unreadable, not either shape), with the reason.
    pub files_rejected: Vec<Rejection>,
    pub entries_read: u64,
    /// Rows written to `injury_reports`.
    pub rows_written: u64,
    pub rejected: Vec<RejectedEntry>,
}

impl InjurySummary {
    /// Nothing rejected: exit code 0.
    pub fn all_good(&self) -> bool {
        self.files_rejected.is_empty() && self.rejected.is_empty()
    }

    /// The end-of-run summary for people.
    pub fn render(&self) -> String {
        let mut out = String::from("injury reports load summary\n");
        let _ = writeln!(
            out,
            "  files: {} seen, {} loaded ({} with rejected entries), {} unchanged, {} rejected whole",
            self.files_seen,
            self.files_loaded,
            self.files_with_rejections,
            self.files_unchanged,
            self.files_rejected.len()
        );
        let _ = writeln!(out, "  entries: {} read, {} written to injury_reports, {} rejected", self.entries_read, self.rows_written, self.rejected.len());
        if !self.rejected.is_empty() {
            let _ = writeln!(out, "  rejected entries (table data_quality_issues; the file is read again next run):");
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

/// What every entry is checked against: the players and the schedule.
pub struct Reference {
    pub registry: PlayerRegistry,
    /// (game date, team) → game id, both sides of every scheduled game.
    pub schedule: HashMap<(NaiveDate, String), String>,
}

impl Reference {
    /// The registry (`nba_names::PlayerRegistry::load`) and the `games` table.
    pub async fn load(store: &Store) -> anyhow::Result<Self> {
        #[derive(clickhouse::Row, serde::Deserialize)]
        struct Game {
            game_id: String,
            #[serde(with = "clickhouse::serde::chrono::date")]
            game_date: NaiveDate,
            away_team: String,
            home_team: String,
        }
        let registry = PlayerRegistry::load(store).await.context("reading the player registry")?;
        let games: Vec<Game> = store.select("read the schedule", "SELECT game_id, game_date, away_team, home_team FROM games FINAL").await?;
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
    crate::load::check_schema(store).await?;
    let run_id = format!("{}-{}", Utc::now().format("%Y%m%dT%H%M%S%.3fZ"), std::process::id());
    // One version per run, as `load`: the newest run's row wins for a key.
    let version = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
    let ledger = store.ledger_loaded().await?;
    let reference = Reference::load(store).await?;
    let mut summary = InjurySummary::default();
    for path in expand(paths, &mut summary) {
        load_file(store, &reference, &ledger, &path, (&run_id, version), &mut summary).await?;
    }
    Ok(summary)
}

/// The files to read: files as given, folders' `.csv` and `.json` files in name order. A
/// path that does not exist is a rejected file.
fn expand(paths: &[PathBuf], summary: &mut InjurySummary) -> Vec<PathBuf> {
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

/// `injuries/<file name>`.
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
    summary: &mut InjurySummary,
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
            tracing::warn!(file = %source, %reason, "injury report rejected");
            summary.files_rejected.push(Rejection { name, source, reason: reason.clone() });
            entry.reason = reason;
            return write_ledger(store, entry).await;
        }
    };
    let checked = check_entries(&parsed, reference, &name, version);
    let total = parsed.entries.len() + parsed.malformed.len();
    write_file_rows(store, &name, &checked).await?;
    summary.files_loaded += 1;
    summary.entries_read += total as u64;
    summary.rows_written += checked.rows.len() as u64;
    entry.rows_written = checked.rows.len() as u64;
    if checked.rejected.is_empty() {
        entry.status = FileStatus::Loaded.as_str().to_string();
    } else {
        summary.files_with_rejections += 1;
        entry.reason = format!("{} of {total} entries rejected (see data_quality_issues); the other {} loaded", checked.rejected.len(), checked.rows.len());
    }
    summary.rejected.extend(checked.rejected.into_iter().map(|(r, _)| r));
    write_ledger(store, entry).await
}

async fn write_ledger(store: &Store, mut entry: IngestFileRow) -> anyhow::Result<()> {
    (entry.seen_at, entry.seen_at_us) = nba_store::rows::ledger_time();
    store.insert(&[entry]).await?;
    Ok(())
}

/// A file's entries after the checks: rows to write, and rejections with the
/// `data_quality_issues` row of each.
#[derive(Debug, Default)]
pub struct CheckedFile {
    pub rows: Vec<InjuryReportRow>,
    pub rejected: Vec<(RejectedEntry, QualityIssueRow)>,
}

/// Checks every entry of a parsed file (see [`check_entry`]), then rejects a player listed
/// twice in one report for one team, which would leave his status to chance.
pub fn check_entries(parsed: &parse::ParsedFile, reference: &Reference, file: &str, version: u64) -> CheckedFile {
    let now = Utc::now();
    let mut out = CheckedFile::default();
    let reject = |location: &str, finding: Finding| {
        let issue = QualityIssueRow {
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
        (RejectedEntry { file: file.to_string(), location: location.to_string(), check: finding.check, reason: finding.reason }, issue)
    };
    for (location, reason) in &parsed.malformed {
        let finding = Finding { check: checks::BAD_ENTRY, reason: reason.clone(), team: String::new(), player: String::new(), date: None };
        out.rejected.push(reject(location, finding));
    }
    let mut listed: HashMap<(DateTime<Utc>, NaiveDate, &str, String), &str> = HashMap::new();
    for raw in &parsed.entries {
        match check_entry(raw, reference) {
            Err(finding) => out.rejected.push(reject(&raw.location, finding)),
            Ok(row) => {
                let key = (row.report_time, row.game_date, row.team, row.player_id.clone());
                if let Some(first) = listed.get(&key) {
                    let reason = format!("{} is listed twice in the report of {} for {} (first at {first})", raw.player, row.report_time, row.team);
                    let finding =
                        Finding { check: checks::DUPLICATE_PLAYER, reason, team: row.team.into(), player: raw.player.clone(), date: Some(row.game_date) };
                    out.rejected.push(reject(&raw.location, finding));
                    continue;
                }
                listed.insert(key, &raw.location);
                out.rows.push(row.into_row(raw, file, version));
            }
        }
    }
    // Rejections in file order: malformed lines were taken first.
    out.rejected.sort_by_key(|(r, _)| location_order(&r.location));
    out
}

/// Orders `line N` numerically; JSON locations keep their order (stable sort).
fn location_order(location: &str) -> u64 {
    location.strip_prefix("line ").and_then(|n| n.parse().ok()).unwrap_or(0)
}

/// Why an entry was rejected, and what of it is known.
#[derive(Debug)]
pub struct Finding {
    pub check: &'static str,
    pub reason: String,
    /// The team code, or the team as written when unknown.
    pub team: String,
    /// The player as the report wrote him.
    pub player: String,
    pub date: Option<NaiveDate>,
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
    let date = parse::parse_game_date(&raw.game_date).map_err(|r| fail(checks::BAD_DATE, r, &raw.team, None))?;
    let time = parse::parse_report_time(&raw.report_time).map_err(|r| fail(checks::BAD_TIME, r, &raw.team, Some(date)))?;
    let team = nba_names::canonical_team(&raw.team)
        .ok_or_else(|| fail(checks::UNKNOWN_TEAM, format!("team {:?} is not an NBA team", raw.team), &raw.team, Some(date)))?;
    let status = check_status(&raw.status, player).map_err(|r| fail(checks::BAD_STATUS, r, team, Some(date)))?;
    if !reference.schedule.contains_key(&(date, team.to_string())) {
        return Err(fail(checks::NO_GAME, format!("{team} has no game on {date} in the schedule (table games)"), team, Some(date)));
    }
    let filed_on = parse::eastern_date(time);
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

/// Replaces what an earlier version of the file wrote (its report rows and findings, only
/// where there are any: each delete is a mutation), then inserts the good rows and the
/// findings.
async fn write_file_rows(store: &Store, file: &str, checked: &CheckedFile) -> anyhow::Result<()> {
    let names = [file.to_string()];
    for table in [&schema::INJURY_REPORTS, &schema::DATA_QUALITY_ISSUES] {
        if !store.distinct_in(table, "source_file", &names).await?.is_empty() {
            store.delete_where(table, "source_file", &names).await?;
        }
    }
    store.insert(&checked.rows).await?;
    let issues: Vec<QualityIssueRow> = checked.rejected.iter().map(|(_, issue)| issue.clone()).collect();
    store.insert(&issues).await?;
    Ok(())
}
