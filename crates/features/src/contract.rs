//! The feature contract: the ordered feature names, what each means, a version and a
//! hash of the list. Trainer, server and the `player_features` table all use this list;
//! a model records the version and hash it was trained with and the server refuses a
//! model whose contract differs.
//!
//! Every feature of a game G uses only games dated strictly before G's date, plus the
//! official inactive list of G (published before tip-off). "Did Not Play" is never used:
//! it is a coach's decision made during the game.

use sha2::{Digest, Sha256};

/// Bumped whenever a name, order or definition changes.
pub const FEATURE_VERSION: u32 = 3;

/// Windows of played games for rolling means.
pub const WINDOWS: [usize; 4] = [3, 5, 10, 20];

/// Per-game stats averaged over the windows and season to date, in this order.
pub const ROLLING_STATS: [(&str, &str); 7] = [
    ("pts", "points"),
    ("min", "minutes played"),
    ("fga", "field-goal attempts"),
    ("fg3a", "three-point attempts"),
    ("fta", "free-throw attempts"),
    ("usg", "usage rate (percent of team plays used while on the floor), minutes-weighted over the window"),
    ("ppm", "points per minute (sum of points / sum of minutes over the window)"),
];

/// One feature: its column name and its definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureDef {
    pub name: String,
    pub definition: String,
}

/// The remaining features after the rolling block, in order.
const OTHER_FEATURES: &[(&str, &str)] = &[
    ("pts_std_10", "population standard deviation of points over the last 10 played games (NaN below 2 games)"),
    ("pts_ewm", "exponentially weighted mean of points over the last 30 played games, alpha 0.2, oldest first"),
    ("min_ewm", "exponentially weighted mean of minutes, as pts_ewm"),
    ("games_played_season", "played games this season before this game"),
    ("games_played_total", "played games in the data before this game (all seasons)"),
    ("starter_share_5", "share of the last 5 played games the player started"),
    ("player_rest_days", "days since the player's last played game, capped at 30 (NaN if none)"),
    ("team_rest_days", "days since his team's previous game, capped at 10 (NaN if none)"),
    ("back_to_back", "1 when the team played the day before"),
    ("team_games_last_7", "team games in the 7 days before this game"),
    ("is_home", "1 at home, 0 away"),
    ("team_pace_10", "team's mean pace (possessions per 48 minutes) over its last 10 games"),
    ("team_ortg_10", "team's mean offensive rating (points per 100 possessions) over its last 10 games"),
    ("team_drtg_10", "team's mean defensive rating (points allowed per 100 possessions) over its last 10 games"),
    ("opp_pace_10", "opponent's mean pace over its last 10 games"),
    ("opp_ortg_10", "opponent's mean offensive rating over its last 10 games"),
    ("opp_drtg_10", "opponent's mean defensive rating over its last 10 games"),
    ("opp_pts_allowed_10", "mean points the opponent allowed over its last 10 games"),
    ("team_regulars_out", "teammates on tonight's inactive list who are regulars (played in 3+ of the team's last 10 games, 15+ minutes on average)"),
    ("team_out_pts_share", "sum over tonight's inactive teammates of their share of the team's points in its last 10 games"),
    ("team_out_min_share", "same, share of the team's minutes"),
    ("team_out_fga_share", "same, share of the team's field-goal attempts"),
    ("opp_regulars_out", "team_regulars_out for the opponent"),
    ("opp_out_pts_share", "team_out_pts_share for the opponent"),
    ("opp_out_min_share", "team_out_min_share for the opponent"),
    ("opp_out_fga_share", "team_out_fga_share for the opponent"),
    ("fatigue_score", "back_to_back + 0.5 * max(0, team_games_last_7 - 3) - 0.5 * (team_rest_days >= 3)"),
    ("pace_score", "((team_pace_10 + opp_pace_10) / 2) / league pace over the league's last 200 team-games"),
    ("usage_spike_score", "(usg_avg_3 - usg_avg_20) + usg_avg_10 * team_out_fga_share"),
    ("matchup_score", "pts_avg_10 * opp_drtg_10 / league offensive rating over the league's last 200 team-games"),
    // Version 2.
    ("pts_median_10", "median points over the last 10 played games (mean of the two middle values when even; NaN if none)"),
    ("started_last", "1 when the player started his last played game, else 0 (NaN if none)"),
    ("pts_share_10", "his points over his last 10 played games / his teams' points in those games (NaN if none)"),
    (
        "teammates_returning_pts",
        "teammates' scoring available tonight minus that beside him in his recent games: a teammate is a player other than him \
         who played for his team in its last 20 games and whose latest earlier game was with it, his level the mean of his points \
         in those games he played; tonight = sum of the levels of teammates not on tonight's inactive list; recent = mean, over the \
         player's last 5 played games among the team's last 20, of the sum of the levels of teammates who played in that game; \
         tonight - recent (NaN without such a game)",
    ),
    // Version 3.
    ("pts_last", "points in his last played game (NaN if none)"),
    ("min_last", "minutes in his last played game (NaN if none)"),
    ("team_games_played_10", "of his team's last 10 games (tonight's team, all seasons), the number in which he played for it (0 if none)"),
];

/// The ordered feature list.
pub fn features() -> Vec<FeatureDef> {
    let mut out = Vec::new();
    for (stat, what) in ROLLING_STATS {
        for w in WINDOWS {
            out.push(FeatureDef {
                name: format!("{stat}_avg_{w}"),
                definition: format!("mean {what} over the last {w} played games (fewer if fewer; NaN if none)"),
            });
        }
        out.push(FeatureDef { name: format!("{stat}_avg_season"), definition: format!("mean {what} over this season's played games so far (NaN if none)") });
    }
    for (name, definition) in OTHER_FEATURES {
        out.push(FeatureDef { name: name.to_string(), definition: definition.to_string() });
    }
    out
}

/// Number of features.
pub const N_FEATURES: usize = ROLLING_STATS.len() * (WINDOWS.len() + 1) + OTHER_FEATURES.len();

/// The ordered names.
pub fn feature_names() -> Vec<String> {
    features().into_iter().map(|f| f.name).collect()
}

/// Hex sha256 of the version and the ordered names, one per line: what a model records.
/// Computed once: the builder stamps it on every row.
pub fn contract_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(compute_hash).clone()
}

fn compute_hash() -> String {
    let mut h = Sha256::new();
    h.update(format!("nba-features v{FEATURE_VERSION}\n"));
    for name in feature_names() {
        h.update(name.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())
}

/// Index of a feature by name.
pub fn index_of(name: &str) -> Option<usize> {
    feature_names().iter().position(|n| n == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_counted() {
        let names = feature_names();
        assert_eq!(names.len(), N_FEATURES);
        let mut sorted = names.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
        assert_eq!(names[0], "pts_avg_3");
        assert_eq!(names[4], "pts_avg_season");
        assert!(names.iter().all(|n| n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')));
    }

    #[test]
    fn hash_is_stable_and_sensitive_to_order() {
        assert_eq!(contract_hash(), contract_hash());
        assert_eq!(contract_hash().len(), 64);
        // The target is never a feature, and neither is anything from the game itself.
        for forbidden in ["pts", "min", "seconds", "status", "did_not_play", "plus_minus"] {
            assert!(index_of(forbidden).is_none(), "{forbidden}");
        }
    }
}
