//! Bad input gives a clear error and changes nothing in the registry.

use crate::util::*;
use nba_store::rows::PlayerFeaturesRow;
use nba_trainer::registry::Registry;

#[tokio::test]
async fn missing_table_and_empty_table_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store("trainer_no_table", true).await;
    store.client().query("DROP TABLE player_features").execute().await.unwrap();
    let e = nba_trainer::train(&args(&store, &[]), dir.path()).await.unwrap_err().to_string();
    assert!(e.contains("player_features"), "{e}");

    let store = fresh_store("trainer_empty", true).await;
    let e = nba_trainer::train(&args(&store, &[]), dir.path()).await.unwrap_err().to_string();
    assert!(e.contains("no played rows"), "{e}");
    assert!(Registry::new(dir.path()).list().unwrap().is_empty());
    assert!(!dir.path().join("models").exists() && !dir.path().join("current").exists());
}

#[tokio::test]
async fn contract_mismatch_and_too_few_rows_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = fresh_store("trainer_contract", true).await;
    let row = |day: &str, hash: &str| PlayerFeaturesRow {
        game_id: format!("g{day}"),
        game_date: day.parse().unwrap(),
        season: 2024,
        season_type: "Regular Season".into(),
        team: "AAA".into(),
        opponent: "BBB".into(),
        is_home: 1,
        player_id: "p".into(),
        feature_version: nba_features::FEATURE_VERSION,
        contract_hash: hash.into(),
        features: vec![1.0; nba_features::N_FEATURES],
        status: "Played".into(),
        target_pts: 10,
        target_minutes: 30.0,
        version: 1,
    };
    let good = nba_features::contract_hash();
    store.insert(&[row("2023-11-01", &good), row("2024-02-10", &good), row("2024-03-10", &good)]).await.unwrap();
    // Too few rows in each part.
    let e = nba_trainer::train(&args(&store, &[]), dir.path()).await.unwrap_err().to_string();
    assert!(e.contains("need at least"), "{e}");
    // Another contract.
    store.insert(&[row("2023-11-02", "deadbeef")]).await.unwrap();
    let e = nba_trainer::train(&args(&store, &["--min-rows", "1"]), dir.path()).await.unwrap_err().to_string();
    assert!(e.contains("deadbeef") && e.contains("contract"), "{e}");
    assert!(!dir.path().join("models").exists());
}
