//! What the feature table reads for one (player, game): gathered once per vector from
//! [`History`] and the [`GameContext`] (his played games, his team's and the opponent's
//! form, tonight's availability, league means, rest), so that no intermediate shared by
//! several features is computed twice and no feature allocates. The few lookups that feed
//! a single feature (`pts_share_10`, `teammates_returning_pts`, `team_games_played_10`)
//! are methods here, called from that feature's row in [`crate::contract`].

use crate::history::{History, PlayerGame, TeamGame};
use crate::stats::{last_n, mean};
use crate::vector::GameContext;
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// Team games in the team- and opponent-form windows and the availability window.
pub const TEAM_WINDOW: usize = 10;
/// League team-games in the league means.
const LEAGUE_WINDOW: usize = 200;
/// `teammates_returning_pts`: the team's games that define teammates and their levels,
/// and his games (among those) that define "recent".
const RETURNING_TEAM_GAMES: usize = 20;
const RETURNING_PLAYER_GAMES: usize = 5;
/// Lineup features: a usual starter started at least [`USUAL_STARTER_MIN_STARTS`] of his
/// team's last [`USUAL_STARTER_GAMES`] games (or, for the player himself, at least half of
/// his last 5 played games).
const USUAL_STARTER_GAMES: usize = 5;
const USUAL_STARTER_MIN_STARTS: usize = 3;

/// A team's mean form over its last [`TEAM_WINDOW`] games.
#[derive(Debug, Clone, Copy)]
pub struct TeamForm {
    pub pace: f64,
    pub off_rtg: f64,
    pub def_rtg: f64,
    /// Points its opponents scored.
    pub pts_allowed: f64,
}

/// Tonight's inactive players of one team, measured over the team's last
/// [`TEAM_WINDOW`] games.
#[derive(Debug, Clone, Copy)]
pub struct Availability {
    /// Inactive players who are regulars (3+ appearances, 15+ minutes on average).
    pub regulars_out: f64,
    /// Their summed shares of the team's points, minutes and field-goal attempts.
    pub pts_share: f64,
    pub min_share: f64,
    pub fga_share: f64,
}

/// The league's mean pace and offensive rating over its last 200 team-games.
#[derive(Debug, Clone, Copy)]
pub struct LeagueForm {
    pub pace: f64,
    pub off_rtg: f64,
}

/// Everything the feature table reads for one player and one game.
pub struct Inputs<'a> {
    pub history: &'a History,
    pub player_id: &'a str,
    pub ctx: &'a GameContext,
    /// His games in which he took the floor, before the game's day, oldest first.
    pub played: Vec<&'a PlayerGame>,
    /// Those of this season.
    pub season: Vec<&'a PlayerGame>,
    /// Points in his last 10 played games, oldest first.
    pub pts_last_10: Vec<f64>,
    /// Tonight's team's games before the day, oldest first.
    pub team_games: &'a [TeamGame],
    /// Days since the team's previous game, capped at 10 (NaN if none).
    pub team_rest_days: f64,
    /// 1 when the team played the day before.
    pub back_to_back: f64,
    pub team_games_last_7: f64,
    pub team_form: TeamForm,
    pub opp_form: TeamForm,
    /// `None` while that team's inactive list is unknown.
    pub team_out: Option<Availability>,
    pub opp_out: Option<Availability>,
    pub league: LeagueForm,
}

impl<'a> Inputs<'a> {
    /// Gathers the inputs of `player_id`'s features for the game described by `ctx`.
    pub fn gather(h: &'a History, player_id: &'a str, ctx: &'a GameContext) -> Self {
        let day = ctx.date;
        let played: Vec<&PlayerGame> = h.player_before(player_id, day).iter().filter(|g| g.played).collect();
        let season: Vec<&PlayerGame> = played.iter().copied().filter(|g| g.season == ctx.season).collect();
        let pts_last_10 = last_n(&played, 10).iter().map(|g| g.pts).collect();
        let team_games = h.team_before(&ctx.team, day);
        let team_rest_days = team_games.last().map(|g| days_between(g.date, day).min(10.0)).unwrap_or(f64::NAN);
        let league = last_n(h.league_before(day), LEAGUE_WINDOW);
        Inputs {
            history: h,
            player_id,
            ctx,
            played,
            season,
            pts_last_10,
            team_games,
            team_rest_days,
            back_to_back: if team_rest_days == 1.0 { 1.0 } else { 0.0 },
            team_games_last_7: team_games.iter().rev().take_while(|g| days_between(g.date, day) <= 7.0).count() as f64,
            team_form: team_form(team_games),
            opp_form: team_form(h.team_before(&ctx.opponent, day)),
            team_out: ctx.team_inactive.as_deref().map(|out| availability(h, &ctx.team, day, out)),
            opp_out: ctx.opp_inactive.as_deref().map(|out| availability(h, &ctx.opponent, day, out)),
            league: LeagueForm { pace: mean(league.iter().map(|g| g.1)), off_rtg: mean(league.iter().map(|g| g.2)) },
        }
    }

    /// His last `n` played games (fewer if fewer), oldest first.
    pub fn last(&self, n: usize) -> &[&'a PlayerGame] {
        last_n(&self.played, n)
    }

    /// His last played game.
    pub fn last_played(&self) -> Option<&'a PlayerGame> {
        self.played.last().copied()
    }

    /// Days from `date` to the game's day.
    pub fn days_since(&self, date: NaiveDate) -> f64 {
        days_between(date, self.ctx.date)
    }

    /// His points over his last 10 played games / his teams' points in those games (NaN
    /// when none).
    pub fn points_share_10(&self) -> f64 {
        let (mut his, mut team) = (0.0, 0.0);
        for g in self.last(10) {
            his += g.pts;
            team += self.history.game_before(&g.game_id, self.ctx.date).iter().filter(|l| l.team == g.team).map(|l| l.pts).sum::<f64>();
        }
        if team > 0.0 { his / team } else { f64::NAN }
    }

    /// Of tonight's team's last 10 games, the number he played for it.
    pub fn team_games_played_10(&self) -> f64 {
        let team_games = last_n(self.team_games, TEAM_WINDOW);
        let Some(first) = team_games.first() else { return 0.0 };
        let team = self.ctx.team.as_str();
        self.played.iter().rev().take_while(|g| g.date >= first.date).filter(|g| g.team == team && team_games.iter().any(|t| t.game_id == g.game_id)).count()
            as f64
    }

    /// Tonight's available teammate scoring minus that beside him in his recent games
    /// (the contract's definition of `teammates_returning_pts`).
    pub fn teammates_returning_pts(&self) -> f64 {
        let (h, ctx, day) = (self.history, self.ctx, self.ctx.date);
        let Some(inactive) = ctx.team_inactive.as_deref() else { return f64::NAN };
        let recent = last_n(self.team_games, RETURNING_TEAM_GAMES);
        // Teammates (sorted by id, so sums are in a fixed order) and their points / games.
        let mut level: BTreeMap<&str, (f64, usize)> = BTreeMap::new();
        let mut his_games: Vec<&str> = vec![];
        for tg in recent {
            for l in h.game_before(&tg.game_id, day).iter().filter(|l| l.team == ctx.team && l.played) {
                if l.player_id == self.player_id {
                    his_games.push(&tg.game_id);
                } else {
                    let e = level.entry(&l.player_id).or_insert((0.0, 0));
                    e.0 += l.pts;
                    e.1 += 1;
                }
            }
        }
        let his_games = last_n(&his_games, RETURNING_PLAYER_GAMES);
        if his_games.is_empty() {
            return f64::NAN;
        }
        let level: Vec<(&str, f64)> =
            level.into_iter().filter(|(p, _)| h.current_team(p, day) == Some(ctx.team.as_str())).map(|(p, (pts, n))| (p, pts / n as f64)).collect();
        let tonight: f64 = level.iter().filter(|(p, _)| !inactive.iter().any(|i| i == p)).map(|(_, v)| v).sum();
        let mut recent_sum = 0.0;
        for g in his_games {
            let lines = h.game_before(g, day);
            let played = |p: &str| lines.iter().any(|l| l.player_id == p && l.team == ctx.team && l.played);
            recent_sum += level.iter().filter(|(p, _)| played(p)).map(|(_, v)| v).sum::<f64>();
        }
        tonight - recent_sum / his_games.len() as f64
    }
}

/// What tonight's confirmed lineup says about him.
#[derive(Debug, Clone, Copy)]
pub struct LineupFacts {
    /// He is in his team's starting five.
    pub starts: bool,
    /// He started at least half of his last 5 played games.
    pub usual_starter: bool,
}

impl Inputs<'_> {
    /// His place in tonight's lineup; `None` while his team's lineup is unknown.
    pub fn lineup(&self) -> Option<LineupFacts> {
        let starters = self.ctx.team_starters.as_deref()?;
        let last5 = self.last(USUAL_STARTER_GAMES);
        let started = last5.iter().filter(|g| g.starter).count();
        Some(LineupFacts { starts: starters.iter().any(|s| s == self.player_id), usual_starter: !last5.is_empty() && 2 * started >= last5.len() })
    }

    /// How many of `team`'s usual starters (started 3+ of its last 5 games, latest
    /// earlier game with it) are not in `starters`; NaN while the lineup is unknown.
    pub fn usual_starters_missing(&self, team: &str, starters: Option<&[String]>) -> f64 {
        let Some(starters) = starters else { return f64::NAN };
        let (h, day) = (self.history, self.ctx.date);
        let mut starts: BTreeMap<&str, usize> = BTreeMap::new();
        for tg in last_n(h.team_before(team, day), USUAL_STARTER_GAMES) {
            for l in h.game_before(&tg.game_id, day).iter().filter(|l| l.team == team && l.played && l.starter) {
                *starts.entry(&l.player_id).or_default() += 1;
            }
        }
        starts.into_iter().filter(|&(p, n)| n >= USUAL_STARTER_MIN_STARTS && h.current_team(p, day) == Some(team) && !starters.iter().any(|s| s == p)).count()
            as f64
    }
}

fn days_between(earlier: NaiveDate, later: NaiveDate) -> f64 {
    (later - earlier).num_days() as f64
}

fn team_form(games: &[TeamGame]) -> TeamForm {
    let g = last_n(games, TEAM_WINDOW);
    TeamForm {
        pace: mean(g.iter().map(|t| t.pace)),
        off_rtg: mean(g.iter().map(|t| t.off_rtg)),
        def_rtg: mean(g.iter().map(|t| t.def_rtg)),
        pts_allowed: mean(g.iter().map(|t| t.opp_pts)),
    }
}

/// For the team's last 10 games: how many inactive players are regulars, and their
/// summed shares of the team's points, minutes and field-goal attempts.
fn availability(h: &History, team: &str, day: NaiveDate, inactive: &[String]) -> Availability {
    let recent = last_n(h.team_before(team, day), TEAM_WINDOW);
    let team_pts: f64 = recent.iter().map(|t| t.pts).sum();
    let team_min: f64 = recent.iter().map(|t| t.minutes).sum();
    let team_fga: f64 = recent.iter().map(|t| t.fga).sum();
    let (mut regulars, mut pts, mut min, mut fga) = (0.0, 0.0, 0.0, 0.0);
    // Sorted and deduplicated, so the sums (and the f32 result) do not depend on the
    // order in which a caller lists the players.
    let mut ids: Vec<&str> = inactive.iter().map(String::as_str).collect();
    ids.sort_unstable();
    ids.dedup();
    for player in ids {
        let mut appearances = 0usize;
        let (mut p_pts, mut p_min, mut p_fga) = (0.0, 0.0, 0.0);
        // His games are sorted like the team's; only those with this team count.
        let his = h.player_before(player, day);
        for tg in recent {
            if let Some(g) = his.iter().rev().take(40).find(|g| g.game_id == tg.game_id && g.team == team && g.played) {
                appearances += 1;
                p_pts += g.pts;
                p_min += g.minutes;
                p_fga += g.fga;
            }
        }
        if appearances >= 3 && p_min / appearances as f64 >= 15.0 {
            regulars += 1.0;
        }
        pts += p_pts;
        min += p_min;
        fga += p_fga;
    }
    let share = |x: f64, total: f64| if total > 0.0 { x / total } else { 0.0 };
    Availability { regulars_out: regulars, pts_share: share(pts, team_pts), min_share: share(min, team_min), fga_share: share(fga, team_fga) }
}
