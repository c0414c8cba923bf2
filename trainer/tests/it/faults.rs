//! Database faults for `nba-trainer train`: ClickHouse is SIGKILLed
//! while the trainer runs, on a private server ([`PrivateClickHouse`]) the test owns.
//!
//! * ClickHouse down when `train` starts: exit 2 and nothing in the registry, not even a
//!   temp folder.
//! * Killed once the rows are read (the trainer logs it): training goes on, the version
//!   is saved complete (model and manifest, sha256 matching) and the lost mirror event is
//!   reported with exit 4 — never a half-written version. The model equals an
//!   uninterrupted run's (same rows, same seed).
//! * After a restart, a rerun succeeds (exit 0) and mirrors its event.

use nba_ingest::load::LoadOptions;
use nba_registry::Registry;
use nba_store::{Store, StoreConfig};
use nba_testkit::PrivateClickHouse;
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TRAIN: &[&str] = &[
    "train",
    "--train",
    "2023-10-01..2024-01-31",
    "--valid",
    "2024-02-01..2024-02-29",
    "--test",
    "2024-03-01..2024-03-31",
    // Long enough (a few seconds) that the kill lands while the trees are grown.
    "--iterations",
    "150",
    "--early-stopping-rounds",
    "1000",
    "--max-depth",
    "4",
    "--threads",
    "2",
    "--seed",
    "7",
];

fn trainer(ch: &PrivateClickHouse, registry: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nba-trainer"));
    c.args(TRAIN)
        .env("NBA_REGISTRY", registry)
        .env("NBA_PROGRESS", "never")
        .env("CLICKHOUSE_URL", ch.url())
        .env("NBA_DATABASE", "season")
        .env("NBA_CLICKHOUSE_ATTEMPTS", "1")
        .env("NBA_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    c
}

/// Every version folder complete and consistent, nothing else under `models/`; returns
/// the versions with their model's sha256.
fn complete_versions(root: &Path) -> Vec<(String, String)> {
    let registry = Registry::new(root);
    let models = root.join("models");
    let entries: Vec<String> = match std::fs::read_dir(&models) {
        Ok(dir) => dir.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    };
    let listed = registry.list().unwrap();
    let mut sorted = entries.clone();
    sorted.sort();
    assert_eq!(sorted, listed, "models/ holds only listed versions (no temp folder)");
    listed
        .into_iter()
        .map(|v| {
            let manifest = registry.manifest(&v).unwrap();
            let sha = hex::encode(Sha256::digest(registry.model_bytes(&v).unwrap()));
            assert_eq!(sha, manifest.model_sha256, "{v}: model.onnx is the one the manifest describes");
            assert!(v.ends_with(&sha[..8]), "{v} is named after its model");
            (v, sha)
        })
        .collect()
}

async fn events(store: &Store, version: &str) -> u64 {
    let sql = format!("SELECT count() FROM model_registry WHERE version = '{version}' AND event = 'created'");
    store.scalar_u64("events", &sql).await.unwrap()
}

#[tokio::test]
async fn train_with_clickhouse_killed_saves_whole_versions_or_none_and_a_rerun_succeeds() {
    let ch = PrivateClickHouse::start("fault_train");
    let mut config = StoreConfig::new(ch.url(), "season");
    config.attempts = 3;
    let store = Store::new(config).unwrap();
    store.migrate().await.unwrap();
    let opts = LoadOptions { paths: vec![nba_testkit::season_archive(2024)], batch_pages: 200, workers: 2, dry_run: false, progress: false, dates: None };
    nba_ingest::load::load(Some(&store), &opts).await.unwrap();
    nba_ingest::build::build(&store, &Default::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();

    // The uninterrupted run.
    let reference = tmp.path().join("reference");
    let out = trainer(&ch, &reference).stderr(Stdio::piped()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let want = complete_versions(&reference);
    assert_eq!(want.len(), 1);
    assert_eq!(events(&store, &want[0].0).await, 1);

    // 1. ClickHouse down at the start: an error, and nothing written.
    let faulted = tmp.path().join("faulted");
    ch.kill();
    let out = trainer(&ch, &faulted).stderr(Stdio::piped()).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(ch.url()), "the error names the server: {stderr}");
    assert!(complete_versions(&faulted).is_empty());
    ch.restart();

    // 2. Killed once the rows are read, while the trees are grown.
    let mut child = trainer(&ch, &faulted).stderr(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    let mut killed_at = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        log.push_str(&line);
        log.push('\n');
        if line.contains("read player_features") {
            ch.kill();
            killed_at = Some(Instant::now());
            break;
        }
    }
    assert!(killed_at.is_some(), "the trainer never logged that it read its rows:\n{log}");
    // The rest of its log (the mirror failure) while waiting for it to end.
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"));
    let deadline = Instant::now() + Duration::from_secs(300);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the trainer still runs 300 s after the kill");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    log.push_str(&rest.join().unwrap());
    assert_eq!(status.code(), Some(4), "saved, mirror failed: {log}");
    assert!(log.contains("model_registry"), "the lost mirror event is reported: {log}");
    let got = complete_versions(&faulted);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].1, want[0].1, "same rows and seed as the uninterrupted run: the same model");
    ch.restart();
    assert_eq!(events(&store, &got[0].0).await, 0, "the event lost while ClickHouse was down (not replayed, documented)");

    // 3. The rerun succeeds, the same model again, and its event is mirrored.
    let out = trainer(&ch, &faulted).stderr(Stdio::piped()).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let after = complete_versions(&faulted);
    assert_eq!(after.len(), 2, "{after:?}");
    let new = after.iter().find(|(v, _)| *v != got[0].0).unwrap();
    assert_eq!(new.1, want[0].1);
    assert_eq!(events(&store, &new.0).await, 1);
}
