//! `nba-ingest grade`: what was said before tip-off against what happened.
//!
//! Three tables, all rewritten for the graded dates on every run (a regrade leaves one
//! row per prediction and day, never two):
//! - `graded_predictions`: one row per graded prediction. For a client's calls
//!   (`source = request`) the latest prediction per player, date, model version (a client
//!   may ask several times before tip-off); for the slate (`source = slate`) every run
//!   separately (the morning run and the pre-tip run are two predictions). Each row has
//!   the actual points, the error, whether it fell within 3 and 5 points and inside
//!   p10-p90, and for an OVER or UNDER call on a line its hit, miss or push. Against the
//!   market: the called side's stored price and the unit stake's return at it, the
//!   closing line (the consensus of `prop_lines` at tip-off) and the call's closing-line
//!   value, and the line's own error taken as a prediction.
//! - `grade_summaries`: per day, model version, source, slate run and edge bucket: MAE,
//!   bias, coverage, calls and their hits (hit rates beside the 52.4 % break-even of
//!   -110 odds are in the `call_hit_rate` monitoring query and the printed table); on
//!   exactly the rows with a line, the model's MAE beside the line's MAE (comparing the
//!   model on every player with the line on the players that have one would flatter
//!   either side), the return on the priced calls and their closing-line value (the
//!   `market` monitoring query).
//! - `prediction_grades`: the daily MAE of the latest prediction per player and model
//!   version over every source, which the `model_drift` query compares with the model's
//!   test MAE.
//!
//! A player who did not play (a did-not-play row in his box score, or his team's game is
//! loaded without him: the inactive list) is counted in `not_played`, not graded. A
//! prediction whose game is not loaded yet is neither: it waits for a later run.

use chrono::{DateTime, NaiveDate, Utc};
use nba_store::Store;
use nba_store::lines::PropLines;
use nba_store::rows::{GradeSummaryRow, GradedPredictionRow, PredictionGradeRow};
use nba_store::schema;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Win probability needed to break even on a bet at -110 odds (risk 110 to win 100).
pub const BREAK_EVEN_110: f64 = 110.0 / 210.0;

/// Edge buckets by |predicted - line|: name and lower bound (each bucket reaches up to
/// the next one's bound). The server calls OVER or UNDER only from an edge of 1.5 points.
pub const EDGE_BUCKETS: [(&str, f64); 4] = [("0-1.5", 0.0), ("1.5-3", 1.5), ("3-5", 3.0), ("5+", 5.0)];

/// What one grading run wrote.
#[derive(Debug, Default)]
pub struct Grades {
    /// `prediction_grades`: latest prediction per player and version, every source.
    pub daily: Vec<PredictionGradeRow>,
    /// `graded_predictions`.
    pub graded: Vec<GradedPredictionRow>,
    /// `grade_summaries`.
    pub summaries: Vec<GradeSummaryRow>,
}

/// A prediction chosen for grading: the latest of its player, date, model version,
/// source and slate run.
#[derive(Debug, Clone, PartialEq, clickhouse::Row, serde::Deserialize)]
pub struct Selected {
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub game_date: NaiveDate,
    pub player_id: String,
    pub model_version: String,
    pub source: String,
    pub run: String,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub predicted_at: DateTime<Utc>,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub run_at: DateTime<Utc>,
    pub team: String,
    pub availability_source: String,
    pub lineup_source: String,
    pub predicted: f32,
    pub p10: f32,
    pub p90: f32,
    pub line: Option<f32>,
    pub p_over: Option<f32>,
    pub call: String,
    /// Where the line came from: `request`, `consensus` or a book's key; empty without one.
    pub line_source: String,
    /// Decimal odds of the two sides of a stored line (None for a client's own line).
    pub over_price: Option<f64>,
    pub under_price: Option<f64>,
}

impl Selected {
    /// predicted - line, when there is a line.
    pub fn edge(&self) -> Option<f64> {
        self.line.map(|l| f64::from(self.predicted) - f64::from(l))
    }
}

/// What happened to a predicted player.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// He played and scored this many points.
    Played(u16),
    /// His box score says he did not play, or his team's game is loaded without him.
    NotPlayed,
    /// His game is not loaded (yet).
    Pending,
}

/// The box scores of the graded dates: who played and scored what, which teams' games
/// are loaded.
#[derive(Debug, Default)]
pub struct Results {
    /// (date, player) → points, or None for a did-not-play row.
    pub players: HashMap<(NaiveDate, String), Option<u16>>,
    /// (date, team) of every loaded game.
    pub teams: HashSet<(NaiveDate, String)>,
}

impl Results {
    pub fn outcome(&self, p: &Selected) -> Outcome {
        match self.players.get(&(p.game_date, p.player_id.clone())) {
            Some(Some(pts)) => Outcome::Played(*pts),
            Some(None) => Outcome::NotPlayed,
            None if self.teams.contains(&(p.game_date, p.team.clone())) => Outcome::NotPlayed,
            None => Outcome::Pending,
        }
    }
}

/// Grades the predictions of game dates `from..=to`, replaces those dates' grades and
/// returns what was written.
pub async fn grade(store: &Store, from: NaiveDate, to: NaiveDate) -> anyhow::Result<Grades> {
    let graded_at = now_seconds();
    let daily = daily_grades(store, from, to).await?;
    let selected = selected_predictions(store, from, to).await?;
    let results = read_results(store, from, to).await?;
    let lines = PropLines::load_dates(store, from, to).await?;
    let (graded, summaries) = grade_all(&selected, &results, &lines, graded_at);
    // Delete, then insert: a prediction no longer graded (a box score corrected to a
    // did-not-play) loses its row, and a regrade writes each row once.
    store.delete_dates(&schema::GRADED_PREDICTIONS, from, to).await?;
    store.insert(&graded).await?;
    store.delete_dates(&schema::GRADE_SUMMARIES, from, to).await?;
    store.insert(&summaries).await?;
    store.insert(&daily).await?;
    Ok(Grades { daily, graded, summaries })
}

/// Now, to the second (what a DateTime column keeps).
fn now_seconds() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

/// `prediction_grades`: per date and model version, the latest prediction per player of
/// any source against his points.
async fn daily_grades(store: &Store, from: NaiveDate, to: NaiveDate) -> anyhow::Result<Vec<PredictionGradeRow>> {
    // One JOIN (ClickHouse 18.16 and 24.x alike). The right side marks a known result
    // with `known = 1`; unmatched rows get the default 0.
    let sql = "SELECT game_date, model_version, toUInt64(count()) AS predictions, toUInt64(sum(known)) AS graded, \
                      if(graded = 0, nan, sumIf(abs(pred - pts), known = 1) / graded) AS mae, \
                      if(graded = 0, nan, sqrt(sumIf((pred - pts) * (pred - pts), known = 1) / graded)) AS rmse, \
                      if(graded = 0, nan, sumIf(pred - pts, known = 1) / graded) AS bias, \
                      now() AS graded_at \
               FROM ( \
                   SELECT player_id, game_date, model_version, toFloat64(argMax(predicted_pts, predicted_at)) AS pred \
                   FROM predictions WHERE game_date BETWEEN toDate(?) AND toDate(?) \
                   GROUP BY player_id, game_date, model_version \
               ) AS said ANY LEFT JOIN ( \
                   SELECT player_id, game_date, toFloat64(pts) AS pts, toUInt8(1) AS known \
                   FROM player_game_summary FINAL WHERE status = 'Played' AND game_date BETWEEN toDate(?) AND toDate(?) \
               ) AS happened USING (player_id, game_date) \
               GROUP BY game_date, model_version ORDER BY game_date, model_version";
    let (f, t) = (from.to_string(), to.to_string());
    Ok(store.retry("grade predictions", || store.client().query(sql).bind(&f).bind(&t).bind(&f).bind(&t).fetch_all()).await?)
}

/// The predictions to grade: the latest per player, date, model version, source and run
/// (requests have an empty run, so this is "latest per source" for them and "every run"
/// for the slate).
pub async fn selected_predictions(store: &Store, from: NaiveDate, to: NaiveDate) -> anyhow::Result<Vec<Selected>> {
    // One argMax over a tuple keeps the fields of one row together (argMax of a Nullable
    // column alone would skip NULLs and take an older row's line). Ties in the second
    // are broken by the prediction itself, so the choice is deterministic.
    let sql = "SELECT game_date, player_id, model_version, source, run, \
                      latest.1 AS predicted_at, latest.2 AS run_at, latest.3 AS team, latest.4 AS availability_source, \
                      latest.5 AS lineup_source, latest.6 AS predicted, latest.7 AS p10, latest.8 AS p90, \
                      latest.9 AS line, latest.10 AS p_over, latest.11 AS call, \
                      latest.12 AS line_source, latest.13 AS over_price, latest.14 AS under_price \
               FROM ( \
                   SELECT game_date, player_id, model_version, source, run, \
                          argMax(tuple(predicted_at, run_at, toString(team), toString(availability_source), toString(lineup_source), \
                                       predicted_pts, p10, p90, line, p_over, toString(call), \
                                       toString(line_source), over_price, under_price), \
                                 tuple(predicted_at, predicted_pts)) AS latest \
                   FROM predictions WHERE game_date BETWEEN toDate(?) AND toDate(?) \
                   GROUP BY game_date, player_id, model_version, source, run \
               ) ORDER BY game_date, model_version, source, run, player_id";
    let (f, t) = (from.to_string(), to.to_string());
    Ok(store.retry("read predictions to grade", || store.client().query(sql).bind(&f).bind(&t).fetch_all()).await?)
}

/// The box scores of `from..=to`.
pub async fn read_results(store: &Store, from: NaiveDate, to: NaiveDate) -> anyhow::Result<Results> {
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Player {
        #[serde(with = "clickhouse::serde::chrono::date")]
        game_date: NaiveDate,
        player_id: String,
        played: u8,
        pts: u16,
    }
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Team {
        #[serde(with = "clickhouse::serde::chrono::date")]
        game_date: NaiveDate,
        team: String,
    }
    let (f, t) = (from.to_string(), to.to_string());
    let players_sql = "SELECT game_date, player_id, toUInt8(status = 'Played') AS played, pts \
                       FROM player_game_summary FINAL WHERE game_date BETWEEN toDate(?) AND toDate(?)";
    let players: Vec<Player> = store.retry("read box scores to grade", || store.client().query(players_sql).bind(&f).bind(&t).fetch_all()).await?;
    let teams_sql = "SELECT DISTINCT game_date, team FROM team_game_summary FINAL WHERE game_date BETWEEN toDate(?) AND toDate(?)";
    let teams: Vec<Team> = store.retry("read loaded games to grade", || store.client().query(teams_sql).bind(&f).bind(&t).fetch_all()).await?;
    Ok(Results {
        players: players.into_iter().map(|p| ((p.game_date, p.player_id), (p.played == 1).then_some(p.pts))).collect(),
        teams: teams.into_iter().map(|t| (t.game_date, t.team)).collect(),
    })
}

/// The graded row of a prediction for a player who scored `actual`; `closing` is the
/// consensus line of his game at tip-off, when lines were stored.
pub fn grade_prediction(p: &Selected, actual: u16, closing: Option<f32>, graded_at: DateTime<Utc>) -> GradedPredictionRow {
    let (predicted, scored) = (f64::from(p.predicted), f64::from(actual));
    let error = predicted - scored;
    let edge = p.edge();
    let outcome = call_outcome(&p.call, p.line, actual);
    let market = against_market(p, outcome, actual, closing);
    GradedPredictionRow {
        game_date: p.game_date,
        player_id: p.player_id.clone(),
        model_version: p.model_version.clone(),
        source: p.source.clone(),
        run: p.run.clone(),
        predicted_at: p.predicted_at,
        run_at: p.run_at,
        team: p.team.clone(),
        availability_source: p.availability_source.clone(),
        lineup_source: p.lineup_source.clone(),
        predicted: p.predicted,
        p10: p.p10,
        p90: p.p90,
        actual,
        error,
        abs_error: error.abs(),
        within_3: u8::from(error.abs() <= 3.0),
        within_5: u8::from(error.abs() <= 5.0),
        in_interval: u8::from(f64::from(p.p10) <= scored && scored <= f64::from(p.p90)),
        line: p.line,
        p_over: p.p_over,
        call: p.call.clone(),
        outcome: outcome.to_string(),
        edge,
        edge_bucket: edge.and_then(edge_bucket).unwrap_or("").to_string(),
        graded_at,
        line_source: p.line_source.clone(),
        price: market.price,
        profit: market.profit,
        closing_line: closing,
        clv: market.clv,
        line_abs_error: market.line_abs_error,
    }
}

/// A graded prediction against the market.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Market {
    /// Decimal odds of the called side; None for PASS, no call or no stored price.
    pub price: Option<f64>,
    /// Return of a unit stake at `price`.
    pub profit: Option<f64>,
    /// Closing-line value of an OVER or UNDER call (positive: the market moved toward it).
    pub clv: Option<f64>,
    /// |line - actual|: the line taken as a prediction.
    pub line_abs_error: Option<f64>,
}

/// The market figures of a prediction whose call came out `outcome` (from
/// [`call_outcome`]: empty unless an OVER or UNDER was called on a line).
pub fn against_market(p: &Selected, outcome: &str, actual: u16, closing: Option<f32>) -> Market {
    let line = p.line.map(f64::from).filter(|l| l.is_finite());
    let called = !outcome.is_empty();
    let side_price = match p.call.as_str() {
        "OVER" => p.over_price,
        "UNDER" => p.under_price,
        _ => None,
    };
    // Decimal odds include the stake, so a real price is above 1; anything else (NaN, a
    // zero from a broken feed) is no price rather than a made-up return.
    let price = side_price.filter(|x| called && x.is_finite() && *x > 1.0);
    Market {
        price,
        profit: price.map(|x| unit_profit(outcome, x)),
        clv: if called { closing_line_value(&p.call, line, closing) } else { None },
        line_abs_error: line.map(|l| (l - f64::from(actual)).abs()),
    }
}

/// Return of a unit stake at decimal odds `price`: the winnings on a hit, the stake lost
/// on a miss, nothing on a push (refunded).
pub fn unit_profit(outcome: &str, price: f64) -> f64 {
    match outcome {
        GradedPredictionRow::HIT => price - 1.0,
        GradedPredictionRow::MISS => -1.0,
        _ => 0.0,
    }
}

/// How far the line moved toward the call by tip-off: closing - line for OVER (a line
/// that rose says the market came round to more points), line - closing for UNDER. None
/// for any other call or without both lines.
pub fn closing_line_value(call: &str, line: Option<f64>, closing: Option<f32>) -> Option<f64> {
    let (line, closing) = (line?, f64::from(closing?));
    let clv = match call {
        "OVER" => closing - line,
        "UNDER" => line - closing,
        _ => return None,
    };
    clv.is_finite().then_some(clv)
}

/// Hit, miss or push of an OVER or UNDER call on `line`; empty for PASS, no call or no line.
pub fn call_outcome(call: &str, line: Option<f32>, actual: u16) -> &'static str {
    let Some(line) = line else { return "" };
    let (line, actual) = (f64::from(line), f64::from(actual));
    let right = match call {
        "OVER" => actual > line,
        "UNDER" => actual < line,
        _ => return "",
    };
    if actual == line {
        GradedPredictionRow::PUSH
    } else if right {
        GradedPredictionRow::HIT
    } else {
        GradedPredictionRow::MISS
    }
}

/// The bucket of an edge by its size; None for NaN.
pub fn edge_bucket(edge: f64) -> Option<&'static str> {
    let size = edge.abs();
    EDGE_BUCKETS.iter().rev().find(|(_, low)| size >= *low).map(|(name, _)| *name)
}

/// Grades every selected prediction that has a result (against the closing line of
/// `lines`, when stored); summarizes all of them per day, model version, source, run and
/// edge bucket (`all` first, then the buckets in order).
pub fn grade_all(selected: &[Selected], results: &Results, lines: &PropLines, graded_at: DateTime<Utc>) -> (Vec<GradedPredictionRow>, Vec<GradeSummaryRow>) {
    type Key = (NaiveDate, String, String, String, usize);
    let mut graded = Vec::new();
    let mut groups: BTreeMap<Key, Tally> = BTreeMap::new();
    for p in selected {
        let outcome = results.outcome(p);
        let row = match outcome {
            Outcome::Played(pts) => {
                let closing = lines.closing(p.game_date, &p.player_id).map(|m| m.line);
                Some(grade_prediction(p, pts, closing, graded_at))
            }
            Outcome::NotPlayed | Outcome::Pending => None,
        };
        let not_played = outcome == Outcome::NotPlayed;
        // Bucket 0 is `all`; a prediction with a line also counts in its edge's bucket.
        let bucket = p.edge().and_then(edge_bucket).and_then(|b| EDGE_BUCKETS.iter().position(|(n, _)| *n == b));
        for index in std::iter::once(0).chain(bucket.map(|i| i + 1)) {
            let key = (p.game_date, p.model_version.clone(), p.source.clone(), p.run.clone(), index);
            groups.entry(key).or_default().add(row.as_ref(), not_played);
        }
        graded.extend(row);
    }
    let summaries = groups
        .into_iter()
        .map(|((date, version, source, run, index), tally)| {
            let bucket = if index == 0 { GradeSummaryRow::ALL } else { EDGE_BUCKETS[index - 1].0 };
            tally.row(date, version, source, run, bucket, graded_at)
        })
        .collect();
    (graded, summaries)
}

/// Running counts and sums of one summary row.
#[derive(Debug, Default)]
struct Tally {
    predictions: u64,
    not_played: u64,
    graded: u64,
    sum_error: f64,
    sum_abs: f64,
    sum_sq: f64,
    within_3: u64,
    within_5: u64,
    covered: u64,
    passes: u64,
    over: CallTally,
    under: CallTally,
    market: MarketTally,
}

#[derive(Debug, Default)]
struct CallTally {
    calls: u64,
    hits: u64,
    pushes: u64,
}

impl CallTally {
    fn add(&mut self, outcome: &str) {
        self.calls += 1;
        self.hits += u64::from(outcome == GradedPredictionRow::HIT);
        self.pushes += u64::from(outcome == GradedPredictionRow::PUSH);
    }
}

/// The market figures of one summary row: on the graded rows with a line, on the priced
/// calls, on the calls with a closing line.
#[derive(Debug, Default)]
struct MarketTally {
    lined: u64,
    sum_model_abs: f64,
    sum_line_abs: f64,
    priced_calls: u64,
    profit: f64,
    clv_calls: u64,
    sum_clv: f64,
    clv_toward: u64,
    clv_away: u64,
}

impl MarketTally {
    fn add(&mut self, r: &GradedPredictionRow) {
        if let Some(line_abs) = r.line_abs_error {
            // The model's error on exactly the rows the line is measured on.
            self.lined += 1;
            self.sum_model_abs += r.abs_error;
            self.sum_line_abs += line_abs;
        }
        if let Some(profit) = r.profit {
            self.priced_calls += 1;
            self.profit += profit;
        }
        if let Some(clv) = r.clv {
            self.clv_calls += 1;
            self.sum_clv += clv;
            self.clv_toward += u64::from(clv > 0.0);
            self.clv_away += u64::from(clv < 0.0);
        }
    }
}

/// `sum / n`, NaN without any.
fn mean(sum: f64, n: u64) -> f64 {
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

impl Tally {
    fn add(&mut self, row: Option<&GradedPredictionRow>, not_played: bool) {
        self.predictions += 1;
        self.not_played += u64::from(not_played);
        let Some(r) = row else { return };
        self.graded += 1;
        self.sum_error += r.error;
        self.sum_abs += r.abs_error;
        self.sum_sq += r.error * r.error;
        self.within_3 += u64::from(r.within_3);
        self.within_5 += u64::from(r.within_5);
        self.covered += u64::from(r.in_interval);
        self.market.add(r);
        match (r.call.as_str(), r.outcome.is_empty()) {
            ("OVER", false) => self.over.add(&r.outcome),
            ("UNDER", false) => self.under.add(&r.outcome),
            ("PASS", _) => self.passes += 1,
            _ => {}
        }
    }

    fn row(&self, game_date: NaiveDate, model_version: String, source: String, run: String, bucket: &str, graded_at: DateTime<Utc>) -> GradeSummaryRow {
        let per_graded = |sum: f64| mean(sum, self.graded);
        let m = &self.market;
        GradeSummaryRow {
            game_date,
            model_version,
            source,
            run,
            edge_bucket: bucket.to_string(),
            predictions: self.predictions,
            not_played: self.not_played,
            graded: self.graded,
            mae: per_graded(self.sum_abs),
            rmse: per_graded(self.sum_sq).sqrt(),
            bias: per_graded(self.sum_error),
            within_3: per_graded(self.within_3 as f64),
            within_5: per_graded(self.within_5 as f64),
            coverage: per_graded(self.covered as f64),
            calls: self.over.calls + self.under.calls,
            passes: self.passes,
            over_calls: self.over.calls,
            over_hits: self.over.hits,
            over_pushes: self.over.pushes,
            under_calls: self.under.calls,
            under_hits: self.under.hits,
            under_pushes: self.under.pushes,
            graded_at,
            lined: m.lined,
            lined_mae: mean(m.sum_model_abs, m.lined),
            line_mae: mean(m.sum_line_abs, m.lined),
            priced_calls: m.priced_calls,
            profit: m.profit,
            roi: mean(m.profit, m.priced_calls),
            clv_calls: m.clv_calls,
            clv_mean: mean(m.sum_clv, m.clv_calls),
            clv_toward: m.clv_toward,
            clv_away: m.clv_away,
        }
    }
}

/// Hits over decided calls (pushes are refunded, so they count neither way).
pub fn hit_rate(hits: u64, calls: u64, pushes: u64) -> Option<f64> {
    let decided = calls.saturating_sub(pushes);
    (decided > 0).then(|| hits as f64 / decided as f64)
}

/// The grades for people: the daily MAE per model version, then per source and run with
/// the calls by edge bucket, then the same groups against the market.
pub fn render(g: &Grades) -> String {
    let mut out = render_daily(&g.daily);
    if !g.summaries.is_empty() {
        out.push_str(&render_calls(&g.summaries));
    }
    if g.summaries.iter().any(|s| s.lined > 0) {
        out.push_str(&render_market(&g.summaries));
    }
    out
}

/// `source` or `source/run`.
fn source_run(s: &GradeSummaryRow) -> String {
    if s.run.is_empty() { s.source.clone() } else { format!("{}/{}", s.source, s.run) }
}

fn render_daily(daily: &[PredictionGradeRow]) -> String {
    let mut out = String::from("latest prediction per player, every source\n");
    out.push_str(&format!("{:<12} {:<32} {:>11} {:>7} {:>7} {:>7} {:>7}\n", "game_date", "model_version", "predictions", "graded", "MAE", "RMSE", "bias"));
    for r in daily {
        out.push_str(&format!(
            "{:<12} {:<32} {:>11} {:>7} {:>7.3} {:>7.3} {:>+7.3}\n",
            r.game_date.to_string(),
            r.model_version,
            r.predictions,
            r.graded,
            r.mae,
            r.rmse,
            r.bias
        ));
    }
    out
}

fn render_calls(summaries: &[GradeSummaryRow]) -> String {
    let mut out = format!("\nper source and slate run; calls' hit rate = hits / (calls - pushes), break-even at -110 odds {:.1} %\n", BREAK_EVEN_110 * 100.0);
    out.push_str(&format!(
        "{:<12} {:<32} {:<16} {:<6} {:>5} {:>4} {:>6} {:>6} {:>6} {:>6} {:>5} {:>13} {:>13} {:>6}\n",
        "game_date", "model_version", "source/run", "edge", "preds", "dnp", "graded", "MAE", "bias", "p10-90", "calls", "OVER hit", "UNDER hit", "pushes"
    ));
    for s in summaries {
        out.push_str(&format!(
            "{:<12} {:<32} {:<16} {:<6} {:>5} {:>4} {:>6} {:>6.2} {:>+6.2} {:>6.3} {:>5} {:>13} {:>13} {:>6}\n",
            s.game_date.to_string(),
            s.model_version,
            source_run(s),
            s.edge_bucket,
            s.predictions,
            s.not_played,
            s.graded,
            s.mae,
            s.bias,
            s.coverage,
            s.calls,
            rate_cell(s.over_hits, s.over_calls, s.over_pushes),
            rate_cell(s.under_hits, s.under_calls, s.under_pushes),
            s.over_pushes + s.under_pushes,
        ));
    }
    out
}

/// The groups with lined rows: model and line MAE on exactly those rows, the calls' hit
/// rates, the return at the stored prices and the closing-line value.
fn render_market(summaries: &[GradeSummaryRow]) -> String {
    let mut out = format!(
        "\nagainst the market, on the graded rows with a line only (model and line MAE on the same rows); break-even at -110 odds {:.1} %\n\
         ROI = return per unit staked at the stored price; CLV = closing - line for OVER, line - closing for UNDER (+: toward the call)\n",
        BREAK_EVEN_110 * 100.0
    );
    out.push_str(&format!(
        "{:<12} {:<32} {:<16} {:<6} {:>5} {:>9} {:>8} {:>13} {:>13} {:>6} {:>8} {:>8} {:>11}\n",
        "game_date", "model_version", "source/run", "edge", "lined", "model MAE", "line MAE", "OVER hit", "UNDER hit", "priced", "ROI", "CLV", "toward/away"
    ));
    for s in summaries.iter().filter(|s| s.lined > 0) {
        let roi = if s.priced_calls == 0 { "-".to_string() } else { format!("{:+.1} %", s.roi * 100.0) };
        let clv = if s.clv_calls == 0 { "-".to_string() } else { format!("{:+.2}", s.clv_mean) };
        out.push_str(&format!(
            "{:<12} {:<32} {:<16} {:<6} {:>5} {:>9.2} {:>8.2} {:>13} {:>13} {:>6} {:>8} {:>8} {:>11}\n",
            s.game_date.to_string(),
            s.model_version,
            source_run(s),
            s.edge_bucket,
            s.lined,
            s.lined_mae,
            s.line_mae,
            rate_cell(s.over_hits, s.over_calls, s.over_pushes),
            rate_cell(s.under_hits, s.under_calls, s.under_pushes),
            s.priced_calls,
            roi,
            clv,
            format!("{}/{}", s.clv_toward, s.clv_away),
        ));
    }
    out
}

/// `54.2 % of 24` (decided calls), or `-` without any.
fn rate_cell(hits: u64, calls: u64, pushes: u64) -> String {
    match hit_rate(hits, calls, pushes) {
        Some(r) => format!("{:.1} % of {}", r * 100.0, calls - pushes),
        None => "-".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use nba_store::rows::{PredictionRow, PropLineRow};

    fn selected(player: &str, predicted: f32, p10: f32, p90: f32, line: Option<f32>, call: &str) -> Selected {
        let at = Utc.with_ymd_and_hms(2024, 3, 20, 15, 0, 0).unwrap();
        Selected {
            game_date: NaiveDate::from_ymd_opt(2024, 3, 20).unwrap(),
            player_id: player.into(),
            model_version: "v1".into(),
            source: PredictionRow::SLATE.into(),
            run: "morning".into(),
            predicted_at: at,
            run_at: at,
            team: "BOS".into(),
            availability_source: "injury_report".into(),
            lineup_source: "unknown".into(),
            predicted,
            p10,
            p90,
            line,
            p_over: None,
            call: call.into(),
            line_source: if line.is_some() { PredictionRow::LINE_REQUEST.into() } else { String::new() },
            over_price: None,
            under_price: None,
        }
    }

    #[test]
    fn calls_hit_miss_and_push_on_their_line() {
        assert_eq!(call_outcome("OVER", Some(20.5), 21), "hit");
        assert_eq!(call_outcome("OVER", Some(20.5), 20), "miss");
        assert_eq!(call_outcome("OVER", Some(20.0), 20), "push");
        assert_eq!(call_outcome("UNDER", Some(20.5), 20), "hit");
        assert_eq!(call_outcome("UNDER", Some(20.5), 21), "miss");
        assert_eq!(call_outcome("UNDER", Some(20.0), 20), "push");
        assert_eq!(call_outcome("PASS", Some(20.0), 20), "");
        assert_eq!(call_outcome("", None, 20), "");
        assert_eq!(call_outcome("OVER", None, 20), "", "a call without a line is not graded as a call");
    }

    #[test]
    fn edges_fall_in_buckets_by_size_either_way() {
        assert_eq!(edge_bucket(0.0), Some("0-1.5"));
        assert_eq!(edge_bucket(-1.49), Some("0-1.5"));
        assert_eq!(edge_bucket(1.5), Some("1.5-3"));
        assert_eq!(edge_bucket(-2.99), Some("1.5-3"));
        assert_eq!(edge_bucket(-3.0), Some("3-5"));
        assert_eq!(edge_bucket(5.0), Some("5+"));
        assert_eq!(edge_bucket(40.0), Some("5+"));
        assert_eq!(edge_bucket(f64::NAN), None);
    }

    #[test]
    fn a_graded_row_has_its_error_interval_and_call() {
        let at = Utc.with_ymd_and_hms(2024, 3, 21, 8, 0, 0).unwrap();
        let r = grade_prediction(&selected("a", 24.0, 15.0, 30.0, Some(20.5), "OVER"), 31, None, at);
        assert_eq!((r.error, r.abs_error, r.within_3, r.within_5, r.in_interval), (-7.0, 7.0, 0, 0, 0));
        assert_eq!((r.outcome.as_str(), r.edge, r.edge_bucket.as_str()), ("hit", Some(3.5), "3-5"));
        let r = grade_prediction(&selected("b", 12.0, 5.0, 18.0, None, ""), 15, None, at);
        assert_eq!((r.error, r.within_3, r.within_5, r.in_interval), (-3.0, 1, 1, 1));
        assert_eq!((r.outcome.as_str(), r.edge, r.edge_bucket.as_str()), ("", None, ""));
        // The interval's ends are inside it.
        assert_eq!(grade_prediction(&selected("c", 12.0, 5.0, 18.0, None, ""), 18, None, at).in_interval, 1);
    }

    #[test]
    fn summaries_count_dnp_and_pending_apart_and_split_calls_by_edge() {
        let at = Utc.with_ymd_and_hms(2024, 3, 21, 8, 0, 0).unwrap();
        let day = NaiveDate::from_ymd_opt(2024, 3, 20).unwrap();
        let preds = vec![
            selected("a", 24.0, 15.0, 30.0, Some(20.5), "OVER"),                        // 31: hit, edge 3.5
            selected("b", 18.0, 10.0, 25.0, Some(20.0), "UNDER"),                       // 20: push, edge -2
            selected("c", 10.0, 4.0, 16.0, Some(10.5), "PASS"),                         // 9: edge -0.5
            selected("d", 30.0, 20.0, 40.0, Some(24.5), "OVER"),                        // did not play
            Selected { team: "LAL".into(), ..selected("e", 8.0, 2.0, 14.0, None, "") }, // game not loaded
        ];
        let mut results = Results::default();
        for (p, pts) in [("a", Some(31)), ("b", Some(20)), ("c", Some(9)), ("d", None)] {
            results.players.insert((day, p.to_string()), pts);
        }
        results.teams.insert((day, "BOS".to_string()));
        let (graded, summaries) = grade_all(&preds, &results, &PropLines::default(), at);
        assert_eq!(graded.iter().map(|g| g.player_id.as_str()).collect::<Vec<_>>(), ["a", "b", "c"]);
        let buckets: Vec<&str> = summaries.iter().map(|s| s.edge_bucket.as_str()).collect();
        assert_eq!(buckets, ["all", "0-1.5", "1.5-3", "3-5", "5+"]);
        let all = &summaries[0];
        assert_eq!((all.predictions, all.not_played, all.graded), (5, 1, 3));
        assert!((all.mae - (7.0 + 2.0 + 1.0) / 3.0).abs() < 1e-12 && (all.bias - (-7.0 - 2.0 + 1.0) / 3.0).abs() < 1e-12);
        assert!((all.coverage - 2.0 / 3.0).abs() < 1e-12, "a's 31 is above its p90");
        assert_eq!((all.calls, all.passes, all.over_calls, all.over_hits, all.under_calls, all.under_pushes), (2, 1, 1, 1, 1, 1));
        // d (edge 5.5, did not play) is in the 5+ bucket, counted, not graded.
        let five = &summaries[4];
        assert_eq!((five.predictions, five.not_played, five.graded, five.calls), (1, 1, 0, 0));
        assert!(five.mae.is_nan());
        assert_eq!(hit_rate(all.under_hits, all.under_calls, all.under_pushes), None, "a push is no decision");
        assert!(render(&Grades { daily: vec![], graded, summaries }).contains("100.0 % of 1"));
    }

    /// A priced call on a stored line.
    fn priced(player: &str, predicted: f32, line: f32, call: &str, over: f64, under: f64) -> Selected {
        Selected {
            line_source: PredictionRow::LINE_CONSENSUS.into(),
            over_price: Some(over),
            under_price: Some(under),
            ..selected(player, predicted, 0.0, 60.0, Some(line), call)
        }
    }

    /// One book's snapshot of `player`'s line on the test day, tip-off at 23:30.
    fn snapshot(player: &str, book: &str, hour: u32, line: f32) -> PropLineRow {
        PropLineRow {
            snapshot_time: Utc.with_ymd_and_hms(2024, 3, 20, hour, 0, 0).unwrap(),
            game_date: NaiveDate::from_ymd_opt(2024, 3, 20).unwrap(),
            game_id: "202403200BOS".into(),
            book: book.into(),
            player_id: player.into(),
            player_name: player.into(),
            team: "BOS".into(),
            line,
            over_price: 1.91,
            under_price: 1.91,
            tipoff: Utc.with_ymd_and_hms(2024, 3, 20, 23, 30, 0).unwrap(),
            source_file: "lines/test.json".into(),
            version: 1,
        }
    }

    #[test]
    fn closing_line_value_is_signed_toward_the_call() {
        // OVER 20.5, closed 21.5: the market moved up, toward the OVER: +1. Closed 19.5: -1.
        assert_eq!(closing_line_value("OVER", Some(20.5), Some(21.5)), Some(1.0));
        assert_eq!(closing_line_value("OVER", Some(20.5), Some(19.5)), Some(-1.0));
        // UNDER 15.5, closed 14.0: the market moved down, toward the UNDER: 15.5 - 14 = +1.5;
        // closed 16.5: 15.5 - 16.5 = -1.
        assert_eq!(closing_line_value("UNDER", Some(15.5), Some(14.0)), Some(1.5));
        assert_eq!(closing_line_value("UNDER", Some(15.5), Some(16.5)), Some(-1.0));
        assert_eq!(closing_line_value("PASS", Some(15.5), Some(16.5)), None);
        assert_eq!(closing_line_value("OVER", None, Some(16.5)), None);
        assert_eq!(closing_line_value("OVER", Some(15.5), None), None);
        // A unit at 1.91: a hit wins 0.91, a miss loses the unit, a push is refunded.
        assert!((unit_profit("hit", 1.91) - 0.91).abs() < 1e-12);
        assert_eq!((unit_profit("miss", 1.91), unit_profit("push", 1.91)), (-1.0, 0.0));
    }

    #[test]
    fn a_row_against_the_market_prices_only_a_priced_call() {
        // OVER 20.5 at 1.91/1.95, scored 25: hit at the OVER's 1.91 -> +0.91; |20.5-25| = 4.5.
        let m = against_market(&priced("a", 23.0, 20.5, "OVER", 1.91, 1.95), "hit", 25, Some(21.5));
        assert_eq!((m.price, m.clv, m.line_abs_error), (Some(1.91), Some(1.0), Some(4.5)));
        assert!((m.profit.unwrap() - 0.91).abs() < 1e-12);
        // UNDER at the UNDER's price 2.10, scored 18 on 15.5: miss, -1.
        let m = against_market(&priced("b", 13.0, 15.5, "UNDER", 1.75, 2.10), "miss", 18, None);
        assert_eq!((m.price, m.profit, m.clv, m.line_abs_error), (Some(2.10), Some(-1.0), None, Some(2.5)));
        // PASS with a priced line: no price, no return, no CLV, but the line's error.
        let m = against_market(&priced("e", 13.0, 12.5, "PASS", 1.91, 1.91), "", 9, Some(12.5));
        assert_eq!(m, Market { price: None, profit: None, clv: None, line_abs_error: Some(3.5) });
        // An OVER on a client's line without prices: graded as a call, not priced.
        let m = against_market(&selected("f", 11.0, 0.0, 30.0, Some(8.5), "OVER"), "hit", 12, None);
        assert_eq!((m.price, m.profit, m.line_abs_error), (None, None, Some(3.5)));
        // A price that cannot be decimal odds (a feed's 0 or NaN) is no price.
        for bad in [0.0, 1.0, f64::NAN] {
            assert_eq!(against_market(&priced("g", 11.0, 8.5, "OVER", bad, 1.9), "hit", 12, None).price, None, "{bad}");
        }
        // No line: nothing against the market.
        assert_eq!(against_market(&selected("h", 20.0, 0.0, 30.0, None, ""), "", 14, None), Market::default());
    }

    /// Seven graded predictions of one slate run, worked out by hand:
    ///
    /// | who | call  | line | prices (O/U) | predicted | scored | outcome | profit | model |err| | line |err| | closing | CLV  |
    /// | a   | OVER  | 20.5 | 1.91 / 1.95  | 23        | 25     | hit     | +0.91  | 2           | 4.5        | 21.5    | +1   |
    /// | b   | UNDER | 15.5 | 1.75 / 2.10  | 13        | 18     | miss    | -1     | 5           | 2.5        | 16.5    | -1   |
    /// | c   | OVER  | 10.0 | 1.87 / 1.95  | 12        | 10     | push    | 0      | 2           | 0          | 10.0    | 0    |
    /// | d   | UNDER | 30.5 | 1.95 / 1.80  | 26        | 22     | hit     | +0.80  | 4           | 8.5        | 29.0    | +1.5 |
    /// | e   | PASS  | 12.5 | 1.91 / 1.91  | 13        | 9      |         |        | 4           | 3.5        | 12.5    |      |
    /// | f   | OVER  | 8.5  | none         | 11        | 12     | hit     |        | 1           | 3.5        | none    |      |
    /// | g   |       | none |              | 20        | 14     |         |        | 6           |            |         |      |
    ///
    /// all: lined 6 (a-f), model MAE on them (2+5+2+4+4+1)/6 = 3, line MAE
    /// (4.5+2.5+0+8.5+3.5+3.5)/6 = 22.5/6 = 3.75 (the MAE of all 7 is 24/7: g is not
    /// compared); priced calls 4 (a-d; e is a PASS, f has no price), profit 0.91-1+0+0.80 =
    /// 0.71, ROI 0.71/4 = 0.1775; CLV on a-d: (1-1+0+1.5)/4 = 0.375, toward 2 (a, d), away 1
    /// (b), c's 0 neither.
    /// Bucket 1.5-3 (|edge| 2.5, 2.5, 2, 2.5: a, b, c, f): lined 4, model (2+5+2+1)/4 = 2.5,
    /// line (4.5+2.5+0+3.5)/4 = 2.625; priced 3, profit -0.09, ROI -0.03; CLV 0/3, 1 and 1.
    #[test]
    fn summaries_against_the_market_on_exactly_the_lined_rows() {
        let at = Utc.with_ymd_and_hms(2024, 3, 21, 8, 0, 0).unwrap();
        let day = NaiveDate::from_ymd_opt(2024, 3, 20).unwrap();
        let preds = vec![
            priced("a", 23.0, 20.5, "OVER", 1.91, 1.95),
            priced("b", 13.0, 15.5, "UNDER", 1.75, 2.10),
            priced("c", 12.0, 10.0, "OVER", 1.87, 1.95),
            priced("d", 26.0, 30.5, "UNDER", 1.95, 1.80),
            priced("e", 13.0, 12.5, "PASS", 1.91, 1.91),
            selected("f", 11.0, 0.0, 30.0, Some(8.5), "OVER"),
            selected("g", 20.0, 0.0, 30.0, None, ""),
        ];
        let mut results = Results::default();
        for (p, pts) in [("a", 25), ("b", 18), ("c", 10), ("d", 22), ("e", 9), ("f", 12), ("g", 14)] {
            results.players.insert((day, p.to_string()), Some(pts));
        }
        // a closes at the median of two books, 21.5 and 21.5 (DraftKings moved from 20.5);
        // d at 29 after opening 30.5.
        let lines = PropLines::new([
            snapshot("a", "draftkings", 15, 20.5),
            snapshot("a", "draftkings", 22, 21.5),
            snapshot("a", "fanduel", 16, 21.5),
            snapshot("b", "fanduel", 16, 16.5),
            snapshot("c", "fanduel", 16, 10.0),
            snapshot("d", "betmgm", 14, 30.5),
            snapshot("d", "betmgm", 21, 29.0),
            snapshot("e", "fanduel", 16, 12.5),
        ]);
        let (graded, summaries) = grade_all(&preds, &results, &lines, at);
        let row = |p: &str| graded.iter().find(|r| r.player_id == p).unwrap();
        assert_eq!(graded.iter().map(|r| r.closing_line).collect::<Vec<_>>(), [Some(21.5), Some(16.5), Some(10.0), Some(29.0), Some(12.5), None, None]);
        assert_eq!(graded.iter().map(|r| r.clv).collect::<Vec<_>>(), [Some(1.0), Some(-1.0), Some(0.0), Some(1.5), None, None, None]);
        assert_eq!((row("a").line_source.as_str(), row("f").line_source.as_str(), row("g").line_source.as_str()), ("consensus", "request", ""));
        assert_eq!((row("c").outcome.as_str(), row("c").profit), ("push", Some(0.0)));
        let all = &summaries[0];
        assert_eq!((all.edge_bucket.as_str(), all.graded, all.lined), ("all", 7, 6));
        assert!((all.mae - 24.0 / 7.0).abs() < 1e-12);
        assert!((all.lined_mae - 3.0).abs() < 1e-12 && (all.line_mae - 3.75).abs() < 1e-12, "{all:?}");
        assert_eq!(all.priced_calls, 4);
        assert!((all.profit - 0.71).abs() < 1e-12 && (all.roi - 0.1775).abs() < 1e-12, "{all:?}");
        assert_eq!((all.clv_calls, all.clv_toward, all.clv_away), (4, 2, 1));
        assert!((all.clv_mean - 0.375).abs() < 1e-12);
        let mid = summaries.iter().find(|s| s.edge_bucket == "1.5-3").unwrap();
        assert_eq!((mid.lined, mid.priced_calls, mid.clv_calls, mid.clv_toward, mid.clv_away), (4, 3, 3, 1, 1));
        assert!((mid.lined_mae - 2.5).abs() < 1e-12 && (mid.line_mae - 2.625).abs() < 1e-12, "{mid:?}");
        assert!((mid.profit + 0.09).abs() < 1e-12 && (mid.roi + 0.03).abs() < 1e-12 && mid.clv_mean.abs() < 1e-12, "{mid:?}");
        // e alone in 0-1.5: lined, no priced call, no CLV.
        let low = summaries.iter().find(|s| s.edge_bucket == "0-1.5").unwrap();
        assert_eq!((low.lined, low.priced_calls, low.clv_calls, low.profit), (1, 0, 0, 0.0));
        assert!(low.roi.is_nan() && low.clv_mean.is_nan() && (low.line_mae - 3.5).abs() < 1e-12);
        let printed = render(&Grades { daily: vec![], graded, summaries });
        assert!(printed.contains("against the market") && printed.contains("+17.8 %") && printed.contains("+0.38") && printed.contains("2/1"), "{printed}");
    }

    #[test]
    fn without_lines_the_market_figures_are_empty() {
        let day = NaiveDate::from_ymd_opt(2024, 3, 20).unwrap();
        let mut results = Results::default();
        results.players.insert((day, "g".to_string()), Some(14));
        let (graded, summaries) = grade_all(&[selected("g", 20.0, 0.0, 30.0, None, "")], &results, &PropLines::default(), Utc::now());
        assert_eq!((graded[0].closing_line, graded[0].line_abs_error, summaries[0].lined, summaries[0].priced_calls), (None, None, 0, 0));
        assert!(summaries[0].lined_mae.is_nan() && summaries[0].line_mae.is_nan() && summaries[0].roi.is_nan());
        assert!(!render(&Grades { daily: vec![], graded, summaries }).contains("against the market"));
    }
}
