//! The GBM on synthetic data with known answers.

use super::*;

/// Deterministic pseudo-random rows: `n` rows of `f` features in [0, 1), with NaN at rate
/// `nan` in every feature.
fn rows(n: usize, f: usize, nan: f64, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed);
    (0..n).map(|_| (0..f).map(|_| if rng.f64() < nan { f32::NAN } else { rng.f64() as f32 }).collect()).collect()
}

fn refs(rows: &[Vec<f32>]) -> Vec<&[f32]> {
    rows.iter().map(|r| &r[..]).collect()
}

fn quick(objective: Objective) -> Params {
    Params { objective, iterations: 200, learning_rate: 0.1, max_depth: 4, max_leaves: 16, min_leaf_weight: 5.0, threads: 2, ..Params::default() }
}

fn mae(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64
}

/// The signal both models should find: a step and a slope (a missing value counts 0).
fn signal(r: &[f32]) -> f64 {
    let v = |x: f32| if x.is_nan() { 0.0 } else { x as f64 };
    let (a, b) = (v(r[0]), v(r[1]));
    10.0 * f64::from(u8::from(a > 0.5)) + 5.0 * b
}

/// Skewed heavy-tailed noise: mostly small, sometimes a large positive jump. The
/// conditional median stays near the signal; the mean moves up by several points.
fn noisy(x: &[Vec<f32>], seed: u64) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    x.iter()
        .map(|r| {
            let small = rng.f64() - 0.5;
            let jump = if rng.f64() < 0.25 { 20.0 + 60.0 * rng.f64() } else { 0.0 };
            signal(r) + small + jump
        })
        .collect()
}

#[test]
fn absolute_error_recovers_the_median_under_heavy_tailed_noise() {
    let (x, vx, tx) = (rows(4000, 3, 0.0, 1), rows(1000, 3, 0.0, 2), rows(2000, 3, 0.0, 3));
    let (y, vy, ty) = (noisy(&x, 11), noisy(&vx, 12), noisy(&tx, 13));
    let truth: Vec<f64> = tx.iter().map(|r| signal(r)).collect();
    let fit_with = |o| fit(&quick(o), &refs(&x), &y, Some((&refs(&vx), &vy[..])), 3, &mut |_| {}).unwrap();
    let (l1, l2) = (fit_with(Objective::AbsoluteError), fit_with(Objective::SquaredError));
    let (p1, p2) = (l1.predict(&refs(&tx)), l2.predict(&refs(&tx)));
    // L1 tracks the signal (the median); L2 sits near the mean, several points above.
    let (d1, d2) = (mae(&p1, &truth), mae(&p2, &truth));
    assert!(d1 < 1.0, "L1 is {d1} from the median");
    assert!(d2 > 3.0 * d1, "L2 {d2} vs L1 {d1}");
    // And so L1 has the lower MAE on fresh noisy targets.
    let (m1, m2) = (mae(&p1, &ty), mae(&p2, &ty));
    assert!(m1 < m2, "test MAE L1 {m1} vs L2 {m2}");
    assert_eq!(l1.objective, Objective::AbsoluteError);
}

#[test]
fn squared_error_fits_the_mean() {
    let x = rows(3000, 3, 0.0, 5);
    let y: Vec<f64> = x.iter().map(|r| signal(r)).collect();
    let b = fit(&Params { iterations: 300, ..quick(Objective::SquaredError) }, &refs(&x), &y, None, 3, &mut |_| {}).unwrap();
    assert_eq!(b.trees.len(), 300, "no validation rows: every tree is kept");
    assert!(mae(&b.predict(&refs(&x)), &y) < 0.3);
}

#[test]
fn early_stopping_stops_and_keeps_the_best_trees() {
    // Pure noise: nothing generalises, so validation loss stops improving early.
    let (x, vx) = (rows(2000, 4, 0.0, 7), rows(500, 4, 0.0, 8));
    let mut rng = Rng::new(9);
    let y: Vec<f64> = x.iter().map(|_| rng.f64() * 10.0).collect();
    let vy: Vec<f64> = vx.iter().map(|_| rng.f64() * 10.0).collect();
    let p = Params { iterations: 1000, early_stopping_rounds: 15, ..quick(Objective::SquaredError) };
    let mut seen = 0;
    let b = fit(&p, &refs(&x), &y, Some((&refs(&vx), &vy[..])), 4, &mut |pr| seen = pr.trees).unwrap();
    assert!(b.trees_grown < 1000, "grew all {}", b.trees_grown);
    assert_eq!(seen, b.trees_grown);
    assert_eq!(b.trees.len() + 15, b.trees_grown);
    assert_eq!(b.valid_history.len(), b.trees_grown);
    let best = b.valid_history.iter().copied().fold(f64::INFINITY, f64::min);
    assert_eq!(b.valid_history[b.trees.len() - 1], best);
}

#[test]
fn missing_values_learn_their_direction() {
    // Feature 0: below 0.5 -> 0, above -> 10; missing rows score like one side or the
    // other. The tree must send NaN to the matching side.
    for (nan_target, want) in [(10.0, 10.0f32), (0.0, 0.0)] {
        let x = rows(2000, 2, 0.2, 21);
        let y: Vec<f64> = x
            .iter()
            .map(|r| {
                if r[0].is_nan() {
                    nan_target
                } else if r[0] > 0.5 {
                    10.0
                } else {
                    0.0
                }
            })
            .collect();
        let p = Params { iterations: 50, learning_rate: 0.5, max_depth: 1, max_leaves: 2, l2: 0.0, ..quick(Objective::SquaredError) };
        let b = fit(&p, &refs(&x), &y, None, 2, &mut |_| {}).unwrap();
        let s = b.trees[0].nodes[0].split.expect("the root splits");
        assert_eq!(s.feature, 0);
        assert_eq!(s.missing_left, nan_target == 0.0, "NaN rows go with the {nan_target} side");
        let f = b.to_forest().unwrap();
        let got = f.predict_row(&[f32::NAN, 0.3]).unwrap();
        // (Quantile bins put a few rows near 0.5 on the other side: not exactly `want`.)
        assert!((got - want).abs() < 0.2, "NaN row scored {got}, want {want}");
    }
}

#[test]
fn forest_equals_the_booster_everywhere() {
    let x = rows(3000, 5, 0.1, 31);
    let y: Vec<f64> = noisy(&x, 32).iter().zip(&x).map(|(v, r)| v + if r[4].is_nan() { 7.0 } else { r[4] as f64 * 3.0 }).collect();
    let vx = rows(500, 5, 0.1, 33);
    let vy = noisy(&vx, 34);
    for objective in [Objective::AbsoluteError, Objective::SquaredError] {
        let p = Params { subsample: 0.7, colsample_bytree: 0.6, nbins: 32, l1: 0.5, ..quick(objective) };
        let b = fit(&p, &refs(&x), &y, Some((&refs(&vx), &vy[..])), 5, &mut |_| {}).unwrap();
        let f = b.to_forest().unwrap();
        assert_eq!(f.n_trees(), b.trees.len());
        assert!(f.n_trees() > 5);
        // Raw f32 traversal equals the binned traversal used during training.
        let m = bins::BinMapper::fit(&refs(&x), 5, 32);
        let xb = m.transform(&refs(&x));
        for t in &b.trees {
            for (r, row) in x.iter().enumerate() {
                assert_eq!(t.value(row), t.value_binned(&xb, r));
            }
        }
        for r in x.iter().chain(&vx) {
            assert_eq!(f.predict_row(r).unwrap(), b.predict_row(r) as f32);
        }
        // Values on and one ulp below each threshold go the same way.
        for node in f.nodes.iter().filter(|n| n.branch.is_some()) {
            for v in [node.threshold, f32::from_bits(node.threshold.to_bits() - 1), f32::NAN] {
                let mut row = vec![0.5f32; 5];
                row[node.feature as usize] = v;
                assert_eq!(f.predict_row(&row).unwrap(), b.predict_row(&row) as f32);
            }
        }
        // The same seed gives the same model; gain is recorded per feature.
        let again = fit(&p, &refs(&x), &y, Some((&refs(&vx), &vy[..])), 5, &mut |_| {}).unwrap();
        assert_eq!(again.trees, b.trees);
        let gain = b.feature_gain();
        assert!(gain[0] > gain[2] && gain[0] > gain[3], "{gain:?}");
    }
}

#[test]
fn bad_input_is_refused() {
    let x = rows(10, 2, 0.0, 1);
    let y = vec![1.0; 10];
    let mut bad_y = y.clone();
    bad_y[3] = f64::NAN;
    let e = fit(&quick(Objective::AbsoluteError), &refs(&x), &bad_y, None, 2, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("row 3") && e.contains("non-finite"), "{e}");
    let mut bad_x = x.clone();
    bad_x[4][1] = f32::INFINITY;
    let e = fit(&quick(Objective::AbsoluteError), &refs(&bad_x), &y, None, 2, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("row 4") && e.contains("feature 1"), "{e}");
    let e = fit(&quick(Objective::AbsoluteError), &refs(&x), &y, None, 3, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("expected 3"), "{e}");
    let e = fit(&Params { nbins: 300, ..quick(Objective::AbsoluteError) }, &refs(&x), &y, None, 2, &mut |_| {}).unwrap_err().to_string();
    assert!(e.contains("bins"), "{e}");
    assert!(fit(&quick(Objective::AbsoluteError), &[], &[], None, 2, &mut |_| {}).is_err());
    assert!("huber".parse::<Objective>().is_err());
    assert_eq!("absolute_error".parse::<Objective>().unwrap().to_string(), "absolute_error");
}

#[test]
fn median_of_even_and_odd() {
    assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
    assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    assert_eq!(median(&mut []), 0.0);
}

#[test]
fn bagged_forest_is_the_average_of_its_members_and_exports_exactly() {
    let x = rows(3000, 5, 0.1, 41);
    let y: Vec<f64> = noisy(&x, 42).iter().zip(&x).map(|(v, r)| v + if r[4].is_nan() { 7.0 } else { r[4] as f64 * 3.0 }).collect();
    let (vx, tx) = (rows(500, 5, 0.1, 43), rows(800, 5, 0.1, 45));
    let vy = noisy(&vx, 44);
    let truth: Vec<f64> = tx.iter().map(|r| signal(r)).collect();
    for objective in [Objective::AbsoluteError, Objective::SquaredError] {
        let p = Params { subsample: 0.7, colsample_bytree: 0.6, nbins: 32, seed: 5, ..quick(objective) };
        let mut calls = [0usize; 3];
        let members = fit_bag(&p, 3, &refs(&x), &y, Some((&refs(&vx), &vy[..])), 5, &mut |k, pr| calls[k] = pr.trees).unwrap();
        assert_eq!(members.len(), 3);
        // Member k is the plain fit with seed + k, early-stopped on its own.
        for (k, m) in members.iter().enumerate() {
            let alone = fit(&Params { seed: member_seed(5, k), ..p.clone() }, &refs(&x), &y, Some((&refs(&vx), &vy[..])), 5, &mut |_| {}).unwrap();
            assert_eq!(m.trees, alone.trees);
            assert_eq!(calls[k], m.trees_grown);
        }
        // The seeds make the members differ.
        assert_ne!(members[0].trees, members[1].trees);
        assert_ne!(members[1].trees, members[2].trees);

        let bag = average(&members).unwrap();
        assert_eq!(bag.trees.len(), members.iter().map(|m| m.trees.len()).sum::<usize>());
        assert_eq!(bag.trees_grown, members.iter().map(|m| m.trees_grown).sum::<usize>());
        let mean_base = members.iter().map(|m| m.base as f64).sum::<f64>() / 3.0;
        assert!((bag.base as f64 - mean_base).abs() < 1e-5);
        // Its prediction is the members' mean (up to the f32 rounding of scaled leaves).
        for r in x.iter().chain(&vx).chain(&tx) {
            let mean = members.iter().map(|m| m.predict_row(r)).sum::<f64>() / 3.0;
            let got = bag.predict_row(r);
            assert!((got - mean).abs() < 1e-4, "bag {got} vs mean of members {mean}");
        }
        // Absolute error is convex: the average is never farther from the truth on
        // average than the members are.
        let member_mae: f64 = members.iter().map(|m| mae(&m.predict(&refs(&tx)), &truth)).sum::<f64>() / 3.0;
        let bag_mae = mae(&bag.predict(&refs(&tx)), &truth);
        assert!(bag_mae <= member_mae + 1e-6, "bag {bag_mae} vs members {member_mae}");

        // The shipped forest is this booster, bit for bit, and so is its ONNX file.
        let f = bag.to_forest().unwrap();
        assert_eq!(f.n_trees(), bag.trees.len());
        let bytes = nba_model::onnx::to_onnx_bytes(&f, "bag test").unwrap();
        let back = nba_model::onnx::forest_from_bytes(&bytes, 5).unwrap();
        let mut probes: Vec<Vec<f32>> = x.iter().chain(&vx).chain(&tx).cloned().collect();
        for node in f.nodes.iter().filter(|n| n.branch.is_some()) {
            for v in [node.threshold, f32::from_bits(node.threshold.to_bits() - 1), f32::NAN] {
                let mut row = vec![0.5f32; 5];
                row[node.feature as usize] = v;
                probes.push(row);
            }
        }
        for r in &probes {
            let want = bag.predict_row(r) as f32;
            assert_eq!(f.predict_row(r).unwrap(), want);
            assert_eq!(back.predict_row(r).unwrap(), want);
        }
        let tract = nba_model::onnx::OnnxModel::load(&bytes, 5).unwrap();
        let flat: Vec<f32> = probes.iter().flatten().copied().collect();
        let got = tract.predict(&flat).unwrap();
        for (g, r) in got.iter().zip(&probes) {
            assert!((g - bag.predict_row(r) as f32).abs() <= 1e-4, "tract {g} vs {}", bag.predict_row(r));
        }
    }
}

#[test]
fn a_bag_of_one_is_the_plain_model() {
    let x = rows(1500, 3, 0.05, 51);
    let y = noisy(&x, 52);
    let p = quick(Objective::AbsoluteError);
    let plain = fit(&p, &refs(&x), &y, None, 3, &mut |_| {}).unwrap();
    let one = average(&fit_bag(&p, 1, &refs(&x), &y, None, 3, &mut |_, _| {}).unwrap()).unwrap();
    assert_eq!(one.trees, plain.trees);
    assert_eq!(one.base, plain.base);
    assert_eq!(member_seed(7, 0), 7);
}

#[test]
fn averaging_refuses_nothing_and_mismatched_boosters() {
    assert!(average(&[]).is_err());
    let x = rows(500, 3, 0.0, 61);
    let y = noisy(&x, 62);
    let a = fit(&Params { iterations: 5, ..quick(Objective::AbsoluteError) }, &refs(&x), &y, None, 3, &mut |_| {}).unwrap();
    let b = fit(&Params { iterations: 5, ..quick(Objective::SquaredError) }, &refs(&x), &y, None, 3, &mut |_| {}).unwrap();
    let e = average(&[a, b]).unwrap_err().to_string();
    assert!(e.contains("absolute_error") && e.contains("squared_error"), "{e}");
}
