//! Histories for the unit tests: a small hand-made one whose features can be worked out
//! on paper, and randomized ones (from a seeded PRNG, so every run sees the same games)
//! with trades, did-not-play rows, zero-minute cameos, season changes and odd inactive
//! lists, to exercise every branch of the feature code.

use crate::history::{History, PlayerGame, TeamGame};
use crate::vector::GameContext;
use chrono::NaiveDate;

pub fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 1, d).unwrap()
}

pub fn line(player: &str, game: u32, team: &str, played: bool, pts: f64, starter: bool) -> (String, PlayerGame) {
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

pub fn team_game(game: u32, team: &str, opponent: &str, pts: f64) -> TeamGame {
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
pub fn history(future_scale: f64) -> History {
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

/// AAA plays 12 games; q plays games 1, 2 and 12.
pub fn sparse_history() -> History {
    let mut players = vec![];
    let mut teams = vec![];
    for g in 1..=12u32 {
        players.push(line("q", g, "AAA", matches!(g, 1 | 2 | 12), 5.0, false));
        teams.push(team_game(g, "AAA", "BBB", 0.0));
    }
    History::new(players, teams)
}

/// Player p's team AAA at home against BBB on day 10, with AAA's inactive list.
pub fn ctx(inactive: &[&str]) -> GameContext {
    GameContext {
        date: day(10),
        season: 2024,
        team: "AAA".into(),
        opponent: "BBB".into(),
        is_home: true,
        team_inactive: Some(inactive.iter().map(|s| s.to_string()).collect()),
        opp_inactive: Some(vec![]),
        team_starters: None,
        opp_starters: None,
    }
}

/// SplitMix64: a few lines, good enough to vary test data, and the same on every run.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
}

pub const RANDOM_TEAMS: [&str; 5] = ["AAA", "BBB", "CCC", "DDD", "EEE"];
const PLAYERS_PER_TEAM: usize = 9;
/// Days of the random histories: season 2023 until day 70, then season 2024.
pub const RANDOM_DAYS: u32 = 110;
const SEASON_CHANGE_DAY: u32 = 70;

pub fn random_day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2023, 1, 1).unwrap() + chrono::Days::new(u64::from(d))
}

pub fn random_season(d: u32) -> u16 {
    if d < SEASON_CHANGE_DAY { 2023 } else { 2024 }
}

/// Player ids of the random histories: `p0`..; the last few never play.
pub fn random_player(i: usize) -> String {
    format!("p{i}")
}

pub const RANDOM_PLAYERS: usize = RANDOM_TEAMS.len() * PLAYERS_PER_TEAM + 3;

/// A league of five teams over two seasons: on each day some pairs of teams meet; a
/// player sometimes moves to another team; lines include did-not-play rows, cameos with
/// zero minutes (usage NaN), fractional minutes, and days with no games at all.
pub fn random_history(rng: &mut Rng) -> History {
    let mut team_of: Vec<usize> = (0..RANDOM_TEAMS.len() * PLAYERS_PER_TEAM).map(|i| i % RANDOM_TEAMS.len()).collect();
    let (mut players, mut teams) = (vec![], vec![]);
    for d in 0..RANDOM_DAYS {
        if rng.chance(0.03) {
            let who = rng.below(team_of.len());
            team_of[who] = rng.below(RANDOM_TEAMS.len());
        }
        let mut order: Vec<usize> = (0..RANDOM_TEAMS.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.below(i + 1));
        }
        for pair in order.chunks(2).filter(|p| p.len() == 2) {
            if rng.chance(0.55) {
                random_game(rng, d, pair[0], pair[1], &team_of, &mut players, &mut teams);
            }
        }
    }
    History::new(players, teams)
}

fn random_game(rng: &mut Rng, d: u32, home: usize, away: usize, team_of: &[usize], players: &mut Vec<(String, PlayerGame)>, teams: &mut Vec<TeamGame>) {
    let game_id = format!("{d}-{}", RANDOM_TEAMS[home]);
    let (date, season) = (random_day(d), random_season(d));
    let pace = rng.range(92.0, 104.0);
    let minutes = if rng.chance(0.1) { 265.0 } else { 240.0 };
    let pts = [rng.range(90.0, 130.0).round(), rng.range(90.0, 130.0).round()];
    for (side, (team, opp)) in [(home, away), (away, home)].into_iter().enumerate() {
        for (p, _) in team_of.iter().enumerate().filter(|(_, t)| **t == team) {
            if rng.chance(0.1) {
                continue;
            }
            let played = rng.chance(0.85);
            let cameo = played && rng.chance(0.05);
            let minutes = if !played || cameo { 0.0 } else { rng.range(1.0, 42.0) };
            let g = PlayerGame {
                game_id: game_id.clone(),
                date,
                season,
                team: RANDOM_TEAMS[team].into(),
                played,
                starter: played && rng.chance(0.5),
                minutes,
                pts: if played { rng.below(40) as f64 } else { 0.0 },
                fga: if played { rng.below(25) as f64 } else { 0.0 },
                fg3a: if played { rng.below(12) as f64 } else { 0.0 },
                fta: if played { rng.below(12) as f64 } else { 0.0 },
                usg: if minutes > 0.0 { rng.range(5.0, 40.0) } else { f64::NAN },
            };
            players.push((random_player(p), g));
        }
        let off_rtg = 100.0 * pts[side] / pace;
        teams.push(TeamGame {
            game_id: game_id.clone(),
            date,
            season,
            team: RANDOM_TEAMS[team].into(),
            opponent: RANDOM_TEAMS[opp].into(),
            pts: pts[side],
            opp_pts: pts[1 - side],
            possessions: pace,
            pace,
            off_rtg,
            def_rtg: 100.0 * pts[1 - side] / pace,
            minutes,
            fga: rng.range(75.0, 100.0).round(),
        });
    }
}

/// A request for a random history: any player (including ones never seen), for his
/// current team or another, against any team, on any day (including game days and days
/// after the last game), with inactive lists that may hold regulars, strangers,
/// duplicates, the player himself or the other team's players.
pub fn random_request(rng: &mut Rng, h: &History) -> (String, GameContext) {
    let d = rng.below(RANDOM_DAYS as usize + 5) as u32;
    let date = random_day(d);
    let player = random_player(rng.below(RANDOM_PLAYERS));
    let team = match h.current_team(&player, date) {
        Some(t) if rng.chance(0.8) => t.to_string(),
        _ => RANDOM_TEAMS[rng.below(RANDOM_TEAMS.len())].to_string(),
    };
    let opponent = RANDOM_TEAMS[rng.below(RANDOM_TEAMS.len())].to_string();
    let mut inactive = || -> Vec<String> {
        let n = [0, 0, 1, 2, 3, 5][rng.below(6)];
        (0..n).map(|_| if rng.chance(0.1) { "stranger".to_string() } else { random_player(rng.below(RANDOM_PLAYERS)) }).collect()
    };
    let (team_inactive, opp_inactive) = (inactive(), inactive());
    // Unknown lists in a few requests (the guard against the frozen copy skips those).
    let known = |rng: &mut Rng, list: Vec<String>| if rng.chance(0.9) { Some(list) } else { None };
    let (team_inactive, opp_inactive) = (known(rng, team_inactive), known(rng, opp_inactive));
    let season = if rng.chance(0.05) { 2022 } else { random_season(d) };
    let team_starters = random_lineup(rng, h, &team, date, &player);
    let opp_starters = random_lineup(rng, h, &opponent, date, "");
    let ctx = GameContext { date, season, team, opponent, is_home: rng.chance(0.5), team_inactive, opp_inactive, team_starters, opp_starters };
    (player, ctx)
}

/// A starting five for `team` on `date`, or unknown: mostly players of its last game
/// (often with `player` in or out), sometimes strangers or fewer than five.
fn random_lineup(rng: &mut Rng, h: &History, team: &str, date: NaiveDate, player: &str) -> Option<Vec<String>> {
    if rng.chance(0.3) {
        return None;
    }
    let mut lineup: Vec<String> = match h.team_before(team, date).last() {
        Some(g) => h.game_before(&g.game_id, date).iter().filter(|l| l.team == team && (l.starter || rng.chance(0.2))).map(|l| l.player_id.clone()).collect(),
        None => vec![],
    };
    if !player.is_empty() && rng.chance(0.3) {
        lineup.retain(|p| p != player);
        if rng.chance(0.5) {
            lineup.push(player.to_string());
        }
    }
    if rng.chance(0.1) {
        lineup.push("stranger".to_string());
    }
    lineup.truncate(5);
    Some(lineup)
}
