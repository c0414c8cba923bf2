//! Box-score arithmetic shared by the analytics tables: possessions, pace, ratings and
//! the per-player rates. Formulas follow basketball-reference's glossary (Dean Oliver's
//! possession estimate), so they can be checked against the pages' own advanced columns.

/// The counting stats the formulas need, for a player or a team.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Line {
    pub seconds: f64,
    pub fgm: f64,
    pub fga: f64,
    pub fg3m: f64,
    pub fg3a: f64,
    pub ftm: f64,
    pub fta: f64,
    pub oreb: f64,
    pub dreb: f64,
    pub tov: f64,
    pub pts: f64,
}

fn ratio(num: f64, den: f64) -> f64 {
    if den > 0.0 { num / den } else { f64::NAN }
}

/// Estimated possessions of a game, averaged over both teams' estimates:
/// 0.5 * ((FGA + 0.4 FTA - 1.07 * ORB/(ORB + opp DRB) * (FGA - FG) + TOV) + (same for the opponent)).
pub fn possessions(team: &Line, opp: &Line) -> f64 {
    let one = |t: &Line, o: &Line| {
        let orb_rate = ratio(t.oreb, t.oreb + o.dreb);
        let orb_rate = if orb_rate.is_nan() { 0.0 } else { orb_rate };
        t.fga + 0.4 * t.fta - 1.07 * orb_rate * (t.fga - t.fgm) + t.tov
    };
    0.5 * (one(team, opp) + one(opp, team))
}

/// Possessions per 48 minutes; `team_minutes` is the Team Totals minutes (240 + 25 per OT).
pub fn pace(possessions: f64, team_minutes: f64) -> f64 {
    ratio(48.0 * possessions, team_minutes / 5.0)
}

/// Points per 100 possessions.
pub fn rating(points: f64, possessions: f64) -> f64 {
    ratio(100.0 * points, possessions)
}

/// Usage rate in percent: 100 * (FGA + 0.44 FTA + TOV) * (team minutes / 5) /
/// (minutes * (team FGA + 0.44 team FTA + team TOV)); NaN for 0 minutes.
pub fn usage(player: &Line, team: &Line, team_minutes: f64) -> f64 {
    let minutes = player.seconds / 60.0;
    let plays = player.fga + 0.44 * player.fta + player.tov;
    let team_plays = team.fga + 0.44 * team.fta + team.tov;
    ratio(100.0 * plays * (team_minutes / 5.0), minutes * team_plays)
}

/// True shooting: PTS / (2 * (FGA + 0.44 FTA)).
pub fn true_shooting(l: &Line) -> f64 {
    ratio(l.pts, 2.0 * (l.fga + 0.44 * l.fta))
}

/// Effective field-goal percentage: (FG + 0.5 * 3P) / FGA.
pub fn effective_fg(l: &Line) -> f64 {
    ratio(l.fgm + 0.5 * l.fg3m, l.fga)
}

/// Free-throw rate FTA / FGA and three-point rate 3PA / FGA.
pub fn ft_rate(l: &Line) -> f64 {
    ratio(l.fta, l.fga)
}
pub fn fg3_rate(l: &Line) -> f64 {
    ratio(l.fg3a, l.fga)
}

/// `part / whole`, NaN when the whole is 0.
pub fn share(part: f64, whole: f64) -> f64 {
    ratio(part, whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Lakers at Nuggets, 2023-10-24 (202310240DEN): the site's four-factors table prints
    // pace 95.3 and offensive ratings 112.3 (LAL) and 124.8 (DEN).
    fn lal() -> Line {
        Line { seconds: 240.0 * 60.0, fgm: 41.0, fga: 90.0, fg3m: 10.0, fg3a: 29.0, ftm: 15.0, fta: 20.0, oreb: 13.0, dreb: 31.0, tov: 11.0, pts: 107.0 }
    }
    fn den() -> Line {
        Line { seconds: 240.0 * 60.0, fgm: 48.0, fga: 91.0, fg3m: 14.0, fg3a: 34.0, ftm: 9.0, fta: 12.0, oreb: 9.0, dreb: 33.0, tov: 11.0, pts: 119.0 }
    }

    #[test]
    fn possessions_pace_and_ratings_match_the_site() {
        let poss = possessions(&lal(), &den());
        assert!((pace(poss, 240.0) - 95.3).abs() < 0.05, "{}", pace(poss, 240.0));
        assert!((rating(107.0, poss) - 112.3).abs() < 0.05, "{}", rating(107.0, poss));
        assert!((rating(119.0, poss) - 124.8).abs() < 0.05);
    }

    #[test]
    fn player_rates() {
        // D'Angelo Russell in that game: 36:11, 4-12 FG, 2-5 3P, 1-2 FT, 3 TOV, 11 pts;
        // the site prints TS% .427, eFG% .417, USG% 19.2.
        let p = Line { seconds: 2171.0, fgm: 4.0, fga: 12.0, fg3m: 2.0, fg3a: 5.0, ftm: 1.0, fta: 2.0, oreb: 0.0, dreb: 4.0, tov: 3.0, pts: 11.0 };
        assert!((true_shooting(&p) - 0.427).abs() < 0.0005);
        assert!((effective_fg(&p) - 0.417).abs() < 0.0005);
        assert!((usage(&p, &lal(), 240.0) - 19.2).abs() < 0.05, "{}", usage(&p, &lal(), 240.0));
        let dnp = Line::default();
        assert!(usage(&dnp, &lal(), 240.0).is_nan());
        assert!(true_shooting(&dnp).is_nan());
    }
}
