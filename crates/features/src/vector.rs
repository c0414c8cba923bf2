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

/// Median of the values (mean of the two middle ones when even; NaN if none).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// His points over `games` / his teams' points in those games (NaN when none).
fn points_share(h: &History, games: &[&PlayerGame], day: NaiveDate) -> f64 {
    let (mut his, mut team) = (0.0, 0.0);
    for g in games {
        his += g.pts;
        team += h.game_before(&g.game_id, day).iter().filter(|l| l.team == g.team).map(|l| l.pts).sum::<f64>();
    }
    if team > 0.0 { his / team } else { f64::NAN }
}

const RETURNING_TEAM_GAMES: usize = 20;
const RETURNING_PLAYER_GAMES: usize = 5;

/// `teammates_returning_pts` (see the contract): tonight's available teammate scoring
/// minus that beside him in his recent games.
fn teammates_returning(h: &History, player_id: &str, ctx: &GameContext) -> f64 {
    let day = ctx.date;
    let recent = last_n(h.team_before(&ctx.team, day), RETURNING_TEAM_GAMES);
    // Teammates (sorted by id, so sums are in a fixed order) and their points / games.
    let mut level: std::collections::BTreeMap<&str, (f64, usize)> = std::collections::BTreeMap::new();
    let mut his_games: Vec<&str> = vec![];
    for tg in recent {
        for l in h.game_before(&tg.game_id, day).iter().filter(|l| l.team == ctx.team && l.played) {
            if l.player_id == player_id {
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
    let tonight: f64 = level.iter().filter(|(p, _)| !ctx.team_inactive.iter().any(|i| i == p)).map(|(_, v)| v).sum();
    let mut recent_sum = 0.0;
    for g in his_games {
        let lines = h.game_before(g, day);
        let played = |p: &str| lines.iter().any(|l| l.player_id == p && l.team == ctx.team && l.played);
        recent_sum += level.iter().filter(|(p, _)| played(p)).map(|(_, v)| v).sum::<f64>();
    }
    tonight - recent_sum / his_games.len() as f64
}

/// How many of `team_games` (his team's, earlier than tonight) he played for `team`.
fn games_played_for(played: &[&PlayerGame], team_games: &[TeamGame], team: &str) -> f64 {
    let Some(first) = team_games.first() else { return 0.0 };
    played.iter().rev().take_while(|g| g.date >= first.date).filter(|g| g.team == team && team_games.iter().any(|t| t.game_id == g.game_id)).count() as f64
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

    // Version 2.
    out.push(median(&last10));
    out.push(played.last().map(|g| if g.starter { 1.0 } else { 0.0 }).unwrap_or(f64::NAN));
    out.push(points_share(h, last_n(&played, 10), day));
    out.push(teammates_returning(h, player_id, ctx));

    // Version 3.
    out.push(played.last().map(|g| g.pts).unwrap_or(f64::NAN));
    out.push(played.last().map(|g| g.minutes).unwrap_or(f64::NAN));
    out.push(games_played_for(&played, last_n(team_games, 10), &ctx.team));

    debug_assert_eq!(out.len(), N_FEATURES);
    let mut v = [f32::NAN; N_FEATURES];
    for (slot, x) in v.iter_mut().zip(out) {
        *slot = x as f32;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::index_of;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2024, 1, d).unwrap()
    }

    fn line(player: &str, game: u32, team: &str, played: bool, pts: f64, starter: bool) -> (String, PlayerGame) {
        let g = PlayerGame {
            game_id: format!("g{game}"),
            date: day(game),
            season: 2024,
            team: team.into(),
            played,
            starter,
            minutes: if played { 30.0 } else { 0.0 },
            pts,
            fga: 10.0,
            fg3a: 3.0,
            fta: 2.0,
            usg: 20.0,
        };
        (player.into(), g)
    }

    fn team_game(game: u32, team: &str, opponent: &str, pts: f64) -> TeamGame {
        TeamGame {
            game_id: format!("g{game}"),
            date: day(game),
            season: 2024,
            team: team.into(),
            opponent: opponent.into(),
            pts,
            opp_pts: 100.0,
            possessions: 100.0,
            pace: 100.0,
            off_rtg: 110.0,
            def_rtg: 108.0,
            minutes: 240.0,
            fga: 85.0,
        }
    }

    /// Team AAA plays games 1-6. "p" scores 10, 20, ..., 60 and starts only game 6; "s"
    /// (a 30-point scorer) misses games 4-6; "r" scores 10 in every game; "t" plays game
    /// 1 for AAA, then moves to CCC (game 7). Games 10 and 11 are "the future" with wild
    /// numbers. `future_scale` changes them.
    fn history(future_scale: f64) -> History {
        let mut players = vec![];
        let mut teams = vec![];
        for g in 1..=6u32 {
            players.push(line("p", g, "AAA", true, 10.0 * g as f64, g == 6));
            players.push(line("s", g, "AAA", g <= 3, if g <= 3 { 30.0 } else { 0.0 }, true));
            players.push(line("r", g, "AAA", true, 10.0, false));
            if g == 1 {
                players.push(line("t", g, "AAA", true, 8.0, false));
            }
            players.push(line("o", g, "BBB", true, 25.0, true));
            teams.push(team_game(g, "AAA", "BBB", 0.0));
            teams.push(team_game(g, "BBB", "AAA", 0.0));
        }
        players.push(line("t", 7, "CCC", true, 12.0, true));
        teams.push(team_game(7, "CCC", "BBB", 0.0));
        for g in [10u32, 11] {
            for (who, pts) in [("p", 99.0), ("s", 77.0), ("r", 55.0), ("x", 44.0)] {
                players.push(line(who, g, "AAA", future_scale > 0.0, pts * future_scale, true));
            }
            teams.push(team_game(g, "AAA", "BBB", 0.0));
        }
        History::new(players, teams)
    }

    fn ctx(inactive: &[&str]) -> GameContext {
        GameContext {
            date: day(10),
            season: 2024,
            team: "AAA".into(),
            opponent: "BBB".into(),
            is_home: true,
            team_inactive: inactive.iter().map(|s| s.to_string()).collect(),
            opp_inactive: vec![],
        }
    }

    fn feature(v: &[f32; N_FEATURES], name: &str) -> f32 {
        v[index_of(name).unwrap()]
    }

    #[test]
    fn version_2_features_by_hand() {
        let h = history(1.0);
        let v = compute(&h, "p", &ctx(&[]));
        assert_eq!(feature(&v, "pts_median_10"), 35.0);
        assert_eq!(feature(&v, "started_last"), 1.0);
        // His 210 points of the team's 210 + 3 * 30 + 6 * 10 + 8 (t in game 1).
        assert_eq!(feature(&v, "pts_share_10"), (210.0 / 368.0) as f32);
        // Teammates now: s (level 30) and r (10); t left for CCC. Tonight 40; in p's last
        // five games (2-6) s played in 2 and 3: (40 + 40 + 10 + 10 + 10) / 5 = 22.
        assert_eq!(feature(&v, "teammates_returning_pts"), 18.0);
        // With s on tonight's inactive list: 10 - 22.
        let out = compute(&h, "p", &ctx(&["s"]));
        assert_eq!(feature(&out, "teammates_returning_pts"), -12.0);
        // r's view: tonight p (35) + s (30); r's last five games 2-6 had p (35) each and
        // s in 2 and 3: 35 + 30 * 2 / 5 = 47.
        let r = compute(&h, "r", &ctx(&[]));
        assert_eq!(feature(&r, "teammates_returning_pts"), 18.0);
        assert_eq!(feature(&r, "started_last"), 0.0);
        // A player without earlier games: NaN, not 0.
        let nobody = compute(&h, "x", &ctx(&[]));
        for name in ["pts_median_10", "started_last", "pts_share_10", "teammates_returning_pts"] {
            assert!(feature(&nobody, name).is_nan(), "{name}");
        }
    }

    #[test]
    fn version_3_features_by_hand() {
        let h = history(1.0);
        let p = compute(&h, "p", &ctx(&[]));
        assert_eq!((feature(&p, "pts_last"), feature(&p, "min_last"), feature(&p, "team_games_played_10")), (60.0, 30.0, 6.0));
        // s last played game 3 (30 points); games 4-6 were did-not-play rows.
        let s = compute(&h, "s", &ctx(&[]));
        assert_eq!((feature(&s, "pts_last"), feature(&s, "team_games_played_10")), (30.0, 3.0));
        // t's last game was for CCC: it counts only for CCC, and AAA's game 1 for AAA.
        let t = compute(&h, "t", &ctx(&[]));
        assert_eq!((feature(&t, "pts_last"), feature(&t, "team_games_played_10")), (12.0, 1.0));
        let t_ccc = compute(&h, "t", &GameContext { team: "CCC".into(), ..ctx(&[]) });
        assert_eq!(feature(&t_ccc, "team_games_played_10"), 1.0);
        let nobody = compute(&h, "x", &ctx(&[]));
        assert!(feature(&nobody, "pts_last").is_nan() && feature(&nobody, "min_last").is_nan());
        assert_eq!(feature(&nobody, "team_games_played_10"), 0.0);
    }

    #[test]
    fn team_games_played_counts_only_the_team_s_last_10_games() {
        // AAA plays 12 games; q plays games 1, 2 and 12: only 12 is among the last 10.
        let mut players = vec![];
        let mut teams = vec![];
        for g in 1..=12u32 {
            players.push(line("q", g, "AAA", matches!(g, 1 | 2 | 12), 5.0, false));
            teams.push(team_game(g, "AAA", "BBB", 0.0));
        }
        let h = History::new(players, teams);
        let v = compute(&h, "q", &GameContext { date: day(13), ..ctx(&[]) });
        assert_eq!(feature(&v, "team_games_played_10"), 1.0);
        let v = compute(&h, "q", &GameContext { date: day(12), ..ctx(&[]) });
        assert_eq!(feature(&v, "team_games_played_10"), 1.0, "games 2-11: only game 2");
    }

    #[test]
    fn version_2_features_ignore_the_game_day_and_later() {
        let (a, b) = (history(1.0), history(-3.0));
        for player in ["p", "r", "s", "x"] {
            for inactive in [&[][..], &["s"][..], &["r", "p"][..]] {
                let (va, vb) = (compute(&a, player, &ctx(inactive)), compute(&b, player, &ctx(inactive)));
                assert_eq!(va.map(f32::to_bits), vb.map(f32::to_bits), "{player} {inactive:?}");
            }
        }
        // The inactive list's order does not matter.
        let (x, y) = (compute(&a, "p", &ctx(&["s", "r"])), compute(&a, "p", &ctx(&["r", "s"])));
        assert_eq!(x.map(f32::to_bits), y.map(f32::to_bits));
    }
}
