//! Data-quality checks run while parsing. A page that fails one is still loaded; the
//! findings go to the `data_quality_issues` table and the load summary.

use crate::parsed::{BoxScore, Counting, PlayerStatus, ScheduledGame, SeasonType};
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One finding about one game (and team or player, where it applies).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QualityIssue {
    pub game_id: String,
    /// Stable name of the rule, e.g. `player_points_formula`.
    pub check: &'static str,
    pub severity: Severity,
    /// Team code, or empty.
    pub team: String,
    /// Player id, or empty.
    pub player_id: String,
    pub message: String,
}

/// Checks a box score on its own: sums, the points formula, starters, line score.
pub fn check_box_score(game: &BoxScore) -> Vec<QualityIssue> {
    let mut out = Vec::new();
    let issue = |check, severity, team: &str, player: &str, message: String| QualityIssue {
        game_id: game.game_id.clone(),
        check,
        severity,
        team: team.to_string(),
        player_id: player.to_string(),
        message,
    };
    for team in game.teams() {
        // Players' stats add up to the Team Totals row.
        let mut sum = [0u32; 15];
        for p in &team.players {
            for (i, (_, v)) in p.stats.fields().iter().enumerate() {
                sum[i] += u32::from(*v);
            }
        }
        for (i, (name, total)) in team.totals.fields().iter().enumerate() {
            if sum[i] != u32::from(*total) {
                out.push(issue("team_totals_sum", Severity::Error, &team.team, "", format!("players' {name} add up to {}, Team Totals say {total}", sum[i])));
            }
        }
        // pts = 2*fgm + fg3m + ftm, for every player and the team.
        for p in team.players.iter().filter(|p| p.status == PlayerStatus::Played) {
            if let Some(expected) = formula_mismatch(&p.stats) {
                out.push(issue(
                    "player_points_formula",
                    Severity::Error,
                    &team.team,
                    &p.player_id,
                    format!("{} has {} pts but 2*fgm + fg3m + ftm = {expected}", p.player_name, p.stats.pts),
                ));
            }
        }
        if let Some(expected) = formula_mismatch(&team.totals) {
            out.push(issue(
                "team_points_formula",
                Severity::Error,
                &team.team,
                "",
                format!("Team Totals show {} pts but 2*fgm + fg3m + ftm = {expected}", team.totals.pts),
            ));
        }
        let starters = team.players.iter().filter(|p| p.starter).count();
        if starters != 5 {
            out.push(issue("five_starters", Severity::Error, &team.team, "", format!("{starters} starters listed, expected 5")));
        }
        let line_total: u32 = team.periods.iter().map(|p| u32::from(*p)).sum();
        if line_total != u32::from(team.totals.pts) {
            out.push(issue(
                "line_score_total",
                Severity::Error,
                &team.team,
                "",
                format!("line score adds up to {line_total}, Team Totals say {}", team.totals.pts),
            ));
        }
    }
    if game.home.periods.len() != game.away.periods.len() || game.home.periods.len() < 4 {
        out.push(issue(
            "line_score_periods",
            Severity::Warning,
            "",
            "",
            format!("line score has {} and {} periods", game.away.periods.len(), game.home.periods.len()),
        ));
    }
    if !game.has_inactive_line {
        out.push(issue("inactive_line_missing", Severity::Warning, "", "", "the page has no Inactive: line".into()));
    }
    out
}

fn formula_mismatch(c: &Counting) -> Option<u32> {
    let expected = 2 * u32::from(c.fgm) + u32::from(c.fg3m) + u32::from(c.ftm);
    (expected != u32::from(c.pts)).then_some(expected)
}

/// The outcome of a game as one source tells it: the box score, or the schedule row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GameResult {
    pub game_id: String,
    pub away_team: String,
    pub home_team: String,
    pub away_pts: Option<u16>,
    pub home_pts: Option<u16>,
    pub season_type: SeasonType,
    pub overtimes: u8,
}

impl From<&BoxScore> for GameResult {
    fn from(g: &BoxScore) -> Self {
        GameResult {
            game_id: g.game_id.clone(),
            away_team: g.away.team.clone(),
            home_team: g.home.team.clone(),
            away_pts: Some(g.away.totals.pts),
            home_pts: Some(g.home.totals.pts),
            season_type: g.season_type,
            overtimes: g.overtimes(),
        }
    }
}

impl From<&ScheduledGame> for GameResult {
    fn from(g: &ScheduledGame) -> Self {
        GameResult {
            game_id: g.game_id.clone(),
            away_team: g.away_team.clone(),
            home_team: g.home_team.clone(),
            away_pts: g.away_pts,
            home_pts: g.home_pts,
            season_type: g.season_type,
            overtimes: g.overtimes,
        }
    }
}

/// Names of the cross-file checks, so the loader can replace their earlier findings.
pub const SCHEDULE_CHECKS: [&str; 4] = ["schedule_final_score", "schedule_teams", "schedule_season_type", "schedule_overtimes"];

/// Cross-file check: the box score's final score, teams, type and overtimes agree with
/// the schedule row. The box score is authoritative.
pub fn check_against_schedule(game: &GameResult, scheduled: &GameResult) -> Vec<QualityIssue> {
    let mut out = Vec::new();
    let mut push = |check, severity, message| {
        out.push(QualityIssue { game_id: game.game_id.clone(), check, severity, team: String::new(), player_id: String::new(), message })
    };
    if (scheduled.away_pts, scheduled.home_pts) != (game.away_pts, game.home_pts) {
        push(
            SCHEDULE_CHECKS[0],
            Severity::Error,
            format!(
                "box score final {} {:?} at {} {:?}, schedule says {:?}-{:?}",
                game.away_team, game.away_pts, game.home_team, game.home_pts, scheduled.away_pts, scheduled.home_pts
            ),
        );
    }
    if scheduled.away_team != game.away_team || scheduled.home_team != game.home_team {
        push(
            SCHEDULE_CHECKS[1],
            Severity::Error,
            format!("box score is {} at {}, schedule says {} at {}", game.away_team, game.home_team, scheduled.away_team, scheduled.home_team),
        );
    }
    if scheduled.season_type != game.season_type {
        push(SCHEDULE_CHECKS[2], Severity::Warning, format!("box score title says {}, schedule calendar says {}", game.season_type, scheduled.season_type));
    }
    if scheduled.overtimes != game.overtimes {
        push(SCHEDULE_CHECKS[3], Severity::Warning, format!("line score has {} overtimes, schedule says {}", game.overtimes, scheduled.overtimes));
    }
    out
}
