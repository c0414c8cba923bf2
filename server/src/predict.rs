//! Where a prediction is computed: validated request -> feature vector (shared contract)
//! -> the served model -> points, interval, and the call against a line. The interval and
//! P(over) are read from the manifest's uncertainty table for the vector's own
//! prior-10-minutes bucket and game-day state (a morning request with nothing known gets
//! the wider state-C interval).
//!
//! The line is the request's, else a stored one ([`choose_line`]): the consensus of the
//! books, or the book the request names, as of the feature source's clock (the same
//! "now" the injury reports are read at), so an answer never uses a line posted after it.

use crate::error::ServeError;
use crate::feature_source::{FeatureQuery, FeatureSource, FeatureVector};
use crate::predlog::PredictionLog;
use crate::served_model::{LoadedModel, ModelSlot};
use crate::telemetry::Registered;
use chrono::{DateTime, NaiveDate, Utc};
use nba_api::proto::predict::{Call, FeatureContribution, PredictRequest, PredictResponse};
use nba_store::lines::{MarketLine, PropLines};
use nba_store::rows::PredictionRow;
use std::sync::Arc;

/// Calls need this probability of going over (or under) ...
const CALL_PROBABILITY: f64 = 0.55;
/// ... and at least this many points between prediction and line.
const CALL_EDGE: f64 = 1.5;
/// `nba_predicted_points`: every answered prediction's points.
static PREDICTED_POINTS: Registered<metrics::Histogram> = Registered::new(|| metrics::histogram!("nba_predicted_points"));
/// The longest book key `line_book` takes (real keys are under 20 characters).
const MAX_BOOK_CHARS: usize = 64;

/// Everything a request needs: features and the served model.
pub struct Predictor {
    pub feature_source: Arc<FeatureSource>,
    pub model_slot: Arc<ModelSlot>,
    pub log: Option<PredictionLog>,
    /// Give a vector's kept answer again to the same model (`--reuse-answers`).
    pub reuse_answers: bool,
}

/// What the model answers for a feature vector, before any line: points and interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Answer {
    pub points: f64,
    pub p10: f64,
    pub p90: f64,
}

/// The last model's answer for one feature vector, kept beside it (in the feature
/// cache's entry) for the next request that asks the same question: apps poll, and a
/// slate is a few hundred player-games, so most calls repeat one. The answer is a function
/// of the model and the vector alone (a line changes only the edge and the call, computed
/// per request), so reusing it gives the very answer a new walk of the trees would.
///
/// Reading it takes no lock and writes no shared memory (an `ArcSwap` load). The model is
/// held weakly: a swapped-out model is not kept alive by the answers it left, and its
/// address cannot be taken by another model while one of them is kept, so comparing
/// addresses cannot mistake a new model for the old.
#[derive(Debug, Default)]
pub struct AnswerMemo(arc_swap::ArcSwapOption<ModelAnswer>);

#[derive(Debug)]
pub struct ModelAnswer {
    model: std::sync::Weak<LoadedModel>,
    answer: Answer,
}

impl AnswerMemo {
    /// The kept answer, if `model` made it.
    pub fn get(&self, model: &Arc<LoadedModel>) -> Option<Answer> {
        let kept = self.0.load();
        kept.as_ref().filter(|k| std::ptr::eq(k.model.as_ptr(), Arc::as_ptr(model))).map(|k| k.answer)
    }

    /// Keeps `model`'s answer (replacing another model's).
    pub fn set(&self, model: &Arc<LoadedModel>, answer: Answer) {
        self.0.store(Some(Arc::new(ModelAnswer { model: Arc::downgrade(model), answer })));
    }
}

/// One answered request, with what produced it.
pub struct Scored {
    pub response: PredictResponse,
    pub features: Arc<FeatureVector>,
    pub model: Arc<LoadedModel>,
    /// The line the edge and call used, with its prices (None: no line).
    pub line: Option<UsedLine>,
}

/// The line a request asks for, before any stored line is looked up.
#[derive(Debug, Clone, PartialEq)]
pub enum LineChoice {
    /// The request's own line.
    Given(f64),
    /// This book's latest stored line (its key in lower case).
    Book(String),
    /// The consensus of the stored lines.
    Consensus,
    /// None (`ignore_stored` without a line).
    NoLine,
}

/// The line a prediction was made against, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct UsedLine {
    pub line: f64,
    /// [`PredictionRow::LINE_REQUEST`], [`PredictionRow::LINE_CONSENSUS`] or a book's key.
    pub source: String,
    /// The newest stored snapshot it was taken from (None for the request's line).
    pub time: Option<DateTime<Utc>>,
    /// Decimal prices of the stored line's two sides.
    pub over_price: Option<f64>,
    pub under_price: Option<f64>,
    /// Books the consensus was taken from (1 for a book's line, 0 for the request's).
    pub books: u32,
}

impl UsedLine {
    fn given(line: f64) -> UsedLine {
        UsedLine { line, source: PredictionRow::LINE_REQUEST.to_string(), time: None, over_price: None, under_price: None, books: 0 }
    }

    fn stored(m: MarketLine) -> UsedLine {
        UsedLine {
            line: f64::from(m.line),
            source: m.source,
            time: Some(m.time),
            over_price: Some(m.over_price),
            under_price: Some(m.under_price),
            books: m.books,
        }
    }
}

impl Predictor {
    pub fn model(&self) -> Result<Arc<LoadedModel>, ServeError> {
        self.model_slot.get().ok_or_else(|| ServeError::Unavailable("no model loaded yet (nothing promoted in the registry, or it failed its checks)".into()))
    }

    /// Scores one request with the served model. `method` labels the prediction log.
    pub fn predict(&self, req: &PredictRequest, method: &'static str) -> Result<Scored, ServeError> {
        self.score(self.model()?, req, method)
    }

    /// Scores one request with a given model (a Flight stream keeps one model throughout).
    pub fn predict_with(&self, model: &Arc<LoadedModel>, req: &PredictRequest, method: &'static str) -> Result<Scored, ServeError> {
        self.score(model.clone(), req, method)
    }

    fn score(&self, model: Arc<LoadedModel>, req: &PredictRequest, method: &'static str) -> Result<Scored, ServeError> {
        let choice = line_choice(req)?;
        let q = FeatureQuery {
            player_id: &req.player_id,
            game_date: &req.game_date,
            opponent: &req.opponent,
            is_home: req.is_home,
            team: req.team.as_deref(),
            team_inactive: req.team_inactive.as_ref().map(|l| l.player_ids.as_slice()),
            opp_inactive: req.opponent_inactive.as_ref().map(|l| l.player_ids.as_slice()),
            team_starters: req.team_starters.as_ref().map(|l| l.player_ids.as_slice()),
            opp_starters: req.opponent_starters.as_ref().map(|l| l.player_ids.as_slice()),
            ignore_stored: req.ignore_stored,
        };
        // One snapshot and one instant for the vector (its injury reports) and the stored line.
        let guard = self.feature_source.guard();
        let snap = guard.as_deref().ok_or_else(FeatureSource::not_loaded)?;
        let now = self.feature_source.now();
        let features = self.feature_source.vector_in(snap, &q, now)?;
        let line = match &choice {
            LineChoice::Given(l) => Some(UsedLine::given(*l)),
            stored => choose_line(stored, &snap.lines, features.date, &req.player_id, now),
        };
        drop(guard);
        let answer = self.answer(&model, &features)?;
        let pred = answer.points;
        PREDICTED_POINTS.with(|h| h.record(pred));
        let mut response = PredictResponse {
            player_id: req.player_id.clone(),
            game_date: req.game_date.clone(),
            team: features.team.clone(),
            opponent: features.opponent.clone(),
            predicted_points: pred,
            p10: answer.p10,
            p90: answer.p90,
            model_version: model.version.clone(),
            feature_version: model.manifest.feature_version,
            contract_hash: model.manifest.contract_hash.clone(),
            edge: None,
            p_over: None,
            call: Call::Unspecified as i32,
            games_before: features.games_before,
            availability_source: features.availability_source.proto() as i32,
            opponent_availability_source: features.opponent_availability_source.proto() as i32,
            lineup_source: features.lineup_source.proto() as i32,
            opponent_lineup_source: features.opponent_lineup_source.proto() as i32,
            injury_report_time: features.injury_report_time.map(|t| t.to_rfc3339()),
            line: line.as_ref().map(|l| l.line),
            line_source: line.as_ref().map(|l| l.source.clone()).unwrap_or_default(),
            line_time: line.as_ref().and_then(|l| l.time).map(|t| t.to_rfc3339()),
            line_books: line.as_ref().map_or(0, |l| l.books),
        };
        if let Some(l) = &line {
            let p_over = model.p_over(&features.values[..], pred, l.line);
            let edge = pred - l.line;
            response.edge = Some(edge);
            response.p_over = p_over;
            response.call = call(edge, p_over) as i32;
        }
        if let Some(log) = &self.log {
            log.record(method, &model, &response, req.is_home, &features, line.as_ref());
        }
        Ok(Scored { response, features, model, line })
    }

    /// The model's points and interval for a vector: the answer kept beside it when this
    /// model made it (and reuse is on), else the trees walked and the answer kept.
    fn answer(&self, model: &Arc<LoadedModel>, f: &FeatureVector) -> Result<Answer, ServeError> {
        if self.reuse_answers
            && let Some(kept) = f.memo.get(model)
        {
            return Ok(kept);
        }
        let x = &f.values[..];
        // Points cannot be negative; the raw score can be slightly (V2 returns it raw).
        let points = (model.scorer.predict_row(x)? as f64).max(0.0);
        // The interval of this player in this game-day state (the vector says both).
        let answer = Answer { points, p10: (points + model.residual_percentile(x, 10)).max(0.0), p90: (points + model.residual_percentile(x, 90)).max(0.0) };
        if self.reuse_answers {
            f.memo.set(model, answer);
        }
        Ok(answer)
    }

    /// Each feature's contribution: the prediction minus the prediction with that feature
    /// unknown (NaN, routed as the model routes missing values).
    pub fn explain(&self, scored: &Scored) -> Result<Vec<FeatureContribution>, ServeError> {
        let names = &scored.model.manifest.feature_names;
        let base = scored.response.predicted_points;
        let mut row = *scored.features.values;
        let mut out = Vec::with_capacity(row.len());
        for i in 0..row.len() {
            let v = row[i];
            row[i] = f32::NAN;
            let without = scored.model.scorer.predict_row(&row)? as f64;
            row[i] = v;
            out.push(FeatureContribution { name: names.get(i).cloned().unwrap_or_default(), value: v, contribution: base - without });
        }
        Ok(out)
    }
}

/// Which line a request asks for: `line` (finite, >= 0), else `line_book`'s, else the
/// consensus; none with `ignore_stored`. `line_book` with `line` or `ignore_stored`, or a
/// book key that is not one, is INVALID_ARGUMENT naming the field.
pub fn line_choice(req: &PredictRequest) -> Result<LineChoice, ServeError> {
    match (req.line, req.line_book.as_deref()) {
        (Some(l), _) if !l.is_finite() || l < 0.0 => Err(ServeError::invalid("line", format!("{l} is not a points line (finite, >= 0)"))),
        (Some(_), Some(_)) => Err(ServeError::invalid("line_book", "given together with line: give one of them")),
        (Some(l), None) => Ok(LineChoice::Given(l)),
        (None, Some(_)) if req.ignore_stored => Err(ServeError::invalid("line_book", "given together with ignore_stored: a book's line is a stored line")),
        (None, Some(book)) => Ok(LineChoice::Book(book_key(book)?)),
        (None, None) if req.ignore_stored => Ok(LineChoice::NoLine),
        (None, None) => Ok(LineChoice::Consensus),
    }
}

/// A book's key as `prop_lines` stores it: lower case, letters, digits, '_' or '-'.
fn book_key(book: &str) -> Result<String, ServeError> {
    let key = book.trim().to_ascii_lowercase();
    let ok = !key.is_empty() && key.len() <= MAX_BOOK_CHARS && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    ok.then_some(key).ok_or_else(|| ServeError::invalid("line_book", format!("{book:?} is not a book's key (e.g. \"draftkings\")")))
}

/// The stored line `choice` asks for, as of `as_of` (never a snapshot taken later). None
/// for a request's own line, no line, or no stored line.
pub fn choose_line(choice: &LineChoice, lines: &PropLines, date: NaiveDate, player: &str, as_of: DateTime<Utc>) -> Option<UsedLine> {
    let stored = match choice {
        LineChoice::Given(_) | LineChoice::NoLine => return None,
        LineChoice::Book(book) => lines.book_at(date, player, book, as_of),
        LineChoice::Consensus => lines.consensus_at(date, player, as_of),
    };
    stored.map(UsedLine::stored)
}

/// OVER / UNDER / PASS from the edge and the probability of going over.
pub fn call(edge: f64, p_over: Option<f64>) -> Call {
    match p_over {
        Some(p) if p >= CALL_PROBABILITY && edge >= CALL_EDGE => Call::Over,
        Some(p) if p <= 1.0 - CALL_PROBABILITY && edge <= -CALL_EDGE => Call::Under,
        _ => Call::Pass,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls_need_both_probability_and_edge() {
        assert_eq!(call(3.0, Some(0.62)), Call::Over);
        assert_eq!(call(1.0, Some(0.62)), Call::Pass, "edge too small");
        assert_eq!(call(3.0, Some(0.52)), Call::Pass, "not likely enough");
        assert_eq!(call(-2.0, Some(0.40)), Call::Under);
        assert_eq!(call(-2.0, None), Call::Pass);
    }

    fn req(line: Option<f64>, book: Option<&str>, ignore_stored: bool) -> PredictRequest {
        PredictRequest { line, line_book: book.map(Into::into), ignore_stored, ..Default::default() }
    }

    /// The line asked for: the request's, a book's, the consensus, or none; contradictions
    /// and bad values are INVALID_ARGUMENT naming the field.
    #[test]
    fn a_request_asks_for_its_line_a_books_the_consensus_or_none() {
        assert_eq!(line_choice(&req(Some(22.5), None, false)).unwrap(), LineChoice::Given(22.5));
        assert_eq!(line_choice(&req(Some(22.5), None, true)).unwrap(), LineChoice::Given(22.5), "the request's own line is not stored");
        assert_eq!(line_choice(&req(None, None, false)).unwrap(), LineChoice::Consensus);
        assert_eq!(line_choice(&req(None, None, true)).unwrap(), LineChoice::NoLine);
        assert_eq!(line_choice(&req(None, Some(" DraftKings "), false)).unwrap(), LineChoice::Book("draftkings".into()));
        let field = |r: PredictRequest| match line_choice(&r) {
            Err(e @ ServeError::InvalidArgument { .. }) => e.to_string(),
            other => panic!("{r:?}: {other:?}"),
        };
        assert!(field(req(Some(22.5), Some("fanduel"), false)).starts_with("line_book: given together with line"));
        assert!(field(req(None, Some("fanduel"), true)).starts_with("line_book: given together with ignore_stored"));
        assert!(field(req(None, Some(""), false)).starts_with("line_book: \"\" is not a book's key"));
        assert!(field(req(None, Some("bet 365'"), false)).starts_with("line_book:"));
        assert!(field(req(None, Some(&"b".repeat(65)), false)).starts_with("line_book:"));
        assert!(field(req(Some(f64::NAN), None, false)).starts_with("line: NaN"));
        assert!(field(req(Some(-0.5), Some("fanduel"), false)).starts_with("line: -0.5"), "the bad line is named first");
    }

    fn at(hour: u32, min: u32) -> DateTime<Utc> {
        use chrono::TimeZone;
        Utc.with_ymd_and_hms(2023, 10, 27, hour, min, 0).unwrap()
    }

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2023, 10, 27).unwrap()
    }

    /// DraftKings 22.5 at 14:00 then 24.5 at 20:00; FanDuel 23.5 at 15:00.
    fn lines() -> PropLines {
        let row = |time, book: &str, line, over| nba_store::rows::PropLineRow {
            snapshot_time: time,
            game_date: date(),
            game_id: "202310270MIA".into(),
            book: book.into(),
            player_id: "butleji01".into(),
            player_name: "Jimmy Butler".into(),
            team: "MIA".into(),
            line,
            over_price: over,
            under_price: 1.9,
            tipoff: at(23, 30),
            source_file: "lines/test.csv".into(),
            version: 1,
        };
        PropLines::new([row(at(14, 0), "draftkings", 22.5, 1.8), row(at(20, 0), "draftkings", 24.5, 2.0), row(at(15, 0), "fanduel", 23.5, 1.9)])
    }

    #[test]
    fn the_stored_line_is_the_one_known_at_the_requests_time() {
        let l = lines();
        let choose = |c: &LineChoice, as_of| choose_line(c, &l, date(), "butleji01", as_of);
        // 16:00: 22.5 and 23.5 -> 23.0, the newest snapshot FanDuel's.
        let c = choose(&LineChoice::Consensus, at(16, 0)).unwrap();
        assert_eq!(c, UsedLine { line: 23.0, source: "consensus".into(), time: Some(at(15, 0)), over_price: Some(1.85), under_price: Some(1.9), books: 2 });
        // 21:00: DraftKings moved: 23.5 and 24.5 -> 24.0 at 20:00.
        let c = choose(&LineChoice::Consensus, at(21, 0)).unwrap();
        assert_eq!((c.line, c.time), (24.0, Some(at(20, 0))));
        let dk = choose(&LineChoice::Book("draftkings".into()), at(19, 59)).unwrap();
        assert_eq!((dk.line, dk.source.as_str(), dk.time, dk.books), (22.5, "draftkings", Some(at(14, 0)), 1));
        assert_eq!(choose(&LineChoice::Book("betmgm".into()), at(21, 0)), None, "a book without a line: no line");
        assert_eq!(choose(&LineChoice::Consensus, at(13, 0)), None, "nothing posted yet");
        assert_eq!(choose(&LineChoice::NoLine, at(21, 0)), None);
        assert_eq!(choose(&LineChoice::Given(20.5), at(21, 0)), None, "the request's line is not looked up");
        assert_eq!(choose_line(&LineChoice::Consensus, &l, date(), "jamesle01", at(21, 0)), None);
    }
}
