//! The prediction log: every answer appended to ClickHouse's `predictions` table, off the
//! request path. Most traffic asks the same questions again (apps poll a slate of a few
//! hundred players), so the log keeps one row per distinct answer and window
//! (`--prediction-log-window-secs`), the latest, with `asked` counting how often it was
//! given, and writes the window's rows in one insert: ClickHouse stores and merges a row
//! per distinct answer instead of one per call, and grading reads the latest answer per
//! player and question either way.
//!
//! Repeats are recognised on the request path, before any row is built, by what the
//! answer is a function of: the method, the model, the feature vector and the line (its
//! value, source, snapshot and prices). A vector comes from the feature source's cache,
//! so the same question answered again carries the very same vector: the key holds the
//! model and the vector by pointer, and the pending entry keeps both alive, so an address
//! can never be reused by another vector or model while its entry waits. A repeat is then
//! a hash of a few words and a counter under one of [`SHARDS`] locks; only a new answer
//! builds its row (strings, the 77 features). A vector computed again (evicted from the
//! cache, a new history snapshot) starts a row of its own: fewer collapses, never a wrong
//! one.
//!
//! Past [`MAX_PENDING_ROWS`] distinct answers the writer is woken early; past
//! [`MAX_HELD_ROWS`] (ClickHouse failing or slow) new answers are dropped and counted
//! (`nba_prediction_log_dropped_total`), as are a failed write's: logging never slows or
//! fails a prediction.

use crate::feature_source::FeatureVector;
use crate::predict::UsedLine;
use crate::served_model::LoadedModel;
use chrono::{DateTime, Utc};
use nba_api::proto::predict::{Call, PredictResponse};
use nba_features::N_FEATURES;
use nba_store::Store;
use nba_store::rows::PredictionRow;
use std::any::Any;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, watch};

/// Locks the pending answers are spread over (by their vector's address), so that the
/// request threads rarely wait for each other.
const SHARDS: usize = 16;
/// Distinct answers that wait at most before the writer is woken, whatever the window.
const MAX_PENDING_ROWS: usize = 20_000;
/// Distinct answers held at most (the writer behind: ClickHouse slow or failing); new
/// ones past it are dropped and counted. Repeats of held ones are still counted.
const MAX_HELD_ROWS: usize = 100_000;

#[derive(Clone)]
pub struct PredictionLog {
    pending: Arc<PendingAnswers>,
    close: Arc<watch::Sender<bool>>,
}

impl PredictionLog {
    /// Starts the writer, which writes the answers collected in each `window`; it ends
    /// after [`PredictionLog::close`] (writing what is pending).
    pub fn start(store: Store, window: Duration) -> (PredictionLog, tokio::task::JoinHandle<()>) {
        let pending = Arc::new(PendingAnswers::new(MAX_PENDING_ROWS, MAX_HELD_ROWS));
        let (close, closed) = watch::channel(false);
        let task = tokio::spawn(writer(store, pending.clone(), closed, window));
        (PredictionLog { pending, close: Arc::new(close) }, task)
    }

    /// Asks the writer to write what is pending and stop.
    pub fn close(&self) {
        let _ = self.close.send(true);
    }

    /// Counts a client's answer (`source = request`): a repeat adds to its pending row,
    /// a new answer builds one.
    pub fn record(&self, method: &'static str, model: &Arc<LoadedModel>, r: &PredictResponse, is_home: bool, f: &FeatureVector, line: Option<&UsedLine>) {
        let now = Utc::now();
        let key = AnswerKey::new(method, model, &f.values, line);
        // Built for a new answer only: a repeat touches neither reference count (the
        // model's is shared by every request on every thread).
        self.pending.count(key, now, || {
            let row = prediction_row(Logged { method, source: PredictionRow::REQUEST, run: "", run_at: now, predicted_at: now }, r, is_home, f, line);
            (row, Pins { _model: model.clone(), _features: f.values.clone() })
        });
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
/// snapshot time and prices). The game's date is the vector's (the request's, validated).
pub fn prediction_row(by: Logged<'_>, r: &PredictResponse, is_home: bool, f: &FeatureVector, line: Option<&UsedLine>) -> PredictionRow {
    let source_name = |v: i32| crate::flight::source_name(v).unwrap_or_default().to_string();
    PredictionRow {
        predicted_at: by.predicted_at,
        method: by.method.to_string(),
        model_version: r.model_version.clone(),
        feature_version: r.feature_version,
        player_id: r.player_id.clone(),
        game_date: f.date,
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
    }
}

/// What an answer is a function of, so that equal keys are the same answer: the method
/// (the kind of caller), the model and the feature vector by address (the vector also
/// fixes the player, date, teams and every list's source: it was computed for exactly
/// those), and the line. Addresses stay unique while the entry's [`Pins`] live.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct AnswerKey {
    method: &'static str,
    model: usize,
    features: usize,
    line: Option<LineKey>,
}

/// The line an answer used: its value, source, snapshot and prices, bit for bit.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct LineKey {
    line: u64,
    source: String,
    time: Option<DateTime<Utc>>,
    over_price: Option<u64>,
    under_price: Option<u64>,
}

impl AnswerKey {
    fn new<M: ?Sized>(method: &'static str, model: &Arc<M>, features: &Arc<[f32; N_FEATURES]>, line: Option<&UsedLine>) -> AnswerKey {
        AnswerKey {
            method,
            model: Arc::as_ptr(model).cast::<u8>() as usize,
            features: Arc::as_ptr(features) as usize,
            line: line.map(|l| LineKey {
                line: l.line.to_bits(),
                source: l.source.clone(),
                time: l.time,
                over_price: l.over_price.map(f64::to_bits),
                under_price: l.under_price.map(f64::to_bits),
            }),
        }
    }

    /// The shard of the key's vector (allocations are 16-byte aligned: skip those bits).
    fn shard(&self) -> usize {
        (self.features >> 4 ^ self.features >> 12) % SHARDS
    }
}

/// What keeps a key's addresses from being reused while its answer is pending.
struct Pins {
    _model: Arc<dyn Any + Send + Sync>,
    _features: Arc<[f32; N_FEATURES]>,
}

/// One distinct answer waiting for the next write.
struct Pending {
    row: PredictionRow,
    asked: u32,
    /// When it was last given.
    last: DateTime<Utc>,
    _pins: Pins,
}

impl Pending {
    /// One more time the answer was given, at `now`.
    fn ask(&mut self, now: DateTime<Utc>) {
        self.asked = self.asked.saturating_add(1);
        self.last = self.last.max(now);
    }

    /// The row as written: how often the answer was given, and when last.
    fn into_row(self) -> PredictionRow {
        let mut row = self.row;
        row.asked = self.asked;
        (row.predicted_at, row.run_at) = (self.last, self.last);
        row
    }
}

/// One lock's share of the pending answers (keys are addresses and static names: the
/// fast foldhash).
type Shard = Mutex<HashMap<AnswerKey, Pending, foldhash::fast::RandomState>>;

/// The answers of the current window, one entry per distinct answer, over [`SHARDS`]
/// locks.
struct PendingAnswers {
    shards: Vec<Shard>,
    /// Distinct answers held, over all shards.
    held: AtomicUsize,
    /// Woken when `wake_at` distinct answers wait.
    wake: Notify,
    wake_at: usize,
    hold_at: usize,
    /// Set once the writer has taken its last rows: later answers are not kept.
    closed: AtomicBool,
}

impl PendingAnswers {
    fn new(wake_at: usize, hold_at: usize) -> PendingAnswers {
        PendingAnswers {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::default())).collect(),
            held: AtomicUsize::new(0),
            wake: Notify::new(),
            wake_at,
            hold_at,
            closed: AtomicBool::new(false),
        }
    }

    /// Counts one answer given at `now`: a repeat adds to its entry; a new answer's row and
    /// pins are built by `new` (outside the lock) and kept, unless the log is full or closed.
    fn count(&self, key: AnswerKey, now: DateTime<Utc>, new: impl FnOnce() -> (PredictionRow, Pins)) {
        let shard = &self.shards[key.shard()];
        if Self::repeat(shard, &key, now) {
            return;
        }
        if self.closed.load(Ordering::Acquire) {
            metrics::counter!("nba_prediction_log_dropped_total", "reason" => "closed").increment(1);
            return;
        }
        let held = self.held.fetch_add(1, Ordering::AcqRel) + 1;
        if held > self.hold_at {
            self.held.fetch_sub(1, Ordering::AcqRel);
            metrics::counter!("nba_prediction_log_dropped_total", "reason" => "queue_full").increment(1);
            return;
        }
        let (row, pins) = new();
        let Ok(mut entries) = shard.lock() else { return };
        match entries.entry(key) {
            // Another thread kept the same answer meanwhile: count on it.
            std::collections::hash_map::Entry::Occupied(mut e) => {
                self.held.fetch_sub(1, Ordering::AcqRel);
                e.get_mut().ask(now);
            }
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(Pending { row, asked: 1, last: now, _pins: pins });
            }
        }
        drop(entries);
        if held == self.wake_at {
            self.wake.notify_one();
        }
    }

    /// Adds to a pending entry of `key`; false when there is none.
    fn repeat(shard: &Shard, key: &AnswerKey, now: DateTime<Utc>) -> bool {
        let Ok(mut entries) = shard.lock() else { return false };
        entries.get_mut(key).map(|e| e.ask(now)).is_some()
    }

    /// Every pending answer's row; the entries (and their pins) are released.
    fn take(&self) -> Vec<PredictionRow> {
        let mut rows = Vec::new();
        for shard in &self.shards {
            let entries = match shard.lock() {
                Ok(mut e) => std::mem::take(&mut *e),
                Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
            };
            self.held.fetch_sub(entries.len(), Ordering::AcqRel);
            rows.extend(entries.into_values().map(Pending::into_row));
        }
        rows
    }
}

/// Writes the log: the answers pending every `window` (sooner when [`MAX_PENDING_ROWS`]
/// distinct ones wait), each write one insert; at close, what is pending, then stops.
async fn writer(store: Store, pending: Arc<PendingAnswers>, mut close: watch::Receiver<bool>, window: Duration) {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + window, window);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let closed = tokio::select! {
            _ = tick.tick() => false,
            () = pending.wake.notified() => false,
            // Closed, or every logger dropped: either way, write what is pending and stop.
            _ = close.changed() => true,
        };
        let closed = closed || *close.borrow();
        if closed {
            pending.closed.store(true, Ordering::Release);
        }
        let rows = pending.take();
        if !rows.is_empty() {
            write(&store, rows).await;
        }
        if closed {
            return;
        }
    }
}

async fn write(store: &Store, rows: Vec<PredictionRow>) {
    let answers: u64 = rows.iter().map(|r| u64::from(r.asked)).sum();
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
            game_date: chrono::NaiveDate::from_ymd_opt(2024, 3, 20).unwrap(),
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

    fn vector(x: f32) -> Arc<[f32; N_FEATURES]> {
        Arc::new([x; N_FEATURES])
    }

    fn model() -> Arc<dyn Any + Send + Sync> {
        Arc::new(String::from("v1"))
    }

    fn consensus(line: f64, hour: u32) -> UsedLine {
        UsedLine {
            line,
            source: PredictionRow::LINE_CONSENSUS.into(),
            time: Utc.with_ymd_and_hms(2024, 3, 20, hour, 0, 0).single(),
            over_price: Some(1.91),
            under_price: Some(1.91),
            books: 3,
        }
    }

    /// Counts one answer; `built` counts the rows built.
    fn count(
        p: &PendingAnswers,
        method: &'static str,
        model: &Arc<dyn Any + Send + Sync>,
        v: &Arc<[f32; N_FEATURES]>,
        line: Option<&UsedLine>,
        minute: u32,
        built: &AtomicUsize,
    ) {
        let key = AnswerKey::new(method, model, v, line);
        let at = Utc.with_ymd_and_hms(2024, 3, 20, 18, minute, 0).unwrap();
        p.count(key, at, || {
            built.fetch_add(1, Ordering::Relaxed);
            let mut r = row("tatumja01", v[0], minute);
            r.method = method.into();
            r.line = line.map(|l| l.line as f32);
            (r, Pins { _model: model.clone(), _features: v.clone() })
        });
    }

    fn by_method_and_line(mut rows: Vec<PredictionRow>) -> Vec<(String, f32, Option<f32>, u32, u32)> {
        let minute = |r: &PredictionRow| r.predicted_at.format("%M").to_string().parse::<u32>().unwrap();
        let mut out: Vec<_> = rows.drain(..).map(|r| (r.method.clone(), r.predicted_pts, r.line, r.asked, minute(&r))).collect();
        out.sort_by(|a, b| format!("{a:?}").cmp(&format!("{b:?}")));
        out
    }

    #[test]
    fn repeats_collapse_into_the_latest_row_with_a_count_and_build_one_row() {
        let p = PendingAnswers::new(1000, 1000);
        let built = AtomicUsize::new(0);
        let (m, a, b) = (model(), vector(27.5), vector(27.5));
        for minute in [5, 1, 9] {
            count(&p, "Predict", &m, &a, None, minute, &built);
        }
        // The same numbers in another vector (computed again): a row of its own.
        count(&p, "Predict", &m, &b, None, 2, &built);
        // The same vector against lines: the line, its source and its snapshot matter.
        count(&p, "Predict", &m, &a, Some(&consensus(21.5, 15)), 6, &built);
        count(&p, "Predict", &m, &a, Some(&consensus(21.5, 15)), 7, &built);
        count(&p, "Predict", &m, &a, Some(&consensus(21.5, 16)), 8, &built);
        count(&p, "PredictBatch", &m, &a, None, 3, &built);
        // Another model, same vector.
        count(&p, "Predict", &model(), &a, None, 4, &built);
        assert_eq!(built.load(Ordering::Relaxed), 6, "a row is built only for a new answer");
        assert_eq!(p.held.load(Ordering::Relaxed), 6);
        let rows = p.take();
        assert_eq!(rows.iter().map(|r| u64::from(r.asked)).sum::<u64>(), 9, "every answer counted");
        assert_eq!(
            by_method_and_line(rows),
            [
                ("Predict".into(), 27.5, None, 1, 2),
                ("Predict".into(), 27.5, None, 1, 4),
                ("Predict".into(), 27.5, None, 3, 9),
                ("Predict".into(), 27.5, Some(21.5), 1, 8),
                ("Predict".into(), 27.5, Some(21.5), 2, 7),
                ("PredictBatch".into(), 27.5, None, 1, 3),
            ]
        );
        assert_eq!(p.held.load(Ordering::Relaxed), 0);
        assert!(p.take().is_empty(), "taken once");
    }

    #[test]
    fn past_the_hold_limit_new_answers_are_dropped_and_repeats_still_counted() {
        let p = PendingAnswers::new(1000, 2);
        let built = AtomicUsize::new(0);
        let (m, a, b, c) = (model(), vector(20.0), vector(21.0), vector(22.0));
        count(&p, "Predict", &m, &a, None, 1, &built);
        count(&p, "Predict", &m, &b, None, 2, &built);
        count(&p, "Predict", &m, &c, None, 3, &built);
        count(&p, "Predict", &m, &a, None, 4, &built);
        assert_eq!(built.load(Ordering::Relaxed), 2, "the third answer is not even built");
        let rows = by_method_and_line(p.take());
        assert_eq!(rows.iter().map(|r| (r.1, r.3)).collect::<Vec<_>>(), [(20.0, 2), (21.0, 1)]);
        count(&p, "Predict", &m, &c, None, 5, &built);
        assert_eq!(p.take().len(), 1, "room again after a write");
    }

    #[tokio::test]
    async fn the_writer_is_woken_when_enough_answers_wait_and_nothing_is_kept_after_close() {
        let p = PendingAnswers::new(2, 100);
        let built = AtomicUsize::new(0);
        let m = model();
        count(&p, "Predict", &m, &vector(1.0), None, 1, &built);
        let woken = tokio::time::timeout(Duration::from_millis(50), p.wake.notified()).await;
        assert!(woken.is_err(), "one answer waits for the window");
        count(&p, "Predict", &m, &vector(2.0), None, 2, &built);
        tokio::time::timeout(Duration::from_secs(5), p.wake.notified()).await.expect("woken at two answers");
        p.closed.store(true, Ordering::Release);
        count(&p, "Predict", &m, &vector(3.0), None, 3, &built);
        assert_eq!(p.take().len(), 2);
    }

    /// Two threads giving the same answers at once: every answer counted, one row each.
    #[test]
    fn concurrent_repeats_are_all_counted_in_one_row() {
        let p = PendingAnswers::new(1000, 1000);
        let built = AtomicUsize::new(0);
        let m = model();
        let vs: Vec<_> = (0..8).map(|i| vector(i as f32)).collect();
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    for k in 0..5000 {
                        count(&p, "Predict", &m, &vs[k % vs.len()], None, 1, &built);
                    }
                });
            }
        });
        let rows = p.take();
        assert_eq!(rows.len(), 8);
        assert!(rows.iter().all(|r| r.asked == 1250), "{:?}", rows.iter().map(|r| r.asked).collect::<Vec<_>>());
    }
}
