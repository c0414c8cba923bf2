//! Computes one feature vector, in contract order, from [`History`] and the context of the
//! game (known before tip-off). Used by `nba-ingest build` for every historical row and
//! by the server for the next game, so both produce bit-identical vectors: the inputs are
//! gathered once ([`Inputs`]), each feature of the declared table ([`features`]) is
//! computed from them in f64 (sums in chronological order) and rounded to f32 once.

use crate::contract::{N_FEATURES, features};
use crate::history::History;
use crate::inputs::Inputs;
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
    use crate::contract::Timing;
    use crate::contract::index_of;
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

    /// The declared timing is what the code does: a feature declared pre-game never moves
    /// with the inactive lists, and each request-time feature does for some request. And
    /// every declared feature is computed: each one takes a finite value somewhere.
    #[test]
    fn declared_timing_matches_what_reads_the_inactive_lists() {
        let mut moved = [false; N_FEATURES];
        let mut finite = [false; N_FEATURES];
        let mut rng = Rng::new(7);
        for _ in 0..3 {
            let h = random_history(&mut rng);
            for _ in 0..300 {
                let (player, ctx) = random_request(&mut rng, &h);
                let full = compute(&h, &player, &ctx);
                let bare = compute(&h, &player, &GameContext { team_inactive: vec![], opp_inactive: vec![], ..ctx });
                for (i, f) in features().iter().enumerate() {
                    finite[i] |= full[i].is_finite();
                    if full[i].to_bits() != bare[i].to_bits() {
                        assert_eq!(f.timing, Timing::RequestTime, "{} moved with the inactive lists", f.name);
                        moved[i] = true;
                    }
                }
            }
        }
        for (i, f) in features().iter().enumerate() {
            assert_eq!(moved[i], f.timing == Timing::RequestTime, "{} is declared {:?}", f.name, f.timing);
            assert!(finite[i], "{} is never computed", f.name);
        }
    }
}
