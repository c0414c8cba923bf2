//! `nba-ingest scrape`: fetches new schedule and box-score pages politely into a raw page
//! store that `load` reads like an unpacked archive.
//!
//! Plan: for each month overlapping `--from..--to`, the schedule page
//! (`{base}/leagues/NBA_{season}_games-{month}.html`), then every box score it links for a
//! game dated in the range (`{base}/boxscores/{game_id}.html`). Then the schedule pages of
//! the month of the day after `--to` and of the month after it ([`upcoming_schedule_targets`]):
//! in the nightly run (`--to` yesterday) that is today's and next month's, so today's and
//! tomorrow's games are known on any day of a month, the 1st included. A month whose page
//! the site does not have yet (404) is skipped without a failure. Requests go one at a time
//! through [`fetch::Fetcher`] (global rate limit, retries, backoff).
//!
//! What is not fetched again: a stored box score (pages of finished games do not change;
//! `--refresh` asks anyway, conditionally), and a stored schedule page stored more than a
//! day after its month ended (earlier copies may miss results, so they are refetched).
//!
//! A response is stored only once `nba_pages::parse_page` accepts it, so the store never
//! holds a page `load` would reject; a rejected page is listed (and recorded in the
//! `ingest_files` ledger when there is a database) and simply asked for again next run.

pub mod fetch;
pub mod pagestore;

use crate::load::Rejection;
use chrono::{Datelike, NaiveDate};
use fetch::{Conditional, FetchConfig, Fetched, Fetcher};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use nba_pages::{Page, PageKind};
use nba_store::Store;
use nba_store::rows::IngestFileRow;
use pagestore::{PageMeta, PageStore};
use sha2::{Digest, Sha256};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const DEFAULT_USER_AGENT: &str =
    concat!("nba-ingest/", env!("CARGO_PKG_VERSION"), " (nightly box-score scraper; +https://example.invalid/nba-points; contact ops@example.invalid)");

#[derive(Debug, Clone)]
pub struct ScrapeOptions {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Site root without a trailing slash, e.g. `https://www.basketball-reference.com`.
    pub base_url: String,
    pub store_dir: PathBuf,
    pub fetch: FetchConfig,
    /// Stop the run once this many pages have failed or been rejected.
    pub max_failures: u32,
    /// Ask again (conditionally) for pages already stored.
    pub refresh: bool,
    pub progress: bool,
}

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct ScrapeSummary {
    /// HTTP requests sent, retries included.
    pub requests: u64,
    /// Pages written to the store (ledger names).
    pub stored: Vec<String>,
    /// Pages the server said were unchanged (304); the stored copy was kept.
    pub not_modified: u64,
    /// Pages already stored and not asked for.
    pub skipped: u64,
    /// Months whose schedule page the site does not have (404): no games that month, as in
    /// the off-season, or an upcoming month not published yet. Not a failure, so a
    /// nightly run in August exits 0.
    pub months_without_schedule: u64,
    /// Pages that failed or were rejected: nothing was written for them.
    pub rejected: Vec<Rejection>,
    /// Set when the run stopped early after too many failures.
    pub stopped: Option<String>,
    pub elapsed: Duration,
}

/// One page to consider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub kind: PageKind,
    /// Ledger name, also the path in the store.
    pub rel: String,
    pub url: String,
}

/// The schedule pages covering `from..=to`: one per calendar month, with its last day.
pub fn schedule_targets(base: &str, from: NaiveDate, to: NaiveDate) -> Vec<(Target, NaiveDate)> {
    let mut out = Vec::new();
    let Some(mut month) = NaiveDate::from_ymd_opt(from.year(), from.month(), 1) else {
        return out;
    };
    while month <= to {
        let Some(next) = month.checked_add_months(chrono::Months::new(1)) else {
            break;
        };
        // The season of the games in range this month (2020's bubble makes the month
        // alone ambiguous, the date is not).
        let season = nba_pages::season::season_of(month.max(from));
        let name = format!("NBA_{season}_games-{}.html", nba_pages::schedule::MONTHS[month.month0() as usize]);
        let kind = PageKind::Schedule(name.clone());
        let last = next.pred_opt().unwrap_or(month);
        out.push((Target { rel: kind.ledger_name(), kind, url: format!("{base}/leagues/{name}") }, last));
        month = next;
    }
    out
}

/// The schedule pages of the month of the day after `to` and of the month after it: in
/// the nightly run (`to` = yesterday) this month's and next month's, whose games are
/// still to be played. The last date any of them covers is [`schedule_horizon`].
pub fn upcoming_schedule_targets(base: &str, to: NaiveDate) -> Vec<(Target, NaiveDate)> {
    let after = to.succ_opt().unwrap_or(to);
    schedule_targets(base, after, schedule_horizon(to))
}

/// The last day of the month after the day after `to`: the scrape fetches schedule pages
/// up to it, and `scrape --load` loads pages up to it (the games not yet played).
pub fn schedule_horizon(to: NaiveDate) -> NaiveDate {
    let after = to.succ_opt().unwrap_or(to);
    NaiveDate::from_ymd_opt(after.year(), after.month(), 1)
        .and_then(|first| first.checked_add_months(chrono::Months::new(2)))
        .and_then(|d| d.pred_opt())
        .unwrap_or(after)
}

pub fn box_score_target(base: &str, game_id: &str) -> Target {
    let kind = PageKind::BoxScore(game_id.to_string());
    Target { rel: kind.ledger_name(), kind, url: format!("{base}/boxscores/{game_id}.html") }
}

/// A schedule page stored more than a day after its month ended is final; an earlier copy
/// may lack results (or games rescheduled into the month) and is fetched again.
pub fn schedule_is_final(month_last_day: NaiveDate, stored_at: chrono::DateTime<chrono::Utc>) -> bool {
    stored_at.date_naive() > month_last_day + chrono::Days::new(1)
}

/// Runs a scrape. Errors only when the run cannot proceed (store folder unusable,
/// ClickHouse failing after retries); pages that fail are listed in the summary.
pub async fn scrape(db: Option<&Store>, opts: &ScrapeOptions) -> anyhow::Result<ScrapeSummary> {
    anyhow::ensure!(opts.from <= opts.to, "--from {} is after --to {}", opts.from, opts.to);
    let started = Instant::now();
    let store = PageStore::open(&opts.store_dir)?;
    let fetcher = Fetcher::new(opts.fetch.clone())?;
    let base = opts.base_url.trim_end_matches('/');
    let run_id = format!("scrape-{}-{}", chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"), std::process::id());
    let mut run = ScrapeRun { store: &store, fetcher: &fetcher, opts, summary: ScrapeSummary::default(), ledger: Vec::new(), run_id };

    let mut months = schedule_targets(base, opts.from, opts.to);
    for upcoming in upcoming_schedule_targets(base, opts.to) {
        if !months.iter().any(|(t, _)| t.rel == upcoming.0.rel) {
            months.push(upcoming);
        }
    }
    let bar = progress_bar(opts.progress, months.len() as u64);
    'months: for (target, last_day) in &months {
        let stored = store.exists(&target.rel);
        let is_final = stored && store.meta(&target.rel).is_some_and(|m| schedule_is_final(*last_day, m.fetched_at));
        let body = if stored && is_final && !opts.refresh {
            run.summary.skipped += 1;
            store.read(&target.rel).ok()
        } else {
            bar.set_message(target.rel.clone());
            match run.get(target, stored).await? {
                Some(body) => Some(body),
                // Failed: the stored copy (if any) still tells which games to fetch.
                None if stored => store.read(&target.rel).ok(),
                None => None,
            }
        };
        bar.inc(1);
        if run.summary.stopped.is_some() {
            break;
        }
        let Some(Ok(Page::Schedule(schedule))) = body.map(|b| nba_pages::parse_page(&target.kind, &b)) else {
            continue;
        };
        let games: Vec<_> = schedule.games.iter().filter(|g| g.has_box_score && g.game_date >= opts.from && g.game_date <= opts.to).collect();
        bar.inc_length(games.len() as u64);
        for game in games {
            let t = box_score_target(base, &game.game_id);
            let stored = store.exists(&t.rel);
            if stored && !opts.refresh {
                run.summary.skipped += 1;
            } else {
                bar.set_message(t.rel.clone());
                run.get(&t, stored).await?;
            }
            bar.inc(1);
            if run.summary.stopped.is_some() {
                break 'months;
            }
        }
    }
    bar.finish_and_clear();
    if let Some(db) = db {
        db.insert(&run.ledger).await?;
    }
    run.summary.requests = fetcher.requests();
    run.summary.elapsed = started.elapsed();
    Ok(run.summary)
}

/// One scrape in progress: where pages go, how they are fetched, what happened so far
/// and the ledger rows of rejected pages, written at the end.
struct ScrapeRun<'a> {
    store: &'a PageStore,
    fetcher: &'a Fetcher,
    opts: &'a ScrapeOptions,
    summary: ScrapeSummary,
    ledger: Vec<IngestFileRow>,
    run_id: String,
}

impl ScrapeRun<'_> {
    /// Fetches, checks and stores one page; returns its body when the store now holds a
    /// good copy (fetched or confirmed by a 304).
    async fn get(&mut self, t: &Target, stored: bool) -> anyhow::Result<Option<Vec<u8>>> {
        let meta = if stored { self.store.meta(&t.rel) } else { None };
        let cond = meta.as_ref().map(|m| Conditional { etag: m.etag.clone(), last_modified: m.last_modified.clone() }).unwrap_or_default();
        match self.fetcher.fetch(&t.url, &cond).await {
            Fetched::NotModified if stored => {
                tracing::info!(page = %t.rel, "not modified; keeping the stored copy");
                self.summary.not_modified += 1;
                if let Some(mut m) = meta {
                    m.fetched_at = chrono::Utc::now();
                    self.store.put_meta(&t.rel, &m)?;
                }
                Ok(Some(self.store.read(&t.rel)?))
            }
            Fetched::NotModified => {
                self.reject(t, "HTTP 304 for a page we do not hold", &[]);
                Ok(None)
            }
            Fetched::Failed(reason) if reason == "HTTP 404" && matches!(t.kind, PageKind::Schedule(_)) && !stored => {
                tracing::info!(url = %t.url, "no schedule page for this month (no games, or not published yet)");
                self.summary.months_without_schedule += 1;
                Ok(None)
            }
            Fetched::Failed(reason) => {
                self.reject(t, &reason, &[]);
                Ok(None)
            }
            Fetched::Ok { body, etag, last_modified } => match nba_pages::parse_page(&t.kind, &body) {
                Ok(_) => {
                    let meta = PageMeta { url: t.url.clone(), etag, last_modified, fetched_at: chrono::Utc::now() };
                    self.store.put(&t.rel, &body, &meta)?;
                    tracing::info!(page = %t.rel, bytes = body.len(), "stored");
                    self.summary.stored.push(t.rel.clone());
                    Ok(Some(body))
                }
                Err(e) => {
                    self.reject(t, &format!("bad page: {e}"), &body);
                    Ok(None)
                }
            },
        }
    }

    fn reject(&mut self, t: &Target, reason: &str, body: &[u8]) {
        tracing::warn!(url = %t.url, %reason, "rejected");
        self.summary.rejected.push(Rejection { name: t.rel.clone(), source: t.url.clone(), reason: reason.to_string() });
        let (seen_at, seen_at_us) = nba_store::rows::ledger_time();
        self.ledger.push(IngestFileRow {
            run_id: self.run_id.clone(),
            name: t.rel.clone(),
            source: t.url.clone(),
            sha256: if body.is_empty() { String::new() } else { hex::encode(Sha256::digest(body)) },
            size: body.len() as u64,
            status: crate::load::FileStatus::Rejected.as_str().to_string(),
            reason: reason.to_string(),
            rows_written: 0,
            seen_at,
            seen_at_us,
        });
        let failed = self.summary.rejected.len();
        if self.opts.max_failures > 0 && failed >= self.opts.max_failures as usize {
            self.summary.stopped = Some(format!(
                "stopped after {failed} failed pages (--max-failures {}); the site may be down or blocking us, try again later",
                self.opts.max_failures
            ));
        }
    }
}

/// A bar over pages with ETA on a terminal; hidden otherwise (each page is logged).
fn progress_bar(enabled: bool, len: u64) -> ProgressBar {
    if !(enabled && std::io::stderr().is_terminal()) {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("scrape [{elapsed_precise}] {wide_bar} {pos}/{len} pages ETA {eta} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The end-of-run summary.
pub fn render(s: &ScrapeSummary) -> String {
    let mut out = format!(
        "scrape: {} requests in {:.1} s; stored {}, not modified {}, already stored {}, failed {}\n",
        s.requests,
        s.elapsed.as_secs_f64(),
        s.stored.len(),
        s.not_modified,
        s.skipped,
        s.rejected.len()
    );
    if s.months_without_schedule > 0 {
        out.push_str(&format!("  {} month(s) without a schedule page on the site (no games, or not published yet)\n", s.months_without_schedule));
    }
    for r in s.rejected.iter().take(50) {
        out.push_str(&format!("  rejected {}: {}\n", r.source, r.reason));
    }
    if let Some(msg) = &s.stopped {
        out.push_str(&format!("  {msg}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn months_and_seasons_of_a_range() {
        let t = schedule_targets("http://x", d(2023, 12, 30), d(2024, 1, 2));
        let urls: Vec<_> = t.iter().map(|(t, last)| (t.url.as_str(), *last)).collect();
        assert_eq!(
            urls,
            vec![("http://x/leagues/NBA_2024_games-december.html", d(2023, 12, 31)), ("http://x/leagues/NBA_2024_games-january.html", d(2024, 1, 31)),]
        );
        assert_eq!(t[0].0.rel, "standings/NBA_2024_games-december.html");
        // The bubble: October 2020 belongs to the 2019-20 season.
        let t = schedule_targets("http://x", d(2020, 10, 11), d(2020, 10, 11));
        assert_eq!(t[0].0.rel, "standings/NBA_2020_games-october.html");
        assert_eq!(box_score_target("http://x", "202306120DEN").url, "http://x/boxscores/202306120DEN.html");
        assert_eq!(box_score_target("http://x", "202306120DEN").rel, "scores/202306120DEN.html");
    }

    #[test]
    fn upcoming_months_are_the_day_after_to_and_the_month_after() {
        let urls = |to| upcoming_schedule_targets("http://x", to).into_iter().map(|(t, last)| (t.url, last)).collect::<Vec<_>>();
        let u = |m: &str| format!("http://x/leagues/NBA_{m}.html");
        // Run on a leap day (to = the 28th): February and March.
        assert_eq!(urls(d(2024, 2, 28)), vec![(u("2024_games-february"), d(2024, 2, 29)), (u("2024_games-march"), d(2024, 3, 31))]);
        // Run on the 1st (to = the last day of the month before): that month and the next.
        assert_eq!(urls(d(2024, 2, 29)), vec![(u("2024_games-march"), d(2024, 3, 31)), (u("2024_games-april"), d(2024, 4, 30))]);
        // Across the new year, and into a new season (October starts the next one).
        assert_eq!(urls(d(2023, 12, 31)), vec![(u("2024_games-january"), d(2024, 1, 31)), (u("2024_games-february"), d(2024, 2, 29))]);
        assert_eq!(urls(d(2024, 9, 15)), vec![(u("2025_games-september"), d(2024, 9, 30)), (u("2025_games-october"), d(2024, 10, 31))]);
        assert_eq!(schedule_horizon(d(2024, 2, 28)), d(2024, 3, 31));
        assert_eq!(schedule_horizon(d(2024, 1, 31)), d(2024, 3, 31));
        assert_eq!(schedule_horizon(d(2024, 12, 30)), d(2025, 1, 31));
    }

    #[test]
    fn schedule_page_is_final_a_day_after_its_month() {
        let at = |y, m, day| d(y, m, day).and_hms_opt(12, 0, 0).unwrap().and_utc();
        assert!(!schedule_is_final(d(2023, 6, 30), at(2023, 6, 30)));
        assert!(!schedule_is_final(d(2023, 6, 30), at(2023, 7, 1)));
        assert!(schedule_is_final(d(2023, 6, 30), at(2023, 7, 2)));
    }
}
