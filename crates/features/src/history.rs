//! Point-in-time history: every player's and team's earlier games, sorted, with lookups
//! that can only see games dated strictly before a given day. The feature code reads
//! history only through [`History::player_before`], [`History::team_before`],
//! [`History::league_before`] and [`History::game_before`], which is what makes leakage
//! impossible by construction.

use chrono::NaiveDate;
// Looked up on every request by a short id: foldhash, not SipHash (no untrusted key is
// inserted: the keys come from ClickHouse).
use foldhash::HashMap;

/// One player's line in one game, as the feature code needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlayerGame {
    pub game_id: String,
    pub date: NaiveDate,
    pub season: u16,
    pub team: String,
    /// Took the floor (status "Played"). A did-not-play row of an *earlier* game is
    /// history like any other; the current game's status is never an input.
    pub played: bool,
    pub starter: bool,
    pub minutes: f64,
    pub pts: f64,
    pub fga: f64,
    pub fg3a: f64,
    pub fta: f64,
    /// Usage rate in percent; NaN when undefined (0 minutes).
    pub usg: f64,
}

/// One team's game, as the feature code needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamGame {
    pub game_id: String,
    pub date: NaiveDate,
    pub season: u16,
    pub team: String,
    pub opponent: String,
    pub pts: f64,
    pub opp_pts: f64,
    pub possessions: f64,
    pub pace: f64,
    pub off_rtg: f64,
    pub def_rtg: f64,
    /// Player-minutes of the team (Team Totals minutes: 240 + 25 per overtime).
    pub minutes: f64,
    pub fga: f64,
}

/// One player's line in a game, as seen from the game (every player of both teams).
#[derive(Debug, Clone, PartialEq)]
pub struct GameLine {
    pub player_id: String,
    pub team: String,
    pub played: bool,
    pub starter: bool,
    pub pts: f64,
}

/// Everything known about earlier games, indexed for point-in-time lookups.
#[derive(Debug, Default, Clone)]
pub struct History {
    players: HashMap<String, Vec<PlayerGame>>,
    teams: HashMap<String, Vec<TeamGame>>,
    /// Every team-game of the league, sorted by date: (date, pace, offensive rating).
    league: Vec<(NaiveDate, f64, f64)>,
    /// Every game's player lines, sorted by player id, with the game's date.
    games: HashMap<String, (NaiveDate, Vec<GameLine>)>,
}

fn sort_key_player(g: &PlayerGame) -> (NaiveDate, &str) {
    (g.date, g.game_id.as_str())
}

impl History {
    /// Builds the index; input order does not matter.
    pub fn new(players: impl IntoIterator<Item = (String, PlayerGame)>, teams: impl IntoIterator<Item = TeamGame>) -> Self {
        let mut h = History::default();
        for (player_id, g) in players {
            let line = GameLine { player_id: player_id.clone(), team: g.team.clone(), played: g.played, starter: g.starter, pts: g.pts };
            h.games.entry(g.game_id.clone()).or_insert_with(|| (g.date, vec![])).1.push(line);
            h.players.entry(player_id).or_default().push(g);
        }
        for (_, lines) in h.games.values_mut() {
            lines.sort_by(|a, b| (&a.player_id, &a.team).cmp(&(&b.player_id, &b.team)));
        }
        for games in h.players.values_mut() {
            games.sort_by(|a, b| sort_key_player(a).cmp(&sort_key_player(b)));
        }
        for g in teams {
            h.league.push((g.date, g.pace, g.off_rtg));
            h.teams.entry(g.team.clone()).or_default().push(g);
        }
        for games in h.teams.values_mut() {
            games.sort_by(|a, b| (a.date, &a.game_id).cmp(&(b.date, &b.game_id)));
        }
        // Ties within a day are irrelevant (a day is seen whole or not at all), but the
        // order must be deterministic for bit-identical sums.
        h.league.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)).then(a.2.total_cmp(&b.2)));
        h
    }

    /// The player's games dated strictly before `day`, oldest first.
    pub fn player_before(&self, player_id: &str, day: NaiveDate) -> &[PlayerGame] {
        match self.players.get(player_id) {
            Some(games) => &games[..games.partition_point(|g| g.date < day)],
            None => &[],
        }
    }

    /// Whether the player has a game dated strictly before `day` (his first game only is
    /// read: a request's validation asks this, not for the games themselves).
    pub fn has_player_before(&self, player_id: &str, day: NaiveDate) -> bool {
        self.players.get(player_id).and_then(|games| games.first()).is_some_and(|g| g.date < day)
    }

    /// The team's games dated strictly before `day`, oldest first.
    pub fn team_before(&self, team: &str, day: NaiveDate) -> &[TeamGame] {
        match self.teams.get(team) {
            Some(games) => &games[..games.partition_point(|g| g.date < day)],
            None => &[],
        }
    }

    /// League team-games dated strictly before `day`, oldest first.
    pub fn league_before(&self, day: NaiveDate) -> &[(NaiveDate, f64, f64)] {
        &self.league[..self.league.partition_point(|g| g.0 < day)]
    }

    /// Every player's line in game `game_id` (sorted by player id) when the game is
    /// dated strictly before `day`; empty otherwise.
    pub fn game_before(&self, game_id: &str, day: NaiveDate) -> &[GameLine] {
        match self.games.get(game_id) {
            Some((date, lines)) if *date < day => lines,
            _ => &[],
        }
    }

    pub fn knows_player(&self, player_id: &str) -> bool {
        self.players.contains_key(player_id)
    }

    pub fn knows_team(&self, team: &str) -> bool {
        self.teams.contains_key(team)
    }

    /// The newest game date in the history.
    pub fn last_date(&self) -> Option<NaiveDate> {
        self.league.last().map(|g| g.0)
    }

    /// The team a player played for most recently before `day`.
    pub fn current_team(&self, player_id: &str, day: NaiveDate) -> Option<&str> {
        self.player_before(player_id, day).last().map(|g| g.team.as_str())
    }

    /// Every player in the history (any order).
    pub fn player_ids(&self) -> impl Iterator<Item = &str> {
        self.players.keys().map(String::as_str)
    }

    /// Player-games in the history.
    pub fn player_game_count(&self) -> usize {
        self.players.values().map(Vec::len).sum()
    }

    /// Team-games in the history.
    pub fn team_game_count(&self) -> usize {
        self.league.len()
    }

    pub fn player_count(&self) -> usize {
        self.players.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn game(id: &str, day: u32) -> (String, PlayerGame) {
        let date = NaiveDate::from_ymd_opt(2024, 3, day).unwrap();
        let g = PlayerGame {
            game_id: format!("202403{day:02}0BOS"),
            date,
            season: 2024,
            team: "BOS".into(),
            played: true,
            starter: true,
            minutes: 30.0,
            pts: 20.0,
            fga: 15.0,
            fg3a: 5.0,
            fta: 4.0,
            usg: 25.0,
        };
        (id.to_string(), g)
    }

    /// "Any game before the day" agrees with the games before the day, on every side of
    /// each game date, for a player with games and one without.
    #[test]
    fn has_player_before_agrees_with_player_before() {
        let h = History::new([game("tatumja01", 10), game("tatumja01", 5), game("brownja02", 12)], []);
        for player in ["tatumja01", "brownja02", "nobody01"] {
            for day in 1..=20 {
                let d = NaiveDate::from_ymd_opt(2024, 3, day).unwrap();
                assert_eq!(h.has_player_before(player, d), !h.player_before(player, d).is_empty(), "{player} {d}");
            }
        }
        assert!(!h.has_player_before("tatumja01", NaiveDate::from_ymd_opt(2024, 3, 5).unwrap()), "the day itself is not before");
        assert!(h.has_player_before("tatumja01", NaiveDate::from_ymd_opt(2024, 3, 6).unwrap()));
    }
}
