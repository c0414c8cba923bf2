//! Rolling periods (`--as-of`) on the sample season (played rows 2023-10-24..2024-03-20):
//! the manifest says the resolved periods and D, no row after D is read, and without a
//! test window the metrics and the promotion gate are on the newest rows, the validation
//! window.

use crate::util::*;
use clap::Parser;
use nba_model::onnx::OnnxModel;
use nba_trainer::data::{self, NO_TEST_WINDOW};
use nba_trainer::eval::{self, EvaluationColumns};
use nba_trainer::registry::Registry;
use nba_trainer::{Cli, Command, TrainArgs};

/// Rolling training arguments: the quick model of the short split, periods relative to
/// `as_of`, one season, 30 validation days and no test window.
fn rolling_args(store: &nba_store::Store, as_of: &str, extra: &[&str]) -> TrainArgs {
    let mut argv = vec!["nba-trainer", "train", "--clickhouse-url", store.url(), "--database", store.database(), "--clickhouse-attempts", "1"];
    argv.extend_from_slice(&["--progress", "never", "--iterations", "40", "--learning-rate", "0.15", "--max-depth", "4", "--early-stopping-rounds", "10"]);
    argv.extend_from_slice(&["--threads", "2", "--hide-shares", "0.5,0.5", "--as-of", as_of, "--train-seasons", "1", "--valid-days", "30", "--test-days", "0"]);
    // A flag in `extra` replaces the default above.
    for flag in extra.iter().filter(|f| f.starts_with("--")) {
        if let Some(i) = argv.iter().position(|a| a == flag) {
            argv.drain(i..i + 2);
        }
    }
    argv.extend_from_slice(extra);
    match Cli::try_parse_from(argv).unwrap().command {
        Command::Train(a) => *a,
        other => panic!("{other:?}"),
    }
}

fn count_sql(db: &str, from: &str, to: &str) -> String {
    format!("SELECT count() FROM {db}.player_features FINAL WHERE status = 'Played' AND game_date BETWEEN '{from}' AND '{to}'")
}

#[tokio::test]
async fn rolling_periods_are_in_the_manifest_and_no_row_after_the_as_of_date_is_used() {
    let store = season_store().await;
    let db = store.database();
    // The sample season goes on after D: those rows must stay unread.
    assert!(scalar(store, &count_sql(db, "2024-03-11", "2024-12-31")).await > 1000);
    let read = data::read_played_through(store, Some("2024-03-10".parse().unwrap())).await.unwrap();
    assert_eq!(read.iter().map(|r| r.game_date.to_string()).max().as_deref(), Some("2024-03-10"));
    assert_eq!(read.len() as u64, scalar(store, &count_sql(db, "2000-01-01", "2024-03-10")).await);

    let dir = tempfile::tempdir().unwrap();
    let out = nba_trainer::train(&rolling_args(store, "2024-03-10", &[]), dir.path()).await.unwrap();
    let m = &out.manifest;
    let first = scalar(store, &format!("SELECT toUInt64(toYYYYMMDD(min(game_date))) FROM {db}.player_features FINAL WHERE status = 'Played'")).await;
    let first = format!("{}-{:02}-{:02}", first / 10000, first / 100 % 100, first % 100);
    // Train: the season's start up to D minus 30 days; validation: the 30 days up to D.
    assert_eq!(m.split.as_of.as_deref(), Some("2024-03-10"));
    assert_eq!(m.split.train.period, format!("{first}..2024-02-09"));
    assert_eq!(m.split.validation.period, "2024-02-10..2024-03-10");
    assert_eq!(m.split.train.rows as u64, scalar(store, &count_sql(db, &first, "2024-02-09")).await);
    assert_eq!(m.split.validation.rows as u64, scalar(store, &count_sql(db, "2024-02-10", "2024-03-10")).await);
    assert_eq!((m.split.train.first_date.as_str(), m.split.validation.last_date.as_str()), (first.as_str(), "2024-03-10"));
    // No test window: the manifest says so, and the figures are on the validation rows.
    assert_eq!(m.split.test.period, NO_TEST_WINDOW);
    assert_eq!(
        (m.split.test.rows, &m.split.test.first_date, &m.split.test.last_date),
        (m.split.validation.rows, &m.split.validation.first_date, &m.split.validation.last_date)
    );
    assert_eq!(m.metrics.all_rows_model.rows, m.split.validation.rows);
    assert_eq!(m.metrics.by_month.keys().cloned().collect::<Vec<_>>(), vec!["2024-02".to_string(), "2024-03".to_string()]);
    // The game-day copies were drawn from the training rows only.
    assert_eq!(m.game_day.as_ref().unwrap().train_rows.lists_and_lineups_known, m.split.train.rows);
    // Old readers: the manifest round-trips, and one without `as_of` still loads.
    let json = serde_json::to_value(m).unwrap();
    let mut old = json.clone();
    old["split"].as_object_mut().unwrap().remove("as_of");
    let old: nba_trainer::manifest::Manifest = serde_json::from_value(old).unwrap();
    assert_eq!(old.split.as_of, None);
}

/// Without a test window the gate compares the candidate with the current model on the
/// candidate's validation window, the newest rows: the current model's MAE in the
/// refusal is the one computed here on exactly those scored rows.
#[tokio::test]
async fn the_gate_compares_on_the_newest_rows() {
    let store = season_store().await;
    let dir = tempfile::tempdir().unwrap();
    // Last "week's" model, promoted (no current model yet; the baseline condition waived).
    let before = nba_trainer::train(&rolling_args(store, "2024-03-03", &["--promote", "--gate-min-gain=-1"]), dir.path()).await.unwrap();
    assert!(before.promoted, "{:?}", before.refused);
    // This week's, with a gate that refuses whatever the MAEs, to read what it compared.
    let a = rolling_args(store, "2024-03-10", &["--promote", "--gate-min-gain=-1", "--gate-max-loss=-1"]);
    let out = nba_trainer::train(&a, dir.path()).await.unwrap();
    let why = out.refused.clone().unwrap();
    let m = &out.manifest;
    assert!(
        why.starts_with(&format!("validation-window MAE {:.4} is worse than the current model {}", m.metrics.scored.model.mae, before.manifest.version)),
        "{why}"
    );
    let cur_mae: f64 = why.split(" (").nth(1).and_then(|s| s.split(' ').next()).unwrap().parse().unwrap();

    // The newest rows: the scored rows of 2024-02-10..2024-03-10, scored by last week's model.
    let rows = data::read_played(store).await.unwrap();
    let (from, to) = ("2024-02-10".parse().unwrap(), "2024-03-10".parse().unwrap());
    let window: Vec<&data::FeatureRow> = rows.iter().filter(|r| (from..=to).contains(&r.game_date)).collect();
    let scored = eval::scored_indices(&window, EvaluationColumns::from_contract());
    assert_eq!(scored.len(), m.metrics.scored.model.rows);
    let reg = Registry::new(dir.path());
    let current = OnnxModel::load(&reg.model_bytes(&before.manifest.version).unwrap(), nba_features::N_FEATURES).unwrap();
    let x: Vec<f32> = scored.iter().flat_map(|&i| window[i].features.iter().copied()).collect();
    let pred: Vec<f64> = current.predict(&x).unwrap().into_iter().map(f64::from).collect();
    let actual: Vec<f64> = scored.iter().map(|&i| window[i].target_pts as f64).collect();
    let mae = eval::Metrics::of(&pred, &actual).mae;
    assert!((mae - cur_mae).abs() < 6e-5, "gate said {cur_mae}, the newest rows give {mae}");
    // And these are not the rows the older model was evaluated on (its window ended 03-03).
    assert_eq!(before.manifest.split.validation.period, "2024-02-03..2024-03-03");
    assert_eq!(reg.current().unwrap().unwrap().version, before.manifest.version);
}

/// A test window holds back the last days: validation is the days before it, and the
/// metrics are on the test window only. D after the last played game (03-20 in the
/// sample, as in the off-season): the windows end at that game.
#[tokio::test]
async fn a_test_window_holds_back_the_last_days() {
    let store = season_store().await;
    let dir = tempfile::tempdir().unwrap();
    let out = nba_trainer::train(&rolling_args(store, "2024-03-31", &["--test-days", "10", "--valid-days", "21"]), dir.path()).await.unwrap();
    let m = &out.manifest;
    assert_eq!(m.split.as_of.as_deref(), Some("2024-03-31"));
    assert_eq!((m.split.validation.period.as_str(), m.split.test.period.as_str()), ("2024-02-19..2024-03-10", "2024-03-11..2024-03-20"));
    assert_eq!(m.split.test.rows as u64, scalar(store, &count_sql(store.database(), "2024-03-11", "2024-03-20")).await);
    assert_eq!(m.metrics.all_rows_model.rows, m.split.test.rows);
}

/// Errors come before any training: a window without games, and (through the binary) a
/// refit without a test window, which is refused before ClickHouse is asked anything.
#[tokio::test]
async fn empty_windows_and_a_refit_without_test_window_are_refused() {
    let store = season_store().await;
    let dir = tempfile::tempdir().unwrap();
    // The All-Star break of 2024: no games from 02-16 to 02-21.
    let e = nba_trainer::train(&rolling_args(store, "2024-02-25", &["--valid-days", "3", "--test-days", "4"]), dir.path()).await.unwrap_err().to_string();
    assert!(e.contains("validation period 2024-02-19..2024-02-21 (rolling, as of 2024-02-25) has 0 played rows"), "{e}");
    assert!(Registry::new(dir.path()).list().unwrap().is_empty());
    let out = cli_at(dir.path(), "http://127.0.0.1:9", "nowhere", &["train", "--as-of", "yesterday", "--refit"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(nba_trainer::EXIT_ERROR), "{stderr}");
    assert!(stderr.contains("--refit with --test-days 0") && !stderr.contains("ClickHouse"), "{stderr}");
}
