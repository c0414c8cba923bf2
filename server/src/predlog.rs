//! The prediction log: every answer appended to ClickHouse's `predictions` table, off the
//! request path. A request only does a non-blocking `try_send` into a bounded queue; a
//! background task collapses the answers of a window (`--prediction-log-window-secs`):
//! the same answer given again to the same kind of caller (method, source, model, question,
//! inputs bit for bit, line with its source and snapshot) becomes one row, the latest,
//! with `asked` counting how often it was given, and the window's rows are written in one
//! insert. Most traffic asks the same questions again (apps poll a slate of a few hundred
//! players), so ClickHouse stores and merges a row per distinct answer instead of one per
//! call; grading reads the latest answer per player and question either way. If the queue is full or ClickHouse keeps
//! failing, answers are dropped and counted (`nba_prediction_log_dropped_total`): logging
//! never slows or fails a prediction.

use crate::feature_source::FeatureVector;
use crate::predict::UsedLine;
use chrono::{DateTime, NaiveDate, Utc};
use nba_api::proto::predict::{Call, PredictResponse};
use nba_store::Store;
use nba_store::rows::PredictionRow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

const QUEUE: usize = 100_000;
/// Answers taken from the queue at a time.
const BATCH: usize = 1_000;
/// Distinct answers that wait at most before a write, whatever the window.
const MAX_PENDING_ROWS: usize = 20_000;

#[derive(Clone)]
pub struct PredictionLog {
    tx: mpsc::Sender<PredictionRow>,
    close: std::sync::Arc<watch::Sender<bool>>,
}

impl PredictionLog {
    /// Starts the writer, collapsing repeated answers for `window` before each write; it
    /// ends after [`PredictionLog::close`] (writing what is queued).
    pub fn start(store: Store, window: Duration) -> (PredictionLog, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let (close, closed) = watch::channel(false);
        (PredictionLog { tx, close: std::sync::Arc::new(close) }, tokio::spawn(writer(store, rx, closed, window)))
    }

    /// Asks the writer to write what is queued and stop.
    pub fn close(&self) {
        let _ = self.close.send(true);
    }

    /// Queues a client's answer (`source = request`).
    pub fn record(&self, method: &'static str, r: &PredictResponse, is_home: bool, f: &FeatureVector, line: Option<&UsedLine>) {
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
/// `line` is the line the answer used (the request's or a stored one, with its source,
/// snapshot time and prices). None when the answer's date is not a date (never for an
/// answer the predictor made).
pub fn prediction_row(by: Logged<'_>, r: &PredictResponse, is_home: bool, f: &FeatureVector, line: Option<&UsedLine>) -> Option<PredictionRow> {
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
        line: line.map(|l| l.line as f32),
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
        asked: 1,
        line_source: line.map(|l| l.source.clone()).unwrap_or_default(),
        line_time: line.and_then(|l| l.time),
        over_price: line.and_then(|l| l.over_price),
        under_price: line.and_then(|l| l.under_price),
    })
}

/// Rows waiting for the next write, each distinct answer once with how often it was given.
#[derive(Default)]
struct Pending {
    rows: Vec<PredictionRow>,
    /// Row positions by [`answer_hash`]; a hash shared by two different answers keeps the
    /// first indexed and the second as a row of its own (nothing merged wrongly).
    index: HashMap<u64, usize>,
}

impl Pending {
    fn push(&mut self, row: PredictionRow) {
        let h = answer_hash(&row);
        if let Some(&i) = self.index.get(&h) {
            let kept = &mut self.rows[i];
            if same_answer(kept, &row) {
                kept.asked = kept.asked.saturating_add(row.asked);
                // The row says when the answer was last given.
                if row.predicted_at > kept.predicted_at {
                    (kept.predicted_at, kept.run_at) = (row.predicted_at, row.run_at);
                }
                return;
            }
        } else {
            self.index.insert(h, self.rows.len());
        }
        self.rows.push(row);
    }

    fn answers(&self) -> u64 {
        self.rows.iter().map(|r| u64::from(r.asked)).sum()
    }

    fn take(&mut self) -> Vec<PredictionRow> {
        self.index.clear();
        std::mem::take(&mut self.rows)
    }
}

/// Floats compared and hashed bit for bit (NaN equals NaN: a missing feature is a value),
/// without copying them.
struct Bits<'a>(&'a [f32]);

impl PartialEq for Bits<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len() && self.0.iter().zip(other.0).all(|(x, y)| x.to_bits() == y.to_bits())
    }
}

impl Eq for Bits<'_> {}

impl Hash for Bits<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.len().hash(h);
        for x in self.0 {
            x.to_bits().hash(h);
        }
    }
}

/// What makes two logged answers the same: who asked (method, source, run), the model, the
/// question with its inputs (the feature vector bit for bit, the line with its source,
/// snapshot time and prices) and the answer; everything but the time and the count. One
/// key for the hash and the comparison.
fn answer_key(r: &PredictionRow) -> impl Hash + Eq + '_ {
    let bits = |x: Option<f32>| x.map(f32::to_bits);
    let bits64 = |x: Option<f64>| x.map(f64::to_bits);
    (
        (&r.method, &r.source, &r.run, &r.model_version, r.feature_version, &r.player_id, r.game_date, &r.team, &r.opponent, r.is_home),
        (r.predicted_pts.to_bits(), r.p10.to_bits(), r.p90.to_bits(), bits(r.line), bits(r.p_over), &r.call),
        (&r.line_source, r.line_time, bits64(r.over_price), bits64(r.under_price)),
        (&r.availability_source, &r.opponent_availability_source, &r.lineup_source, &r.opponent_lineup_source),
        Bits(&r.features),
    )
}

fn answer_hash(r: &PredictionRow) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    answer_key(r).hash(&mut h);
    h.finish()
}

fn same_answer(a: &PredictionRow, b: &PredictionRow) -> bool {
    answer_key(a) == answer_key(b)
}

/// Writes the log: answers are collapsed for `window` (or until [`MAX_PENDING_ROWS`]
/// distinct ones wait), then written in one insert.
async fn writer(store: Store, mut rx: mpsc::Receiver<PredictionRow>, mut close: watch::Receiver<bool>, window: Duration) {
    let mut received: Vec<PredictionRow> = Vec::with_capacity(BATCH);
    let mut pending = Pending::default();
    let mut first_at = Instant::now();
    loop {
        let was_empty = pending.rows.is_empty();
        let deadline = first_at + if was_empty { Duration::from_secs(3600) } else { window };
        let mut closed = tokio::select! {
            n = rx.recv_many(&mut received, BATCH) => n == 0,
            () = tokio::time::sleep_until(deadline) => false,
            // Closed, or every logger dropped: either way, write what is queued and stop.
            _ = close.changed() => true,
        };
        if closed || *close.borrow() {
            closed = true;
            while let Ok(row) = rx.try_recv() {
                received.push(row);
            }
        }
        for row in received.drain(..) {
            pending.push(row);
        }
        if was_empty {
            first_at = Instant::now();
        }
        if !pending.rows.is_empty() && (closed || pending.rows.len() >= MAX_PENDING_ROWS || first_at.elapsed() >= window) {
            write(&store, &mut pending).await;
        }
        if closed {
            return;
        }
    }
}

async fn write(store: &Store, pending: &mut Pending) {
    let answers = pending.answers();
    let rows = pending.take();
    match store.insert(&rows).await {
        Ok(()) => {
            metrics::counter!("nba_prediction_log_rows_total").increment(rows.len() as u64);
            metrics::counter!("nba_prediction_log_answers_total").increment(answers);
        }
        Err(e) => {
            metrics::counter!("nba_clickhouse_errors_total", "operation" => "prediction_log").increment(1);
            metrics::counter!("nba_prediction_log_dropped_total", "reason" => "clickhouse").increment(answers);
            tracing::warn!(error = %e, rows = rows.len(), answers, "prediction log write failed; rows dropped");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn row(player: &str, pred: f32, minute: u32) -> PredictionRow {
        let at = Utc.with_ymd_and_hms(2024, 3, 20, 18, minute, 0).unwrap();
        PredictionRow {
            predicted_at: at,
            method: "Predict".into(),
            model_version: "v1".into(),
            feature_version: 4,
            player_id: player.into(),
            game_date: NaiveDate::from_ymd_opt(2024, 3, 20).unwrap(),
            team: "BOS".into(),
            opponent: "MIL".into(),
            is_home: 1,
            predicted_pts: pred,
            p10: pred - 6.0,
            p90: pred + 6.0,
            line: Some(20.5),
            p_over: Some(0.6),
            call: "OVER".into(),
            features: vec![1.0, f32::NAN, 3.0],
            source: PredictionRow::REQUEST.into(),
            run: String::new(),
            run_at: at,
            availability_source: "official".into(),
            opponent_availability_source: "unknown".into(),
            lineup_source: "unknown".into(),
            opponent_lineup_source: "unknown".into(),
            asked: 1,
            line_source: String::new(),
            line_time: None,
            over_price: None,
            under_price: None,
        }
    }

    #[test]
    fn repeats_collapse_into_the_latest_row_with_a_count() {
        let mut p = Pending::default();
        for minute in [5, 1, 9] {
            p.push(row("tatumja01", 27.5, minute));
        }
        p.push(row("brownja02", 22.0, 2));
        let mut other_inputs = row("tatumja01", 27.5, 3);
        other_inputs.features[1] = 0.0;
        p.push(other_inputs);
        let mut other_line = row("tatumja01", 27.5, 4);
        other_line.line = Some(21.5);
        p.push(other_line);
        // The same number from the stored consensus, then from a later snapshot of it: the
        // line's source and time are part of the answer.
        let snapshot = |minute: u32, hour: u32| {
            let mut r = row("tatumja01", 27.5, minute);
            (r.line_source, r.line_time) = (PredictionRow::LINE_CONSENSUS.into(), Utc.with_ymd_and_hms(2024, 3, 20, hour, 0, 0).single());
            (r.over_price, r.under_price) = (Some(1.91), Some(1.91));
            r
        };
        p.push(snapshot(6, 15));
        p.push(snapshot(7, 15));
        p.push(snapshot(8, 16));
        assert_eq!(p.answers(), 9);
        let rows = p.take();
        assert_eq!(rows.len(), 6, "one row per distinct answer");
        assert_eq!(rows.iter().map(|r| r.asked).collect::<Vec<_>>(), [3, 1, 1, 1, 2, 1]);
        assert_eq!((rows[0].asked, rows[0].predicted_at.format("%M").to_string(), rows[0].run_at), (3, "09".to_string(), rows[0].predicted_at));
        assert!(p.rows.is_empty() && p.index.is_empty());
    }

    #[test]
    fn a_shared_hash_never_merges_different_answers() {
        let mut p = Pending::default();
        let a = row("tatumja01", 27.5, 1);
        let mut b = row("brownja02", 22.0, 2);
        // Pretend b hashed like a: it must stay a row of its own.
        p.index.insert(answer_hash(&b), 0);
        p.rows.push(a.clone());
        b.asked = 1;
        p.push(b);
        assert_eq!(p.rows.len(), 2);
        assert_eq!((p.rows[0].asked, p.rows[1].asked), (1, 1));
    }
}
