//! The slate: who plays on a day, asked as `Predict` requests. Flight's `slate/DATE` and
//! the slate run (`nba-server slate`, [`crate::slate_run`]) both start here, so a day's
//! players and the questions asked about them are decided in one place.

use crate::error::ServeError;
use crate::feature_source::HistorySnapshot;
use chrono::{DateTime, NaiveDate, Utc};
use nba_api::proto::predict::{PlayerList, PredictRequest};
use std::collections::HashMap;

/// Announced starting fives of a day by team code (player ids), given to a slate run.
pub type Lineups = HashMap<String, Vec<String>>;

/// A request for every player of both teams of every game scheduled on `date`, home
/// team's players first, each team's sorted by id. No inactive list is given, so each is
/// resolved as for a `Predict` without one (stored official, else the latest injury
/// report, else unknown); a team's starters are given when `lineups` has them.
pub fn requests(snap: &HistorySnapshot, date: NaiveDate, lineups: &Lineups) -> Result<Vec<PredictRequest>, ServeError> {
    let games = snap.schedule.get(&date).ok_or(ServeError::NoGamesScheduled { date })?;
    let starters = |team: &str| lineups.get(team).map(|ids| PlayerList { player_ids: ids.clone() });
    let mut out = Vec::new();
    for (home, away) in games {
        for (team, opponent, is_home) in [(home, away, true), (away, home, false)] {
            for player in roster(&snap.history, team, date) {
                out.push(PredictRequest {
                    player_id: player,
                    game_date: date.to_string(),
                    opponent: opponent.clone(),
                    is_home,
                    team: Some(team.clone()),
                    team_starters: starters(team),
                    opponent_starters: starters(opponent),
                    ..Default::default()
                });
            }
        }
    }
    Ok(out)
}

/// A team's players before `date`: those whose latest game before it was with this team
/// and among the team's last 10 games, sorted by id.
pub fn roster(h: &nba_features::History, team: &str, date: NaiveDate) -> Vec<String> {
    let recent: Vec<&str> = h.team_before(team, date).iter().rev().take(10).map(|g| g.game_id.as_str()).collect();
    let mut out: Vec<String> = h
        .player_ids()
        .filter(|p| h.player_before(p, date).last().is_some_and(|g| g.team == team && recent.contains(&g.game_id.as_str())))
        .map(str::to_string)
        .collect();
    out.sort();
    out
}

/// The league's calendar day at `now`: game dates are US Eastern (a 10 pm Pacific game is
/// on the Eastern date it starts), whatever the machine's zone.
pub fn league_today(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&chrono_tz::America::New_York).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_league_day_is_the_eastern_day() {
        // 03:30 UTC on 21 March is 23:30 on 20 March in New York (EDT, UTC-4).
        assert_eq!(league_today(Utc.with_ymd_and_hms(2024, 3, 21, 3, 30, 0).unwrap()), NaiveDate::from_ymd_opt(2024, 3, 20).unwrap());
        // 04:30 UTC on 1 January is 23:30 on 31 December (EST, UTC-5), and 05:30 is New Year's day.
        assert_eq!(league_today(Utc.with_ymd_and_hms(2024, 1, 1, 4, 30, 0).unwrap()), NaiveDate::from_ymd_opt(2023, 12, 31).unwrap());
        assert_eq!(league_today(Utc.with_ymd_and_hms(2024, 1, 1, 5, 30, 0).unwrap()), NaiveDate::from_ymd_opt(2024, 1, 1).unwrap());
    }
}
