//! `nba-ingest validate`: one check per rule, each with a severity, its figure and its
//! threshold, stored in `validation_runs` / `validation_results` and printed as a table.
//! A failed critical check makes the command exit 1, so a nightly job can alert on it.
//!
//! The checks are declared in [`CHECKS`] (name, severity, rule, threshold and the SQL
//! that measures the figure), followed by two checks per feature (NaN rate and value
//! range). Every query is limited to the checked dates; its values are bound with
//! `bind()`, never spliced into the SQL text, and none uses window functions, so the same
//! SQL runs on ClickHouse 18.16 and 24.x.

use chrono::NaiveDate;
use nba_store::Store;
use nba_store::rows::{ValidationResultRow, ValidationRunRow};
use std::collections::HashMap;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// How a figure is compared with its threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    AtLeast,
    AtMost,
}

impl Rule {
    fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Rule::AtLeast => value >= threshold,
            Rule::AtMost => value <= threshold,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Rule::AtLeast => ">=",
            Rule::AtMost => "<=",
        }
    }
}

/// A value bound to one `?` of a check's SQL, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    /// First checked date.
    From,
    /// Last checked date.
    To,
    /// The feature contract this build computes.
    FeatureVersion,
    ContractHash,
    /// 1-based index of `games_played_total` in the feature array.
    GamesPlayedColumn,
}

/// SQL and the values its `?` placeholders take, in order.
#[derive(Debug, Clone, Copy)]
struct Query {
    sql: &'static str,
    params: &'static [Param],
}

/// The condition limiting a query to the checked dates; binds [`Param::From`], [`Param::To`].
macro_rules! dated {
    () => {
        "game_date >= toDate(?) AND game_date <= toDate(?)"
    };
}

/// The date-span query (first and last game date, row count) over `FROM ...`.
macro_rules! date_span {
    ($($from:tt)*) => {
        concat!("SELECT min(game_date) AS first, max(game_date) AS last, count() AS n FROM ", $($from)*)
    };
}

const NONE: &[Param] = &[];
const DATED: &[Param] = &[Param::From, Param::To];
/// A dated query with a dated subquery.
const DATED_TWICE: &[Param] = &[Param::From, Param::To, Param::From, Param::To];

/// All loaded games, undated: the default range.
const LOADED_GAMES_SPAN: Query = Query { sql: date_span!("games"), params: NONE };
const BOX_SCORE_SPAN: Query = Query { sql: date_span!("team_boxscores WHERE ", dated!()), params: DATED };
const FINAL_SCORE_SPAN: Query = Query { sql: date_span!("games WHERE ", dated!(), " AND home_pts IS NOT NULL"), params: DATED };

const PLAYED_GAMES: Query = Query { sql: concat!("SELECT count() FROM games FINAL WHERE ", dated!(), " AND home_pts IS NOT NULL"), params: DATED };
const PLAYED_GAMES_WITH_BOX_SCORE: Query = Query {
    sql: concat!(
        "SELECT count() FROM games FINAL WHERE ",
        dated!(),
        " AND home_pts IS NOT NULL AND game_id IN (SELECT game_id FROM team_boxscores WHERE ",
        dated!(),
        ")"
    ),
    params: DATED_TWICE,
};
const PLAYED_GAMES_WITHOUT_BOX_SCORE: Query = Query {
    sql: concat!(
        "SELECT game_id FROM games FINAL WHERE ",
        dated!(),
        " AND home_pts IS NOT NULL AND game_id NOT IN (SELECT game_id FROM team_boxscores WHERE ",
        dated!(),
        ") ORDER BY game_id LIMIT 5"
    ),
    params: DATED_TWICE,
};
const PLAYED_PLAYER_GAMES: Query = Query { sql: concat!("SELECT count() FROM player_boxscores WHERE ", dated!(), " AND status = 'Played'"), params: DATED };
const PLAYED_PLAYER_GAMES_WITHOUT_FEATURES: Query = Query {
    sql: concat!(
        "SELECT count() FROM player_boxscores WHERE ",
        dated!(),
        " AND status = 'Played' AND (game_id, player_id) NOT IN (SELECT game_id, player_id FROM player_features WHERE ",
        dated!(),
        ")"
    ),
    params: DATED_TWICE,
};

/// Per feature (1-based `i`): NaN count, row count and the range of the other values,
/// among played rows of players with 10+ earlier games.
const FEATURE_STATS: Query = Query {
    sql: concat!(
        "SELECT i, countIf(isNaN(v)) AS nans, count() AS n, \
         toFloat64(minIf(v, NOT isNaN(v))) AS lo, toFloat64(maxIf(v, NOT isNaN(v))) AS hi \
         FROM (SELECT arrayJoin(arrayEnumerate(features)) AS i, features[i] AS v FROM player_features \
         WHERE ",
        dated!(),
        " AND status = 'Played' AND features[?] >= 10) GROUP BY i ORDER BY i"
    ),
    params: &[Param::From, Param::To, Param::GamesPlayedColumn],
};

/// Most NaN share allowed per feature among rows with 10+ earlier games.
const MAX_NAN_RATE: f64 = 0.02;

/// A count over the checked dates.
macro_rules! count {
    ($($sql:tt)*) => {
        Query { sql: concat!($($sql)*), params: DATED }
    };
}

/// One rule: its name, how bad a failure is, and how its figure is measured and judged.
pub struct Check {
    pub name: &'static str,
    pub severity: Severity,
    pub rule: Rule,
    pub threshold: f64,
    figure: Figure,
}

/// How a check's figure is measured.
enum Figure {
    /// What `count` returns; `about` says what it counts.
    Count { count: Query, about: &'static str },
    /// `part` as a share of `whole` (1 when `whole` is 0): "{part} of {whole} {about}".
    Share { part: Query, whole: Query, about: &'static str },
    /// How many of `whole` are not in `part`: "{missing} {about} (e.g. {examples})".
    Missing { part: Query, whole: Query, examples: Query, about: &'static str },
    /// `count` out of `whole`: "{count} of {whole} {about}".
    CountOf { count: Query, whole: Query, about: &'static str },
    /// Days the newest box score trails the newest final score on the schedule.
    BoxScoresBehindSchedule,
    /// Days from the newest box score to the day of the run.
    BoxScoreAge,
}

/// Physical rows of `$table` beyond one per `$key` (the loader and builder replace rows,
/// never add them).
macro_rules! no_duplicates {
    ($table:literal, $key:literal) => {
        Check {
            name: concat!("duplicates_", $table),
            severity: Severity::Critical,
            rule: Rule::AtMost,
            threshold: 0.0,
            figure: Figure::Count {
                count: count!("SELECT count() - uniqExact(", $key, ") FROM ", $table, " WHERE ", dated!()),
                about: concat!("rows beyond one per (", $key, ")"),
            },
        }
    };
}

/// Findings of the named parse-time or cross-checks in `data_quality_issues`.
macro_rules! no_findings {
    ($name:literal, $severity:expr, $checks:literal) => {
        Check {
            name: $name,
            severity: $severity,
            rule: Rule::AtMost,
            threshold: 0.0,
            figure: Figure::Count {
                count: count!("SELECT count() FROM data_quality_issues FINAL WHERE ", dated!(), " AND check_name IN (", $checks, ")"),
                about: concat!("findings of ", $checks, " in data_quality_issues"),
            },
        }
    };
}

/// Every check but the per-feature ones, in the order of the printed table.
pub const CHECKS: &[Check] = &[
    // Upstream misses 12-42 games a season, up to ~6% of a month: below 90% the scrape
    // itself is broken. Any missing page is a warning (next check).
    Check {
        name: "coverage_box_scores",
        severity: Severity::Critical,
        rule: Rule::AtLeast,
        threshold: 0.90,
        figure: Figure::Share { part: PLAYED_GAMES_WITH_BOX_SCORE, whole: PLAYED_GAMES, about: "played games have a box score" },
    },
    Check {
        name: "coverage_box_scores_complete",
        severity: Severity::Warning,
        rule: Rule::AtMost,
        threshold: 0.0,
        figure: Figure::Missing {
            part: PLAYED_GAMES_WITH_BOX_SCORE,
            whole: PLAYED_GAMES,
            examples: PLAYED_GAMES_WITHOUT_BOX_SCORE,
            about: "played games have no box score page",
        },
    },
    Check {
        name: "box_scores_without_schedule",
        severity: Severity::Warning,
        rule: Rule::AtMost,
        threshold: 0.0,
        figure: Figure::Count {
            count: count!("SELECT uniqExact(game_id) FROM team_boxscores WHERE ", dated!(), " AND game_id NOT IN (SELECT game_id FROM games)"),
            about: "box scores whose game is on no loaded schedule page",
        },
    },
    no_findings!("player_stats_sum_to_team_totals", Severity::Critical, "'team_totals_sum'"),
    no_findings!("schedule_agrees_with_box_scores", Severity::Critical, "'schedule_final_score', 'schedule_teams'"),
    no_findings!("points_formula", Severity::Warning, "'player_points_formula', 'team_points_formula'"),
    no_findings!("five_starters", Severity::Warning, "'five_starters'"),
    no_findings!("line_score_totals", Severity::Warning, "'line_score_total', 'line_score_periods'"),
    // Every played player-game has a features row, and all rows follow this contract.
    Check {
        name: "features_for_played_games",
        severity: Severity::Critical,
        rule: Rule::AtMost,
        threshold: 0.0,
        figure: Figure::CountOf { count: PLAYED_PLAYER_GAMES_WITHOUT_FEATURES, whole: PLAYED_PLAYER_GAMES, about: "played player-games have no features row" },
    },
    Check {
        name: "features_current_contract",
        severity: Severity::Critical,
        rule: Rule::AtMost,
        threshold: 0.0,
        figure: Figure::Count {
            count: Query {
                sql: concat!("SELECT count() FROM player_features WHERE ", dated!(), " AND (feature_version != ? OR contract_hash != ?)"),
                params: &[Param::From, Param::To, Param::FeatureVersion, Param::ContractHash],
            },
            about: "features rows built with another contract: run `nba-ingest build --full`",
        },
    },
    no_duplicates!("games", "game_id"),
    no_duplicates!("player_boxscores", "game_id, team, player_id"),
    no_duplicates!("team_boxscores", "game_id, team"),
    no_duplicates!("game_inactives", "game_id, team, player_id"),
    no_duplicates!("player_game_summary", "game_id, team, player_id"),
    no_duplicates!("team_game_summary", "game_id, team"),
    no_duplicates!("player_features", "game_id, player_id"),
    // Freshness: skipped when the checked dates hold no box score or no final score.
    Check { name: "freshness_vs_schedule", severity: Severity::Warning, rule: Rule::AtMost, threshold: 1.0, figure: Figure::BoxScoresBehindSchedule },
    Check { name: "freshness_vs_today", severity: Severity::Info, rule: Rule::AtMost, threshold: 2.0, figure: Figure::BoxScoreAge },
];

#[derive(Debug, Clone)]
pub struct CheckResult {
    pub name: String,
    pub severity: Severity,
    pub value: f64,
    pub threshold: f64,
    pub rule: Rule,
    pub passed: bool,
    pub message: String,
}

impl CheckResult {
    fn new(name: impl Into<String>, severity: Severity, value: f64, rule: Rule, threshold: f64, message: impl Into<String>) -> Self {
        let passed = rule.holds(value, threshold);
        CheckResult { name: name.into(), severity, value, threshold, rule, passed, message: message.into() }
    }
}

/// What one `validate` run found: every check's result over the checked dates.
#[derive(Debug, Clone)]
pub struct ValidationOutcome {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub results: Vec<CheckResult>,
}

impl ValidationOutcome {
    pub fn critical_failures(&self) -> usize {
        self.results.iter().filter(|r| !r.passed && r.severity == Severity::Critical).count()
    }
    pub fn warnings(&self) -> usize {
        self.results.iter().filter(|r| !r.passed && r.severity == Severity::Warning).count()
    }
    pub fn get(&self, name: &str) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.name == name)
    }

    /// The names of the failed critical checks.
    pub fn critical_failure_names(&self) -> Vec<&str> {
        self.results.iter().filter(|r| !r.passed && r.severity == Severity::Critical).map(|r| r.name.as_str()).collect()
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "validation {} .. {}", self.from, self.to);
        let _ = writeln!(out, "  {:<34} {:<8} {:<6} {:>12} {:>14}  details", "check", "severity", "result", "value", "threshold");
        for r in &self.results {
            let result = match (r.passed, r.severity) {
                (true, _) => "ok",
                (false, Severity::Info) => "note",
                (false, _) => "FAIL",
            };
            let _ = writeln!(
                out,
                "  {:<34} {:<8} {:<6} {:>12} {:>3}{:>11}  {}",
                r.name,
                r.severity.as_str(),
                result,
                fmt_num(r.value),
                r.rule.symbol(),
                fmt_num(r.threshold),
                r.message
            );
        }
        let _ = writeln!(out, "  {} checks: {} critical failure(s), {} warning(s)", self.results.len(), self.critical_failures(), self.warnings());
        out
    }
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e12 { format!("{v:.0}") } else { format!("{v:.4}") }
}

/// Plausible bounds of each feature, by its name; a value outside means a bug upstream.
pub fn feature_bounds(name: &str) -> (f64, f64) {
    let prefix = name.split('_').next().unwrap_or("");
    match (prefix, name) {
        (_, "pts_std_10") => (0.0, 50.0),
        (_, "pts_ewm") => (0.0, 100.0),
        (_, "min_ewm") => (0.0, 65.0),
        (_, "games_played_season") => (0.0, 110.0),
        (_, "games_played_total") => (0.0, 1000.0),
        (_, "starter_share_5" | "back_to_back" | "is_home") => (0.0, 1.0),
        (_, "player_rest_days") => (0.0, 30.0),
        (_, "team_rest_days") => (0.0, 10.0),
        (_, "team_games_last_7") => (0.0, 7.0),
        (_, n) if n.ends_with("_pace_10") => (70.0, 130.0),
        (_, n) if n.ends_with("rtg_10") => (60.0, 160.0),
        (_, "opp_pts_allowed_10") => (60.0, 170.0),
        (_, n) if n.ends_with("regulars_out") => (0.0, 15.0),
        (_, n) if n.ends_with("_share") => (0.0, 1.0),
        (_, "fatigue_score") => (-1.0, 5.0),
        (_, "pace_score") => (0.7, 1.3),
        (_, "usage_spike_score") => (-100.0, 100.0),
        (_, "matchup_score") => (0.0, 150.0),
        ("pts", _) => (0.0, 100.0),
        ("min", _) => (0.0, 65.0),
        ("fga", _) => (0.0, 60.0),
        ("fg3a" | "fta", _) => (0.0, 40.0),
        // Usage of a sub-minute cameo can exceed 100% (one shot in 20 seconds), and a
        // season-to-date mean of one such game keeps it; the bound catches unit errors.
        ("usg", _) => (0.0, 500.0),
        ("ppm", _) => (0.0, 5.0),
        _ => (f64::NEG_INFINITY, f64::INFINITY),
    }
}

/// Runs every check over games dated within the range (default: all loaded games).
pub async fn validate(store: &Store, from: Option<NaiveDate>, to: Option<NaiveDate>, today: NaiveDate) -> anyhow::Result<ValidationOutcome> {
    let (from, to) = match (from, to) {
        (Some(from), Some(to)) => (from, to),
        _ => {
            // The span of all loaded games binds no dates: any range will do.
            let loaded = Runner::new(store, today, today, today).date_span("read date span", &LOADED_GAMES_SPAN).await?;
            let (first, last) = loaded.map_or((today, today), |s| (s.first, s.last));
            (from.unwrap_or(first), to.unwrap_or(last))
        }
    };
    let mut runner = Runner::new(store, from, to, today);
    let mut results = Vec::with_capacity(CHECKS.len() + 2 * nba_features::N_FEATURES);
    for check in CHECKS {
        if let Some((value, message)) = runner.measure(&check.figure).await? {
            results.push(CheckResult::new(check.name, check.severity, value, check.rule, check.threshold, message));
        }
    }
    results.extend(runner.feature_checks().await?);
    Ok(ValidationOutcome { from, to, results })
}

/// First and last game date of a non-empty set of rows.
#[derive(clickhouse::Row, serde::Deserialize)]
struct DateSpan {
    #[serde(with = "clickhouse::serde::chrono::date")]
    first: NaiveDate,
    #[serde(with = "clickhouse::serde::chrono::date")]
    last: NaiveDate,
    n: u64,
}

/// One row of [`FEATURE_STATS`].
#[derive(clickhouse::Row, serde::Deserialize)]
struct FeatureStat {
    i: u32,
    nans: u64,
    n: u64,
    lo: f64,
    hi: f64,
}

/// Runs the checks' queries over one date range, each distinct count once.
struct Runner<'a> {
    store: &'a Store,
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
    counts: HashMap<&'static str, u64>,
    /// [`Runner::newest_box_and_final_score`], once asked.
    newest: Option<Option<(NaiveDate, NaiveDate)>>,
}

impl<'a> Runner<'a> {
    fn new(store: &'a Store, from: NaiveDate, to: NaiveDate, today: NaiveDate) -> Self {
        Runner { store, from, to, today, counts: HashMap::new(), newest: None }
    }

    /// `query`'s SQL with its parameters bound.
    fn bound(&self, query: &Query) -> clickhouse::query::Query {
        let mut q = self.store.client().query(query.sql);
        for param in query.params {
            q = match param {
                Param::From => q.bind(self.from.to_string()),
                Param::To => q.bind(self.to.to_string()),
                Param::FeatureVersion => q.bind(nba_features::FEATURE_VERSION),
                Param::ContractHash => q.bind(nba_features::contract_hash()),
                Param::GamesPlayedColumn => q.bind(games_played_column()),
            };
        }
        q
    }

    async fn count(&mut self, query: &Query) -> anyhow::Result<u64> {
        if let Some(n) = self.counts.get(query.sql) {
            return Ok(*n);
        }
        let n: u64 = self.store.retry("validation query", || self.bound(query).fetch_one()).await?;
        self.counts.insert(query.sql, n);
        Ok(n)
    }

    /// The span of the rows `query` selects; None when there are none.
    async fn date_span(&self, what: &str, query: &Query) -> anyhow::Result<Option<DateSpan>> {
        let spans: Vec<DateSpan> = self.store.retry(what, || self.bound(query).fetch_all()).await?;
        Ok(spans.into_iter().next().filter(|s| s.n > 0))
    }

    /// A check's figure and the message explaining it; None when the check does not
    /// apply to the checked dates.
    async fn measure(&mut self, figure: &Figure) -> anyhow::Result<Option<(f64, String)>> {
        Ok(Some(match figure {
            Figure::Count { count, about } => (self.count(count).await? as f64, (*about).to_string()),
            Figure::Share { part, whole, about } => {
                let (part, whole) = (self.count(part).await?, self.count(whole).await?);
                let share = if whole == 0 { 1.0 } else { part as f64 / whole as f64 };
                (share, format!("{part} of {whole} {about}"))
            }
            Figure::Missing { part, whole, examples, about } => {
                let (part, whole) = (self.count(part).await?, self.count(whole).await?);
                let missing = whole - part.min(whole);
                let examples: Vec<String> = self.store.retry("list missing box scores", || self.bound(examples).fetch_all()).await?;
                (missing as f64, format!("{missing} {about} (e.g. {})", examples.join(", ")))
            }
            Figure::CountOf { count, whole, about } => {
                let (count, whole) = (self.count(count).await?, self.count(whole).await?);
                (count as f64, format!("{count} of {whole} {about}"))
            }
            Figure::BoxScoresBehindSchedule => {
                let Some((newest_box, newest_final)) = self.newest_box_and_final_score().await? else {
                    return Ok(None);
                };
                let lag = (newest_final - newest_box).num_days().max(0) as f64;
                (lag, format!("newest box score {newest_box}, newest final score on the schedule {newest_final}"))
            }
            Figure::BoxScoreAge => {
                let Some((newest_box, _)) = self.newest_box_and_final_score().await? else {
                    return Ok(None);
                };
                let age = (self.today - newest_box).num_days() as f64;
                (age, format!("newest box score {newest_box} is {age:.0} days before {}", self.today))
            }
        }))
    }

    /// The newest box score and the newest final score on the schedule within the
    /// checked dates; None unless both exist.
    async fn newest_box_and_final_score(&mut self) -> anyhow::Result<Option<(NaiveDate, NaiveDate)>> {
        if let Some(newest) = self.newest {
            return Ok(newest);
        }
        let newest_box = self.date_span("read freshness", &BOX_SCORE_SPAN).await?;
        let newest_final = self.date_span("read freshness", &FINAL_SCORE_SPAN).await?;
        let newest = newest_box.zip(newest_final).map(|(b, f)| (b.last, f.last));
        self.newest = Some(newest);
        Ok(newest)
    }

    /// Per feature: the NaN rate among played rows with enough history, and the range of
    /// the other values against [`feature_bounds`].
    async fn feature_checks(&self) -> anyhow::Result<Vec<CheckResult>> {
        let names = nba_features::feature_names();
        let stats: Vec<FeatureStat> = self.store.retry("feature statistics", || self.bound(&FEATURE_STATS).fetch_all()).await?;
        let mut results = Vec::with_capacity(2 * stats.len());
        for s in &stats {
            let Some(name) = (s.i as usize).checked_sub(1).and_then(|i| names.get(i)) else {
                continue;
            };
            let rate = if s.n == 0 { 0.0 } else { s.nans as f64 / s.n as f64 };
            let about = format!("{} of {} rows with 10+ earlier games", s.nans, s.n);
            results.push(CheckResult::new(format!("nan_rate:{name}"), Severity::Warning, rate, Rule::AtMost, MAX_NAN_RATE, about));
            let (lo, hi) = feature_bounds(name);
            let about = format!("observed [{:.3}, {:.3}], allowed [{lo}, {hi}]", s.lo, s.hi);
            let mut range = CheckResult::new(format!("range:{name}"), Severity::Warning, s.hi, Rule::AtMost, hi, about);
            // Both ends count, and a feature that is NaN on every row has no range to judge.
            range.passed = s.nans == s.n || (s.lo >= lo && s.hi <= hi);
            results.push(range);
        }
        Ok(results)
    }
}

/// The 1-based array index of `games_played_total`, the history a row must have for its
/// features to be judged.
fn games_played_column() -> u64 {
    nba_features::contract::index_of("games_played_total").map_or(1, |i| i as u64 + 1)
}

/// Stores an outcome in `validation_runs` / `validation_results`.
pub async fn record(store: &Store, outcome: &ValidationOutcome) -> anyhow::Result<()> {
    let started_at = chrono::Utc::now();
    let run_id = format!("{}-{}", started_at.format("%Y%m%dT%H%M%S%.3fZ"), std::process::id());
    let rows: Vec<ValidationResultRow> = outcome
        .results
        .iter()
        .map(|r| ValidationResultRow {
            run_id: run_id.clone(),
            started_at,
            check_name: r.name.clone(),
            severity: r.severity.as_str().to_string(),
            passed: u8::from(r.passed),
            value: r.value,
            threshold: r.threshold,
            message: r.message.clone(),
        })
        .collect();
    store.insert(&rows).await?;
    store
        .insert(&[ValidationRunRow {
            run_id,
            started_at,
            from_date: outcome.from,
            to_date: outcome.to,
            checks: u32::try_from(outcome.results.len()).unwrap_or(u32::MAX),
            critical_failures: u32::try_from(outcome.critical_failures()).unwrap_or(u32::MAX),
            warnings: u32::try_from(outcome.warnings()).unwrap_or(u32::MAX),
            passed: u8::from(outcome.critical_failures() == 0),
        }])
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queries(figure: &Figure) -> Vec<&Query> {
        match figure {
            Figure::Count { count, .. } => vec![count],
            Figure::Share { part, whole, .. } | Figure::CountOf { count: part, whole, .. } => vec![part, whole],
            Figure::Missing { part, whole, examples, .. } => vec![part, whole, examples],
            Figure::BoxScoresBehindSchedule | Figure::BoxScoreAge => vec![&BOX_SCORE_SPAN, &FINAL_SCORE_SPAN],
        }
    }

    #[test]
    fn every_placeholder_has_exactly_one_parameter() {
        let all = CHECKS.iter().flat_map(|c| queries(&c.figure)).chain([&LOADED_GAMES_SPAN, &FEATURE_STATS]);
        for q in all {
            assert_eq!(q.sql.matches('?').count(), q.params.len(), "{}", q.sql);
        }
    }

    #[test]
    fn check_names_are_unique() {
        let mut names: Vec<&str> = CHECKS.iter().map(|c| c.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
    }

    #[test]
    fn declared_queries_read_as_the_sql_they_run() {
        assert_eq!(CHECKS[11].name, "duplicates_player_boxscores");
        let Figure::Count { count, about } = &CHECKS[11].figure else { panic!("a count") };
        assert_eq!(
            count.sql,
            "SELECT count() - uniqExact(game_id, team, player_id) FROM player_boxscores WHERE game_date >= toDate(?) AND game_date <= toDate(?)"
        );
        assert_eq!(*about, "rows beyond one per (game_id, team, player_id)");
        assert_eq!(
            BOX_SCORE_SPAN.sql,
            "SELECT min(game_date) AS first, max(game_date) AS last, count() AS n FROM team_boxscores WHERE game_date >= toDate(?) AND game_date <= toDate(?)"
        );
    }

    #[test]
    fn rules_compare_figures_with_thresholds() {
        assert!(Rule::AtLeast.holds(0.9, 0.9) && !Rule::AtLeast.holds(0.89, 0.9));
        assert!(Rule::AtMost.holds(0.0, 0.0) && !Rule::AtMost.holds(1.0, 0.0));
        assert!(!Rule::AtMost.holds(f64::NAN, 0.0), "a NaN figure fails");
    }
}
