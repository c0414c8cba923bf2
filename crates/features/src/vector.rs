//! Computes one feature vector, in contract order, from [`History`] and the context of the
//! game (known before tip-off). Used by `nba-ingest build` for every historical row and
//! by the server for the next game, so both produce bit-identical vectors: all sums run
//! in f64 in chronological order and the result is rounded to f32 once, at the end.

use crate::contract::{N_FEATURES, WINDOWS};
use crate::history::{History, PlayerGame, TeamGame};
use chrono::NaiveDate;

/// What is known about a game before tip-off.
#[derive(Debug, Clone, PartialEq)]
pub struct GameContext {
    pub date: NaiveDate,
    /// Season (year it ends) of the game.
    pub season: u16,
    pub team: String,
    pub opponent: String,
    pub is_home: bool,
    /// The official inactive list of the player's team and of the opponent.
    pub team_inactive: Vec<String>,
    pub opp_inactive: Vec<String>,
}

const EWM_ALPHA: f64 = 0.2;
const EWM_GAMES: usize = 30;
const TEAM_WINDOW: usize = 10;
const LEAGUE_WINDOW: usize = 200;

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for v in values.filter(|v| !v.is_nan()) {
        sum += v;
        n += 1;
    }
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

fn last_n<T>(s: &[T], n: usize) -> &[T] {
    &s[s.len().saturating_sub(n)..]
}

/// The per-game value of one rolling stat, by contract order.
fn stat(g: &PlayerGame, i: usize) -> f64 {
    match i {
        0 => g.pts,
        1 => g.minutes,
        2 => g.fga,
        3 => g.fg3a,
        4 => g.fta,
        _ => unreachable!("rolling stat index {i}: usage and points per minute are ratios"),
    }
}

/// Points per minute over a set of games: ratio of sums (NaN with no minutes).
fn ppm(games: &[&PlayerGame]) -> f64 {
    let pts: f64 = games.iter().map(|g| g.pts).sum();
    let min: f64 = games.iter().map(|g| g.minutes).sum();
    if min > 0.0 { pts / min } else { f64::NAN }
}

/// Usage over a set of games, weighted by minutes (how the league aggregates usage; an
/// unweighted mean lets a 30-second cameo with one shot dominate).
fn usage(games: &[&PlayerGame]) -> f64 {
    let (mut num, mut min) = (0.0, 0.0);
    for g in games.iter().filter(|g| !g.usg.is_nan() && g.minutes > 0.0) {
        num += g.usg * g.minutes;
        min += g.minutes;
    }
    if min > 0.0 { num / min } else { f64::NAN }
}

fn rolling(games: &[&PlayerGame], i: usize) -> f64 {
    match i {
        5 => usage(games),
        6 => ppm(games),
        _ => mean(games.iter().map(|g| stat(g, i))),
    }
}

fn ewm(games: &[&PlayerGame], f: impl Fn(&PlayerGame) -> f64) -> f64 {
    let mut m = f64::NAN;
    for g in last_n(games, EWM_GAMES) {
        let x = f(g);
        m = if m.is_nan() { x } else { EWM_ALPHA * x + (1.0 - EWM_ALPHA) * m };
    }
    m
}

fn std_pop(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return f64::NAN;
    }
    let m = values.iter().sum::<f64>() / values.len() as f64;
    (values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / values.len() as f64).sqrt()
}

/// Team form over its last games: (pace, ortg, drtg, points allowed).
fn team_form(games: &[TeamGame]) -> (f64, f64, f64, f64) {
    let g = last_n(games, TEAM_WINDOW);
    (mean(g.iter().map(|t| t.pace)), mean(g.iter().map(|t| t.off_rtg)), mean(g.iter().map(|t| t.def_rtg)), mean(g.iter().map(|t| t.opp_pts)))
}

/// For the team's last 10 games: how many inactive players are regulars, and their
/// summed shares of the team's points, minutes and field-goal attempts.
fn availability(h: &History, team: &str, day: NaiveDate, inactive: &[String]) -> [f64; 4] {
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
    [regulars, share(pts, team_pts), share(min, team_min), share(fga, team_fga)]
}

/// The feature vector of `player_id` for the game described by `ctx`, in contract order.
pub fn compute(h: &History, player_id: &str, ctx: &GameContext) -> [f32; N_FEATURES] {
    let day = ctx.date;
    let all = h.player_before(player_id, day);
    let played: Vec<&PlayerGame> = all.iter().filter(|g| g.played).collect();
    let season: Vec<&PlayerGame> = played.iter().copied().filter(|g| g.season == ctx.season).collect();

    let mut out: Vec<f64> = Vec::with_capacity(N_FEATURES);
    for i in 0..7 {
        for w in WINDOWS {
            out.push(rolling(last_n(&played, w), i));
        }
        out.push(rolling(&season, i));
    }

    let last10: Vec<f64> = last_n(&played, 10).iter().map(|g| g.pts).collect();
    out.push(std_pop(&last10));
    out.push(ewm(&played, |g| g.pts));
    out.push(ewm(&played, |g| g.minutes));
    out.push(season.len() as f64);
    out.push(played.len() as f64);
    let last5 = last_n(&played, 5);
    out.push(if last5.is_empty() { f64::NAN } else { last5.iter().filter(|g| g.starter).count() as f64 / last5.len() as f64 });
    let days_since = |d: NaiveDate| (day - d).num_days() as f64;
    out.push(played.last().map(|g| days_since(g.date).min(30.0)).unwrap_or(f64::NAN));

    let team_games = h.team_before(&ctx.team, day);
    let team_rest = team_games.last().map(|g| days_since(g.date).min(10.0)).unwrap_or(f64::NAN);
    let back_to_back = if team_rest == 1.0 { 1.0 } else { 0.0 };
    let games_last_7 = team_games.iter().rev().take_while(|g| days_since(g.date) <= 7.0).count() as f64;
    out.push(team_rest);
    out.push(back_to_back);
    out.push(games_last_7);
    out.push(if ctx.is_home { 1.0 } else { 0.0 });

    let (team_pace, team_ortg, team_drtg, _) = team_form(team_games);
    let (opp_pace, opp_ortg, opp_drtg, opp_allowed) = team_form(h.team_before(&ctx.opponent, day));
    out.extend([team_pace, team_ortg, team_drtg, opp_pace, opp_ortg, opp_drtg, opp_allowed]);

    let team_out = availability(h, &ctx.team, day, &ctx.team_inactive);
    let opp_out = availability(h, &ctx.opponent, day, &ctx.opp_inactive);
    out.extend(team_out);
    out.extend(opp_out);

    // Composite factors of the old system, defined in the contract.
    let league = last_n(h.league_before(day), LEAGUE_WINDOW);
    let league_pace = mean(league.iter().map(|g| g.1));
    let league_rtg = mean(league.iter().map(|g| g.2));
    let rest_bonus = if team_rest >= 3.0 { 0.5 } else { 0.0 };
    out.push(back_to_back + 0.5 * (games_last_7 - 3.0).max(0.0) - rest_bonus);
    out.push(((team_pace + opp_pace) / 2.0) / league_pace);
    let usg = |w: usize| rolling(last_n(&played, w), 5);
    out.push((usg(3) - usg(20)) + usg(10) * team_out[3]);
    out.push(rolling(last_n(&played, 10), 0) * opp_drtg / league_rtg);

    debug_assert_eq!(out.len(), N_FEATURES);
    let mut v = [f32::NAN; N_FEATURES];
    for (slot, x) in v.iter_mut().zip(out) {
        *slot = x as f32;
    }
    v
}
