//! The prediction log: every answer appended to ClickHouse's `predictions` table, off the
//! request path. A request only does a non-blocking `try_send` into a bounded queue; a
//! background task writes batches (up to 1,000 rows or every second). If the queue is
//! full or ClickHouse keeps failing, rows are dropped and counted
//! (`nba_prediction_log_dropped_total`): logging never slows or fails a prediction.

use crate::feature_source::FeatureVector;
use chrono::{NaiveDate, Utc};
use nba_api::proto::predict::{Call, PredictResponse};
use nba_store::Store;
use nba_store::rows::PredictionRow;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

const QUEUE: usize = 100_000;
const BATCH: usize = 1_000;
const FLUSH_EVERY: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct PredictionLog {
    tx: mpsc::Sender<PredictionRow>,
    close: std::sync::Arc<watch::Sender<bool>>,
}

impl PredictionLog {
    /// Starts the writer; it ends after [`PredictionLog::close`] (writing what is queued).
    pub fn start(store: Store) -> (PredictionLog, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (close, closed) = watch::channel(false);
        (PredictionLog { tx, close: std::sync::Arc::new(close) }, tokio::spawn(writer(store, rx, closed)))
    }

    /// Asks the writer to write what is queued and stop.
    pub fn close(&self) {
        let _ = self.close.send(true);
    }

    pub fn record(&self, method: &'static str, r: &PredictResponse, is_home: bool, f: &FeatureVector, line: Option<f64>) {
        let Ok(game_date) = NaiveDate::parse_from_str(&r.game_date, "%Y-%m-%d") else {
            return;
        };
        let row = PredictionRow {
            predicted_at: Utc::now(),
            method: method.to_string(),
            model_version: r.model_version.clone(),
            feature_version: r.feature_version,
            player_id: r.player_id.clone(),
            game_date,
            team: r.team.clone(),
            opponent: r.opponent.clone(),
            is_home: u8::from(is_home),
            predicted_pts: r.predicted_points as f32,
            p10: r.p10 as f32,
            p90: r.p90 as f32,
            line: line.map(|l| l as f32),
            p_over: r.p_over.map(|p| p as f32),
            call: match Call::try_from(r.call) {
                Ok(Call::Unspecified) | Err(_) => String::new(),
                Ok(c) => c.as_str_name().to_string(),
            },
            features: f.values.to_vec(),
        };
        if self.tx.try_send(row).is_err() {
            metrics::counter!("nba_prediction_log_dropped_total", "reason" => "queue_full").increment(1);
        }
    }
}

async fn writer(store: Store, mut rx: mpsc::Receiver<PredictionRow>, mut close: watch::Receiver<bool>) {
    let mut batch: Vec<PredictionRow> = Vec::with_capacity(BATCH);
    let mut first_at = Instant::now();
    loop {
        let was_empty = batch.is_empty();
        let deadline = first_at + if was_empty { Duration::from_secs(3600) } else { FLUSH_EVERY };
        let mut closed = tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => n == 0,
            () = tokio::time::sleep_until(deadline) => false,
            // Closed, or every logger dropped: either way, write what is queued and stop.
            _ = close.changed() => true,
        };
        if closed || *close.borrow() {
            closed = true;
            while let Ok(row) = rx.try_recv() {
                batch.push(row);
            }
        }
        if was_empty {
            first_at = Instant::now();
        }
        if !batch.is_empty() && (closed || batch.len() >= BATCH || first_at.elapsed() >= FLUSH_EVERY) {
            match store.insert(&batch).await {
                Ok(()) => metrics::counter!("nba_prediction_log_rows_total").increment(batch.len() as u64),
                Err(e) => {
                    metrics::counter!("nba_clickhouse_errors_total", "operation" => "prediction_log").increment(1);
                    metrics::counter!("nba_prediction_log_dropped_total", "reason" => "clickhouse").increment(batch.len() as u64);
                    tracing::warn!(error = %e, rows = batch.len(), "prediction log write failed; rows dropped");
                }
            }
            batch.clear();
        }
        if closed {
            return;
        }
    }
}
