//! The prediction log: every answer appended to ClickHouse's `predictions` table, off the
//! request path. A request only does a non-blocking `try_send` into a bounded queue; a
//! background task writes batches (up to 1,000 rows or every second). If the queue is
//! full or ClickHouse keeps failing, rows are dropped and counted
//! (`nba_prediction_log_dropped_total`): logging never slows or fails a prediction.

use crate::feature_source::FeatureVector;
use chrono::{DateTime, NaiveDate, Utc};
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

    /// Queues a client's answer (`source = request`).
    pub fn record(&self, method: &'static str, r: &PredictResponse, is_home: bool, f: &FeatureVector, line: Option<f64>) {
        let now = Utc::now();
        let Some(row) = prediction_row(Logged { method, source: PredictionRow::REQUEST, run: "", run_at: now, predicted_at: now }, r, is_home, f, line) else {
            return;
        };
        if self.tx.try_send(row).is_err() {
            metrics::counter!("nba_prediction_log_dropped_total", "reason" => "queue_full").increment(1);
        }
    }
}

/// What a logged prediction was asked by, besides the answer itself.
pub struct Logged<'a> {
    pub method: &'a str,
    /// [`PredictionRow::REQUEST`] or [`PredictionRow::SLATE`].
    pub source: &'a str,
    /// The slate run's name; empty for requests.
    pub run: &'a str,
    pub run_at: DateTime<Utc>,
    pub predicted_at: DateTime<Utc>,
}

/// The `predictions` row of an answer: the one conversion the log and the slate run use.
/// None when the answer's date is not a date (never for an answer the predictor made).
pub fn prediction_row(by: Logged<'_>, r: &PredictResponse, is_home: bool, f: &FeatureVector, line: Option<f64>) -> Option<PredictionRow> {
    let game_date = NaiveDate::parse_from_str(&r.game_date, "%Y-%m-%d").ok()?;
    let source_name = |v: i32| crate::flight::source_name(v).unwrap_or_default().to_string();
    Some(PredictionRow {
        predicted_at: by.predicted_at,
        method: by.method.to_string(),
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
        source: by.source.to_string(),
        run: by.run.to_string(),
        run_at: by.run_at,
        availability_source: source_name(r.availability_source),
        opponent_availability_source: source_name(r.opponent_availability_source),
        lineup_source: source_name(r.lineup_source),
        opponent_lineup_source: source_name(r.opponent_lineup_source),
    })
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
