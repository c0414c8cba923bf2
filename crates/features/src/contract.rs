//! The feature contract: every feature declared once, in [`features`], with its name,
//! definition, group, timing and the code that computes it. The order of that table is
//! the order of the vector; names, [`N_FEATURES`], [`contract_hash`], `docs/features.md`
//! (through `nba-ingest features`) and [`crate::compute`] all read it. Trainer, server and
//! the `player_features` table use this list; a model records the version and hash it was
//! trained with and the server refuses a model whose contract differs.
//!
//! Every feature of a game G uses only games dated strictly before G's date, plus what is
//! published before tip-off and given at request time: the inactive lists of G (official
//! list, injury report or the caller's own) and the confirmed starting lineups. Each
//! request-time feature declares which of the two it reads ([`Given`]); when that
//! information is not known yet the feature is missing (NaN), never "nobody out" or
//! "nobody starts". "Did Not Play" is never used: it is a coach's decision made during
//! the game.

use crate::history::PlayerGame;
use crate::inputs::Inputs;
use crate::stats::{ewm, mean, median, points_per_minute, std_pop, usage};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// Bumped whenever a name, order or definition changes.
pub const FEATURE_VERSION: u32 = 4;

/// What a feature describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// The player's own earlier games.
    PlayerForm,
    /// Rest, schedule density and venue.
    RestSchedule,
    /// His team's earlier games.
    TeamForm,
    /// The opponent's earlier games.
    OpponentForm,
    /// Who is missing tonight, from the inactive lists.
    Availability,
    /// Who starts tonight, from the confirmed starting lineups.
    Lineup,
    /// Formulas over other features.
    Composite,
}

impl Group {
    pub fn label(self) -> &'static str {
        match self {
            Group::PlayerForm => "player form",
            Group::RestSchedule => "rest/schedule",
            Group::TeamForm => "team form",
            Group::OpponentForm => "opponent form",
            Group::Availability => "availability",
            Group::Lineup => "lineup",
            Group::Composite => "composite",
        }
    }
}

/// When a feature's value is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timing {
    /// Known before game day: from earlier games and the schedule (date, teams, venue).
    PreGame,
    /// Given at request time: reads information published on game day that can change
    /// until tip-off, and is missing (NaN) while that information is not known.
    RequestTime(Given),
}

/// The game-day information a request-time feature reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Given {
    /// The inactive lists of both teams (official list, injury report or the caller's).
    InactiveLists,
    /// The confirmed starting lineups of both teams.
    Lineups,
}

impl Given {
    pub const ALL: [Given; 2] = [Given::InactiveLists, Given::Lineups];

    pub fn label(self) -> &'static str {
        match self {
            Given::InactiveLists => "inactive lists",
            Given::Lineups => "lineups",
        }
    }
}

impl Timing {
    pub fn label(self) -> &'static str {
        match self {
            Timing::PreGame => "pre-game",
            Timing::RequestTime(Given::InactiveLists) => "request-time (inactive lists)",
            Timing::RequestTime(Given::Lineups) => "request-time (lineups)",
        }
    }

    pub fn is_request_time(self) -> bool {
        matches!(self, Timing::RequestTime(_))
    }
}

/// One feature of the contract.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Column name (in `player_features_wide`, the model manifest and Arrow schemas).
    pub name: String,
    pub definition: String,
    pub group: Group,
    pub timing: Timing,
    value: Value,
}

impl Feature {
    /// The feature's value for one (player, game), in f64 (rounded to f32 by the caller).
    pub(crate) fn value(&self, x: &Inputs) -> f64 {
        match self.value {
            Value::Rolling(stat, window) => stat.over(window.games(x)),
            Value::Single(f) => f(x),
        }
    }
}

/// How a feature's value is computed.
#[derive(Debug, Clone, Copy)]
enum Value {
    /// A per-game stat averaged over a window of his played games.
    Rolling(RollingStat, Window),
    /// Anything else: a function of the gathered inputs.
    Single(fn(&Inputs) -> f64),
}

/// Per-game stats averaged over every window, in contract order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RollingStat {
    Points,
    Minutes,
    FieldGoalAttempts,
    ThreePointAttempts,
    FreeThrowAttempts,
    Usage,
    PointsPerMinute,
}

const ROLLING_STATS: [RollingStat; 7] = [
    RollingStat::Points,
    RollingStat::Minutes,
    RollingStat::FieldGoalAttempts,
    RollingStat::ThreePointAttempts,
    RollingStat::FreeThrowAttempts,
    RollingStat::Usage,
    RollingStat::PointsPerMinute,
];

impl RollingStat {
    /// Name prefix and what the stat is, for the definitions.
    fn describe(self) -> (&'static str, &'static str) {
        match self {
            RollingStat::Points => ("pts", "points"),
            RollingStat::Minutes => ("min", "minutes played"),
            RollingStat::FieldGoalAttempts => ("fga", "field-goal attempts"),
            RollingStat::ThreePointAttempts => ("fg3a", "three-point attempts"),
            RollingStat::FreeThrowAttempts => ("fta", "free-throw attempts"),
            RollingStat::Usage => ("usg", "usage rate (percent of team plays used while on the floor), minutes-weighted over the window"),
            RollingStat::PointsPerMinute => ("ppm", "points per minute (sum of points / sum of minutes over the window)"),
        }
    }

    /// The stat over a window of played games (NaN if none).
    fn over(self, games: &[&PlayerGame]) -> f64 {
        match self {
            RollingStat::Points => mean(games.iter().map(|g| g.pts)),
            RollingStat::Minutes => mean(games.iter().map(|g| g.minutes)),
            RollingStat::FieldGoalAttempts => mean(games.iter().map(|g| g.fga)),
            RollingStat::ThreePointAttempts => mean(games.iter().map(|g| g.fg3a)),
            RollingStat::FreeThrowAttempts => mean(games.iter().map(|g| g.fta)),
            RollingStat::Usage => usage(games),
            RollingStat::PointsPerMinute => points_per_minute(games),
        }
    }
}

/// A window of his played games: the last n (across seasons) or this season's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Window {
    Last(usize),
    Season,
}

const WINDOWS: [Window; 5] = [Window::Last(3), Window::Last(5), Window::Last(10), Window::Last(20), Window::Season];

impl Window {
    fn games<'x, 'a>(self, x: &'x Inputs<'a>) -> &'x [&'a PlayerGame] {
        match self {
            Window::Last(n) => x.last(n),
            Window::Season => &x.season,
        }
    }

    fn feature(self, stat: RollingStat) -> Feature {
        let (prefix, what) = stat.describe();
        let (name, definition) = match self {
            Window::Last(n) => (format!("{prefix}_avg_{n}"), format!("mean {what} over the last {n} played games (fewer if fewer; NaN if none)")),
            Window::Season => (format!("{prefix}_avg_season"), format!("mean {what} over this season's played games so far (NaN if none)")),
        };
        // A window mean reads only his earlier games: player form, known before game day.
        Feature { name, definition, group: Group::PlayerForm, timing: Timing::PreGame, value: Value::Rolling(stat, self) }
    }
}

/// A feature outside the rolling family, declared in [`SINGLES`].
struct Single {
    name: &'static str,
    group: Group,
    timing: Timing,
    definition: &'static str,
    value: fn(&Inputs) -> f64,
}

fn one_if(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

use Group::{Availability, Composite, Lineup, OpponentForm, PlayerForm, RestSchedule, TeamForm};
use Timing::PreGame;
/// Reads the inactive lists.
const LISTS: Timing = Timing::RequestTime(Given::InactiveLists);
/// Reads the starting lineups.
const LINEUPS: Timing = Timing::RequestTime(Given::Lineups);

/// The features after the rolling block, in contract order.
const SINGLES: &[Single] = &[
    Single {
        name: "pts_std_10",
        group: PlayerForm,
        timing: PreGame,
        definition: "population standard deviation of points over the last 10 played games (NaN below 2 games)",
        value: |x| std_pop(&x.pts_last_10),
    },
    Single {
        name: "pts_ewm",
        group: PlayerForm,
        timing: PreGame,
        definition: "exponentially weighted mean of points over the last 30 played games, alpha 0.2, oldest first",
        value: |x| ewm(&x.played, |g| g.pts),
    },
    Single {
        name: "min_ewm",
        group: PlayerForm,
        timing: PreGame,
        definition: "exponentially weighted mean of minutes, as pts_ewm",
        value: |x| ewm(&x.played, |g| g.minutes),
    },
    Single {
        name: "games_played_season",
        group: PlayerForm,
        timing: PreGame,
        definition: "played games this season before this game",
        value: |x| x.season.len() as f64,
    },
    Single {
        name: "games_played_total",
        group: PlayerForm,
        timing: PreGame,
        definition: "played games in the data before this game (all seasons)",
        value: |x| x.played.len() as f64,
    },
    Single {
        name: "starter_share_5",
        group: PlayerForm,
        timing: PreGame,
        definition: "share of the last 5 played games the player started",
        value: |x| {
            let last5 = x.last(5);
            if last5.is_empty() { f64::NAN } else { last5.iter().filter(|g| g.starter).count() as f64 / last5.len() as f64 }
        },
    },
    Single {
        name: "player_rest_days",
        group: RestSchedule,
        timing: PreGame,
        definition: "days since the player's last played game, capped at 30 (NaN if none)",
        value: |x| x.last_played().map(|g| x.days_since(g.date).min(30.0)).unwrap_or(f64::NAN),
    },
    Single {
        name: "team_rest_days",
        group: RestSchedule,
        timing: PreGame,
        definition: "days since his team's previous game, capped at 10 (NaN if none)",
        value: |x| x.team_rest_days,
    },
    Single { name: "back_to_back", group: RestSchedule, timing: PreGame, definition: "1 when the team played the day before", value: |x| x.back_to_back },
    Single {
        name: "team_games_last_7",
        group: RestSchedule,
        timing: PreGame,
        definition: "team games in the 7 days before this game",
        value: |x| x.team_games_last_7,
    },
    Single { name: "is_home", group: RestSchedule, timing: PreGame, definition: "1 at home, 0 away", value: |x| one_if(x.ctx.is_home) },
    Single {
        name: "team_pace_10",
        group: TeamForm,
        timing: PreGame,
        definition: "team's mean pace (possessions per 48 minutes) over its last 10 games",
        value: |x| x.team_form.pace,
    },
    Single {
        name: "team_ortg_10",
        group: TeamForm,
        timing: PreGame,
        definition: "team's mean offensive rating (points per 100 possessions) over its last 10 games",
        value: |x| x.team_form.off_rtg,
    },
    Single {
        name: "team_drtg_10",
        group: TeamForm,
        timing: PreGame,
        definition: "team's mean defensive rating (points allowed per 100 possessions) over its last 10 games",
        value: |x| x.team_form.def_rtg,
    },
    Single { name: "opp_pace_10", group: OpponentForm, timing: PreGame, definition: "opponent's mean pace over its last 10 games", value: |x| x.opp_form.pace },
    Single {
        name: "opp_ortg_10",
        group: OpponentForm,
        timing: PreGame,
        definition: "opponent's mean offensive rating over its last 10 games",
        value: |x| x.opp_form.off_rtg,
    },
    Single {
        name: "opp_drtg_10",
        group: OpponentForm,
        timing: PreGame,
        definition: "opponent's mean defensive rating over its last 10 games",
        value: |x| x.opp_form.def_rtg,
    },
    Single {
        name: "opp_pts_allowed_10",
        group: OpponentForm,
        timing: PreGame,
        definition: "mean points the opponent allowed over its last 10 games",
        value: |x| x.opp_form.pts_allowed,
    },
    Single {
        name: "team_regulars_out",
        group: Availability,
        timing: LISTS,
        definition: "teammates on tonight's inactive list who are regulars (played in 3+ of the team's last 10 games, 15+ minutes on average)",
        value: |x| x.team_out.map_or(f64::NAN, |a| a.regulars_out),
    },
    Single {
        name: "team_out_pts_share",
        group: Availability,
        timing: LISTS,
        definition: "sum over tonight's inactive teammates of their share of the team's points in its last 10 games",
        value: |x| x.team_out.map_or(f64::NAN, |a| a.pts_share),
    },
    Single {
        name: "team_out_min_share",
        group: Availability,
        timing: LISTS,
        definition: "same, share of the team's minutes",
        value: |x| x.team_out.map_or(f64::NAN, |a| a.min_share),
    },
    Single {
        name: "team_out_fga_share",
        group: Availability,
        timing: LISTS,
        definition: "same, share of the team's field-goal attempts",
        value: |x| x.team_out.map_or(f64::NAN, |a| a.fga_share),
    },
    Single {
        name: "opp_regulars_out",
        group: Availability,
        timing: LISTS,
        definition: "team_regulars_out for the opponent",
        value: |x| x.opp_out.map_or(f64::NAN, |a| a.regulars_out),
    },
    Single {
        name: "opp_out_pts_share",
        group: Availability,
        timing: LISTS,
        definition: "team_out_pts_share for the opponent",
        value: |x| x.opp_out.map_or(f64::NAN, |a| a.pts_share),
    },
    Single {
        name: "opp_out_min_share",
        group: Availability,
        timing: LISTS,
        definition: "team_out_min_share for the opponent",
        value: |x| x.opp_out.map_or(f64::NAN, |a| a.min_share),
    },
    Single {
        name: "opp_out_fga_share",
        group: Availability,
        timing: LISTS,
        definition: "team_out_fga_share for the opponent",
        value: |x| x.opp_out.map_or(f64::NAN, |a| a.fga_share),
    },
    Single {
        name: "fatigue_score",
        group: Composite,
        timing: PreGame,
        definition: "back_to_back + 0.5 * max(0, team_games_last_7 - 3) - 0.5 * (team_rest_days >= 3)",
        value: |x| {
            let rest_bonus = if x.team_rest_days >= 3.0 { 0.5 } else { 0.0 };
            x.back_to_back + 0.5 * (x.team_games_last_7 - 3.0).max(0.0) - rest_bonus
        },
    },
    Single {
        name: "pace_score",
        group: Composite,
        timing: PreGame,
        definition: "((team_pace_10 + opp_pace_10) / 2) / league pace over the league's last 200 team-games",
        value: |x| ((x.team_form.pace + x.opp_form.pace) / 2.0) / x.league.pace,
    },
    Single {
        name: "usage_spike_score",
        group: Composite,
        timing: LISTS,
        definition: "(usg_avg_3 - usg_avg_20) + usg_avg_10 * team_out_fga_share (NaN while the team's inactive list is unknown)",
        value: |x| (usage(x.last(3)) - usage(x.last(20))) + usage(x.last(10)) * x.team_out.map_or(f64::NAN, |a| a.fga_share),
    },
    Single {
        name: "matchup_score",
        group: Composite,
        timing: PreGame,
        definition: "pts_avg_10 * opp_drtg_10 / league offensive rating over the league's last 200 team-games",
        value: |x| RollingStat::Points.over(x.last(10)) * x.opp_form.def_rtg / x.league.off_rtg,
    },
    Single {
        name: "pts_median_10",
        group: PlayerForm,
        timing: PreGame,
        definition: "median points over the last 10 played games (mean of the two middle values when even; NaN if none)",
        value: |x| median(&x.pts_last_10),
    },
    Single {
        name: "started_last",
        group: PlayerForm,
        timing: PreGame,
        definition: "1 when the player started his last played game, else 0 (NaN if none)",
        value: |x| x.last_played().map(|g| one_if(g.starter)).unwrap_or(f64::NAN),
    },
    Single {
        name: "pts_share_10",
        group: PlayerForm,
        timing: PreGame,
        definition: "his points over his last 10 played games / his teams' points in those games (NaN if none)",
        value: |x| x.points_share_10(),
    },
    Single {
        name: "teammates_returning_pts",
        group: Availability,
        timing: LISTS,
        definition: "teammates' scoring available tonight minus that beside him in his recent games: a teammate is a player other than him \
                     who played for his team in its last 20 games and whose latest earlier game was with it, his level the mean of his points \
                     in those games he played; tonight = sum of the levels of teammates not on tonight's inactive list; recent = mean, over the \
                     player's last 5 played games among the team's last 20, of the sum of the levels of teammates who played in that game; \
                     tonight - recent (NaN without such a game)",
        value: |x| x.teammates_returning_pts(),
    },
    Single {
        name: "pts_last",
        group: PlayerForm,
        timing: PreGame,
        definition: "points in his last played game (NaN if none)",
        value: |x| x.last_played().map(|g| g.pts).unwrap_or(f64::NAN),
    },
    Single {
        name: "min_last",
        group: PlayerForm,
        timing: PreGame,
        definition: "minutes in his last played game (NaN if none)",
        value: |x| x.last_played().map(|g| g.minutes).unwrap_or(f64::NAN),
    },
    Single {
        name: "team_games_played_10",
        group: PlayerForm,
        timing: PreGame,
        definition: "of his team's last 10 games (tonight's team, all seasons), the number in which he played for it (0 if none)",
        value: |x| x.team_games_played_10(),
    },
    Single {
        name: "starts_tonight",
        group: Lineup,
        timing: LINEUPS,
        definition: "1 when he is in his team's confirmed starting lineup, 0 when he is not (NaN while the lineup is unknown)",
        value: |x| x.lineup().map_or(f64::NAN, |l| one_if(l.starts)),
    },
    Single {
        name: "starts_against_form",
        group: Lineup,
        timing: LINEUPS,
        definition: "1 when he starts tonight but started fewer than half of his last 5 played games (none counts as fewer), else 0 \
                     (NaN while the lineup is unknown)",
        value: |x| x.lineup().map_or(f64::NAN, |l| one_if(l.starts && !l.usual_starter)),
    },
    Single {
        name: "benched_against_form",
        group: Lineup,
        timing: LINEUPS,
        definition: "1 when he does not start tonight but started at least half of his last 5 played games, else 0 (NaN while the lineup is unknown)",
        value: |x| x.lineup().map_or(f64::NAN, |l| one_if(!l.starts && l.usual_starter)),
    },
    Single {
        name: "team_usual_starters_benched",
        group: Lineup,
        timing: LINEUPS,
        definition: "his team's usual starters (started 3+ of the team's last 5 games, latest earlier game with the team) not in tonight's \
                     confirmed lineup (NaN while the lineup is unknown)",
        value: |x| x.usual_starters_missing(&x.ctx.team, x.ctx.team_starters.as_deref()),
    },
    Single {
        name: "opp_usual_starters_benched",
        group: Lineup,
        timing: LINEUPS,
        definition: "team_usual_starters_benched for the opponent",
        value: |x| x.usual_starters_missing(&x.ctx.opponent, x.ctx.opp_starters.as_deref()),
    },
];

/// Number of features: the rolling block (every stat over every window) and the rest.
pub const N_FEATURES: usize = ROLLING_STATS.len() * WINDOWS.len() + SINGLES.len();

/// The declared table, built once: for each rolling stat its windows, then [`SINGLES`].
static FEATURES: LazyLock<Vec<Feature>> = LazyLock::new(|| {
    let rolling = ROLLING_STATS.into_iter().flat_map(|stat| WINDOWS.map(|w| w.feature(stat)));
    let singles = SINGLES.iter().map(|s| Feature {
        name: s.name.to_string(),
        definition: s.definition.to_string(),
        group: s.group,
        timing: s.timing,
        value: Value::Single(s.value),
    });
    rolling.chain(singles).collect()
});

/// The declared features, in contract (vector) order.
pub fn features() -> &'static [Feature] {
    &FEATURES
}

/// The ordered names.
pub fn feature_names() -> Vec<String> {
    features().iter().map(|f| f.name.clone()).collect()
}

/// The features read at request time (inactive lists or lineups), in contract order:
/// what a caller must supply (or refresh) on game day.
pub fn request_time_features() -> impl Iterator<Item = &'static Feature> {
    features().iter().filter(|f| f.timing.is_request_time())
}

/// Vector positions of the features that read `given`: what is missing (NaN) while that
/// information is unknown, and what the trainer hides to teach the model that state.
pub fn indices_given(given: Given) -> Vec<usize> {
    features().iter().enumerate().filter(|(_, f)| f.timing == Timing::RequestTime(given)).map(|(i, _)| i).collect()
}

/// Hex sha256 of the version and the ordered names, one per line: what a model records.
/// Computed once: the builder stamps it on every row.
pub fn contract_hash() -> String {
    static HASH: LazyLock<String> = LazyLock::new(|| hash_of(FEATURE_VERSION, &feature_names()));
    HASH.clone()
}

fn hash_of(version: u32, names: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(format!("nba-features v{version}\n"));
    for name in names {
        h.update(name.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// Index of a feature by name.
pub fn index_of(name: &str) -> Option<usize> {
    features().iter().position(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_counted() {
        let names = feature_names();
        assert_eq!(names.len(), N_FEATURES);
        assert_eq!(features().len(), N_FEATURES);
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert_eq!(names[0], "pts_avg_3");
        assert_eq!(names[4], "pts_avg_season");
        assert_eq!(names[34], "ppm_avg_season");
        assert_eq!(names[35], "pts_std_10");
        assert_eq!(names[71], "team_games_played_10");
        assert_eq!(names[N_FEATURES - 1], "opp_usual_starters_benched");
        assert!(names.iter().all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')));
        assert!(features().iter().all(|f| f.definition.len() > 10), "every feature says what it is");
    }

    /// The pin exists to catch accidental drift of the contract (a renamed, moved, added
    /// or dropped feature). Update it only together with a FEATURE_VERSION bump: models
    /// and `player_features` rows record this hash, and the server refuses a mismatch.
    #[test]
    fn hash_is_pinned_for_version_4() {
        assert_eq!(FEATURE_VERSION, 4);
        assert_eq!(N_FEATURES, 77);
        assert_eq!(contract_hash(), "959a3773ff9652972b193db1e4d1f3bdba4ddc1ddb3fd20ba35237533366781e");
    }

    #[test]
    fn hash_is_sensitive_to_order_and_version() {
        let mut names = feature_names();
        assert_eq!(hash_of(FEATURE_VERSION, &names), contract_hash());
        assert_ne!(hash_of(FEATURE_VERSION + 1, &names), contract_hash());
        names.swap(0, 1);
        assert_ne!(hash_of(FEATURE_VERSION, &names), contract_hash());
        // The target is never a feature, and neither is anything from the game itself.
        for forbidden in ["pts", "min", "seconds", "status", "did_not_play", "plus_minus"] {
            assert!(index_of(forbidden).is_none(), "{forbidden}");
        }
    }

    #[test]
    fn request_time_features_are_those_that_read_the_lists_or_lineups() {
        let names: Vec<&str> = request_time_features().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "team_regulars_out",
                "team_out_pts_share",
                "team_out_min_share",
                "team_out_fga_share",
                "opp_regulars_out",
                "opp_out_pts_share",
                "opp_out_min_share",
                "opp_out_fga_share",
                "usage_spike_score",
                "teammates_returning_pts",
                "starts_tonight",
                "starts_against_form",
                "benched_against_form",
                "team_usual_starters_benched",
                "opp_usual_starters_benched",
            ]
        );
        assert!(features().iter().filter(|f| f.group == Group::Availability).all(|f| f.timing == LISTS));
        assert!(features().iter().filter(|f| f.group == Group::Lineup).all(|f| f.timing == LINEUPS));
        let lineups: Vec<&str> = indices_given(Given::Lineups).into_iter().map(|i| features()[i].name.as_str()).collect();
        assert_eq!(lineups, ["starts_tonight", "starts_against_form", "benched_against_form", "team_usual_starters_benched", "opp_usual_starters_benched"]);
        assert_eq!(indices_given(Given::InactiveLists).len() + lineups.len(), request_time_features().count());
    }
}
