//! `nba-ingest validate`: one check per rule, each with a severity, its figure and its
//! threshold, stored in `validation_runs` / `validation_results` and printed as a table.
//! A failed critical check makes the command exit 1, so a nightly job can alert on it.

use chrono::NaiveDate;
use nba_store::Store;
use nba_store::rows::{ValidationResultRow, ValidationRunRow};
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
        let passed = match rule {
            Rule::AtLeast => value >= threshold,
            Rule::AtMost => value <= threshold,
        };
        CheckResult { name: name.into(), severity, value, threshold, rule, passed, message: message.into() }
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub results: Vec<CheckResult>,
}

impl Report {
    pub fn critical_failures(&self) -> usize {
        self.results.iter().filter(|r| !r.passed && r.severity == Severity::Critical).count()
    }
    pub fn warnings(&self) -> usize {
        self.results.iter().filter(|r| !r.passed && r.severity == Severity::Warning).count()
    }
    pub fn get(&self, name: &str) -> Option<&CheckResult> {
        self.results.iter().find(|r| r.name == name)
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "validation {} .. {}", self.from, self.to);
        let _ = writeln!(out, "  {:<34} {:<8} {:<6} {:>12} {:>14}  details", "check", "severity", "result", "value", "threshold");
        for r in &self.results {
            let cmp = match r.rule {
                Rule::AtLeast => ">=",
                Rule::AtMost => "<=",
            };
            let _ = writeln!(
                out,
                "  {:<34} {:<8} {:<6} {:>12} {:>3}{:>11}  {}",
                r.name,
                r.severity.as_str(),
                match (r.passed, r.severity) {
                    (true, _) => "ok",
                    (false, Severity::Info) => "note",
                    (false, _) => "FAIL",
                },
                fmt_num(r.value),
                cmp,
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
pub async fn validate(store: &Store, from: Option<NaiveDate>, to: Option<NaiveDate>, today: NaiveDate) -> anyhow::Result<Report> {
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct Span {
        #[serde(with = "clickhouse::serde::chrono::date")]
        first: NaiveDate,
        #[serde(with = "clickhouse::serde::chrono::date")]
        last: NaiveDate,
        n: u64,
    }
    let span: Vec<Span> = store.select("read date span", "SELECT min(game_date) AS first, max(game_date) AS last, count() AS n FROM games").await?;
    let (first, last) = match span.first() {
        Some(s) if s.n > 0 => (s.first, s.last),
        _ => (today, today),
    };
    let from = from.unwrap_or(first);
    let to = to.unwrap_or(last.max(today.min(last)));
    let range = format!("game_date >= toDate('{from}') AND game_date <= toDate('{to}')");
    let q = |sql: String| async move { store.scalar_u64("validation query", &sql).await };
    let mut results = Vec::new();

    // Coverage of played scheduled games by box scores.
    let scheduled = q(format!("SELECT count() FROM games FINAL WHERE {range} AND home_pts IS NOT NULL")).await?;
    let covered = q(format!(
        "SELECT count() FROM games FINAL WHERE {range} AND home_pts IS NOT NULL \
         AND game_id IN (SELECT game_id FROM team_boxscores WHERE {range})"
    ))
    .await?;
    let coverage = if scheduled == 0 { 1.0 } else { covered as f64 / scheduled as f64 };
    let missing = scheduled - covered.min(scheduled);
    let examples: Vec<String> = store
        .select(
            "list missing box scores",
            &format!(
                "SELECT game_id FROM games FINAL WHERE {range} AND home_pts IS NOT NULL \
                 AND game_id NOT IN (SELECT game_id FROM team_boxscores WHERE {range}) ORDER BY game_id LIMIT 5"
            ),
        )
        .await?;
    // Upstream misses 12-42 games a season, up to ~6% of a month: below 90% the scrape
    // itself is broken. Any missing page is a warning (next check).
    results.push(CheckResult::new(
        "coverage_box_scores",
        Severity::Critical,
        coverage,
        Rule::AtLeast,
        0.90,
        format!("{covered} of {scheduled} played games have a box score"),
    ));
    results.push(CheckResult::new(
        "coverage_box_scores_complete",
        Severity::Warning,
        missing as f64,
        Rule::AtMost,
        0.0,
        format!("{missing} played games have no box score page (e.g. {})", examples.join(", ")),
    ));
    let orphans = q(format!("SELECT uniqExact(game_id) FROM team_boxscores WHERE {range} AND game_id NOT IN (SELECT game_id FROM games)")).await?;
    results.push(CheckResult::new(
        "box_scores_without_schedule",
        Severity::Warning,
        orphans as f64,
        Rule::AtMost,
        0.0,
        "box scores whose game is on no loaded schedule page",
    ));

    // Checks recorded while parsing and cross-checking.
    for (name, checks, severity) in [
        ("player_stats_sum_to_team_totals", "'team_totals_sum'", Severity::Critical),
        ("schedule_agrees_with_box_scores", "'schedule_final_score', 'schedule_teams'", Severity::Critical),
        ("points_formula", "'player_points_formula', 'team_points_formula'", Severity::Warning),
        ("five_starters", "'five_starters'", Severity::Warning),
        ("line_score_totals", "'line_score_total', 'line_score_periods'", Severity::Warning),
    ] {
        let n = q(format!("SELECT count() FROM data_quality_issues FINAL WHERE {range} AND check_name IN ({checks})")).await?;
        results.push(CheckResult::new(name, severity, n as f64, Rule::AtMost, 0.0, format!("findings of {checks} in data_quality_issues")));
    }

    // Every played player-game has a features row, and no features row lacks a box score.
    let played = q(format!("SELECT count() FROM player_boxscores WHERE {range} AND status = 'Played'")).await?;
    let without = q(format!(
        "SELECT count() FROM player_boxscores WHERE {range} AND status = 'Played' \
         AND (game_id, player_id) NOT IN (SELECT game_id, player_id FROM player_features WHERE {range})"
    ))
    .await?;
    results.push(CheckResult::new(
        "features_for_played_games",
        Severity::Critical,
        without as f64,
        Rule::AtMost,
        0.0,
        format!("{without} of {played} played player-games have no features row"),
    ));
    let stale = q(format!(
        "SELECT count() FROM player_features WHERE {range} AND (feature_version != {} OR contract_hash != '{}')",
        nba_features::FEATURE_VERSION,
        nba_features::contract_hash()
    ))
    .await?;
    results.push(CheckResult::new(
        "features_current_contract",
        Severity::Critical,
        stale as f64,
        Rule::AtMost,
        0.0,
        "features rows built with another contract: run `nba-ingest build --full`",
    ));

    // Duplicates: physical rows beyond one per key (the loader and builder replace, never add).
    for (table, key) in [
        ("games", "game_id"),
        ("player_boxscores", "game_id, team, player_id"),
        ("team_boxscores", "game_id, team"),
        ("game_inactives", "game_id, team, player_id"),
        ("player_game_summary", "game_id, team, player_id"),
        ("team_game_summary", "game_id, team"),
        ("player_features", "game_id, player_id"),
    ] {
        let dups = q(format!("SELECT count() - uniqExact({key}) FROM {table} WHERE {range}")).await?;
        results.push(CheckResult::new(
            format!("duplicates_{table}"),
            Severity::Critical,
            dups as f64,
            Rule::AtMost,
            0.0,
            format!("rows beyond one per ({key})"),
        ));
    }

    // Freshness: newest box score against the newest game with a final score, and today.
    let newest_box = store
        .select::<Span>("read freshness", &format!("SELECT min(game_date) AS first, max(game_date) AS last, count() AS n FROM team_boxscores WHERE {range}"))
        .await?;
    let newest_final = store
        .select::<Span>(
            "read freshness",
            &format!("SELECT min(game_date) AS first, max(game_date) AS last, count() AS n FROM games WHERE {range} AND home_pts IS NOT NULL"),
        )
        .await?;
    if let (Some(b), Some(f)) = (newest_box.first().filter(|s| s.n > 0), newest_final.first().filter(|s| s.n > 0)) {
        let lag = (f.last - b.last).num_days().max(0) as f64;
        results.push(CheckResult::new(
            "freshness_vs_schedule",
            Severity::Warning,
            lag,
            Rule::AtMost,
            1.0,
            format!("newest box score {}, newest final score on the schedule {}", b.last, f.last),
        ));
        let age = (today - b.last).num_days() as f64;
        results.push(CheckResult::new(
            "freshness_vs_today",
            Severity::Info,
            age,
            Rule::AtMost,
            2.0,
            format!("newest box score {} is {age:.0} days before {today}", b.last),
        ));
    }

    // Per feature: NaN rate among played rows with enough history, and value range.
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct FeatureStat {
        i: u32,
        nans: u64,
        n: u64,
        lo: f64,
        hi: f64,
    }
    let names = nba_features::feature_names();
    let gp_total = nba_features::contract::index_of("games_played_total").map(|i| i + 1).unwrap_or(1);
    let stats: Vec<FeatureStat> = store
        .select(
            "feature statistics",
            &format!(
                "SELECT i, countIf(isNaN(v)) AS nans, count() AS n, \
                 toFloat64(minIf(v, NOT isNaN(v))) AS lo, toFloat64(maxIf(v, NOT isNaN(v))) AS hi \
                 FROM (SELECT arrayJoin(arrayEnumerate(features)) AS i, features[i] AS v FROM player_features \
                       WHERE {range} AND status = 'Played' AND features[{gp_total}] >= 10) \
                 GROUP BY i ORDER BY i"
            ),
        )
        .await?;
    for s in &stats {
        let Some(name) = names.get(s.i as usize - 1) else {
            continue;
        };
        let rate = if s.n == 0 { 0.0 } else { s.nans as f64 / s.n as f64 };
        results.push(CheckResult::new(
            format!("nan_rate:{name}"),
            Severity::Warning,
            rate,
            Rule::AtMost,
            0.02,
            format!("{} of {} rows with 10+ earlier games", s.nans, s.n),
        ));
        let (lo, hi) = feature_bounds(name);
        let inside = s.nans == s.n || (s.lo >= lo && s.hi <= hi);
        let mut r = CheckResult::new(
            format!("range:{name}"),
            Severity::Warning,
            s.hi,
            Rule::AtMost,
            hi,
            format!("observed [{:.3}, {:.3}], allowed [{lo}, {hi}]", s.lo, s.hi),
        );
        r.passed = inside;
        results.push(r);
    }
    Ok(Report { from, to, results })
}

/// Stores a report in `validation_runs` / `validation_results`.
pub async fn record(store: &Store, report: &Report) -> anyhow::Result<()> {
    let started_at = chrono::Utc::now();
    let run_id = format!("{}-{}", started_at.format("%Y%m%dT%H%M%S%.3fZ"), std::process::id());
    let rows: Vec<ValidationResultRow> = report
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
            from_date: report.from,
            to_date: report.to,
            checks: u32::try_from(report.results.len()).unwrap_or(u32::MAX),
            critical_failures: u32::try_from(report.critical_failures()).unwrap_or(u32::MAX),
            warnings: u32::try_from(report.warnings()).unwrap_or(u32::MAX),
            passed: u8::from(report.critical_failures() == 0),
        }])
        .await?;
    Ok(())
}
