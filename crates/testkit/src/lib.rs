//! Test helpers shared by the workspace's tests.
//!
//! * Where the real scraped pages live ([`data_dir`], [`sample_archive`],
//!   [`season_archive`]), so tests read real data instead of hand-written fixtures.
//! * A real ClickHouse server ([`clickhouse_url`]): tests talk to an actual server,
//!   not a mock, because the SQL must run on two very different versions (Debian's
//!   18.16 here, 24.x+ in production). The server is started by
//!   `scripts/clickhouse.sh` once and reused by every test binary; see
//!   `docs/clickhouse.md`.
//! * Fresh database names ([`unique_database`]), so tests sharing that one server
//!   never see each other's tables.
//! * A private server a test owns and may kill ([`PrivateClickHouse`]), for fault tests.
//! * A private replicated cluster ([`ClickHouseCluster`]: ZooKeeper and two replicas,
//!   `scripts/clickhouse_cluster.sh`), for the replication tests.
//! * A Python with pyarrow ([`pyarrow_python`], a venv in the target folder), for the
//!   Flight tests and benchmark that use a client nobody here wrote.
//!
//! Everything here is test code: failures panic with a message saying what to fix,
//! rather than returning errors each test would only unwrap.
//!
//! This crate deliberately has no HTTP client or ClickHouse client dependency: it
//! only runs the script with [`std::process::Command`], so depending on it costs a
//! test crate nothing.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

mod cluster;
mod private;
mod python;
pub use cluster::{CLUSTER_NAME, ClickHouseCluster};
pub use private::PrivateClickHouse;
pub use python::pyarrow_python;

/// Environment variable that overrides [`data_dir`].
pub const DATA_DIR_ENV: &str = "NBA_DATA_DIR";

/// Environment variable that points the tests at an already running ClickHouse,
/// e.g. `http://127.0.0.1:8123`; when set, no server is started.
pub const CLICKHOUSE_URL_ENV: &str = "CLICKHOUSE_URL";

/// A ClickHouse user with a password, which `scripts/clickhouse.sh` writes into the users
/// config of every server it starts, for tests that log in the way a deployment does
/// (`CLICKHOUSE_USER` and `CLICKHOUSE_PASSWORD_FILE`). Test-only: its password is public
/// and the script's servers listen on loopback only. A server started before the script
/// had this user lacks it until restarted (the config is written on start).
pub const PASSWORD_USER: &str = "nba_secret";

/// The password of [`PASSWORD_USER`].
pub const PASSWORD_USER_PASSWORD: &str = "nba-test-password";

/// The workspace root (the folder of the root `Cargo.toml`).
///
/// Found from this crate's `CARGO_MANIFEST_DIR` (`<root>/crates/testkit`), which is
/// fixed at compile time: the test process's working directory is that of whichever
/// crate is being tested, so it cannot be used.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| panic!("nba-testkit is expected at <workspace>/crates/testkit, but its manifest dir is {}", manifest_dir.display()))
}

/// The folder of real scraped pages: env `NBA_DATA_DIR`, else
/// `<workspace root>/../shared/data/nba`.
///
/// The default is where the project's shared data sits beside the checkout, both on
/// developers' machines and in CI. A relative `NBA_DATA_DIR` is taken relative to the
/// workspace root, not the working directory, because cargo runs each test binary in
/// its own crate's folder and the same value must mean the same place for all of them.
pub fn data_dir() -> PathBuf {
    resolve_data_dir(std::env::var_os(DATA_DIR_ENV), &workspace_root())
}

/// [`data_dir`] without the environment, so it can be tested without `set_var`
/// (unsafe in edition 2024, and the workspace forbids unsafe code).
fn resolve_data_dir(env_value: Option<OsString>, root: &Path) -> PathBuf {
    match env_value.filter(|value| !value.is_empty()) {
        Some(value) => root.join(PathBuf::from(value)),
        None => {
            // `parent()` rather than joining "..": error messages then show a clean path.
            let parent = root.parent().unwrap_or(root);
            parent.join("shared").join("data").join("nba")
        }
    }
}

/// `data_dir()/sample_bbref_html.tar.gz`: a small sample of scraped basketball-reference
/// pages, quick enough to read in every test run.
pub fn sample_archive() -> PathBuf {
    data_dir().join("sample_bbref_html.tar.gz")
}

/// `data_dir()/raw/bbref_<season>.tar.zst`: all scraped pages of one season.
pub fn season_archive(season: u16) -> PathBuf {
    data_dir().join("raw").join(format!("bbref_{season}.tar.zst"))
}

/// Where the tests' own ClickHouse server keeps its config, data, logs and PID:
/// under `target/` so `cargo clean` removes it and git ignores it.
fn clickhouse_test_dir() -> PathBuf {
    workspace_root().join("target").join("clickhouse-test")
}

/// URL of a running ClickHouse for tests, e.g. `http://127.0.0.1:18123`.
///
/// Env `CLICKHOUSE_URL` if set; otherwise runs
/// `scripts/clickhouse.sh start <workspace>/target/clickhouse-test` once per process
/// and returns the URL it printed. The script is idempotent and locks its folder, so
/// test binaries running one after another or in parallel all share one server, which
/// is left running for the next run (stop it with `scripts/clickhouse.sh stop
/// target/clickhouse-test`). The ports come from `CLICKHOUSE_HTTP_PORT` /
/// `CLICKHOUSE_TCP_PORT` as the script reads them.
///
/// # Panics
///
/// If the server cannot be started: the message has the command, its exit status and
/// its stderr (which ends with the server's own error log).
pub fn clickhouse_url() -> &'static str {
    // The outcome, failure included, is computed once: if starting fails, every test
    // in the process gets the same message at once instead of each retrying the start
    // and waiting for the script's timeout again.
    static URL: OnceLock<Result<String, String>> = OnceLock::new();
    match URL.get_or_init(find_or_start_clickhouse) {
        Ok(url) => url,
        Err(message) => panic!("{message}"),
    }
}

fn find_or_start_clickhouse() -> Result<String, String> {
    if let Some(url) = std::env::var(CLICKHOUSE_URL_ENV).ok().map(|url| url.trim().trim_end_matches('/').to_owned()).filter(|url| !url.is_empty()) {
        return Ok(url);
    }

    let root = workspace_root();
    let script = root.join("scripts").join("clickhouse.sh");
    let dir = clickhouse_test_dir();
    // Through `bash` so a checkout that lost the executable bit still works.
    let mut command = Command::new("bash");
    command.arg(&script).arg("start").arg(&dir).current_dir(&root);
    let shown = format!("bash {} start {}", script.display(), dir.display());
    let hint = format!("(or set {CLICKHOUSE_URL_ENV} to use a ClickHouse server that is already running)");

    let output = command.output().map_err(|err| format!("nba-testkit: could not run `{shown}`: {err} {hint}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!("nba-testkit: `{shown}` failed ({}) {hint}; its stderr:\n{stderr}", output.status));
    }
    // The script prints exactly one line, the URL; take the last non-empty one anyway
    // so a stray line cannot break every test.
    let stdout = String::from_utf8_lossy(&output.stdout);
    match stdout.lines().map(str::trim).rfind(|line| !line.is_empty()) {
        Some(url) if url.starts_with("http://") || url.starts_with("https://") => Ok(url.trim_end_matches('/').to_owned()),
        _ => Err(format!("nba-testkit: `{shown}` succeeded but printed no URL on stdout (got {stdout:?}); its stderr:\n{stderr}")),
    }
}

/// A database name unique to this test and process: `t_<sanitised name>_<pid>_<counter>`.
/// It is not created.
///
/// The name is reduced to lower-case ASCII letters, digits and single underscores (at
/// most 40 characters of it) so it is a plain identifier on every ClickHouse version
/// and needs no quoting; e.g. `store::tests::insert rows` gives
/// `t_store_tests_insert_rows_4242_0`. The PID keeps parallel test processes apart and
/// the counter keeps tests within one process apart. The server's data outlives the
/// run and PIDs come back, so a test should `DROP DATABASE IF EXISTS` before
/// `CREATE DATABASE`.
pub fn unique_database(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("t_{}_{}_{}", sanitise(name), std::process::id(), counter)
}

/// The longest sanitised name kept in [`unique_database`]: database names become
/// folder names on the server, and long names only make logs harder to read.
const MAX_NAME_LEN: usize = 40;

fn sanitise(name: &str) -> String {
    let mut out = String::with_capacity(name.len().min(MAX_NAME_LEN));
    for c in name.chars() {
        if out.len() >= MAX_NAME_LEN {
            break;
        }
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let trimmed = out.trim_end_matches('_');
    if trimmed.is_empty() { "test".to_owned() } else { trimmed.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn unique_database_has_the_documented_shape() {
        let name = unique_database("store::tests::insert rows");
        let pid = std::process::id().to_string();
        let rest = name.strip_prefix("t_store_tests_insert_rows_").unwrap_or_else(|| panic!("unexpected prefix: {name}"));
        let (got_pid, counter) = rest.split_once('_').expect("pid_counter");
        assert_eq!(got_pid, pid);
        assert!(counter.parse::<u64>().is_ok(), "counter in {name}");
    }

    #[test]
    fn unique_database_names_are_plain_identifiers() {
        for input in ["", "::", "Mixed-Case Name!", "é_ünïcödé", "__lead_and_trail__", "a/b\\c.d", &"x".repeat(300)] {
            let name = unique_database(input);
            assert!(name.starts_with("t_"), "{name}");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'), "{input:?} gave {name}");
            assert!(!name.contains("__"), "{input:?} gave {name}");
            assert!(name.len() <= 2 + MAX_NAME_LEN + 1 + 10 + 1 + 20, "{name}");
        }
        assert_eq!(sanitise(""), "test");
        assert_eq!(sanitise("::"), "test");
        assert_eq!(sanitise("Mixed-Case Name!"), "mixed_case_name");
        assert_eq!(sanitise("__lead_and_trail__"), "lead_and_trail");
        assert_eq!(sanitise(&"x".repeat(300)).len(), MAX_NAME_LEN);
    }

    #[test]
    fn unique_database_never_repeats_across_threads() {
        let handles: Vec<_> = (0..8).map(|_| std::thread::spawn(|| (0..100).map(|_| unique_database("same")).collect::<Vec<_>>())).collect();
        let mut seen = HashSet::new();
        for handle in handles {
            for name in handle.join().expect("thread") {
                assert!(seen.insert(name.clone()), "duplicate {name}");
            }
        }
        assert_eq!(seen.len(), 800);
    }

    #[test]
    fn workspace_root_is_the_workspace() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml")).expect("root Cargo.toml");
        assert!(manifest.contains("[workspace]"));
        assert!(workspace_root().join("crates/testkit/Cargo.toml").is_file());
    }

    #[test]
    fn data_dir_defaults_to_shared_beside_the_workspace() {
        let root = Path::new("/work/main");
        assert_eq!(resolve_data_dir(None, root), Path::new("/work/shared/data/nba"));
        // An empty value counts as unset: `NBA_DATA_DIR= cargo test` must not point at
        // the workspace root.
        assert_eq!(resolve_data_dir(Some(OsString::new()), root), Path::new("/work/shared/data/nba"));
    }

    #[test]
    fn data_dir_env_value_wins() {
        let root = Path::new("/work/main");
        assert_eq!(resolve_data_dir(Some("/elsewhere/nba".into()), root), Path::new("/elsewhere/nba"));
        assert_eq!(resolve_data_dir(Some("fixtures/nba".into()), root), Path::new("/work/main/fixtures/nba"));
    }

    /// Runs this very test in a child process with `NBA_DATA_DIR` set, which checks the
    /// real environment path of [`data_dir`] without `std::env::set_var` (unsafe in
    /// edition 2024, and racy next to tests running in parallel threads).
    #[test]
    fn data_dir_reads_nba_data_dir_from_the_environment() {
        const CHILD_MARKER: &str = "NBA_TESTKIT_DATA_DIR_CHILD";
        if std::env::var_os(CHILD_MARKER).is_some() {
            let expected = PathBuf::from("/tmp/nba-testkit-data");
            assert_eq!(data_dir(), expected);
            assert_eq!(sample_archive(), expected.join("sample_bbref_html.tar.gz"));
            assert_eq!(season_archive(2024), expected.join("raw/bbref_2024.tar.zst"));
            return;
        }
        let exe = std::env::current_exe().expect("test binary path");
        let output = Command::new(exe)
            .args(["--exact", "tests::data_dir_reads_nba_data_dir_from_the_environment", "--test-threads=1"])
            .env(CHILD_MARKER, "1")
            .env(DATA_DIR_ENV, "/tmp/nba-testkit-data")
            .output()
            .expect("run the test binary");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "child failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        // Guards against the filter matching nothing, which would pass vacuously.
        assert!(stdout.contains("1 passed"), "child ran no test: {stdout}");
    }

    #[test]
    fn the_password_user_is_the_one_the_script_writes() {
        let script = std::fs::read_to_string(workspace_root().join("scripts/clickhouse.sh")).expect("scripts/clickhouse.sh");
        let user = script
            .split(&format!("<{PASSWORD_USER}>"))
            .nth(1)
            .and_then(|rest| rest.split(&format!("</{PASSWORD_USER}>")).next())
            .unwrap_or_else(|| panic!("no <{PASSWORD_USER}> user in scripts/clickhouse.sh"));
        assert!(user.contains(&format!("<password>{PASSWORD_USER_PASSWORD}</password>")), "{user}");
    }

    #[test]
    fn archives_live_under_data_dir() {
        let dir = data_dir();
        assert_eq!(sample_archive(), dir.join("sample_bbref_html.tar.gz"));
        assert_eq!(season_archive(2019), dir.join("raw").join("bbref_2019.tar.zst"));
    }
}
