//! Game-day states: what is known about a game when a prediction is asked, and how the
//! trainer teaches one model to serve all of them.
//!
//! `player_features` rows are built with the inactive lists and the lineups known (the
//! official list and the box score's starters). On game day the server is often asked
//! before either is published, and then those request-time features are missing (NaN).
//! A model that never saw them missing would route the NaN wherever its trees happen to
//! send it, so the training set holds every row as built (state A, everything known) plus,
//! for a share of the rows, a copy in state B (lineups hidden) and, for another share, a
//! copy in state C (lists and lineups hidden) ([`State`]; hiding = setting to NaN the
//! features the state does not know). Copies rather than replacing rows: each state
//! then learns from the whole history, and state A keeps every lineup it was given.
//! Which rows get a copy is decided by a hash of the row's game and player and a seed
//! ([`row_draw`]), never by an RNG consumed in row order: the same row gets the same
//! copies whatever else is read, and growing a share only adds copies.
//!
//! The shares are chosen on the validation period only (see `train::fit`); the test
//! period is then scored in every state ([`masked`]) and with the lists forced empty
//! ([`lists_forced_empty`]), the server's old behaviour, recomputed from the history.

use crate::TrainError;
use crate::data::FeatureRow;
use nba_features::{GameContext, Given, History, N_FEATURES};
pub use nba_registry::manifest::{GameDayEvaluation, HideShares, Metrics, RowsByState};
use rayon::prelude::*;
use sha2::{Digest, Sha256};

/// What is known about a game when a prediction is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// A: inactive lists and lineups known (about 30 minutes before tip-off).
    ListsAndLineups,
    /// B: lists known (official list or injury report), lineups not yet.
    ListsOnly,
    /// C: nothing known (the morning of the game).
    Nothing,
}

impl State {
    pub const ALL: [State; 3] = [State::ListsAndLineups, State::ListsOnly, State::Nothing];

    pub fn label(self) -> &'static str {
        match self {
            State::ListsAndLineups => "A: lists and lineups known",
            State::ListsOnly => "B: lists known, lineups unknown",
            State::Nothing => "C: lists and lineups unknown",
        }
    }
}

/// The shares `--hide-shares auto` tries (rows copied with the lineups hidden, rows
/// copied with both hidden), on validation. Symmetric: nothing says one game-day state is
/// asked more than the other.
pub const GRID: [HideShares; 3] = [
    HideShares { lineups_hidden: 0.25, both_hidden: 0.25 },
    HideShares { lineups_hidden: 0.5, both_hidden: 0.5 },
    HideShares { lineups_hidden: 1.0, both_hidden: 1.0 },
];

/// `--hide-shares`: `auto` (the validation grid) or a fixed pair `B,C`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HideSharesArg {
    Auto,
    Fixed(HideShares),
}

impl HideSharesArg {
    /// The candidates to train: the grid, or the one fixed pair.
    pub fn candidates(self) -> Vec<HideShares> {
        match self {
            HideSharesArg::Auto => GRID.to_vec(),
            HideSharesArg::Fixed(s) => vec![s],
        }
    }

    pub fn chosen_by(self) -> &'static str {
        match self {
            HideSharesArg::Auto => "validation grid",
            HideSharesArg::Fixed(_) => "fixed",
        }
    }
}

impl std::str::FromStr for HideSharesArg {
    type Err = String;
    /// `auto`, or `B,C`: the share of training rows copied with the lineups hidden and the
    /// share copied with lists and lineups hidden (each in [0, 1]).
    fn from_str(s: &str) -> Result<Self, String> {
        if s.trim().eq_ignore_ascii_case("auto") {
            return Ok(HideSharesArg::Auto);
        }
        let bad = |why: &str| format!("{s:?}: {why} (expected `auto` or two shares like 0.2,0.2: lineups hidden, lists and lineups hidden)");
        let (b, c) = s.split_once(',').ok_or_else(|| bad("no comma"))?;
        let share = |x: &str| x.trim().parse::<f64>().map_err(|_| bad(&format!("{x:?} is not a number")));
        let (b, c) = (share(b)?, share(c)?);
        if !((0.0..=1.0).contains(&b) && (0.0..=1.0).contains(&c)) {
            return Err(bad("each share must be in [0, 1]"));
        }
        Ok(HideSharesArg::Fixed(HideShares { lineups_hidden: b, both_hidden: c }))
    }
}

impl std::fmt::Display for HideSharesArg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HideSharesArg::Auto => write!(f, "auto"),
            HideSharesArg::Fixed(s) => write!(f, "{},{}", s.lineups_hidden, s.both_hidden),
        }
    }
}

/// The test lines of a game-day evaluation, labelled, in the order A, B, C, D, E.
pub fn test_lines(g: &GameDayEvaluation) -> [(&'static str, &Metrics); 5] {
    [
        (State::ListsAndLineups.label(), &g.lists_and_lineups_known),
        (State::ListsOnly.label(), &g.lists_known_lineups_unknown),
        (State::Nothing.label(), &g.nothing_known),
        ("D: lists forced empty, lineups unknown", &g.lists_forced_empty),
        ("E: reference without request-time features", &g.reference_without_request_time),
    ]
}

/// A number in [0, 1) that depends only on the row's game, player and the seed.
/// FNV-1a over the key, then the splitmix64 finaliser with the seed: stable across
/// platforms and releases (unlike `std`'s hasher), and well spread.
pub fn row_draw(game_id: &str, player_id: &str, seed: u64) -> f64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    // 0xff never occurs in UTF-8, so ("ab", "c") and ("a", "bc") differ.
    for b in game_id.bytes().chain([0xff]).chain(player_id.bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    let mut z = h ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

/// The states a training row appears in: always A, plus B when its draw for B is below
/// the B share and C when its (independent) draw for C is below the C share.
pub fn copies_of(draw_b: f64, draw_c: f64, shares: HideShares) -> impl Iterator<Item = State> {
    [Some(State::ListsAndLineups), (draw_b < shares.lineups_hidden).then_some(State::ListsOnly), (draw_c < shares.both_hidden).then_some(State::Nothing)]
        .into_iter()
        .flatten()
}

/// The seed of the C draw: another stream than B's, so the two copies are independent.
const C_DRAW: u64 = 0x5eed_0000_000c;

/// Which states each row is put in.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Hiding {
    /// Training rows: every row in A, plus copies in B and C drawn per row with these
    /// shares and seed.
    Drawn { shares: HideShares, seed: u64 },
    /// Every row in one state (validation and test rows scored in a state; the reference
    /// model, which never sees a request-time feature).
    Every(State),
}

impl Hiding {
    pub fn states(&self, r: &FeatureRow) -> Vec<State> {
        match *self {
            Hiding::Drawn { shares, seed } => {
                let draw = |s: u64| row_draw(&r.game_id, &r.player_id, s);
                copies_of(draw(seed), draw(seed ^ C_DRAW), shares).collect()
            }
            Hiding::Every(state) => vec![state],
        }
    }
}

/// Positions of the request-time features in the vector.
#[derive(Debug, Clone)]
pub struct RequestTimeColumns {
    pub lists: Vec<usize>,
    pub lineups: Vec<usize>,
}

impl RequestTimeColumns {
    pub fn from_contract() -> RequestTimeColumns {
        RequestTimeColumns { lists: nba_features::indices_given(Given::InactiveLists), lineups: nba_features::indices_given(Given::Lineups) }
    }

    /// Every request-time position.
    pub fn all(&self) -> impl Iterator<Item = usize> + '_ {
        self.lists.iter().chain(&self.lineups).copied()
    }

    /// Sets to NaN what `state` does not know.
    pub fn hide(&self, features: &mut [f32], state: State) {
        let hidden: &[&[usize]] = match state {
            State::ListsAndLineups => &[],
            State::ListsOnly => &[&self.lineups],
            State::Nothing => &[&self.lineups, &self.lists],
        };
        for &i in hidden.iter().flat_map(|v| v.iter()) {
            features[i] = f32::NAN;
        }
    }
}

/// Feature rows, row-major, as the booster and the forest take them.
#[derive(Debug, Clone)]
pub struct MaskedRows {
    pub x: Vec<f32>,
    /// For each row of `x`, the position of the input row it copies.
    pub source: Vec<usize>,
}

impl MaskedRows {
    pub fn rows(&self) -> Vec<&[f32]> {
        self.x.chunks_exact(N_FEATURES).collect()
    }

    /// Appends `other`'s rows (stacking the states of one period).
    pub fn extend(&mut self, other: &MaskedRows) {
        self.x.extend_from_slice(&other.x);
        self.source.extend_from_slice(&other.source);
    }

    /// The targets of the rows: `y[k]` for a row copying input row `k`.
    pub fn targets(&self, y: &[f64]) -> Vec<f64> {
        self.source.iter().map(|&k| y[k]).collect()
    }
}

/// The features of `rows`, each row in the state(s) `hiding` says.
pub fn masked<'a>(rows: impl IntoIterator<Item = &'a FeatureRow>, hiding: Hiding, cols: &RequestTimeColumns) -> MaskedRows {
    let (mut x, mut source) = (vec![], vec![]);
    for (k, r) in rows.into_iter().enumerate() {
        for state in hiding.states(r) {
            let start = x.len();
            x.extend_from_slice(&r.features);
            cols.hide(&mut x[start..], state);
            source.push(k);
        }
    }
    MaskedRows { x, source }
}

/// How many of `rows` each state gets, and the sha256 of their states in row order.
pub fn mask_summary<'a>(rows: impl IntoIterator<Item = &'a FeatureRow>, hiding: Hiding) -> (RowsByState, String) {
    let mut n = RowsByState { lists_and_lineups_known: 0, lists_known_lineups_unknown: 0, nothing_known: 0 };
    let mut digest = Sha256::new();
    for r in rows {
        for state in hiding.states(r) {
            match state {
                State::ListsAndLineups => n.lists_and_lineups_known += 1,
                State::ListsOnly => n.lists_known_lineups_unknown += 1,
                State::Nothing => n.nothing_known += 1,
            }
            digest.update([state as u8]);
        }
        digest.update([0xff]);
    }
    (n, hex::encode(digest.finalize()))
}

/// State D of `rows`: the request-time features recomputed from `history` with every
/// inactive list empty ("nobody out") and the lineups unknown, as the server answered
/// before availability could be unknown. The pre-game features are the stored ones; the
/// second value counts the rows whose recomputed pre-game features differ from them (0
/// when the history reproduces the build).
pub fn lists_forced_empty(rows: &[&FeatureRow], history: &History, cols: &RequestTimeColumns) -> Result<(MaskedRows, usize), TrainError> {
    let request_time: Vec<usize> = cols.all().collect();
    let recomputed: Vec<(Vec<f32>, bool)> = rows
        .par_iter()
        .map(|r| {
            let ctx = GameContext {
                date: r.game_date,
                season: r.season,
                team: r.team.clone(),
                opponent: r.opponent.clone(),
                is_home: r.is_home == 1,
                team_inactive: Some(vec![]),
                opp_inactive: Some(vec![]),
                team_starters: None,
                opp_starters: None,
            };
            let v = nba_features::compute(history, &r.player_id, &ctx);
            let mut out = r.features.clone();
            for &i in &request_time {
                out[i] = v[i];
            }
            let same_pre_game = (0..N_FEATURES).filter(|i| !request_time.contains(i)).all(|i| v[i].to_bits() == r.features[i].to_bits());
            (out, same_pre_game)
        })
        .collect();
    if recomputed.is_empty() {
        return Err(TrainError::Data("no test rows to recompute with the inactive lists forced empty".into()));
    }
    let mismatches = recomputed.iter().filter(|(_, same)| !same).count();
    let source = (0..recomputed.len()).collect();
    Ok((MaskedRows { x: recomputed.into_iter().flat_map(|(v, _)| v).collect(), source }, mismatches))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(game: &str, player: &str) -> FeatureRow {
        FeatureRow {
            game_date: "2024-01-01".parse().unwrap(),
            season: 2024,
            game_id: game.into(),
            player_id: player.into(),
            team: "AAA".into(),
            opponent: "BBB".into(),
            is_home: 1,
            contract_hash: String::new(),
            features: (0..N_FEATURES).map(|i| i as f32).collect(),
            target_pts: 0,
        }
    }

    fn keys(n: usize) -> Vec<(String, String)> {
        (0..n).map(|i| (format!("2024{:05}0{}", i / 20, ["BOS", "LAL", "NYK"][i % 3]), format!("player{:02}", i % 20))).collect()
    }

    #[test]
    fn shares_are_respected_on_many_keys() {
        let rows: Vec<FeatureRow> = keys(40_000).iter().map(|(g, p)| row(g, p)).collect();
        for (b, c) in [(0.2, 0.2), (0.05, 0.3), (0.0, 0.0), (0.45, 0.45), (0.0, 1.0), (1.0, 1.0)] {
            let hiding = Hiding::Drawn { shares: HideShares { lineups_hidden: b, both_hidden: c }, seed: 0 };
            let (n, _) = mask_summary(&rows, hiding);
            let share = |k: usize| k as f64 / rows.len() as f64;
            // Every row is kept in state A; binomial standard deviation at 40,000 keys is
            // at most 0.0025.
            assert_eq!(n.lists_and_lineups_known, rows.len());
            assert!((share(n.lists_known_lineups_unknown) - b).abs() < 0.01, "{b},{c}: lineups hidden {}", share(n.lists_known_lineups_unknown));
            assert!((share(n.nothing_known) - c).abs() < 0.01, "{b},{c}: both hidden {}", share(n.nothing_known));
        }
        // The two copies are drawn independently: with shares 0.5, 0.5 about a quarter of
        // the rows get both.
        let hiding = Hiding::Drawn { shares: HideShares { lineups_hidden: 0.5, both_hidden: 0.5 }, seed: 0 };
        let both = rows.iter().filter(|r| hiding.states(r).len() == 3).count() as f64 / rows.len() as f64;
        assert!((both - 0.25).abs() < 0.01, "{both}");
    }

    #[test]
    fn the_draw_is_deterministic_and_depends_on_the_key_and_seed_only() {
        let keys = keys(1000);
        let draws: Vec<f64> = keys.iter().map(|(g, p)| row_draw(g, p, 7)).collect();
        // The same keys in reverse order draw the same numbers.
        let reversed: Vec<f64> = keys.iter().rev().map(|(g, p)| row_draw(g, p, 7)).collect();
        assert!(draws.iter().zip(reversed.iter().rev()).all(|(a, b)| a.to_bits() == b.to_bits()));
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        // Another seed gives other draws; the separator keeps the two ids apart.
        let other = keys.iter().filter(|(g, p)| row_draw(g, p, 8) != row_draw(g, p, 7)).count();
        assert!(other > 990, "{other}");
        assert_ne!(row_draw("ab", "c", 0), row_draw("a", "bc", 0));
        // Pinned (values from an independent Python transcription of FNV-1a + splitmix64):
        // a change of the hash would silently change which rows every model hides.
        let unit = |top53: u64| top53 as f64 / (1u64 << 53) as f64;
        assert_eq!(row_draw("202403010BOS", "tatumja01", 0), unit(1_656_233_190_014_705));
        assert_eq!(row_draw("202403010BOS", "tatumja01", 5), unit(6_314_762_644_218_636));
    }

    #[test]
    fn growing_a_share_only_adds_copies() {
        let small = Hiding::Drawn { shares: HideShares { lineups_hidden: 0.1, both_hidden: 0.1 }, seed: 3 };
        let large = Hiding::Drawn { shares: HideShares { lineups_hidden: 0.3, both_hidden: 0.3 }, seed: 3 };
        for (g, p) in &keys(5000) {
            let r = row(g, p);
            let (s, l) = (small.states(&r), large.states(&r));
            assert!(s.iter().all(|x| l.contains(x)), "{g} {p}: {s:?} then {l:?}");
        }
    }

    #[test]
    fn hiding_sets_exactly_the_state_s_unknown_features_to_nan() {
        let cols = RequestTimeColumns::from_contract();
        assert_eq!((cols.lists.len(), cols.lineups.len()), (10, 5));
        let r = row("g", "p");
        for state in State::ALL {
            let m = masked([&r], Hiding::Every(state), &cols);
            for (i, v) in m.x.iter().enumerate() {
                let hidden = match state {
                    State::ListsAndLineups => false,
                    State::ListsOnly => cols.lineups.contains(&i),
                    State::Nothing => cols.lineups.contains(&i) || cols.lists.contains(&i),
                };
                assert_eq!(v.is_nan(), hidden, "{} feature {i}", state.label());
            }
        }
        // Drawn hiding gives each row its copies, and the digest follows them.
        let rows: Vec<FeatureRow> = keys(300).iter().map(|(g, p)| row(g, p)).collect();
        let hiding = Hiding::Drawn { shares: HideShares { lineups_hidden: 0.3, both_hidden: 0.3 }, seed: 1 };
        let (n, digest) = mask_summary(&rows, hiding);
        assert_eq!(n.lists_and_lineups_known, 300);
        assert!(n.lists_known_lineups_unknown > 50 && n.nothing_known > 50);
        assert_eq!(mask_summary(&rows, hiding).1, digest);
        assert_ne!(mask_summary(&rows, Hiding::Drawn { shares: HideShares { lineups_hidden: 0.3, both_hidden: 0.3 }, seed: 2 }).1, digest);
        let m = masked(&rows, hiding, &cols);
        let nan_rows = m.rows().iter().filter(|x| x[cols.lists[0]].is_nan()).count();
        assert_eq!(nan_rows, n.nothing_known);
        let lineup_nan_rows = m.rows().iter().filter(|x| x[cols.lineups[0]].is_nan()).count();
        assert_eq!(lineup_nan_rows, n.nothing_known + n.lists_known_lineups_unknown);
        // Each copy's target is its row's.
        assert_eq!(m.source.len(), 300 + n.lists_known_lineups_unknown + n.nothing_known);
        let y: Vec<f64> = (0..300).map(f64::from).collect();
        assert!(m.targets(&y).iter().zip(&m.source).all(|(t, &k)| *t == k as f64));
    }

    #[test]
    fn hide_shares_parse() {
        assert_eq!("auto".parse::<HideSharesArg>().unwrap(), HideSharesArg::Auto);
        assert_eq!("0.2, 0.3".parse::<HideSharesArg>().unwrap(), HideSharesArg::Fixed(HideShares { lineups_hidden: 0.2, both_hidden: 0.3 }));
        assert_eq!("0,0".parse::<HideSharesArg>().unwrap().to_string(), "0,0");
        assert_eq!("1,1".parse::<HideSharesArg>().unwrap(), HideSharesArg::Fixed(HideShares { lineups_hidden: 1.0, both_hidden: 1.0 }));
        for bad in ["", "0.2", "-0.1,0.2", "x,0.1", "0.1,1.5", "NaN,0"] {
            let e = bad.parse::<HideSharesArg>().unwrap_err();
            assert!(e.contains("auto"), "{bad}: {e}");
        }
    }
}
