//! Mirrors registry events into the ClickHouse table `model_registry` (an event log:
//! `created`, `promoted`, `rolled_back`, `refused`), so versions and promotions can be
//! queried in SQL beside the data.
//!
//! The registry on disk is the source of truth (the server reads it). A mirror failure
//! never undoes or blocks a registry change: the change is made first, the failure is
//! reported on stderr and the command exits with [`crate::EXIT_MIRROR_FAILED`] so a job
//! can alert. Events lost that way are not replayed.

use crate::cli::ClickHouseTarget;
use crate::manifest::Manifest;
use nba_store::rows::ModelRegistryRow;

pub const CREATED: &str = "created";
pub const PROMOTED: &str = "promoted";
pub const ROLLED_BACK: &str = "rolled_back";
pub const REFUSED: &str = "refused";

/// One event row of a version.
pub fn event(m: &Manifest, event: &str, message: &str) -> ModelRegistryRow {
    let (now, now_us) = nba_store::rows::ledger_time();
    // Strictly increasing within the process, so events written in the same microsecond
    // (created, then refused) keep their order.
    static LAST_US: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let prev = LAST_US.fetch_max(now_us, std::sync::atomic::Ordering::Relaxed);
    let event_at_us = if prev >= now_us { LAST_US.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 } else { now_us };
    let best = m.metrics.scored.best_baseline();
    ModelRegistryRow {
        version: m.version.clone(),
        event: event.to_string(),
        event_at: now,
        event_at_us,
        created_at: chrono::DateTime::parse_from_rfc3339(&m.created_at).map(|d| d.to_utc()).unwrap_or(now),
        source_commit: m.source_commit.clone().unwrap_or_default(),
        feature_version: m.feature_version,
        contract_hash: m.contract_hash.clone(),
        objective: m.hyper_parameters.objective.clone(),
        train_rows: m.split.train.rows as u64,
        test_scored_rows: m.metrics.scored.model.rows as u64,
        test_mae: m.metrics.scored.model.mae,
        best_baseline: best.map(|b| b.0.to_string()).unwrap_or_default(),
        best_baseline_mae: best.map_or(f64::NAN, |b| b.1.mae),
        model_sha256: m.model_sha256.clone(),
        message: message.to_string(),
        manifest: serde_json::to_string(m).unwrap_or_default(),
    }
}

/// Inserts the events; `Err` says what failed (for stderr).
pub async fn record(target: &ClickHouseTarget, rows: &[ModelRegistryRow]) -> Result<(), String> {
    if target.no_mirror || rows.is_empty() {
        return Ok(());
    }
    let store = target.connection.connect().map_err(|e| e.to_string())?;
    store.insert(rows).await.map_err(|e| {
        format!(
            "mirroring {} registry event(s) into {}.model_registry: {} (run `nba-ingest migrate` for the table)",
            rows.len(),
            target.connection.database,
            e.with_causes()
        )
    })
}
