//! Raw box scores → `player_game_summary` and `team_game_summary` rows.

use nba_features::summary::{self, Line};
use nba_pages::PlayerStatus;
use nba_store::rows::{PlayerBoxscoreRow, PlayerGameSummaryRow, TeamBoxscoreRow, TeamGameSummaryRow};
use std::collections::HashMap;

fn team_line(t: &TeamBoxscoreRow) -> Line {
    Line {
        seconds: f64::from(t.minutes) * 60.0,
        fgm: f64::from(t.fgm),
        fga: f64::from(t.fga),
        fg3m: f64::from(t.fg3m),
        fg3a: f64::from(t.fg3a),
        ftm: f64::from(t.ftm),
        fta: f64::from(t.fta),
        oreb: f64::from(t.oreb),
        dreb: f64::from(t.dreb),
        tov: f64::from(t.tov),
        pts: f64::from(t.pts),
    }
}

fn player_line(p: &PlayerBoxscoreRow) -> Line {
    Line {
        seconds: f64::from(p.seconds),
        fgm: f64::from(p.fgm),
        fga: f64::from(p.fga),
        fg3m: f64::from(p.fg3m),
        fg3a: f64::from(p.fg3a),
        ftm: f64::from(p.ftm),
        fta: f64::from(p.fta),
        oreb: f64::from(p.oreb),
        dreb: f64::from(p.dreb),
        tov: f64::from(p.tov),
        pts: f64::from(p.pts),
    }
}

/// Team summaries for every team-game whose opponent row is present too.
pub fn team_summaries(teams: &[TeamBoxscoreRow], players: &[PlayerBoxscoreRow], version: u64) -> Vec<TeamGameSummaryRow> {
    let by_key: HashMap<(&str, &str), &TeamBoxscoreRow> = teams.iter().map(|t| ((t.game_id.as_str(), t.team.as_str()), t)).collect();
    // Starters/bench sums per team-game: (pts, seconds, fga) for starters and bench.
    type Sums = [(u32, u32, u32); 2];
    let mut split: HashMap<(&str, &str), Sums> = HashMap::new();
    for p in players.iter().filter(|p| p.status == PlayerStatus::Played.as_str()) {
        let entry = split.entry((p.game_id.as_str(), p.team.as_str())).or_default();
        let slot = &mut entry[usize::from(p.starter != 1)];
        slot.0 += u32::from(p.pts);
        slot.1 += p.seconds;
        slot.2 += u32::from(p.fga);
    }
    let mut out = Vec::with_capacity(teams.len());
    for t in teams {
        let Some(opp) = by_key.get(&(t.game_id.as_str(), t.opponent.as_str())) else {
            continue;
        };
        let (tl, ol) = (team_line(t), team_line(opp));
        let poss = summary::possessions(&tl, &ol);
        let [starters, bench] = split.get(&(t.game_id.as_str(), t.team.as_str())).copied().unwrap_or_default();
        let u16_of = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
        out.push(TeamGameSummaryRow {
            game_id: t.game_id.clone(),
            game_date: t.game_date,
            season: t.season,
            season_type: t.season_type.clone(),
            team: t.team.clone(),
            opponent: t.opponent.clone(),
            is_home: t.is_home,
            won: u8::from(t.pts > opp.pts),
            minutes: t.minutes,
            pts: t.pts,
            opp_pts: opp.pts,
            fga: t.fga,
            fta: t.fta,
            tov: t.tov,
            oreb: t.oreb,
            dreb: t.dreb,
            possessions: poss,
            pace: summary::pace(poss, f64::from(t.minutes)),
            off_rtg: summary::rating(f64::from(t.pts), poss),
            def_rtg: summary::rating(f64::from(opp.pts), poss),
            starters_pts: u16_of(starters.0),
            bench_pts: u16_of(bench.0),
            starters_minutes: f64::from(starters.1) / 60.0,
            bench_minutes: f64::from(bench.1) / 60.0,
            starters_fga: u16_of(starters.2),
            bench_fga: u16_of(bench.2),
            starters_pts_per100: summary::rating(f64::from(starters.0), poss),
            bench_pts_per100: summary::rating(f64::from(bench.0), poss),
            version,
        });
    }
    out
}

/// Player summaries; rates need the team's totals, so rows without them are skipped.
pub fn player_summaries(players: &[PlayerBoxscoreRow], teams: &[TeamBoxscoreRow], version: u64) -> Vec<PlayerGameSummaryRow> {
    let by_key: HashMap<(&str, &str), &TeamBoxscoreRow> = teams.iter().map(|t| ((t.game_id.as_str(), t.team.as_str()), t)).collect();
    let mut out = Vec::with_capacity(players.len());
    for p in players {
        let Some(team) = by_key.get(&(p.game_id.as_str(), p.team.as_str())) else {
            continue;
        };
        let (pl, tl) = (player_line(p), team_line(team));
        let minutes = f64::from(p.seconds) / 60.0;
        out.push(PlayerGameSummaryRow {
            game_id: p.game_id.clone(),
            game_date: p.game_date,
            season: p.season,
            season_type: p.season_type.clone(),
            team: p.team.clone(),
            opponent: p.opponent.clone(),
            is_home: p.is_home,
            player_id: p.player_id.clone(),
            player_name: p.player_name.clone(),
            status: p.status.clone(),
            starter: p.starter,
            minutes,
            pts: p.pts,
            fgm: p.fgm,
            fga: p.fga,
            fg3m: p.fg3m,
            fg3a: p.fg3a,
            ftm: p.ftm,
            fta: p.fta,
            oreb: p.oreb,
            dreb: p.dreb,
            reb: p.reb,
            ast: p.ast,
            stl: p.stl,
            blk: p.blk,
            tov: p.tov,
            pf: p.pf,
            plus_minus: p.plus_minus,
            pts_per_min: summary::share(f64::from(p.pts), minutes),
            ts_pct: summary::true_shooting(&pl),
            efg_pct: summary::effective_fg(&pl),
            usg_pct: summary::usage(&pl, &tl, f64::from(team.minutes)),
            ft_rate: summary::ft_rate(&pl),
            fg3_rate: summary::fg3_rate(&pl),
            team_pts_share: summary::share(f64::from(p.pts), f64::from(team.pts)),
            team_min_share: summary::share(f64::from(p.seconds), f64::from(team.minutes) * 60.0),
            team_fga_share: summary::share(f64::from(p.fga), f64::from(team.fga)),
            version,
        });
    }
    out
}
