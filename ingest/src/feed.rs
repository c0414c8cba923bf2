//! Files fed by hand or by a fetch job that are loaded whole into one table, entry by
//! entry: injury reports ([`crate::injuries`]) and sportsbook prop lines
//! ([`crate::lines`]). This is the skeleton they share; each feed keeps its own file
//! shapes, checks and rows, and brings them through [`Feed`].
//!
//! Per file: read, skip when the `ingest_files` ledger already holds its content (so
//! loading the same file twice writes nothing), parse (a file that is not one of the
//! feed's shapes is refused whole), check every entry, then replace what an earlier
//! version of the file wrote (its rows in the feed's table and its findings in
//! `data_quality_issues`) with the good rows and the findings, and record the file in the
//! ledger last. A bad entry is rejected alone, with its place in the file and the reason;
//! the file's other entries are kept. A file with rejected entries is recorded as
//! `rejected`, so the next run reads it again (a name may resolve once more box scores are
//! loaded).
//!
//! Every feed's file is text in one of two shapes: JSON when its first non-blank character
//! is `{` or `[`, CSV otherwise. A CSV file starts with the feed's header; fields may be
//! double-quoted (a quoted field may hold commas and `""` for a quote); blank lines and
//! lines starting with `#` are skipped.

use crate::load::{FileStatus, Rejection};
use anyhow::Context as _;
use chrono::{DateTime, NaiveDate, Utc};
use nba_names::PlayerRegistry;
use nba_store::rows::{IngestFileRow, QualityIssueRow, TableRow};
use nba_store::{Store, schema};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::Hash;
use std::ops::Deref;
use std::path::{Path, PathBuf};

/// Severity of every finding of a fed file: the entry was not loaded.
const SEVERITY: &str = "error";

/// What one feed brings to the skeleton: its names, its parser and checks, and its
/// counts. `Ref` is what entries are checked against (loaded once a run), `P` a file as
/// the parser read it (its entries still text), `R` a good entry's row (its table,
/// [`TableRow::TABLE`], is the feed's), `C` the feed's own counts beside
/// [`FeedSummary`]'s.
pub struct Feed<Ref, P, R, C> {
    /// Prefix of the ledger name (`ingest_files.name`) and `source_file` of the feed's
    /// files: `<prefix><file name>`. The file name identifies a file of the feed.
    pub ledger_prefix: &'static str,
    /// What an entry is called in the ledger and the summary: `entries`, `lines`.
    pub entries: &'static str,
    /// What the log says of a file refused whole.
    pub refused: &'static str,
    /// Reads a file in one of the feed's shapes.
    pub parse: fn(&[u8]) -> Result<P, FileError>,
    /// Checks every entry of a parsed file of ledger name `file`; the rows carry `version`.
    pub check: fn(parsed: &P, reference: &Ref, file: &str, version: u64) -> CheckedFile<R>,
    /// Adds what a loaded file read to the feed's counts; returns how many entries it read,
    /// good or bad.
    pub count_read: fn(&mut C, &P) -> usize,
}

/// A good entry's row: what `Store::insert` needs of it, named once.
pub trait FeedRow: TableRow + serde::Serialize + for<'a> clickhouse::RowWrite<Value<'a> = Self> {}

impl<R: TableRow + serde::Serialize + for<'a> clickhouse::RowWrite<Value<'a> = R>> FeedRow for R {}

/// Why a fed file was refused whole: it cannot be read as any shape of its feed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FileError {
    #[error("not UTF-8 text (byte {0})")]
    NotUtf8(usize),
    #[error("empty file")]
    Empty,
    /// The whole reason: the header the feed expects and the one found.
    #[error("{0}")]
    BadHeader(String),
    /// The whole reason: the feed's JSON shape and what is wrong with the file.
    #[error("{0}")]
    Json(String),
}

/// What a load run of a feed did: the counts every feed has, and the feed's own `C`
/// (readable as fields of the summary: this derefs to it).
#[derive(Debug, Default, Clone)]
pub struct FeedSummary<C> {
    pub files_seen: u64,
    /// Files read and written (with or without rejected entries).
    pub files_loaded: u64,
    /// Of those, files with rejected entries (ledgered `rejected`, read again next run).
    pub files_with_rejections: u64,
    /// Files whose content the ledger already held: nothing read or written.
    pub files_unchanged: u64,
    /// Files refused whole (unreadable, not either shape), with the reason.
    pub files_rejected: Vec<Rejection>,
    /// Rows written to the feed's table.
    pub rows_written: u64,
    pub rejected: Vec<RejectedEntry>,
    /// The feed's own counts.
    pub counts: C,
}

impl<C> Deref for FeedSummary<C> {
    type Target = C;

    fn deref(&self) -> &C {
        &self.counts
    }
}

impl<C> FeedSummary<C> {
    /// Nothing rejected: exit code 0.
    pub fn all_good(&self) -> bool {
        self.files_rejected.is_empty() && self.rejected.is_empty()
    }

    /// The end-of-run summary for people: `<title> load summary`, the files, the feed's own
    /// `counts` line, then the rejected entries (called `entries`) and the rejected files.
    pub fn render_with(&self, title: &str, entries: &str, counts: &str) -> String {
        let mut out = format!("{title} load summary\n");
        let _ = writeln!(
            out,
            "  files: {} seen, {} loaded ({} with rejected {entries}), {} unchanged, {} rejected whole",
            self.files_seen,
            self.files_loaded,
            self.files_with_rejections,
            self.files_unchanged,
            self.files_rejected.len()
        );
        let _ = writeln!(out, "  {counts}");
        if !self.rejected.is_empty() {
            let _ = writeln!(out, "  rejected {entries} (table data_quality_issues; the file is read again next run):");
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

/// One rejected entry.
#[derive(Debug, Clone, PartialEq)]
pub struct RejectedEntry {
    /// The file's ledger name (`<prefix><file name>`, as `injuries/2023-10-25.csv`).
    pub file: String,
    /// Where in the file: `line 7`, `report 1 games[2].players[0]`,
    /// `event 2 bookmakers[1].markets[0].outcomes[4,5]`.
    pub location: String,
    /// One of the feed's check names (`data_quality_issues.check_name`).
    pub check: &'static str,
    pub reason: String,
}

/// Why an entry was rejected, and what of it is known.
#[derive(Debug)]
pub struct Finding {
    pub check: &'static str,
    pub reason: String,
    /// The team code when known, else the team (or the game's teams) as known or written.
    pub team: String,
    /// The player as the file wrote him.
    pub player: String,
    pub date: Option<NaiveDate>,
}

/// A file's entries after the checks: rows to write, and rejections with the
/// `data_quality_issues` row of each.
#[derive(Debug)]
pub struct CheckedFile<R> {
    pub rows: Vec<R>,
    pub rejected: Vec<(RejectedEntry, QualityIssueRow)>,
}

/// A file's checks under way: findings become rejections with their `data_quality_issues`
/// row; a good row is kept unless an earlier entry of the file has its key.
pub struct FileChecks<'a, R, K> {
    file: &'a str,
    version: u64,
    now: DateTime<Utc>,
    /// The key of every row kept so far, with the place of its entry.
    listed: HashMap<K, &'a str>,
    out: CheckedFile<R>,
}

impl<'a, R, K: Eq + Hash> FileChecks<'a, R, K> {
    /// Starts the checks of the file of ledger name `file` with its malformed entries
    /// (place, reason) rejected as `bad_entry`.
    pub fn new(file: &'a str, version: u64, malformed: &[(String, String)], bad_entry: &'static str) -> Self {
        let out = CheckedFile { rows: Vec::new(), rejected: Vec::new() };
        let mut checks = FileChecks { file, version, now: Utc::now(), listed: HashMap::new(), out };
        for (location, reason) in malformed {
            let finding = Finding { check: bad_entry, reason: reason.clone(), team: String::new(), player: String::new(), date: None };
            checks.reject(location, finding);
        }
        checks
    }

    /// One entry at `location`: its finding, or its row with the row's key in the table.
    /// A row whose key an earlier entry had is rejected with the finding `twice` makes of
    /// it and the place of the first: two would leave the stored one to chance.
    pub fn add(&mut self, location: &'a str, checked: Result<(K, R), Finding>, twice: impl FnOnce(&R, &str) -> Finding) {
        match checked {
            Err(finding) => self.reject(location, finding),
            Ok((key, row)) => match self.listed.get(&key) {
                Some(&first) => self.reject(location, twice(&row, first)),
                None => {
                    self.listed.insert(key, location);
                    self.out.rows.push(row);
                }
            },
        }
    }

    fn reject(&mut self, location: &str, finding: Finding) {
        let issue = QualityIssueRow {
            // Empty: a box-score load replaces its game's findings, and this one is about
            // an entry of this file.
            game_id: String::new(),
            game_date: finding.date.unwrap_or_default(),
            check_name: finding.check.to_string(),
            severity: SEVERITY.to_string(),
            team: finding.team,
            player_id: finding.player,
            message: format!("{location}: {}", finding.reason),
            source_file: self.file.to_string(),
            detected_at: self.now,
            version: self.version,
        };
        let rejected = RejectedEntry { file: self.file.to_string(), location: location.to_string(), check: finding.check, reason: finding.reason };
        self.out.rejected.push((rejected, issue));
    }

    /// The rows, and the rejections in file order (malformed entries were taken first).
    pub fn finish(mut self) -> CheckedFile<R> {
        self.out.rejected.sort_by_key(|(r, _)| location_order(&r.location));
        self.out
    }
}

/// Orders `line N` numerically, JSON places by their numbers in turn (report, game,
/// player; event, bookmaker, market, outcome).
fn location_order(location: &str) -> Vec<u64> {
    location.split(|c: char| !c.is_ascii_digit()).filter(|n| !n.is_empty()).map(|n| n.parse().unwrap_or(u64::MAX)).collect()
}

/// A game of the schedule (table `games`), as the feeds' checks need it.
#[derive(Debug, clickhouse::Row, serde::Deserialize)]
pub struct ScheduleRow {
    pub game_id: String,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub game_date: NaiveDate,
    /// "7:30p", US Eastern; may be empty.
    pub start_time_et: String,
    pub away_team: String,
    pub home_team: String,
}

/// What the entries of every feed are checked against: the player registry
/// (`nba_names::PlayerRegistry::load`) and the schedule.
pub async fn players_and_schedule(store: &Store) -> anyhow::Result<(PlayerRegistry, Vec<ScheduleRow>)> {
    let registry = PlayerRegistry::load(store).await.context("reading the player registry")?;
    let sql = "SELECT game_id, game_date, start_time_et, away_team, home_team FROM games FINAL";
    let games = store.select("read the schedule", sql).await?;
    Ok((registry, games))
}

/// What the files of one load run share: its id, its version and the ledger as the run
/// found it.
pub struct Run {
    run_id: String,
    /// One version per run, as `load`: the newest run's row wins for a key.
    version: u64,
    /// Ledger name → sha256 of the content last loaded.
    ledger: HashMap<String, String>,
}

impl Run {
    /// Starts a run: the schema checked, the ledger read.
    pub async fn start(store: &Store) -> anyhow::Result<Run> {
        crate::load::check_schema(store).await?;
        let run_id = format!("{}-{}", Utc::now().format("%Y%m%dT%H%M%S%.3fZ"), std::process::id());
        let version = u64::try_from(Utc::now().timestamp_millis()).unwrap_or(0);
        let ledger = store.ledger_loaded().await?;
        Ok(Run { run_id, version, ledger })
    }

    /// Loads the files of `paths` (folders: their `.csv` and `.json` files) of `feed`,
    /// checked against `reference`. Errors only for what stops the run (ClickHouse
    /// unreachable after retries); bad files and entries are in the summary.
    pub async fn load_files<Ref, P, R: FeedRow, C: Default>(
        &self,
        store: &Store,
        feed: &Feed<Ref, P, R, C>,
        reference: &Ref,
        paths: &[PathBuf],
    ) -> anyhow::Result<FeedSummary<C>> {
        let mut summary = FeedSummary::default();
        for path in expand(paths, &mut summary) {
            self.load_file(store, (feed, reference), &path, &mut summary).await?;
        }
        Ok(summary)
    }

    /// One file: read, skip if unchanged, parse (or refuse), then the rest in
    /// [`Run::load_parsed`].
    async fn load_file<Ref, P, R: FeedRow, C>(
        &self,
        store: &Store,
        (feed, reference): (&Feed<Ref, P, R, C>, &Ref),
        path: &Path,
        summary: &mut FeedSummary<C>,
    ) -> anyhow::Result<()> {
        summary.files_seen += 1;
        let mut entry = self.ledger_entry(ledger_name(feed.ledger_prefix, path), path);
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) => return refuse(store, feed.refused, entry, format!("cannot be read: {e}"), summary).await,
        };
        entry.sha256 = hex::encode(Sha256::digest(&bytes));
        entry.size = bytes.len() as u64;
        if self.ledger.get(&entry.name) == Some(&entry.sha256) {
            summary.files_unchanged += 1;
            entry.status = FileStatus::Unchanged.as_str().to_string();
            return write_ledger(store, entry).await;
        }
        match (feed.parse)(&bytes) {
            Ok(parsed) => self.load_parsed(store, (feed, reference), &parsed, entry, summary).await,
            Err(e) => refuse(store, feed.refused, entry, e.to_string(), summary).await,
        }
    }

    /// A parsed file: its entries checked, what an earlier version wrote replaced, the
    /// counts, and its ledger entry (`loaded`, or `rejected` saying how many entries were).
    async fn load_parsed<Ref, P, R: FeedRow, C>(
        &self,
        store: &Store,
        (feed, reference): (&Feed<Ref, P, R, C>, &Ref),
        parsed: &P,
        mut entry: IngestFileRow,
        summary: &mut FeedSummary<C>,
    ) -> anyhow::Result<()> {
        let checked = (feed.check)(parsed, reference, &entry.name, self.version);
        write_file_rows(store, &entry.name, &checked).await?;
        let total = (feed.count_read)(&mut summary.counts, parsed);
        let rows = checked.rows.len();
        summary.files_loaded += 1;
        summary.rows_written += rows as u64;
        entry.rows_written = rows as u64;
        if checked.rejected.is_empty() {
            entry.status = FileStatus::Loaded.as_str().to_string();
        } else {
            summary.files_with_rejections += 1;
            let rejected = checked.rejected.len();
            entry.reason = format!("{rejected} of {total} {} rejected (see data_quality_issues); the other {rows} loaded", feed.entries);
        }
        summary.rejected.extend(checked.rejected.into_iter().map(|(r, _)| r));
        write_ledger(store, entry).await
    }

    /// The file's ledger entry before it is read: `rejected` until it is loaded.
    fn ledger_entry(&self, name: String, path: &Path) -> IngestFileRow {
        IngestFileRow {
            run_id: self.run_id.clone(),
            name,
            source: path.display().to_string(),
            sha256: String::new(),
            size: 0,
            status: FileStatus::Rejected.as_str().to_string(),
            reason: String::new(),
            rows_written: 0,
            seen_at: Utc::now(),
            seen_at_us: 0,
        }
    }
}

/// The files to read: files as given, folders' `.csv` and `.json` files in name order (a
/// fixtures folder's README is not a feed's file). A folder that cannot be read is a
/// rejected file; a path that does not exist is one when it is read.
fn expand<C>(paths: &[PathBuf], summary: &mut FeedSummary<C>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if !path.is_dir() {
            files.push(path.clone());
            continue;
        }
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
    }
    files
}

/// `<prefix><file name>`.
fn ledger_name(prefix: &str, path: &Path) -> String {
    format!("{prefix}{}", path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default())
}

/// A file refused whole: logged (as `refused`), in the summary, and ledgered `rejected`
/// with the reason.
async fn refuse<C>(store: &Store, refused: &str, mut entry: IngestFileRow, reason: String, summary: &mut FeedSummary<C>) -> anyhow::Result<()> {
    tracing::warn!(file = %entry.source, %reason, "{refused}");
    summary.files_rejected.push(Rejection { name: entry.name.clone(), source: entry.source.clone(), reason: reason.clone() });
    entry.reason = reason;
    write_ledger(store, entry).await
}

async fn write_ledger(store: &Store, mut entry: IngestFileRow) -> anyhow::Result<()> {
    (entry.seen_at, entry.seen_at_us) = nba_store::rows::ledger_time();
    store.insert(&[entry]).await?;
    Ok(())
}

/// Replaces what an earlier version of the file wrote (its rows and findings, only where
/// there are any: each delete is a mutation), then inserts the good rows and the findings.
async fn write_file_rows<R: FeedRow>(store: &Store, file: &str, checked: &CheckedFile<R>) -> anyhow::Result<()> {
    let names = [file.to_string()];
    for table in [R::TABLE, &schema::DATA_QUALITY_ISSUES] {
        if !store.distinct_in(table, "source_file", &names).await?.is_empty() {
            store.delete_where(table, "source_file", &names).await?;
        }
    }
    store.insert(&checked.rows).await?;
    let issues: Vec<QualityIssueRow> = checked.rejected.iter().map(|(_, issue)| issue.clone()).collect();
    store.insert(&issues).await?;
    Ok(())
}

/// Reads a file's text in either shape: `json` when its first non-blank character is `{`
/// or `[`, `csv` otherwise (a byte order mark is skipped).
pub fn parse_either<T>(bytes: &[u8], json: impl FnOnce(&str) -> Result<T, FileError>, csv: impl FnOnce(&str) -> Result<T, FileError>) -> Result<T, FileError> {
    let text = std::str::from_utf8(bytes).map_err(|e| FileError::NotUtf8(e.valid_up_to()))?;
    let text = text.trim_start_matches('\u{feff}');
    match text.trim_start().chars().next() {
        None => Err(FileError::Empty),
        Some('{' | '[') => json(text),
        Some(_) => csv(text),
    }
}

/// The records of a CSV file after its header, each with its place (`line N`, numbered
/// over every line of the file) and its fields. Blank lines and lines starting with `#`
/// are skipped; the header must be `header` (in any case).
pub fn csv_records<'a>(text: &'a str, header: &[&str]) -> Result<impl Iterator<Item = (String, Vec<String>)> + use<'a>, FileError> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let (_, first) = lines.next().ok_or(FileError::Empty)?;
    let names: Vec<String> = split_csv_line(first).iter().map(|h| h.trim().to_ascii_lowercase()).collect();
    if names != header {
        return Err(FileError::BadHeader(format!("the CSV header must be `{}`, found `{}`", header.join(","), first.trim())));
    }
    Ok(lines.map(|(i, line)| (format!("line {}", i + 1), split_csv_line(line))))
}

/// The reason of a CSV record with `n` fields where the header has another number.
pub fn wrong_field_count(n: usize, header: &[&str]) -> String {
    format!("{n} fields, expected {} ({})", header.len(), header.join(","))
}

/// Splits one CSV line: commas separate fields; a field starting with `"` runs to the
/// next lone `"`, with `""` standing for a quote. Fields are trimmed.
pub fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut in_quotes = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if in_quotes && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' if in_quotes => in_quotes = false,
            '"' if field.trim().is_empty() => {
                field.clear();
                in_quotes = true;
            }
            ',' if !in_quotes => fields.push(std::mem::take(&mut field).trim().to_string()),
            c => field.push(c),
        }
    }
    fields.push(field.trim().to_string());
    fields
}

/// A game date as every feed writes it: `YYYY-MM-DD`.
pub fn parse_game_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|e| format!("game_date {s:?} is not a YYYY-MM-DD date ({e})"))
}

/// The calendar day of `t` in US Eastern time (`America/New_York`, from the IANA
/// database), where game dates are reckoned.
pub fn eastern_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&chrono_tz::America::New_York).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eastern_dates_follow_daylight_saving_time() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        let utc = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        // EDT (UTC-4) in October: 03:59 UTC is still the evening before.
        assert_eq!(eastern_date(utc("2023-10-26T03:59:00Z")), d(2023, 10, 25));
        assert_eq!(eastern_date(utc("2023-10-26T04:00:00Z")), d(2023, 10, 26));
        // EST (UTC-5) in December.
        assert_eq!(eastern_date(utc("2023-12-10T04:30:00Z")), d(2023, 12, 9));
        assert_eq!(eastern_date(utc("2023-12-10T05:00:00Z")), d(2023, 12, 10));
        // Switches: 2023-11-05 06:00 UTC and 2024-03-10 07:00 UTC.
        assert_eq!(eastern_date(utc("2023-11-05T04:30:00Z")), d(2023, 11, 5), "still EDT");
        assert_eq!(eastern_date(utc("2024-03-10T04:30:00Z")), d(2024, 3, 9), "still EST");
        assert_eq!(eastern_date(utc("2024-03-11T03:30:00Z")), d(2024, 3, 10), "EDT again");
    }

    #[test]
    fn csv_lines_split_with_quotes_and_empty_fields() {
        assert_eq!(split_csv_line("a,b,,d"), vec!["a", "b", "", "d"]);
        assert_eq!(split_csv_line(r#"x,"Jackson Jr., Jaren",Out,"said ""no""""#), vec!["x", "Jackson Jr., Jaren", "Out", r#"said "no""#]);
        assert_eq!(split_csv_line("a,b,"), vec!["a", "b", ""]);
        assert_eq!(split_csv_line(r#""a","#), vec!["a", ""]);
        assert_eq!(split_csv_line(" a , b "), vec!["a", "b"]);
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
