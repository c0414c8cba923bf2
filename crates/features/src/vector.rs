//! Computes one feature vector, in contract order, from [`History`] and the context of the
//! game (known before tip-off). Used by `nba-ingest build` for every historical row and
//! by the server for the next game, so both produce bit-identical vectors: the inputs are
//! gathered once ([`Inputs`]), each feature of the declared table ([`features`]) is
//! computed from them in f64 (sums in chronological order) and rounded to f32 once.

use crate::contract::{N_FEATURES, features};
use crate::history::History;
use crate::inputs::Inputs;
use chrono::NaiveDate;

/// What is known about a game before tip-off. The request-time parts are `None` while
/// not known yet (their features are then NaN): `Some(vec![])` means "known: nobody".
#[derive(Debug, Clone, PartialEq)]
pub struct GameContext {
    pub date: NaiveDate,
    /// Season (year it ends) of the game.
    pub season: u16,
    pub team: String,
    pub opponent: String,
    pub is_home: bool,
    /// The inactive list of the player's team and of the opponent (official list,
    /// injury report or the caller's own).
    pub team_inactive: Option<Vec<String>>,
    pub opp_inactive: Option<Vec<String>>,
    /// The confirmed starting five of the player's team and of the opponent. For past
    /// games the box score's starters (announced before tip-off).
    pub team_starters: Option<Vec<String>>,
    pub opp_starters: Option<Vec<String>>,
}

impl GameContext {
    /// The same game with the inactive lists and lineups unknown: the pre-game view.
    pub fn without_request_time(&self) -> GameContext {
        GameContext { team_inactive: None, opp_inactive: None, team_starters: None, opp_starters: None, ..self.clone() }
    }
}

/// The feature vector of `player_id` for the game described by `ctx`, in contract order.
pub fn compute(h: &History, player_id: &str, ctx: &GameContext) -> [f32; N_FEATURES] {
    let inputs = Inputs::gather(h, player_id, ctx);
    let mut v = [f32::NAN; N_FEATURES];
    for (slot, feature) in v.iter_mut().zip(features()) {
        *slot = feature.value(&inputs) as f32;
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::index_of;
    use crate::contract::{Given, Timing};
    use crate::fixtures::{Rng, ctx, day, history, random_history, random_request, sparse_history};

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
    fn lineup_features_by_hand() {
        let h = history(1.0);
        let lineups = |team: &[&str], opp: &[&str]| GameContext {
            team_starters: Some(team.iter().map(|s| s.to_string()).collect()),
            opp_starters: Some(opp.iter().map(|s| s.to_string()).collect()),
            ..ctx(&[])
        };
        let names = ["starts_tonight", "starts_against_form", "benched_against_form", "team_usual_starters_benched", "opp_usual_starters_benched"];
        let lineup = |player: &str, c: &GameContext| names.map(|n| feature(&compute(&h, player, c), n));
        // p started 1 of his last 5 games (6): starting tonight is against form. AAA has
        // no usual starter (s started games 1-3 and sat out 4-6); BBB's o started all.
        assert_eq!(lineup("p", &lineups(&["p", "r"], &[])), [1.0, 1.0, 0.0, 0.0, 1.0]);
        assert_eq!(lineup("p", &lineups(&["r"], &["o"])), [0.0, 0.0, 0.0, 0.0, 0.0]);
        // s started all of his last played games (1-3): benched tonight is against form.
        assert_eq!(lineup("s", &lineups(&["p"], &["o"])), [0.0, 0.0, 1.0, 0.0, 0.0]);
        assert_eq!(lineup("s", &lineups(&["s"], &["o"])), [1.0, 0.0, 0.0, 0.0, 0.0]);
        // A player without earlier games who starts: fewer than half (none).
        assert_eq!(lineup("x", &lineups(&["x"], &["o"]))[..3], [1.0, 1.0, 0.0]);
        // Unknown lineups: missing, never "nobody starts".
        assert!(lineup("p", &ctx(&[])).iter().all(|v| v.is_nan()));
        let team_only = GameContext { opp_starters: None, ..lineups(&["p"], &[]) };
        assert_eq!(lineup("p", &team_only)[..4], [1.0, 1.0, 0.0, 0.0]);
        assert!(lineup("p", &team_only)[4].is_nan());
    }

    #[test]
    fn unknown_inactive_lists_are_missing_not_nobody_out() {
        let h = history(1.0);
        let unknown = GameContext { team_inactive: None, opp_inactive: None, ..ctx(&[]) };
        let (v, nobody) = (compute(&h, "p", &unknown), compute(&h, "p", &ctx(&[])));
        for name in ["team_regulars_out", "team_out_pts_share", "opp_out_fga_share", "usage_spike_score", "teammates_returning_pts"] {
            assert!(feature(&v, name).is_nan(), "{name}");
            assert!(feature(&nobody, name).is_finite(), "{name}");
        }
        // Only the opponent's list known: his team's side stays missing.
        let opp_only = GameContext { opp_inactive: Some(vec![]), ..unknown };
        let w = compute(&h, "p", &opp_only);
        assert!(feature(&w, "team_regulars_out").is_nan() && feature(&w, "opp_regulars_out") == 0.0);
        assert_eq!(feature(&w, "pts_avg_10").to_bits(), feature(&nobody, "pts_avg_10").to_bits());
    }

    #[test]
    fn team_games_played_counts_only_the_team_s_last_10_games() {
        // AAA plays 12 games; q plays games 1, 2 and 12: only 12 is among the last 10.
        let h = sparse_history();
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

    /// The declared timing is what the code does. For each kind of request-time
    /// information: with it unknown, exactly the features declared to read it are NaN;
    /// with it known, each of them moves with it for some request and no other feature
    /// ever does. And every declared feature is computed: each takes a finite value.
    #[test]
    fn declared_timing_matches_what_reads_the_request_time_information() {
        let mut moved = [false; N_FEATURES];
        let mut finite = [false; N_FEATURES];
        let mut rng = Rng::new(7);
        for _ in 0..3 {
            let h = random_history(&mut rng);
            for _ in 0..400 {
                let (player, ctx) = random_request(&mut rng, &h);
                let full = compute(&h, &player, &ctx);
                for given in Given::ALL {
                    let (without, changed) = match given {
                        Given::InactiveLists => {
                            let known = ctx.team_inactive.is_some() && ctx.opp_inactive.is_some();
                            (GameContext { team_inactive: None, opp_inactive: None, ..ctx.clone() }, known)
                        }
                        Given::Lineups => {
                            let known = ctx.team_starters.is_some() && ctx.opp_starters.is_some();
                            (GameContext { team_starters: None, opp_starters: None, ..ctx.clone() }, known)
                        }
                    };
                    let unknown = compute(&h, &player, &without);
                    for (i, f) in features().iter().enumerate() {
                        let reads = f.timing == Timing::RequestTime(given);
                        assert_eq!(unknown[i].is_nan(), reads || full[i].is_nan(), "{} with the {} unknown", f.name, given.label());
                        if !reads {
                            assert_eq!(unknown[i].to_bits(), full[i].to_bits(), "{} moved with the {}", f.name, given.label());
                        } else if changed && full[i].is_finite() {
                            // Known and "known: nobody" must differ somewhere.
                            let empty = match given {
                                Given::InactiveLists => GameContext { team_inactive: Some(vec![]), opp_inactive: Some(vec![]), ..ctx.clone() },
                                Given::Lineups => GameContext { team_starters: Some(vec![]), opp_starters: Some(vec![]), ..ctx.clone() },
                            };
                            moved[i] |= compute(&h, &player, &empty)[i].to_bits() != full[i].to_bits();
                        }
                    }
                }
                for (i, v) in full.iter().enumerate() {
                    finite[i] |= v.is_finite();
                }
            }
        }
        for (i, f) in features().iter().enumerate() {
            assert_eq!(moved[i], f.timing.is_request_time(), "{} is declared {:?}", f.name, f.timing);
            assert!(finite[i], "{} is never computed", f.name);
        }
    }
}
