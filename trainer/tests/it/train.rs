//! Training on real data: the saved version, tract agreement, identical evaluation rows,
//! the gate and the registry commands.

use crate::util::*;
use nba_model::onnx::OnnxModel;
use nba_trainer::registry::{MANIFEST_FILE, MODEL_FILE, Registry};
use sha2::{Digest, Sha256};

#[tokio::test]
async fn trains_exports_and_evaluates_on_identical_rows() {
    let store = season_store().await;
    let dir = tempfile::tempdir().unwrap();
    let a = args(store, &[]);
    let out = nba_trainer::train(&a, dir.path()).await.unwrap();
    let m = &out.manifest;
    assert!(!out.promoted && out.refused.is_none());

    // The version on disk is complete and matches its manifest.
    let reg = Registry::new(dir.path());
    assert_eq!(reg.list().unwrap(), vec![m.version.clone()]);
    let vdir = reg.version_dir(&m.version);
    let onnx = std::fs::read(vdir.join(MODEL_FILE)).unwrap();
    assert_eq!(hex::encode(Sha256::digest(&onnx)), m.model_sha256);
    let on_disk: nba_trainer::manifest::Manifest = serde_json::from_slice(&std::fs::read(vdir.join(MANIFEST_FILE)).unwrap()).unwrap();
    assert_eq!(&on_disk, m);
    assert_eq!(m.feature_names, nba_features::feature_names());
    assert_eq!(m.contract_hash, nba_features::contract_hash());
    assert!(m.hyper_parameters.trees_used >= 1 && m.hyper_parameters.trees_used <= 40);
    assert!(m.onnx_max_abs_diff <= 1e-4);

    // Row counts are those of the database.
    let db = store.database();
    let count = |from: &str, to: &str| format!("SELECT count() FROM {db}.player_features FINAL WHERE status = 'Played' AND game_date BETWEEN '{from}' AND '{to}'");
    assert_eq!(m.split.train.rows as u64, scalar(store, &count("2023-10-01", "2024-01-31")).await);
    assert_eq!(m.split.validation.rows as u64, scalar(store, &count("2024-02-01", "2024-02-29")).await);
    assert_eq!(m.split.test.rows as u64, scalar(store, &count("2024-03-01", "2024-03-31")).await);

    // Scored rows, counted independently in SQL, and every predictor on exactly those.
    let scored_sql = format!(
        "SELECT count() FROM {db}.player_features_wide WHERE status = 'Played' AND game_date BETWEEN '2024-03-01' AND '2024-03-31' \
         AND NOT isNaN(pts_avg_5) AND NOT isNaN(pts_avg_10) AND NOT isNaN(pts_avg_season) AND min_avg_10 >= 15"
    );
    let scored = scalar(store, &scored_sql).await as usize;
    let s = &m.metrics.scored;
    assert!(scored > 1000, "{scored}");
    assert_eq!(s.model.rows, scored);
    assert_eq!(s.baselines.len(), 3);
    assert!(s.baselines.values().all(|b| b.rows == scored));
    assert_eq!(m.metrics.all_rows_model.rows, m.split.test.rows);
    assert!(m.metrics.all_with_baselines.model.rows >= scored);
    assert_eq!(m.metrics.by_role.values().map(|g| g.rows).sum::<usize>(), scored);
    assert_eq!(m.metrics.by_minutes.values().map(|g| g.rows).sum::<usize>(), scored);
    assert_eq!(m.metrics.by_month.keys().cloned().collect::<Vec<_>>(), vec!["2024-03".to_string()]);
    // A trained model is a real predictor: far better than predicting zero, sane bias.
    let pts10 = &s.baselines["pts_avg_10"];
    assert!(s.model.mae < 1.2 * pts10.mae && s.model.mae > 2.0, "{:?} vs {:?}", s.model, pts10);
    assert!(s.model.bias.abs() < 2.0);

    // The file scores the canaries, through tract, as the manifest says.
    let model = OnnxModel::load(&onnx, nba_features::N_FEATURES).unwrap();
    assert_eq!(m.canaries.len(), 8);
    let x: Vec<f32> = m.canaries.iter().flat_map(|c| c.features.iter().map(|v| v.unwrap_or(f32::NAN))).collect();
    let got = model.predict(&x).unwrap();
    for (g, c) in got.iter().zip(&m.canaries) {
        assert!((g - c.expected).abs() <= 1e-4, "{g} vs {}", c.expected);
    }
    // A model file is refused for another contract width.
    assert!(OnnxModel::load(&onnx, nba_features::N_FEATURES + 1).is_err());
}

#[tokio::test]
async fn gate_refuses_a_bad_model_and_commands_manage_current() {
    let store = season_store().await;
    let dir = tempfile::tempdir().unwrap();
    let reg = Registry::new(dir.path());

    // One tiny tree barely moves from the mean: far worse than the baselines.
    let bad = args(store, &["--iterations", "1", "--learning-rate", "0.01", "--promote"]);
    let out = nba_trainer::train(&bad, dir.path()).await.unwrap();
    let why = out.refused.clone().expect("the gate must refuse");
    assert!(why.contains("baseline"), "{why}");
    assert_eq!(out.exit_code(), nba_trainer::EXIT_GATE_REFUSED);
    assert!(!out.promoted);
    assert_eq!(reg.current().unwrap(), None, "nothing promoted");
    assert_eq!(reg.list().unwrap().len(), 1, "the refused version is kept for inspection");
    let bad_version = out.manifest.version.clone();

    // With the baseline condition relaxed, a real model is promoted.
    let good = args(store, &["--promote", "--gate-min-gain=-1"]);
    let first = nba_trainer::train(&good, dir.path()).await.unwrap();
    assert!(first.promoted, "{:?}", first.refused);
    assert_eq!(reg.current().unwrap().unwrap().version, first.manifest.version);

    // The bad model, baseline condition relaxed, still loses to the current model on
    // the same rows.
    let bad_relaxed = args(store, &["--iterations", "1", "--learning-rate", "0.01", "--promote", "--gate-min-gain=-1"]);
    let again = nba_trainer::train(&bad_relaxed, dir.path()).await.unwrap();
    let why = again.refused.expect("must lose to the current model");
    assert!(why.contains("current model"), "{why}");
    assert_eq!(reg.current().unwrap().unwrap().version, first.manifest.version);

    // CLI: list marks current, promote and rollback move it, errors exit 2.
    let list = cli(dir.path(), &["list"]);
    assert!(list.status.success());
    let text = String::from_utf8_lossy(&list.stdout);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().any(|l| l.starts_with('*') && l.contains(&first.manifest.version)), "{text}");
    let p = cli(dir.path(), &["promote", &bad_version]);
    assert_eq!(p.status.code(), Some(0), "{}", String::from_utf8_lossy(&p.stderr));
    assert_eq!(reg.current().unwrap().unwrap().version, bad_version);
    let r = cli(dir.path(), &["rollback"]);
    assert_eq!(r.status.code(), Some(0));
    assert_eq!(reg.current().unwrap().unwrap().version, first.manifest.version);
    let show = cli(dir.path(), &["show", &first.manifest.version]);
    assert!(String::from_utf8_lossy(&show.stdout).contains(&first.manifest.model_sha256));
    assert_eq!(cli(dir.path(), &["promote", "no-such-version"]).status.code(), Some(2));
    assert_eq!(cli(dir.path(), &["rollback"]).status.code(), Some(2), "history is empty again");
    assert_eq!(reg.current().unwrap().unwrap().version, first.manifest.version);
}

/// onnxruntime (an independent ONNX implementation) scores every test row of the
/// exported file like tract; skipped when `NBA_PYTHON` (default `python3`) lacks
/// onnxruntime or numpy.
#[tokio::test]
async fn onnxruntime_agrees_when_available() {
    let python = std::env::var("NBA_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = std::process::Command::new(&python).args(["-c", "import onnxruntime, numpy"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        eprintln!("skipped: {python} has no onnxruntime/numpy (set NBA_PYTHON to a venv's python)");
        return;
    }
    let store = season_store().await;
    let dir = tempfile::tempdir().unwrap();
    let out = nba_trainer::train(&args(store, &[]), dir.path()).await.unwrap();
    let vdir = Registry::new(dir.path()).version_dir(&out.manifest.version);
    let rows = nba_trainer::data::read_played(store).await.unwrap();
    let test: Vec<&[f32]> = rows.iter().filter(|r| r.game_date >= "2024-03-01".parse().unwrap()).map(|r| &r.features[..]).collect();
    assert_eq!(test.len(), out.manifest.split.test.rows);
    let model = OnnxModel::load(&std::fs::read(vdir.join(MODEL_FILE)).unwrap(), nba_features::N_FEATURES).unwrap();
    let x: Vec<f32> = test.iter().flat_map(|r| r.iter().copied()).collect();
    let expected = model.predict(&x).unwrap();
    assert!(test.iter().any(|r| r.iter().any(|v| v.is_nan())), "missing values are exercised");
    let features: Vec<Vec<Option<f32>>> = test.iter().map(|r| r.iter().map(|&v| (!v.is_nan()).then_some(v)).collect()).collect();
    let json = serde_json::json!({ "features": features, "expected": expected });
    let rows_file = dir.path().join("rows.json");
    std::fs::write(&rows_file, serde_json::to_vec(&json).unwrap()).unwrap();
    let script = nba_testkit::workspace_root().join("trainer/scripts/check_onnxruntime.py");
    let check = std::process::Command::new(&python).arg(script).arg(&vdir).arg(&rows_file).output().unwrap();
    assert!(check.status.success(), "{}\n{}", String::from_utf8_lossy(&check.stdout), String::from_utf8_lossy(&check.stderr));
}
