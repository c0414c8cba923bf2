//! Game-day states on real data: the manifest carries states A-D and the reference on
//! the same scored rows; state C is what the shipped file scores with every request-time
//! feature missing; D (lists forced empty, recomputed) differs from A and C; the shares
//! are the validation grid's choice and the test period cannot move them; hiding is
//! deterministic.

use crate::util::*;
use nba_model::onnx::OnnxModel;
use nba_trainer::eval::{EvaluationColumns, Metrics};
use nba_trainer::game_day::{GRID, HideShares, RequestTimeColumns};
use nba_trainer::manifest::{GameDayEvaluation, Manifest};
use nba_trainer::registry::{MODEL_FILE, Registry};

fn game_day(m: &Manifest) -> &GameDayEvaluation {
    m.game_day.as_ref().expect("the manifest has the game-day evaluation")
}

#[tokio::test]
async fn every_state_and_the_reference_on_the_same_scored_rows() {
    let store = season_store().await;
    let dir = tempfile::tempdir().unwrap();
    let m = nba_trainer::train(&args(store, &[]), dir.path()).await.unwrap().manifest;
    let g = game_day(&m);

    // The same scored rows for A, B, C, D, E and the baselines; A is the headline line.
    let scored = m.metrics.scored.model.rows;
    assert!(scored > 1000, "{scored}");
    for (state, x) in nba_trainer::game_day::test_lines(g) {
        assert_eq!(x.rows, scored, "{state}");
        assert!(x.mae.is_finite() && x.mae > 2.0, "{state}: {x:?}");
    }
    assert_eq!(g.baselines, m.metrics.scored.baselines);
    assert_eq!(g.lists_and_lineups_known, m.metrics.scored.model);

    // The grid is recorded and the shipped shares are its argmin (validation only).
    assert_eq!(g.chosen_by, "validation grid");
    assert_eq!(g.grid.iter().map(|c| c.shares).collect::<Vec<_>>(), GRID.to_vec());
    let best = g.grid.iter().min_by(|a, b| a.validation.mean.total_cmp(&b.validation.mean)).unwrap();
    assert_eq!(g.hide_shares, best.shares);
    for c in &g.grid {
        let v = c.validation;
        let mean = (v.lists_and_lineups_known + v.lists_known_lineups_unknown + v.nothing_known) / 3.0;
        assert!((v.mean - mean).abs() < 1e-12 && v.mean.is_finite(), "{c:?}");
    }
    // Every training row is trained as built, and copied into states B and C about as
    // the shares say.
    let n = g.train_rows;
    let rows = m.split.train.rows as f64;
    assert_eq!(n.lists_and_lineups_known, m.split.train.rows);
    assert!((n.nothing_known as f64 / rows - g.hide_shares.both_hidden).abs() < 0.02, "{n:?}");
    assert!((n.lists_known_lineups_unknown as f64 / rows - g.hide_shares.lineups_hidden).abs() < 0.02, "{n:?}");

    // The history reproduces every scored row's pre-game features (train/serve parity),
    // so D differs from A only by its request-time features.
    assert_eq!(g.recomputed_pre_game_mismatches, 0);
    assert_ne!(g.lists_forced_empty.mae, g.lists_and_lineups_known.mae);
    assert_ne!(g.lists_forced_empty.mae, g.nothing_known.mae);
    assert!(g.reference_trees >= 1);

    // Independently: the exported file scores the scored test rows with every
    // request-time feature NaN as the manifest's state C, and with only the lineups NaN
    // as state B (tract against the forest: 1e-4 per row).
    let rows = nba_trainer::data::read_played(store).await.unwrap();
    let eval_cols = EvaluationColumns::from_contract();
    let test: Vec<_> = rows
        .iter()
        .filter(|r| r.game_date >= "2024-03-01".parse().unwrap() && r.game_date <= "2024-03-31".parse().unwrap() && eval_cols.scored(&r.features))
        .collect();
    assert_eq!(test.len(), scored);
    let onnx = std::fs::read(Registry::new(dir.path()).version_dir(&m.version).join(MODEL_FILE)).unwrap();
    let model = OnnxModel::load(&onnx, nba_features::N_FEATURES).unwrap();
    let cols = RequestTimeColumns::from_contract();
    let actual: Vec<f64> = test.iter().map(|r| r.target_pts as f64).collect();
    let mae_with_nan = |positions: &[usize]| {
        let x: Vec<f32> = test
            .iter()
            .flat_map(|r| {
                let mut f = r.features.clone();
                positions.iter().for_each(|&i| f[i] = f32::NAN);
                f
            })
            .collect();
        let pred: Vec<f64> = model.predict(&x).unwrap().into_iter().map(f64::from).collect();
        Metrics::of(&pred, &actual)
    };
    let all: Vec<usize> = cols.all().collect();
    let c = mae_with_nan(&all);
    assert!((c.mae - g.nothing_known.mae).abs() < 1e-4, "{c:?} vs {:?}", g.nothing_known);
    let b = mae_with_nan(&cols.lineups);
    assert!((b.mae - g.lists_known_lineups_unknown.mae).abs() < 1e-4, "{b:?} vs {:?}", g.lists_known_lineups_unknown);
    assert_ne!(b.mae, c.mae);

    // The report shows the states and the grid.
    let report = std::fs::read_to_string(Registry::new(dir.path()).version_dir(&m.version).join("report.md")).unwrap();
    for want in ["## Game-day states", "D: lists forced empty", "E: reference without request-time features", "Hide-share grid", "**chosen**"] {
        assert!(report.contains(want), "report lacks {want:?}:\n{report}");
    }
    assert!(report.contains(&format!("| {scored} | {:.4} |", g.nothing_known.mae)), "{report}");
}

/// The test period never chooses: changing only the test rows leaves the grid, the
/// choice and the masks unchanged; and the same run twice hides the same rows.
#[tokio::test]
async fn shares_are_chosen_on_validation_and_hiding_is_deterministic() {
    let store = season_store().await;
    let dir = tempfile::tempdir().unwrap();
    let a = nba_trainer::train(&args(store, &[]), dir.path()).await.unwrap().manifest;
    let b = nba_trainer::train(&args(store, &["--test", "2024-03-08..2024-03-20"]), dir.path()).await.unwrap().manifest;
    assert_ne!(a.split.test.rows, b.split.test.rows);
    let (ga, gb) = (game_day(&a), game_day(&b));
    assert_eq!(ga.grid, gb.grid, "the grid reads no test row");
    assert_eq!(ga.hide_shares, gb.hide_shares);
    assert_eq!((ga.train_rows, &ga.mask_digest), (gb.train_rows, &gb.mask_digest));
    assert_eq!(a.model_sha256, b.model_sha256, "same rows, same masks, same seed: the same model");

    // A fixed pair trains one candidate, with other masks.
    let fixed = nba_trainer::train(&args(store, &["--hide-shares", "0.25,0.15"]), dir.path()).await.unwrap().manifest;
    let gf = game_day(&fixed);
    assert_eq!(gf.chosen_by, "fixed");
    assert_eq!(gf.hide_shares, HideShares { lineups_hidden: 0.25, both_hidden: 0.15 });
    assert_eq!(gf.grid.len(), 1);
    assert_eq!(gf.grid[0].shares, gf.hide_shares);
    assert_ne!(gf.mask_digest, ga.mask_digest);
    assert_eq!(gf.train_rows.lists_and_lineups_known, ga.train_rows.lists_and_lineups_known);
    // Every grid share is above 0.15: fewer copies in C.
    assert!(GRID.iter().all(|s| s.both_hidden > 0.15));
    assert!(gf.train_rows.nothing_known < ga.train_rows.nothing_known, "{:?} {:?}", gf.train_rows, ga.train_rows);
}
