//! Row structs, one per table in [`crate::schema`], with the same columns in the same
//! order, and the conversions from parsed pages. Each struct's fit to its table is proven
//! against a real server by `tests/store.rs`.

use crate::schema;
use chrono::{DateTime, NaiveDate, Utc};
use clickhouse::Row;
use nba_pages::{BoxScore, Inactive, PlayerLine, QualityIssue, ScheduledGame, TeamBox};
use serde::{Deserialize, Serialize};

/// Binds a row struct to its table definition.
pub trait TableRow: Row {
    const TABLE: &'static schema::Table;
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct MigrationRow {
    pub version: u32,
    pub name: String,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub applied_at: DateTime<Utc>,
}
impl TableRow for MigrationRow {
    const TABLE: &'static schema::Table = &schema::SCHEMA_MIGRATIONS;
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct GameRow {
    pub game_id: String,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub game_date: NaiveDate,
    pub season: u16,
    pub season_type: String,
    pub start_time_et: String,
    pub away_team: String,
    pub home_team: String,
    pub away_pts: Option<u16>,
    pub home_pts: Option<u16>,
    pub overtimes: u8,
    pub attendance: Option<u32>,
    pub arena: String,
    pub remarks: String,
    pub has_box_score: u8,
    pub source_file: String,
    pub version: u64,
}
impl TableRow for GameRow {
    const TABLE: &'static schema::Table = &schema::GAMES;
}

impl GameRow {
    pub fn from_scheduled(g: &ScheduledGame, source_file: &str, version: u64) -> Self {
        GameRow {
            game_id: g.game_id.clone(),
            game_date: g.game_date,
            season: g.season,
            season_type: g.season_type.as_str().to_string(),
            start_time_et: g.start_time_et.clone(),
            away_team: g.away_team.clone(),
            home_team: g.home_team.clone(),
            away_pts: g.away_pts,
            home_pts: g.home_pts,
            overtimes: g.overtimes,
            attendance: g.attendance,
            arena: g.arena.clone(),
            remarks: g.remarks.clone(),
            has_box_score: u8::from(g.has_box_score),
            source_file: source_file.to_string(),
            version,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct PlayerBoxscoreRow {
    pub game_id: String,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub game_date: NaiveDate,
    pub season: u16,
    pub season_type: String,
    pub team: String,
    pub opponent: String,
    pub is_home: u8,
    pub player_id: String,
    pub player_name: String,
    pub starter: u8,
    pub status: String,
    pub seconds: u32,
    pub fgm: u16,
    pub fga: u16,
    pub fg3m: u16,
    pub fg3a: u16,
    pub ftm: u16,
    pub fta: u16,
    pub oreb: u16,
    pub dreb: u16,
    pub reb: u16,
    pub ast: u16,
    pub stl: u16,
    pub blk: u16,
    pub tov: u16,
    pub pf: u16,
    pub pts: u16,
    pub plus_minus: Option<i16>,
    pub ts_pct: Option<f32>,
    pub efg_pct: Option<f32>,
    pub usg_pct: Option<f32>,
    pub off_rtg: Option<f32>,
    pub def_rtg: Option<f32>,
    pub bpm: Option<f32>,
    /// Position of the row in the page's table (starters first), kept for display order.
    pub row_index: u8,
    pub version: u64,
}
impl TableRow for PlayerBoxscoreRow {
    const TABLE: &'static schema::Table = &schema::PLAYER_BOXSCORES;
}

impl PlayerBoxscoreRow {
    fn new(game: &BoxScore, team: &TeamBox, opponent: &TeamBox, p: &PlayerLine, row_index: usize, version: u64) -> Self {
        let s = &p.stats;
        let a = &p.advanced;
        PlayerBoxscoreRow {
            game_id: game.game_id.clone(),
            game_date: game.game_date,
            season: game.season,
            season_type: game.season_type.as_str().to_string(),
            team: team.team.clone(),
            opponent: opponent.team.clone(),
            is_home: u8::from(std::ptr::eq(team, &game.home)),
            player_id: p.player_id.clone(),
            player_name: p.player_name.clone(),
            starter: u8::from(p.starter),
            status: p.status.as_str().to_string(),
            seconds: p.seconds,
            fgm: s.fgm,
            fga: s.fga,
            fg3m: s.fg3m,
            fg3a: s.fg3a,
            ftm: s.ftm,
            fta: s.fta,
            oreb: s.oreb,
            dreb: s.dreb,
            reb: s.reb,
            ast: s.ast,
            stl: s.stl,
            blk: s.blk,
            tov: s.tov,
            pf: s.pf,
            pts: s.pts,
            plus_minus: p.plus_minus,
            ts_pct: a.ts_pct,
            efg_pct: a.efg_pct,
            usg_pct: a.usg_pct,
            off_rtg: a.off_rtg,
            def_rtg: a.def_rtg,
            bpm: a.bpm,
            row_index: u8::try_from(row_index).unwrap_or(u8::MAX),
            version,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct TeamBoxscoreRow {
    pub game_id: String,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub game_date: NaiveDate,
    pub season: u16,
    pub season_type: String,
    pub team: String,
    pub opponent: String,
    pub is_home: u8,
    pub minutes: u16,
    pub fgm: u16,
    pub fga: u16,
    pub fg3m: u16,
    pub fg3a: u16,
    pub ftm: u16,
    pub fta: u16,
    pub oreb: u16,
    pub dreb: u16,
    pub reb: u16,
    pub ast: u16,
    pub stl: u16,
    pub blk: u16,
    pub tov: u16,
    pub pf: u16,
    pub pts: u16,
    pub opp_pts: u16,
    pub off_rtg: Option<f32>,
    pub def_rtg: Option<f32>,
    pub periods: Vec<u16>,
    pub overtimes: u8,
    pub title: String,
    pub version: u64,
}
impl TableRow for TeamBoxscoreRow {
    const TABLE: &'static schema::Table = &schema::TEAM_BOXSCORES;
}

impl TeamBoxscoreRow {
    fn new(game: &BoxScore, team: &TeamBox, opponent: &TeamBox, version: u64) -> Self {
        let s = &team.totals;
        TeamBoxscoreRow {
            game_id: game.game_id.clone(),
            game_date: game.game_date,
            season: game.season,
            season_type: game.season_type.as_str().to_string(),
            team: team.team.clone(),
            opponent: opponent.team.clone(),
            is_home: u8::from(std::ptr::eq(team, &game.home)),
            minutes: team.minutes,
            fgm: s.fgm,
            fga: s.fga,
            fg3m: s.fg3m,
            fg3a: s.fg3a,
            ftm: s.ftm,
            fta: s.fta,
            oreb: s.oreb,
            dreb: s.dreb,
            reb: s.reb,
            ast: s.ast,
            stl: s.stl,
            blk: s.blk,
            tov: s.tov,
            pf: s.pf,
            pts: s.pts,
            opp_pts: opponent.totals.pts,
            off_rtg: team.off_rtg,
            def_rtg: team.def_rtg,
            periods: team.periods.clone(),
            overtimes: game.overtimes(),
            title: game.title.clone(),
            version,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct InactiveRow {
    pub game_id: String,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub game_date: NaiveDate,
    pub season: u16,
    pub team: String,
    pub opponent: String,
    pub player_id: String,
    pub player_name: String,
    pub version: u64,
}
impl TableRow for InactiveRow {
    const TABLE: &'static schema::Table = &schema::GAME_INACTIVES;
}

impl InactiveRow {
    fn new(game: &BoxScore, i: &Inactive, version: u64) -> Self {
        let opponent = if i.team == game.home.team { &game.away.team } else { &game.home.team };
        InactiveRow {
            game_id: game.game_id.clone(),
            game_date: game.game_date,
            season: game.season,
            team: i.team.clone(),
            opponent: opponent.clone(),
            player_id: i.player_id.clone(),
            player_name: i.player_name.clone(),
            version,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct QualityIssueRow {
    pub game_id: String,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub game_date: NaiveDate,
    pub check_name: String,
    pub severity: String,
    pub team: String,
    pub player_id: String,
    pub message: String,
    pub source_file: String,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub detected_at: DateTime<Utc>,
    pub version: u64,
}
impl TableRow for QualityIssueRow {
    const TABLE: &'static schema::Table = &schema::DATA_QUALITY_ISSUES;
}

impl QualityIssueRow {
    pub fn new(issue: &QualityIssue, game_date: NaiveDate, source_file: &str, detected_at: DateTime<Utc>, version: u64) -> Self {
        QualityIssueRow {
            game_id: issue.game_id.clone(),
            game_date,
            check_name: issue.check.to_string(),
            severity: issue.severity.as_str().to_string(),
            team: issue.team.clone(),
            player_id: issue.player_id.clone(),
            message: issue.message.clone(),
            source_file: source_file.to_string(),
            detected_at,
            version,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct IngestFileRow {
    pub run_id: String,
    pub name: String,
    pub source: String,
    pub sha256: String,
    pub size: u64,
    pub status: String,
    pub reason: String,
    pub rows_written: u64,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub seen_at: DateTime<Utc>,
    pub seen_at_us: u64,
}
impl TableRow for IngestFileRow {
    const TABLE: &'static schema::Table = &schema::INGEST_FILES;
}

/// One line of an injury report (see [`schema::INJURY_REPORTS`]): `status` is one of
/// [`crate::injuries::InjuryStatus`]'s names; `player_id` and `player_name` are empty on
/// the `None` row that says the team is reported with nobody on it.
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct InjuryReportRow {
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub report_time: DateTime<Utc>,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub game_date: NaiveDate,
    pub team: String,
    pub player_id: String,
    pub player_name: String,
    pub status: String,
    pub reason: String,
    pub source_file: String,
    pub version: u64,
}
impl TableRow for InjuryReportRow {
    const TABLE: &'static schema::Table = &schema::INJURY_REPORTS;
}

/// `(seen_at, seen_at_us)` for a ledger entry written now.
pub fn ledger_time() -> (DateTime<Utc>, u64) {
    let now = Utc::now();
    (now, u64::try_from(now.timestamp_micros()).unwrap_or(0))
}

/// All rows one box-score page produces (quality issues excluded: they also come from
/// cross-file checks and are built by the loader).
#[derive(Debug, Default, Clone)]
pub struct GameRows {
    pub players: Vec<PlayerBoxscoreRow>,
    pub teams: Vec<TeamBoxscoreRow>,
    pub inactives: Vec<InactiveRow>,
}

impl GameRows {
    pub fn from_box_score(game: &BoxScore, version: u64) -> Self {
        let mut rows = GameRows::default();
        for (team, opponent) in [(&game.away, &game.home), (&game.home, &game.away)] {
            rows.teams.push(TeamBoxscoreRow::new(game, team, opponent, version));
            for (i, p) in team.players.iter().enumerate() {
                rows.players.push(PlayerBoxscoreRow::new(game, team, opponent, p, i, version));
            }
        }
        rows.inactives = game.inactives.iter().map(|i| InactiveRow::new(game, i, version)).collect();
        rows
    }

    pub fn len(&self) -> usize {
        self.players.len() + self.teams.len() + self.inactives.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct PlayerGameSummaryRow {
    pub game_id: String,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub game_date: NaiveDate,
    pub season: u16,
    pub season_type: String,
    pub team: String,
    pub opponent: String,
    pub is_home: u8,
    pub player_id: String,
    pub player_name: String,
    pub status: String,
    pub starter: u8,
    pub minutes: f64,
    pub pts: u16,
    pub fgm: u16,
    pub fga: u16,
    pub fg3m: u16,
    pub fg3a: u16,
    pub ftm: u16,
    pub fta: u16,
    pub oreb: u16,
    pub dreb: u16,
    pub reb: u16,
    pub ast: u16,
    pub stl: u16,
    pub blk: u16,
    pub tov: u16,
    pub pf: u16,
    pub plus_minus: Option<i16>,
    pub pts_per_min: f64,
    pub ts_pct: f64,
    pub efg_pct: f64,
    pub usg_pct: f64,
    pub ft_rate: f64,
    pub fg3_rate: f64,
    pub team_pts_share: f64,
    pub team_min_share: f64,
    pub team_fga_share: f64,
    pub version: u64,
}
impl TableRow for PlayerGameSummaryRow {
    const TABLE: &'static schema::Table = &schema::PLAYER_GAME_SUMMARY;
}

impl PlayerGameSummaryRow {
    /// The history entry the feature code sees. The builder and the server both build
    /// history through this one function from the stored row, so they agree bit for bit.
    pub fn to_history(&self) -> (String, nba_features::PlayerGame) {
        (
            self.player_id.clone(),
            nba_features::PlayerGame {
                game_id: self.game_id.clone(),
                date: self.game_date,
                season: self.season,
                team: self.team.clone(),
                played: self.status == nba_pages::PlayerStatus::Played.as_str(),
                starter: self.starter == 1,
                minutes: self.minutes,
                pts: f64::from(self.pts),
                fga: f64::from(self.fga),
                fg3a: f64::from(self.fg3a),
                fta: f64::from(self.fta),
                usg: self.usg_pct,
            },
        )
    }
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct TeamGameSummaryRow {
    pub game_id: String,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub game_date: NaiveDate,
    pub season: u16,
    pub season_type: String,
    pub team: String,
    pub opponent: String,
    pub is_home: u8,
    pub won: u8,
    pub minutes: u16,
    pub pts: u16,
    pub opp_pts: u16,
    pub fga: u16,
    pub fta: u16,
    pub tov: u16,
    pub oreb: u16,
    pub dreb: u16,
    pub possessions: f64,
    pub pace: f64,
    pub off_rtg: f64,
    pub def_rtg: f64,
    pub starters_pts: u16,
    pub bench_pts: u16,
    pub starters_minutes: f64,
    pub bench_minutes: f64,
    pub starters_fga: u16,
    pub bench_fga: u16,
    pub starters_pts_per100: f64,
    pub bench_pts_per100: f64,
    pub version: u64,
}
impl TableRow for TeamGameSummaryRow {
    const TABLE: &'static schema::Table = &schema::TEAM_GAME_SUMMARY;
}

impl TeamGameSummaryRow {
    /// The history entry the feature code sees (see [`PlayerGameSummaryRow::to_history`]).
    pub fn to_history(&self) -> nba_features::TeamGame {
        nba_features::TeamGame {
            game_id: self.game_id.clone(),
            date: self.game_date,
            season: self.season,
            team: self.team.clone(),
            opponent: self.opponent.clone(),
            pts: f64::from(self.pts),
            opp_pts: f64::from(self.opp_pts),
            possessions: self.possessions,
            pace: self.pace,
            off_rtg: self.off_rtg,
            def_rtg: self.def_rtg,
            minutes: f64::from(self.minutes),
            fga: f64::from(self.fga),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct PlayerFeaturesRow {
    pub game_id: String,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub game_date: NaiveDate,
    pub season: u16,
    pub season_type: String,
    pub team: String,
    pub opponent: String,
    pub is_home: u8,
    pub player_id: String,
    pub feature_version: u32,
    pub contract_hash: String,
    pub features: Vec<f32>,
    pub status: String,
    pub target_pts: u16,
    pub target_minutes: f64,
    pub version: u64,
}
impl TableRow for PlayerFeaturesRow {
    const TABLE: &'static schema::Table = &schema::PLAYER_FEATURES;
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct BuildRunRow {
    pub run_id: String,
    pub mode: String,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub finished_at: DateTime<Utc>,
    pub watermark: u64,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub from_date: NaiveDate,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub to_date: NaiveDate,
    pub games: u64,
    pub player_summary_rows: u64,
    pub team_summary_rows: u64,
    pub feature_rows: u64,
    pub feature_version: u32,
    pub contract_hash: String,
}
impl TableRow for BuildRunRow {
    const TABLE: &'static schema::Table = &schema::BUILD_RUNS;
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct ValidationRunRow {
    pub run_id: String,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub started_at: DateTime<Utc>,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub from_date: NaiveDate,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub to_date: NaiveDate,
    pub checks: u32,
    pub critical_failures: u32,
    pub warnings: u32,
    pub passed: u8,
}
impl TableRow for ValidationRunRow {
    const TABLE: &'static schema::Table = &schema::VALIDATION_RUNS;
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct ValidationResultRow {
    pub run_id: String,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub started_at: DateTime<Utc>,
    pub check_name: String,
    pub severity: String,
    pub passed: u8,
    pub value: f64,
    pub threshold: f64,
    pub message: String,
}
impl TableRow for ValidationResultRow {
    const TABLE: &'static schema::Table = &schema::VALIDATION_RESULTS;
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct BackfillCheckpointRow {
    pub backfill_id: String,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub chunk_from: NaiveDate,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub chunk_to: NaiveDate,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub finished_at: DateTime<Utc>,
    pub files_loaded: u64,
    pub feature_rows: u64,
    pub validation_passed: u8,
}
impl TableRow for BackfillCheckpointRow {
    const TABLE: &'static schema::Table = &schema::BACKFILL_CHECKPOINTS;
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct ModelRegistryRow {
    pub version: String,
    pub event: String,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub event_at: DateTime<Utc>,
    /// Microseconds since the epoch, strictly increasing within a process: the order of events.
    pub event_at_us: u64,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub created_at: DateTime<Utc>,
    pub source_commit: String,
    pub feature_version: u32,
    pub contract_hash: String,
    pub objective: String,
    pub train_rows: u64,
    pub test_scored_rows: u64,
    pub test_mae: f64,
    pub best_baseline: String,
    pub best_baseline_mae: f64,
    pub model_sha256: String,
    pub message: String,
    pub manifest: String,
}
impl TableRow for ModelRegistryRow {
    const TABLE: &'static schema::Table = &schema::MODEL_REGISTRY;
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct PredictionRow {
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub predicted_at: DateTime<Utc>,
    pub method: String,
    pub model_version: String,
    pub feature_version: u32,
    pub player_id: String,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub game_date: NaiveDate,
    pub team: String,
    pub opponent: String,
    pub is_home: u8,
    pub predicted_pts: f32,
    pub p10: f32,
    pub p90: f32,
    pub line: Option<f32>,
    pub p_over: Option<f32>,
    pub call: String,
    pub features: Vec<f32>,
    /// [`PredictionRow::REQUEST`] or [`PredictionRow::SLATE`].
    pub source: String,
    /// The slate run's name; empty for requests.
    pub run: String,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub run_at: DateTime<Utc>,
    /// `official`, `injury_report`, `request` or `unknown` (the proto's `InfoSource`
    /// names in lower case), per team.
    pub availability_source: String,
    pub opponent_availability_source: String,
    pub lineup_source: String,
    pub opponent_lineup_source: String,
    /// How many times this answer was given within the log's window (at least 1).
    pub asked: u32,
    /// Where `line` came from: [`PredictionRow::LINE_REQUEST`],
    /// [`PredictionRow::LINE_CONSENSUS`] or a book's key; empty without a line.
    pub line_source: String,
    /// The stored snapshot's time (None for a line given in the request).
    #[serde(with = "clickhouse::serde::chrono::datetime::option")]
    pub line_time: Option<DateTime<Utc>>,
    /// Decimal prices of the stored line's two sides.
    pub over_price: Option<f64>,
    pub under_price: Option<f64>,
}
impl PredictionRow {
    /// `source` of a client's call (Predict, PredictBatch, V2, Flight).
    pub const REQUEST: &'static str = "request";
    /// `source` of the slate run.
    pub const SLATE: &'static str = "slate";
    /// `line_source` of a line the client gave.
    pub const LINE_REQUEST: &'static str = "request";
    /// `line_source` of the median line across books.
    pub const LINE_CONSENSUS: &'static str = "consensus";
}
impl TableRow for PredictionRow {
    const TABLE: &'static schema::Table = &schema::PREDICTIONS;
}

#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct PredictionGradeRow {
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub game_date: NaiveDate,
    pub model_version: String,
    pub predictions: u64,
    pub graded: u64,
    pub mae: f64,
    pub rmse: f64,
    pub bias: f64,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub graded_at: DateTime<Utc>,
}
impl TableRow for PredictionGradeRow {
    const TABLE: &'static schema::Table = &schema::PREDICTION_GRADES;
}

/// One graded prediction (see [`schema::GRADED_PREDICTIONS`]).
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct GradedPredictionRow {
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
    pub actual: u16,
    pub error: f64,
    pub abs_error: f64,
    pub within_3: u8,
    pub within_5: u8,
    pub in_interval: u8,
    pub line: Option<f32>,
    pub p_over: Option<f32>,
    pub call: String,
    /// [`GradedPredictionRow::HIT`], [`GradedPredictionRow::MISS`],
    /// [`GradedPredictionRow::PUSH`] or empty.
    pub outcome: String,
    pub edge: Option<f64>,
    pub edge_bucket: String,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub graded_at: DateTime<Utc>,
    pub line_source: String,
    /// Decimal odds of the called side; None without a priced OVER or UNDER call.
    pub price: Option<f64>,
    /// Unit-stake return at `price`: price - 1 on a hit, -1 on a miss, 0 on a push.
    pub profit: Option<f64>,
    /// The consensus line at tip-off.
    pub closing_line: Option<f32>,
    /// closing - line for OVER, line - closing for UNDER (positive: toward the call).
    pub clv: Option<f64>,
    /// |line - actual|.
    pub line_abs_error: Option<f64>,
}
impl GradedPredictionRow {
    pub const HIT: &'static str = "hit";
    pub const MISS: &'static str = "miss";
    pub const PUSH: &'static str = "push";
}
impl TableRow for GradedPredictionRow {
    const TABLE: &'static schema::Table = &schema::GRADED_PREDICTIONS;
}

/// One book's points line for one player's game at one snapshot (see
/// [`schema::PROP_LINES`]).
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct PropLineRow {
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub snapshot_time: DateTime<Utc>,
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub game_date: NaiveDate,
    pub game_id: String,
    pub book: String,
    pub player_id: String,
    pub player_name: String,
    pub team: String,
    pub line: f32,
    pub over_price: f64,
    pub under_price: f64,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub tipoff: DateTime<Utc>,
    pub source_file: String,
    pub version: u64,
}
impl TableRow for PropLineRow {
    const TABLE: &'static schema::Table = &schema::PROP_LINES;
}

/// One day's grade of a model version, source, slate run and edge bucket (see
/// [`schema::GRADE_SUMMARIES`]).
#[derive(Debug, Clone, PartialEq, Row, Serialize, Deserialize)]
pub struct GradeSummaryRow {
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub game_date: NaiveDate,
    pub model_version: String,
    pub source: String,
    pub run: String,
    /// [`GradeSummaryRow::ALL`] or an edge bucket's name.
    pub edge_bucket: String,
    pub predictions: u64,
    pub not_played: u64,
    pub graded: u64,
    pub mae: f64,
    pub rmse: f64,
    pub bias: f64,
    pub within_3: f64,
    pub within_5: f64,
    pub coverage: f64,
    pub calls: u64,
    pub passes: u64,
    pub over_calls: u64,
    pub over_hits: u64,
    pub over_pushes: u64,
    pub under_calls: u64,
    pub under_hits: u64,
    pub under_pushes: u64,
    #[serde(with = "clickhouse::serde::chrono::datetime")]
    pub graded_at: DateTime<Utc>,
    /// Graded rows with a line; the model's MAE and the line's MAE on exactly them.
    pub lined: u64,
    pub lined_mae: f64,
    pub line_mae: f64,
    /// OVER and UNDER calls with a price; summed unit-stake return; return per call.
    pub priced_calls: u64,
    pub profit: f64,
    pub roi: f64,
    /// Calls with a closing line; their mean closing-line value; toward and away counts.
    pub clv_calls: u64,
    pub clv_mean: f64,
    pub clv_toward: u64,
    pub clv_away: u64,
}
impl GradeSummaryRow {
    /// `edge_bucket` of the row over every prediction of its group.
    pub const ALL: &'static str = "all";
}
impl TableRow for GradeSummaryRow {
    const TABLE: &'static schema::Table = &schema::GRADE_SUMMARIES;
}
