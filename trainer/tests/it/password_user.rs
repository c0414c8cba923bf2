//! `nba-trainer train` logging in as a ClickHouse user with a password, the way the
//! weekly training CronJob does (`CLICKHOUSE_USER` and `CLICKHOUSE_PASSWORD_FILE`). The
//! user is the test-only [`nba_testkit::PASSWORD_USER`] that `scripts/clickhouse.sh`
//! writes into every server's users config.

use crate::util::*;
use nba_store::{ClickHouseArgs, Store};
use nba_testkit::{PASSWORD_USER, PASSWORD_USER_PASSWORD};
use nba_trainer::registry::Registry;
use std::path::Path;

/// Panics with the fix when the server does not know the user (one started by an older
/// `scripts/clickhouse.sh`: the users config is written on start).
async fn require_password_user(store: &Store) {
    let mut args = ClickHouseArgs::new(store.url(), store.database());
    args.user = Some(PASSWORD_USER.into());
    args.password = Some(PASSWORD_USER_PASSWORD.into());
    args.attempts = 3;
    if let Err(e) = args.connect().unwrap().ping().await {
        panic!(
            "cannot log in to {} as {PASSWORD_USER}: {}\nrestart the server so that scripts/clickhouse.sh writes its users config: \
             scripts/clickhouse.sh stop DIR && scripts/clickhouse.sh start DIR",
            store.url(),
            e.with_causes()
        );
    }
}

/// Runs `nba-trainer train` as the password user, the password read from `password_file`.
fn train_as_password_user(registry: &Path, store: &Store, password_file: &Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_nba-trainer"))
        .arg("train")
        .args(SHORT_SPLIT)
        .env("NBA_REGISTRY", registry)
        .env("NBA_PROGRESS", "never")
        .env("CLICKHOUSE_URL", store.url())
        .env("NBA_DATABASE", store.database())
        .env("NBA_CLICKHOUSE_ATTEMPTS", "1")
        .env("CLICKHOUSE_USER", PASSWORD_USER)
        .env("CLICKHOUSE_PASSWORD_FILE", password_file)
        .env_remove("CLICKHOUSE_PASSWORD")
        .output()
        .unwrap()
}

#[tokio::test]
async fn trains_as_a_user_whose_password_is_in_a_file() {
    let store = season_store().await;
    require_password_user(store).await;
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("password");
    // As a mounted Secret or `echo > file` leaves it: with a final newline.
    std::fs::write(&password_file, format!("{PASSWORD_USER_PASSWORD}\n")).unwrap();
    let registry = dir.path().to_path_buf();

    let out = train_as_password_user(&registry, store, &password_file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(nba_trainer::EXIT_OK), "{stderr}");
    assert!(!stderr.contains(PASSWORD_USER_PASSWORD), "the password is never logged: {stderr}");
    let versions = Registry::new(&registry).list().unwrap();
    assert_eq!(versions.len(), 1, "{versions:?}");
    // The registry event went into ClickHouse as that user too.
    let events = registry_events(store, &versions[0]).await;
    assert_eq!(events.iter().map(|(e, _)| e.as_str()).collect::<Vec<_>>(), ["created"]);
}

#[tokio::test]
async fn a_wrong_password_is_a_clear_error_and_saves_nothing() {
    let store = season_store().await;
    require_password_user(store).await;
    let dir = tempfile::tempdir().unwrap();
    let password_file = dir.path().join("password");
    std::fs::write(&password_file, "not-the-password\n").unwrap();
    let registry = dir.path().to_path_buf();

    let out = train_as_password_user(&registry, store, &password_file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(nba_trainer::EXIT_ERROR), "{stderr}");
    // The server's own words: "Wrong password" (18.16), "Authentication failed" (24.x).
    let says_why = stderr.contains("Wrong password") || stderr.contains("Authentication failed") || stderr.contains("password is incorrect");
    assert!(says_why && stderr.contains(store.url()) && stderr.contains(PASSWORD_USER), "{stderr}");
    assert!(!stderr.contains("not-the-password"), "the password is never logged: {stderr}");
    assert!(Registry::new(&registry).list().unwrap().is_empty());

    // An empty password file is refused before ClickHouse is asked, naming the file.
    std::fs::write(&password_file, "\n").unwrap();
    let out = train_as_password_user(&registry, store, &password_file);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(nba_trainer::EXIT_ERROR), "{stderr}");
    assert!(stderr.contains("is empty") && stderr.contains(&*password_file.to_string_lossy()), "{stderr}");
}
