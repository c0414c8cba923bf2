//! `nba-ingest backfill`: load, build and validate a date range in chunks, with a
//! checkpoint per finished chunk (`backfill_checkpoints`), so an interrupted backfill
//! resumes where it stopped and a finished one, rerun, changes no row. A chunk whose
//! validation fails critically is recorded as such (and reported, exit 1) but does not
//! stop the backfill: missing upstream pages must not block the seasons after them.

use crate::build::{self, BuildOptions};
use crate::load::{self, LoadOptions};
use crate::validate;
use chrono::NaiveDate;
use nba_store::Store;
use nba_store::rows::BackfillCheckpointRow;
use nba_store::schema::{self, Table};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct BackfillOptions {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub chunk_days: u32,
    pub load: LoadOptions,
}

#[derive(Debug, Default)]
pub struct BackfillSummary {
    pub chunks: usize,
    pub done_before: usize,
    pub done_now: usize,
    pub files_loaded: u64,
    pub rejected: Vec<load::Rejection>,
    pub feature_rows: u64,
    /// Chunks whose validation failed critically, with the failing checks. The backfill
    /// goes on (missing upstream pages must not block it forever) and exits 1.
    pub failed_validation: Vec<(NaiveDate, NaiveDate, String)>,
}

/// Splits `[from, to]` into consecutive chunks of at most `days` days.
pub fn chunks(from: NaiveDate, to: NaiveDate, days: u32) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out = Vec::new();
    let mut start = from;
    let step = chrono::Days::new(u64::from(days.max(1)));
    while start <= to {
        let end = start.checked_add_days(step).and_then(|d| d.pred_opt()).unwrap_or(to).min(to);
        out.push((start, end));
        match end.succ_opt() {
            Some(next) => start = next,
            None => break,
        }
    }
    out
}

/// A stable id of a backfill: its range, chunking and inputs.
pub fn backfill_id(from: NaiveDate, to: NaiveDate, days: u32, paths: &[PathBuf]) -> String {
    let mut names: Vec<String> = paths.iter().map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()).display().to_string()).collect();
    names.sort();
    let mut h = Sha256::new();
    h.update(format!("{from}\n{to}\n{days}\n"));
    for n in names {
        h.update(n.as_bytes());
        h.update(b"\n");
    }
    hex::encode(&h.finalize()[..8])
}

/// Runs the backfill's chunks that have no checkpoint yet, in date order.
pub async fn backfill(store: &Store, opts: &BackfillOptions, today: NaiveDate) -> anyhow::Result<BackfillSummary> {
    anyhow::ensure!(opts.from <= opts.to, "--from {} is after --to {}", opts.from, opts.to);
    let id = backfill_id(opts.from, opts.to, opts.chunk_days, &opts.load.paths);
    let done = finished_chunks(store, &id).await?;
    let all = chunks(opts.from, opts.to, opts.chunk_days);
    let mut summary = BackfillSummary { chunks: all.len(), ..Default::default() };
    let bar = crate::progress::chunk_bar(opts.load.progress, all.len() as u64);
    tracing::info!(backfill = %id, chunks = all.len(), already_done = done.len(), "backfill");
    for (i, (from, to)) in all.iter().copied().enumerate() {
        if done.contains(&from) {
            summary.done_before += 1;
            bar.inc(1);
            continue;
        }
        bar.set_message(format!("{from} .. {to}"));
        let mut load_opts = opts.load.clone();
        load_opts.dates = Some((from, to));
        let loaded = load::load(Some(store), &load_opts).await?;
        summary.files_loaded += loaded.loaded;
        summary.rejected.extend(loaded.rejected);
        // Incremental: only what this chunk changed, from its first changed day on.
        let mut built = build::build(store, &BuildOptions::default()).await?;
        // A chunk resumed after a crash may have its pages loaded but its features not
        // (the load finished, the build did not): then rebuild the chunk's range.
        let box_rows = rows_dated(store, &schema::PLAYER_BOXSCORES, from, to).await?;
        let feature_rows = rows_dated(store, &schema::PLAYER_FEATURES, from, to).await?;
        if feature_rows != box_rows {
            tracing::info!(%from, %to, box_rows, feature_rows, "chunk features incomplete; rebuilding its range");
            built = build::build(store, &BuildOptions { from: Some(from), to: Some(to), full: false }).await?;
        }
        summary.feature_rows += built.feature_rows;
        let outcome = validate::validate(store, Some(from), Some(to), today).await?;
        validate::record(store, &outcome).await?;
        let passed = outcome.critical_failures() == 0;
        if !passed {
            let failed = outcome.critical_failure_names();
            tracing::warn!(%from, %to, checks = %failed.join(", "), "chunk failed validation");
            summary.failed_validation.push((from, to, failed.join(", ")));
        }
        store
            .insert(&[BackfillCheckpointRow {
                backfill_id: id.clone(),
                chunk_from: from,
                chunk_to: to,
                finished_at: chrono::Utc::now(),
                files_loaded: loaded.loaded,
                feature_rows: built.feature_rows,
                validation_passed: u8::from(passed),
            }])
            .await?;
        summary.done_now += 1;
        bar.inc(1);
        tracing::info!(chunk = i + 1, of = all.len(), %from, %to, files = loaded.loaded, features = built.feature_rows, "chunk done");
    }
    bar.finish_and_clear();
    Ok(summary)
}

/// The first days of the chunks of backfill `id` that have a checkpoint.
async fn finished_chunks(store: &Store, id: &str) -> anyhow::Result<HashSet<NaiveDate>> {
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Checkpoint {
        #[serde(with = "clickhouse::serde::chrono::date")]
        chunk_from: NaiveDate,
    }
    let sql = "SELECT chunk_from FROM backfill_checkpoints FINAL WHERE backfill_id = ?";
    let done: Vec<Checkpoint> = store.retry("read checkpoints", || store.client().query(sql).bind(id).fetch_all()).await?;
    Ok(done.into_iter().map(|c| c.chunk_from).collect())
}

/// Rows of `table` dated `from..=to`.
async fn rows_dated(store: &Store, table: &Table, from: NaiveDate, to: NaiveDate) -> anyhow::Result<u64> {
    let sql = format!("SELECT count() FROM `{}` WHERE game_date >= toDate(?) AND game_date <= toDate(?)", table.name);
    let (from, to) = (from.to_string(), to.to_string());
    Ok(store.retry(&format!("count {} rows of the chunk", table.name), || store.client().query(&sql).bind(&from).bind(&to).fetch_one()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn chunks_cover_the_range_without_overlap() {
        let c = chunks(d(2024, 1, 1), d(2024, 3, 5), 31);
        assert_eq!(c, vec![(d(2024, 1, 1), d(2024, 1, 31)), (d(2024, 2, 1), d(2024, 3, 2)), (d(2024, 3, 3), d(2024, 3, 5))]);
        assert_eq!(chunks(d(2024, 1, 1), d(2024, 1, 1), 7), vec![(d(2024, 1, 1), d(2024, 1, 1))]);
        assert!(chunks(d(2024, 1, 2), d(2024, 1, 1), 7).is_empty());
    }

    #[test]
    fn ids_depend_on_range_and_chunking() {
        let p = vec![PathBuf::from("/nonexistent/a.tar.zst")];
        assert_eq!(backfill_id(d(2024, 1, 1), d(2024, 2, 1), 31, &p), backfill_id(d(2024, 1, 1), d(2024, 2, 1), 31, &p));
        assert_ne!(backfill_id(d(2024, 1, 1), d(2024, 2, 1), 31, &p), backfill_id(d(2024, 1, 1), d(2024, 2, 1), 7, &p));
    }
}
