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
    // (Compared as JSON text: serde_json's default float parsing may be one ulp off.)
    let on_disk = std::fs::read(vdir.join(MANIFEST_FILE)).unwrap();
    assert_eq!(on_disk, serde_json::to_vec_pretty(m).unwrap());
    let parsed: nba_trainer::manifest::Manifest = serde_json::from_slice(&on_disk).unwrap();
    assert_eq!(parsed.version, m.version);
    assert_eq!(m.feature_names, nba_features::feature_names());
    assert_eq!(m.contract_hash, nba_features::contract_hash());
    assert!(m.hyper_parameters.trees_used >= 1 && m.hyper_parameters.trees_used <= 40);
    assert!(m.onnx_max_abs_diff <= 1e-4);

    // Row counts are those of the database.
    let db = store.database();
    let count =
        |from: &str, to: &str| format!("SELECT count() FROM {db}.player_features FINAL WHERE status = 'Played' AND game_date BETWEEN '{from}' AND '{to}'");
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

    // The report and its plots are in the version folder, with the tables.
    let report = std::fs::read_to_string(vdir.join(nba_trainer::training_report::REPORT_FILE)).unwrap();
    for want in
        ["## Scored rows", "## All rows", "MAE by minutes band", "MAE by role", "MAE by month", "| **model** |", "old_rule", "pts_avg_season", "| 2024-03 |"]
    {
        assert!(report.contains(want), "report lacks {want:?}:\n{report}");
    }
    assert!(report.contains(&format!("| **model** | {scored} | {:.4} |", s.model.mae)), "{report}");
    for plot in nba_trainer::training_report::PLOTS {
        let svg = std::fs::read_to_string(vdir.join(plot)).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("</svg>") && svg.contains("<text"), "{plot}");
        assert!(report.contains(&format!("]({plot})")), "{plot} not linked");
    }
    assert_eq!(m.feature_gain.len(), nba_features::N_FEATURES);
    assert!(m.feature_gain[0].gain > 0.0 && m.feature_gain.windows(2).all(|w| w[0].gain >= w[1].gain));
    assert_eq!(m.hyper_parameters.objective, "absolute_error");

    // The creation is mirrored into model_registry.
    let events = registry_events(store, &m.version).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].0, "created");
}

/// Both objectives train; walk-forward re-predicts each test month from a model trained
/// on everything before it, and its evaluation covers the same rows.
#[tokio::test]
async fn squared_error_and_walk_forward() {
    let store = season_store().await;
    let dir = tempfile::tempdir().unwrap();
    let a = args(
        store,
        &[
            "--objective",
            "squared_error",
            "--walk-forward",
            "--test",
            "2024-02-15..2024-03-31",
            "--valid",
            "2024-01-15..2024-02-14",
            "--train",
            "2023-10-01..2024-01-14",
        ],
    );
    let m = nba_trainer::train(&a, dir.path()).await.unwrap().manifest;
    assert_eq!(m.hyper_parameters.objective, "squared_error");
    assert_eq!(m.hyper_parameters.early_stopping_metric, "validation rmse");
    let w = m.walk_forward.as_ref().expect("walk-forward ran");
    let months: Vec<&str> = w.months.iter().map(|x| x.month.as_str()).collect();
    assert_eq!(months, ["2024-02", "2024-03"]);
    // February's model trains on rows before Feb 1 (part of the validation period);
    // March's also on all of February.
    let db = store.database();
    let before = |d: &str| format!("SELECT count() FROM {db}.player_features FINAL WHERE status = 'Played' AND game_date BETWEEN '2023-10-01' AND '{d}'");
    assert_eq!(w.months[0].train_rows as u64, scalar(store, &before("2024-01-31")).await);
    assert_eq!(w.months[1].train_rows as u64, scalar(store, &before("2024-02-29")).await);
    assert_eq!(w.months.iter().map(|x| x.test_rows).sum::<usize>(), m.split.test.rows);
    assert_eq!(w.metrics.scored.model.rows, m.metrics.scored.model.rows);
    assert!(w.metrics.scored.model.mae.is_finite() && w.metrics.scored.model.mae < 1.2 * m.metrics.scored.baselines["pts_avg_10"].mae);
    let report = std::fs::read_to_string(Registry::new(dir.path()).version_dir(&m.version).join("report.md")).unwrap();
    assert!(report.contains("## Walk-forward") && report.contains("| 2024-02 |"), "{report}");
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
    let list = cli(dir.path(), store, &["list"]);
    assert!(list.status.success());
    let text = String::from_utf8_lossy(&list.stdout);
    assert_eq!(text.lines().count(), 3, "{text}");
    assert!(text.lines().any(|l| l.starts_with('*') && l.contains(&first.manifest.version)), "{text}");
    let p = cli(dir.path(), store, &["promote", &bad_version]);
    assert_eq!(p.status.code(), Some(0), "{}", String::from_utf8_lossy(&p.stderr));
    assert_eq!(reg.current().unwrap().unwrap().version, bad_version);
    let r = cli(dir.path(), store, &["rollback"]);
    assert_eq!(r.status.code(), Some(0));
    assert_eq!(reg.current().unwrap().unwrap().version, first.manifest.version);
    let show = cli(dir.path(), store, &["show", &first.manifest.version]);
    assert!(String::from_utf8_lossy(&show.stdout).contains(&first.manifest.model_sha256));
    assert_eq!(cli(dir.path(), store, &["promote", "no-such-version"]).status.code(), Some(2));
    assert_eq!(cli(dir.path(), store, &["rollback"]).status.code(), Some(2), "history is empty again");
    assert_eq!(reg.current().unwrap().unwrap().version, first.manifest.version);

    // Every event is in model_registry, per version, in order.
    let ev = |v: &[(String, String)]| v.iter().map(|e| e.0.clone()).collect::<Vec<_>>();
    let bad_events = registry_events(store, &bad_version).await;
    assert_eq!(ev(&bad_events), ["created", "refused", "promoted"]);
    assert!(bad_events[1].1.contains("baseline"), "{bad_events:?}");
    let first_events = registry_events(store, &first.manifest.version).await;
    assert_eq!(ev(&first_events), ["created", "promoted", "rolled_back"]);
    assert!(first_events[2].1.contains(&bad_version), "{first_events:?}");
    let again_events = registry_events(store, &again.manifest.version).await;
    assert_eq!(ev(&again_events), ["created", "refused"]);
    assert!(again_events[1].1.contains("current model"));

    // ClickHouse unreachable: the pointer still moves on disk, a warning, exit 4.
    let p = cli_at(dir.path(), "http://127.0.0.1:1", store.database(), &["promote", &bad_version]);
    assert_eq!(p.status.code(), Some(nba_trainer::EXIT_MIRROR_FAILED), "{}", String::from_utf8_lossy(&p.stderr));
    assert!(String::from_utf8_lossy(&p.stderr).contains("model_registry"));
    assert_eq!(reg.current().unwrap().unwrap().version, bad_version);
    // --no-mirror skips it.
    let r = cli_at(dir.path(), "http://127.0.0.1:1", store.database(), &["rollback", "--no-mirror"]);
    assert_eq!(r.status.code(), Some(0), "{}", String::from_utf8_lossy(&r.stderr));
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
