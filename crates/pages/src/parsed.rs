//! Typed results of parsing a page: what the loader writes to ClickHouse.
//!
//! These types say nothing about storage; `nba-store` maps them onto rows.

use chrono::NaiveDate;
use serde::Serialize;

/// The kind of game, as the league counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SeasonType {
    RegularSeason,
    PlayIn,
    Playoffs,
    /// The In-Season Tournament final (2023-24 on): it does not count in the standings.
    IstFinal,
}

impl SeasonType {
    /// The label stored in ClickHouse and shown to people.
    pub fn as_str(self) -> &'static str {
        match self {
            SeasonType::RegularSeason => "Regular Season",
            SeasonType::PlayIn => "Play-In",
            SeasonType::Playoffs => "Playoffs",
            SeasonType::IstFinal => "IST Final",
        }
    }

    pub fn parse(label: &str) -> Option<Self> {
        [Self::RegularSeason, Self::PlayIn, Self::Playoffs, Self::IstFinal].into_iter().find(|t| t.as_str() == label)
    }
}

impl std::fmt::Display for SeasonType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether and why a listed player took part in the game.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum PlayerStatus {
    Played,
    /// A coach's decision made during the game: never usable before tip-off.
    DidNotPlay,
    DidNotDress,
    NotWithTeam,
    PlayerSuspended,
}

impl PlayerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PlayerStatus::Played => "Played",
            PlayerStatus::DidNotPlay => "Did Not Play",
            PlayerStatus::DidNotDress => "Did Not Dress",
            PlayerStatus::NotWithTeam => "Not With Team",
            PlayerStatus::PlayerSuspended => "Player Suspended",
        }
    }

    /// The page's `reason` cell text, e.g. "Did Not Play".
    pub fn from_reason(reason: &str) -> Option<Self> {
        [Self::DidNotPlay, Self::DidNotDress, Self::NotWithTeam, Self::PlayerSuspended].into_iter().find(|s| s.as_str().eq_ignore_ascii_case(reason.trim()))
    }
}

/// Counting stats of one box-score row (a player's or the Team Totals).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counting {
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
}

impl Counting {
    /// Field names and values in a fixed order, for checks and messages.
    pub fn fields(&self) -> [(&'static str, u16); 15] {
        [
            ("fgm", self.fgm),
            ("fga", self.fga),
            ("fg3m", self.fg3m),
            ("fg3a", self.fg3a),
            ("ftm", self.ftm),
            ("fta", self.fta),
            ("oreb", self.oreb),
            ("dreb", self.dreb),
            ("reb", self.reb),
            ("ast", self.ast),
            ("stl", self.stl),
            ("blk", self.blk),
            ("tov", self.tov),
            ("pf", self.pf),
            ("pts", self.pts),
        ]
    }
}

/// The advanced-table columns kept per player (None where the page leaves the cell empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Advanced {
    pub ts_pct: Option<f32>,
    pub efg_pct: Option<f32>,
    pub usg_pct: Option<f32>,
    pub off_rtg: Option<f32>,
    pub def_rtg: Option<f32>,
    pub bpm: Option<f32>,
}

/// One player's row for one team in one game.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlayerLine {
    /// basketball-reference id, e.g. `jamesle01`.
    pub player_id: String,
    pub player_name: String,
    /// Listed above the "Reserves" header.
    pub starter: bool,
    pub status: PlayerStatus,
    /// Playing time in seconds, overtime included; 0 when the player did not play.
    pub seconds: u32,
    pub stats: Counting,
    /// Empty on 245 played rows of the seven seasons.
    pub plus_minus: Option<i16>,
    pub advanced: Advanced,
}

/// One team's side of a box score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamBox {
    /// basketball-reference team code, e.g. `BRK`.
    pub team: String,
    pub players: Vec<PlayerLine>,
    /// The "Team Totals" row.
    pub totals: Counting,
    /// Team minutes from the totals row (240 for regulation, +25 per overtime).
    pub minutes: u16,
    /// Team advanced totals (offensive and defensive rating, pace-adjusted by the site).
    pub off_rtg: Option<f32>,
    pub def_rtg: Option<f32>,
    /// Points per period from the line score: 4 quarters then each overtime.
    pub periods: Vec<u16>,
}

/// One entry of the official inactive list, published before tip-off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inactive {
    pub team: String,
    pub player_id: String,
    pub player_name: String,
}

/// A parsed box-score page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BoxScore {
    /// `YYYYMMDD0` + home team code; the page's file name.
    pub game_id: String,
    pub game_date: NaiveDate,
    /// The year the season ends (2017-18 is 2018).
    pub season: u16,
    pub season_type: SeasonType,
    /// The page's `<h1>`.
    pub title: String,
    pub away: TeamBox,
    pub home: TeamBox,
    pub inactives: Vec<Inactive>,
    /// Whether the page printed an "Inactive:" line at all (it always does on real pages).
    pub has_inactive_line: bool,
}

impl BoxScore {
    pub fn teams(&self) -> [&TeamBox; 2] {
        [&self.away, &self.home]
    }
    pub fn overtimes(&self) -> u8 {
        let periods = self.home.periods.len().max(self.away.periods.len());
        u8::try_from(periods.saturating_sub(4)).unwrap_or(u8::MAX)
    }
}

/// One row of a monthly schedule page.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScheduledGame {
    pub game_id: String,
    pub game_date: NaiveDate,
    pub season: u16,
    pub season_type: SeasonType,
    /// Tip-off time as printed, Eastern time, e.g. "7:30p"; empty when not given.
    pub start_time_et: String,
    pub away_team: String,
    pub home_team: String,
    /// None for games not played yet (or not played at all).
    pub away_pts: Option<u16>,
    pub home_pts: Option<u16>,
    pub overtimes: u8,
    pub attendance: Option<u32>,
    pub arena: String,
    /// The "Notes" cell, e.g. "Play-In Game", "In-Season Tournament", "at Paris, France".
    pub remarks: String,
    /// The row links a box-score page.
    pub has_box_score: bool,
}

/// A parsed monthly schedule page (`NBA_<season>_games-<month>.html`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Schedule {
    pub season: u16,
    /// Lower-case month name from the file name, e.g. `october`.
    pub month: String,
    pub games: Vec<ScheduledGame>,
}

/// Any page the loader understands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Page {
    BoxScore(Box<BoxScore>),
    Schedule(Schedule),
}
