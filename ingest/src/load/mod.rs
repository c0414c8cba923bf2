//! `nba-ingest load`: pages → ClickHouse raw tables, idempotently.
//!
//! Pipeline: one thread streams the inputs ([`archive`]), worker threads hash and parse
//! pages (skipping any whose content the ledger already holds), and the async writer
//! groups parsed pages into batches. Per batch it first removes rows an earlier version of
//! the same pages left behind (a changed page, or a run that died before writing its ledger
//! entry), then inserts one block per table, cross-checks the batch's box scores and
//! schedule rows against each other (against rows of earlier batches and runs too), and
//! only then writes the ledger entries, so a rerun after any failure finishes the job
//! without duplicates and without losing a cross-check finding.

pub mod summary;

pub use summary::{LoadSummary, Rejection};

use crate::progress::Progress;
use anyhow::Context;
use chrono::NaiveDate;
use nba_pages::archive;
use nba_pages::checks::{self, QualityIssue};
use nba_pages::{BoxScore, Page, PageKind, Schedule};
use nba_store::rows::{GameRow, GameRows, IngestFileRow, QualityIssueRow};
use nba_store::{Store, schema};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

/// What `load` should do.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub paths: Vec<PathBuf>,
    /// Pages per write batch.
    pub batch_pages: usize,
    /// Parser threads.
    pub workers: usize,
    /// Parse and check only; write nothing.
    pub dry_run: bool,
    /// Draw a progress bar (on a terminal).
    pub progress: bool,
    /// Only pages of games dated within this range (schedule pages: months overlapping
    /// it); other pages are skipped without a ledger entry. Used by `backfill`.
    pub dates: Option<(NaiveDate, NaiveDate)>,
}

impl LoadOptions {
    /// Pages per write batch unless told otherwise: one INSERT per table per batch.
    pub const DEFAULT_BATCH_PAGES: usize = 500;

    /// A load that writes: batches of [`Self::DEFAULT_BATCH_PAGES`] pages, one parser
    /// thread per core, all dates.
    pub fn new(paths: Vec<PathBuf>, progress: bool) -> Self {
        let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
        LoadOptions { paths, batch_pages: Self::DEFAULT_BATCH_PAGES, workers, dry_run: false, progress, dates: None }
    }
}

/// The days a page covers: a box score its game day, a schedule page its month.
fn page_days(kind: &PageKind) -> Option<(NaiveDate, NaiveDate)> {
    match kind {
        PageKind::BoxScore(id) => nba_pages::boxscore::parse_game_id(id).ok().map(|(d, _)| (d, d)),
        PageKind::Schedule(name) => {
            let (season, month) = nba_pages::schedule::parse_schedule_name(name)?;
            nba_pages::schedule::schedule_month_days(season, &month)
        }
    }
}

/// Season archives are named `..._<season>.tar.zst`; one whose season cannot overlap the
/// range need not be read at all.
fn archive_may_overlap(path: &std::path::Path, (from, to): (NaiveDate, NaiveDate)) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let Some(stem) = name.split(".tar").next() else {
        return true;
    };
    let Some(season) = stem.rsplit('_').next().and_then(|s| s.parse::<i32>().ok()).filter(|s| (1947..=2100).contains(s)) else {
        return true;
    };
    let (Some(start), Some(end)) = (NaiveDate::from_ymd_opt(season - 1, 9, 1), NaiveDate::from_ymd_opt(season, 10, 31)) else {
        return true;
    };
    start <= to && from <= end
}

/// Ledger status of a file in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    Loaded,
    Unchanged,
    Rejected,
}

impl FileStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            FileStatus::Loaded => "loaded",
            FileStatus::Unchanged => "unchanged",
            FileStatus::Rejected => "rejected",
        }
    }
}

/// One input after hashing and parsing.
struct Parsed {
    name: String,
    source: String,
    sha256: String,
    size: u64,
    outcome: PageOutcome,
}

enum PageOutcome {
    /// Outside the requested dates: not this run's business, no ledger entry.
    Skipped,
    Unchanged,
    Rejected(String),
    BoxScore(Box<BoxScore>, Vec<QualityIssue>),
    Schedule(Schedule),
}

fn parse_item(item: archive::SourceItem, ledger: &HashMap<String, String>, dates: Option<(NaiveDate, NaiveDate)>) -> Parsed {
    let kind = PageKind::of_path(&item.path);
    if let (Some((from, to)), Some((first, last))) = (dates, kind.as_ref().and_then(page_days))
        && (last < from || first > to)
    {
        return Parsed { name: String::new(), source: item.source, sha256: String::new(), size: 0, outcome: PageOutcome::Skipped };
    }
    let name = kind.as_ref().map(PageKind::ledger_name).unwrap_or_else(|| item.path.clone());
    let source = if item.source == item.path { item.source } else { format!("{}:{}", item.source, item.path) };
    let bytes = match item.content {
        Ok(b) => b,
        Err(reason) => {
            return Parsed { name, source, sha256: String::new(), size: 0, outcome: PageOutcome::Rejected(reason) };
        }
    };
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let size = bytes.len() as u64;
    let outcome = match kind {
        None => PageOutcome::Rejected(nba_pages::PageError::UnknownPageName(item.path).to_string()),
        Some(_) if ledger.get(&name) == Some(&sha256) => PageOutcome::Unchanged,
        Some(kind) => match nba_pages::parse_page(&kind, &bytes) {
            Ok(Page::BoxScore(game)) => {
                let issues = checks::check_box_score(&game);
                PageOutcome::BoxScore(game, issues)
            }
            Ok(Page::Schedule(s)) => PageOutcome::Schedule(s),
            Err(e) => PageOutcome::Rejected(e.to_string()),
        },
    };
    Parsed { name, source, sha256, size, outcome }
}

/// Runs a load. Errors only for failures that stop the run (ClickHouse unreachable after
/// retries, no schema); bad files are set aside and listed in the summary.
pub async fn load(store: Option<&Store>, opts: &LoadOptions) -> anyhow::Result<LoadSummary> {
    let started = Instant::now();
    let run_id = format!("{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"), std::process::id());
    // One version per run: ReplacingMergeTree keeps the newest run's row for each key.
    let version = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0);

    let ledger = match store {
        Some(store) => {
            check_schema(store).await?;
            store.ledger_loaded().await?
        }
        None => HashMap::new(),
    };
    let mut inputs = archive::expand(&opts.paths);
    if let Some(range) = opts.dates {
        inputs.files.retain(|(path, _)| archive_may_overlap(path, range));
    }
    let mut summary = LoadSummary::default();
    let mut batcher = Batcher { run_id, pending: Vec::new(), ledger_rows: Vec::new(), seen: HashMap::new() };
    for (path, reason) in &inputs.errors {
        summary.files_seen += 1;
        summary.rejected.push(Rejection { name: path.clone(), source: path.clone(), reason: reason.clone() });
        batcher.ledger(path, path, "", 0, FileStatus::Rejected, reason, 0);
    }

    // The writer runs beside the parsers: while one batch is being written, the next is
    // parsed. Capacity 1 bounds memory to about two batches.
    let (batch_tx, batch_rx) = tokio::sync::mpsc::channel::<Batch>(1);
    let writer = store.map(|store| tokio::spawn(write_batches(store.clone(), version, batch_rx)));
    let consumed = Arc::new(AtomicU64::new(0));
    let progress = Progress::new(opts.progress, inputs.total_bytes(), consumed.clone());
    let mut threads = ParseThreads::start(inputs, Arc::new(ledger), opts, &consumed)?;
    let to_writer = writer.is_some().then_some(batch_tx);
    batch_parsed_pages(&mut threads.parsed, &mut batcher, &mut summary, &progress, opts, to_writer).await;
    threads.join();
    progress.finish();
    if let Some(writer) = writer {
        let (rows, cross_checked) = writer.await.context("the writer task panicked")??;
        for (table, n) in rows {
            *summary.rows.entry(table).or_default() += n;
        }
        for (check, n) in cross_checked {
            *summary.quality.entry(check).or_default() += n;
        }
    }
    summary.input_bytes = consumed.load(std::sync::atomic::Ordering::Relaxed);
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The thread reading the inputs and the threads hashing and parsing what it read; the
/// parsed pages arrive on `parsed`.
struct ParseThreads {
    reader: std::thread::JoinHandle<()>,
    parsers: Vec<std::thread::JoinHandle<()>>,
    parsed: tokio::sync::mpsc::Receiver<Parsed>,
}

impl ParseThreads {
    fn start(inputs: archive::Inputs, ledger: Arc<HashMap<String, String>>, opts: &LoadOptions, consumed: &Arc<AtomicU64>) -> anyhow::Result<Self> {
        let (item_tx, item_rx) = crossbeam_channel::bounded::<archive::SourceItem>(64);
        let (parsed_tx, parsed) = tokio::sync::mpsc::channel::<Parsed>(256);
        let reader = {
            let consumed = consumed.clone();
            std::thread::Builder::new()
                .name("load-reader".into())
                .spawn(move || archive::read_all(&inputs, &consumed, |item| item_tx.send(item).is_ok()))
                .context("starting the reader thread")?
        };
        let mut parsers = Vec::new();
        for i in 0..opts.workers.max(1) {
            let (items, parsed_tx, ledger, dates) = (item_rx.clone(), parsed_tx.clone(), ledger.clone(), opts.dates);
            let parser = std::thread::Builder::new()
                .name(format!("load-parse-{i}"))
                .spawn(move || {
                    for item in items {
                        if parsed_tx.blocking_send(parse_item(item, &ledger, dates)).is_err() {
                            break;
                        }
                    }
                })
                .context("starting a parser thread")?;
            parsers.push(parser);
        }
        Ok(ParseThreads { reader, parsers, parsed })
    }

    /// Waits for the threads. Closing `parsed` first stops them at their next send when
    /// the run ended early.
    fn join(self) {
        drop(self.parsed);
        let _ = self.reader.join();
        for parser in self.parsers {
            let _ = parser.join();
        }
    }
}

/// Counts parsed pages into the summary and groups them into batches for the writer
/// (`None` in a dry run). Stops early when the writer has failed; its error is reported
/// when it is joined.
async fn batch_parsed_pages(
    parsed: &mut tokio::sync::mpsc::Receiver<Parsed>,
    batcher: &mut Batcher,
    summary: &mut LoadSummary,
    progress: &Progress,
    opts: &LoadOptions,
    writer: Option<tokio::sync::mpsc::Sender<Batch>>,
) {
    let send = |batch: Batch| {
        let writer = &writer;
        // A closed channel means the writer failed.
        async move {
            match writer {
                Some(tx) => tx.send(batch).await.is_ok(),
                None => true,
            }
        }
    };
    while let Some(parsed) = parsed.recv().await {
        if matches!(parsed.outcome, PageOutcome::Skipped) {
            summary.skipped += 1;
            continue;
        }
        summary.files_seen += 1;
        summary.html_bytes += parsed.size;
        progress.page(parsed.size);
        let must_flush_first = batcher.accept(parsed, summary, opts.dry_run);
        if must_flush_first.is_some() || batcher.pending.len() >= opts.batch_pages.max(1) {
            let keep = must_flush_first.map(|p| vec![p]).unwrap_or_default();
            if !send(batcher.take(keep)).await {
                break;
            }
        }
    }
    if !send(batcher.take(Vec::new())).await {
        tracing::debug!("the writer stopped early");
    }
}

pub async fn check_schema(store: &Store) -> anyhow::Result<()> {
    match store.schema_version().await? {
        Some(v) if v >= nba_store::SCHEMA_VERSION => Ok(()),
        Some(v) => {
            anyhow::bail!("database {} is at schema version {v}, this build needs {}: run `nba-ingest migrate`", store.database(), nba_store::SCHEMA_VERSION)
        }
        None => anyhow::bail!("database {} has no schema at {}: run `nba-ingest migrate` first", store.database(), store.url()),
    }
}

/// Pages to write and ledger entries to record, in one go.
struct Batch {
    run_id: String,
    pending: Vec<Parsed>,
    ledger_rows: Vec<IngestFileRow>,
}

/// Groups pages into batches, remembering what this run has loaded.
struct Batcher {
    run_id: String,
    pending: Vec<Parsed>,
    ledger_rows: Vec<IngestFileRow>,
    /// Pages loaded in this run: ledger name → sha256 (the same page may come twice,
    /// e.g. from the sample and from its season's archive).
    seen: HashMap<String, String>,
}

impl Batcher {
    #[allow(clippy::too_many_arguments)]
    fn ledger(&mut self, name: &str, source: &str, sha: &str, size: u64, status: FileStatus, reason: &str, rows: u64) {
        self.ledger_rows.push(ledger_row(&self.run_id, name, source, sha, size, status, reason, rows));
    }

    /// The batch so far; `next` starts the following one.
    fn take(&mut self, next: Vec<Parsed>) -> Batch {
        Batch { run_id: self.run_id.clone(), pending: std::mem::replace(&mut self.pending, next), ledger_rows: std::mem::take(&mut self.ledger_rows) }
    }

    /// Takes one parsed page into the batch, or records it as unchanged or rejected.
    /// Returns the page instead when it must go into the *next* batch: a second, different
    /// copy of a page already in this run, which must replace the first after it is written.
    fn accept(&mut self, parsed: Parsed, summary: &mut LoadSummary, dry_run: bool) -> Option<Parsed> {
        let duplicate_in_run = self.seen.get(&parsed.name).map(|sha| sha == &parsed.sha256);
        match (&parsed.outcome, duplicate_in_run) {
            // Filtered out before the batcher; nothing to record.
            (PageOutcome::Skipped, _) => None,
            (PageOutcome::Rejected(reason), _) => {
                tracing::warn!(file = %parsed.source, %reason, "rejected");
                summary.rejected.push(Rejection { name: parsed.name.clone(), source: parsed.source.clone(), reason: reason.clone() });
                self.ledger(&parsed.name, &parsed.source, &parsed.sha256, parsed.size, FileStatus::Rejected, reason, 0);
                None
            }
            (PageOutcome::Unchanged, _) | (_, Some(true)) => {
                summary.unchanged += 1;
                self.ledger(&parsed.name, &parsed.source, &parsed.sha256, parsed.size, FileStatus::Unchanged, "", 0);
                None
            }
            (PageOutcome::BoxScore(..) | PageOutcome::Schedule(_), dup) => {
                self.seen.insert(parsed.name.clone(), parsed.sha256.clone());
                match &parsed.outcome {
                    PageOutcome::BoxScore(_, issues) => {
                        summary.box_scores += 1;
                        for i in issues {
                            *summary.quality.entry(i.check.to_string()).or_default() += 1;
                        }
                    }
                    PageOutcome::Schedule(_) => summary.schedule_pages += 1,
                    _ => {}
                }
                summary.loaded += 1;
                if dry_run {
                    self.ledger(&parsed.name, &parsed.source, &parsed.sha256, parsed.size, FileStatus::Loaded, "dry run", 0);
                    None
                } else if dup == Some(false) {
                    tracing::warn!(file = %parsed.source, "page appears twice in this run with different content; the later copy wins");
                    Some(parsed)
                } else {
                    self.pending.push(parsed);
                    None
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn ledger_row(run_id: &str, name: &str, source: &str, sha: &str, size: u64, status: FileStatus, reason: &str, rows: u64) -> IngestFileRow {
    let (seen_at, seen_at_us) = nba_store::rows::ledger_time();
    IngestFileRow {
        run_id: run_id.to_string(),
        name: name.to_string(),
        source: source.to_string(),
        sha256: sha.to_string(),
        size,
        status: status.as_str().to_string(),
        reason: reason.to_string(),
        rows_written: rows,
        seen_at,
        seen_at_us,
    }
}

/// Rows written per table, and cross-check findings per check.
type Written = (BTreeMap<&'static str, u64>, BTreeMap<String, u64>);

/// The writer task: writes batches in order; returns what [`write_batch`] wrote.
async fn write_batches(store: Store, version: u64, mut batches: tokio::sync::mpsc::Receiver<Batch>) -> anyhow::Result<Written> {
    let mut written = Written::default();
    while let Some(batch) = batches.recv().await {
        write_batch(&store, version, batch, &mut written).await?;
    }
    Ok(written)
}

/// Writes one batch: stale rows out, one block per table in, the batch's cross-check,
/// then the ledger entries.
async fn write_batch(store: &Store, version: u64, batch: Batch, (written, cross_checked): &mut Written) -> anyhow::Result<()> {
    let Batch { run_id, pending, mut ledger_rows } = batch;
    let now = chrono::Utc::now();
    let mut game_ids = Vec::new();
    let mut schedule_names = Vec::new();
    let mut all = GameRows::default();
    let mut issues = Vec::new();
    let mut games = Vec::new();
    // Games whose box score or schedule row this batch writes: the cross-check's scope.
    let mut affected = HashSet::new();
    let mut per_file_rows = Vec::with_capacity(pending.len());
    for p in &pending {
        match &p.outcome {
            PageOutcome::BoxScore(game, found) => {
                game_ids.push(game.game_id.clone());
                affected.insert(game.game_id.clone());
                let rows = GameRows::from_box_score(game, version);
                per_file_rows.push((rows.len() + found.len()) as u64);
                all.players.extend(rows.players);
                all.teams.extend(rows.teams);
                all.inactives.extend(rows.inactives);
                issues.extend(found.iter().map(|i| QualityIssueRow::new(i, game.game_date, &p.name, now, version)));
            }
            PageOutcome::Schedule(s) => {
                schedule_names.push(p.name.clone());
                affected.extend(s.games.iter().map(|g| g.game_id.clone()));
                per_file_rows.push(s.games.len() as u64);
                games.extend(s.games.iter().map(|g| GameRow::from_scheduled(g, &p.name, version)));
            }
            _ => per_file_rows.push(0),
        }
    }

    // 1. Remove what earlier versions of these pages left behind.
    let stale = store.games_with_rows(&game_ids).await?;
    if !stale.is_empty() {
        let stale: Vec<String> = stale.into_iter().collect();
        tracing::info!(games = stale.len(), "replacing rows of changed or partially loaded games");
        for table in schema::GAME_TABLES {
            store.delete_where(table, "game_id", &stale).await?;
        }
    }
    let stale_sources = store.distinct_in(&schema::GAMES, "source_file", &schedule_names).await?;
    if !stale_sources.is_empty() {
        store.delete_where(&schema::GAMES, "source_file", &stale_sources).await?;
    }

    // 2. One block per table.
    store.insert(&all.players).await?;
    store.insert(&all.teams).await?;
    store.insert(&all.inactives).await?;
    store.insert(&issues).await?;
    store.insert(&games).await?;
    for (table, n) in [
        (schema::PLAYER_BOXSCORES.name, all.players.len()),
        (schema::TEAM_BOXSCORES.name, all.teams.len()),
        (schema::GAME_INACTIVES.name, all.inactives.len()),
        (schema::DATA_QUALITY_ISSUES.name, issues.len()),
        (schema::GAMES.name, games.len()),
    ] {
        *written.entry(table).or_default() += n as u64;
    }

    // 3. Box scores against schedule rows, for this batch's games (either side may come
    //    from an earlier batch or run). Done per batch and before the ledger rather than
    //    once at the end of the run: a run that died after its last ledger row but before
    //    an end-of-run cross-check would leave every page "unchanged" for the rerun, which
    //    would then never check them (`tests/it/faults.rs` kills ClickHouse mid-load to
    //    prove it).
    let findings = cross_check(store, &affected, version).await?;
    for f in &findings {
        *cross_checked.entry(f.check_name.clone()).or_default() += 1;
    }
    *written.entry(schema::DATA_QUALITY_ISSUES.name).or_default() += findings.len() as u64;

    // 4. Only now the ledger: a crash before this line makes the rerun redo the batch.
    for (p, rows) in pending.iter().zip(per_file_rows) {
        ledger_rows.push(ledger_row(&run_id, &p.name, &p.source, &p.sha256, p.size, FileStatus::Loaded, "", rows));
    }
    store.insert(&ledger_rows).await?;
    Ok(())
}

/// Compares box scores with schedule rows for the games this run touched, replacing the
/// earlier findings of these checks for those games.
async fn cross_check(store: &Store, affected: &HashSet<String>, version: u64) -> anyhow::Result<Vec<QualityIssueRow>> {
    if affected.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<String> = affected.iter().cloned().collect();
    let scheduled = store.schedule_results(&ids).await?;
    let boxed = store.box_score_results(&ids).await?;
    let now = chrono::Utc::now();
    let mut rows = Vec::new();
    for (id, (game, date)) in &boxed {
        let Some((sched, _)) = scheduled.get(id) else {
            continue;
        };
        for issue in checks::check_against_schedule(game, sched) {
            rows.push(QualityIssueRow::new(&issue, *date, "cross-check", now, version));
        }
    }
    let checked: Vec<String> = boxed.keys().filter(|id| scheduled.contains_key(*id)).cloned().collect();
    store.delete_checks(&checked, &checks::SCHEDULE_CHECKS).await?;
    store.insert(&rows).await?;
    Ok(rows)
}
