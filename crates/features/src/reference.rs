//! A frozen copy of `compute` as it was written before the features were declared in one
//! table (contract 3), kept only for tests: [`drift_guard`] checks that the table-driven
//! [`crate::vector::compute`] gives bit-identical vectors on many histories. Models
//! trained on `player_features` rows must score the same vectors from the server, so any
//! change in the order of an f64 operation (and hence in a rounded f32) must be caught,
//! not found later as a silent shift in predictions. Do not edit this code to follow a
//! new definition: a contract change bumps FEATURE_VERSION and replaces this copy.

use crate::history::{History, PlayerGame, TeamGame};
use crate::vector::GameContext;
use chrono::NaiveDate;

const WINDOWS: [usize; 4] = [3, 5, 10, 20];

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
    let tonight: f64 = level.iter().filter(|(p, _)| !ctx.team_inactive.as_deref().unwrap_or_default().iter().any(|i| i == p)).map(|(_, v)| v).sum();
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

/// The feature vector of `player_id` for the game described by `ctx`, in contract-3 order.
pub fn compute(h: &History, player_id: &str, ctx: &GameContext) -> Vec<f32> {
    let day = ctx.date;
    let all = h.player_before(player_id, day);
    let played: Vec<&PlayerGame> = all.iter().filter(|g| g.played).collect();
    let season: Vec<&PlayerGame> = played.iter().copied().filter(|g| g.season == ctx.season).collect();

    let mut out: Vec<f64> = Vec::with_capacity(72);
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

    let team_out = availability(h, &ctx.team, day, ctx.team_inactive.as_deref().unwrap_or_default());
    let opp_out = availability(h, &ctx.opponent, day, ctx.opp_inactive.as_deref().unwrap_or_default());
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

    out.into_iter().map(|x| x as f32).collect()
}

/// The drift guard: with the inactive lists known, the table-driven `compute` equals
/// this frozen copy of the version-3 features bit for bit (version 4 kept them and added
/// the lineup features after them), on the hand-made histories and on randomized leagues
/// with every kind of inactive list and lineup.
#[test]
fn table_driven_compute_is_bit_identical_to_the_frozen_copy() {
    use crate::fixtures::{self, Rng};
    let same = |h: &History, player: &str, ctx: &GameContext| {
        if ctx.team_inactive.is_none() || ctx.opp_inactive.is_none() {
            return;
        }
        let new = crate::vector::compute(h, player, ctx).map(f32::to_bits);
        let old: Vec<u32> = compute(h, player, ctx).into_iter().map(f32::to_bits).collect();
        assert_eq!(&new[..old.len()], old.as_slice(), "{player} {ctx:?}");
    };
    let inactive_lists: [&[&str]; 5] = [&[], &["s"], &["r", "p"], &["s", "r", "s"], &["o", "nobody"]];
    for h in [fixtures::history(1.0), fixtures::history(-3.0), fixtures::sparse_history()] {
        for player in ["p", "q", "r", "s", "t", "o", "x"] {
            for inactive in inactive_lists {
                for d in [1, 2, 4, 7, 10, 12, 13, 20] {
                    let mut ctx = fixtures::ctx(inactive);
                    ctx.date = fixtures::day(d);
                    ctx.opp_inactive = Some(vec!["o".into()]);
                    same(&h, player, &ctx);
                    same(&h, player, &GameContext { team: "CCC".into(), opponent: "AAA".into(), is_home: false, ..ctx });
                }
            }
        }
    }
    // The randomized requests must reach the interesting branches, or the guard proves
    // little: players with history, inactive regulars, teammates coming back.
    let ix = |name: &str| crate::contract::index_of(name).unwrap();
    let (mut with_history, mut with_regulars_out, mut with_returning) = (0, 0, 0);
    let mut rng = Rng::new(16);
    for _ in 0..6 {
        let h = fixtures::random_history(&mut rng);
        for _ in 0..500 {
            let (player, ctx) = fixtures::random_request(&mut rng, &h);
            same(&h, &player, &ctx);
            if ctx.team_inactive.is_none() || ctx.opp_inactive.is_none() {
                continue;
            }
            let v = compute(&h, &player, &ctx);
            with_history += usize::from(!v[ix("pts_avg_3")].is_nan());
            with_regulars_out += usize::from(v[ix("team_regulars_out")] > 0.0);
            with_returning += usize::from(v[ix("teammates_returning_pts")].is_finite() && v[ix("teammates_returning_pts")] != 0.0);
        }
    }
    assert!(with_history > 1500 && with_regulars_out > 300 && with_returning > 1000, "{with_history} {with_regulars_out} {with_returning}");
}
