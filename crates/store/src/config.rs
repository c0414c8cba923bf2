//! The ClickHouse connection settings of every binary: one clap [`ClickHouseArgs`] that
//! `nba-ingest`, `nba-trainer` and `nba-server` flatten into their command lines, so each
//! setting has one flag, one environment variable and one default everywhere.
//!
//! [`ClickHouseArgs::connect`] is the one way a binary builds its [`Store`]: it checks the
//! values (http(s) URLs, a plain database name, attempts in range) before anything
//! connects, and reads the password with the one reader, [`read_password_file`].
//!
//! `--clickhouse-url` may name several servers (replicas of one cluster): comma-separated,
//! or the flag repeated, or `CLICKHOUSE_URL=a,b`. The [`Store`] sends every call to one of
//! them and moves on to the next when that one is unreachable (see [`Store::retry`]).
//!
//! The password comes from a file (`CLICKHOUSE_PASSWORD_FILE`, a mounted Secret in
//! Kubernetes) or, failing that, from `CLICKHOUSE_PASSWORD`. It is never logged: every
//! `Debug` here redacts it, and errors name the file, never its content.

use crate::{Store, StoreConfig};
use std::path::{Path, PathBuf};

/// Server URL when none is given: a ClickHouse on this machine.
pub const DEFAULT_URL: &str = "http://127.0.0.1:8123";
/// The platform's database when none is given.
pub const DEFAULT_DATABASE: &str = "nba";
/// Attempts per ClickHouse call when none is given: with the doubling pause from 0.5 s,
/// a call gives up after about 7.5 s of a server that does not answer, long enough to
/// ride out a restart of ClickHouse, short enough for a batch job to fail visibly.
pub const DEFAULT_ATTEMPTS: u32 = 5;
/// Most attempts accepted: beyond this a dead server keeps a job waiting for minutes.
pub const MAX_ATTEMPTS: u32 = 20;

/// Where ClickHouse is and how to log in. Every flag is global: it may be given before
/// or after the subcommand. The argument ids carry a `clickhouse_` prefix so that they
/// cannot collide with a subcommand's own (`nba-ingest scrape --attempts`).
#[derive(Clone, clap::Args)]
pub struct ClickHouseArgs {
    /// ClickHouse HTTP URL. Several (comma-separated, or the flag repeated) are replicas
    /// of one cluster, tried in order: a call that cannot reach one (refused, reset, timed
    /// out) goes on to the next, which later calls keep using.
    #[arg(id = "clickhouse_url", value_name = "CLICKHOUSE_URL", long = "clickhouse-url", env = "CLICKHOUSE_URL", default_value = DEFAULT_URL,
          value_delimiter = ',', global = true)]
    pub urls: Vec<String>,
    /// ClickHouse database of the platform.
    #[arg(id = "clickhouse_database", long = "database", value_name = "DATABASE", env = "NBA_DATABASE", default_value = DEFAULT_DATABASE, global = true)]
    pub database: String,
    /// ClickHouse user (default: the server's default user).
    #[arg(id = "clickhouse_user", value_name = "CLICKHOUSE_USER", long = "clickhouse-user", env = "CLICKHOUSE_USER", global = true)]
    pub user: Option<String>,
    /// File holding the ClickHouse password (surrounding whitespace and the final newline
    /// are ignored; an empty file is an error). Preferred over --clickhouse-password;
    /// never logged.
    #[arg(
        id = "clickhouse_password_file",
        value_name = "CLICKHOUSE_PASSWORD_FILE",
        long = "clickhouse-password-file",
        env = "CLICKHOUSE_PASSWORD_FILE",
        global = true
    )]
    pub password_file: Option<PathBuf>,
    /// ClickHouse password, used when no password file is given. Prefer the file or the
    /// environment: a value on the command line shows in the process list.
    #[arg(
        id = "clickhouse_password",
        value_name = "CLICKHOUSE_PASSWORD",
        long = "clickhouse-password",
        env = "CLICKHOUSE_PASSWORD",
        hide_env_values = true,
        global = true
    )]
    pub password: Option<String>,
    /// Attempts per ClickHouse call before giving up (a transient failure is retried after
    /// a pause that doubles each time).
    #[arg(id = "clickhouse_attempts", value_name = "CLICKHOUSE_ATTEMPTS", long = "clickhouse-attempts", env = "NBA_CLICKHOUSE_ATTEMPTS", default_value_t = DEFAULT_ATTEMPTS,
          global = true, value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_ATTEMPTS)))]
    pub attempts: u32,
    /// ClickHouse cluster (a `remote_servers` entry of the servers' config) to create the
    /// schema on: every table `ON CLUSTER` with a `Replicated*` engine, one shard, its
    /// replicas kept in step through ZooKeeper / ClickHouse Keeper (docs/clickhouse.md).
    /// Unset: plain engines on the one server.
    #[arg(id = "clickhouse_cluster", value_name = "CLUSTER", long = "cluster", env = "NBA_CLICKHOUSE_CLUSTER", global = true)]
    pub cluster: Option<String>,
}

impl std::fmt::Debug for ClickHouseArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseArgs")
            .field("urls", &self.urls)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password_file", &self.password_file)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("attempts", &self.attempts)
            .field("cluster", &self.cluster)
            .finish()
    }
}

impl Default for ClickHouseArgs {
    /// The values the flags default to (with no environment).
    fn default() -> Self {
        ClickHouseArgs {
            urls: vec![DEFAULT_URL.into()],
            database: DEFAULT_DATABASE.into(),
            user: None,
            password_file: None,
            password: None,
            attempts: DEFAULT_ATTEMPTS,
            cluster: None,
        }
    }
}

/// Why the ClickHouse settings cannot be used. Messages name the flag and, for the
/// password, the file; never the password.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("--clickhouse-url must be an http:// or https:// URL with a host, got {0:?}")]
    Url(String),
    #[error("--clickhouse-url lists {0:?} twice")]
    DuplicateUrl(String),
    #[error("--database {0:?} must be letters, digits and underscores")]
    Database(String),
    #[error("--clickhouse-attempts must be 1 to {MAX_ATTEMPTS}, got {0}")]
    Attempts(u32),
    #[error("--cluster {0:?} must be letters, digits and underscores")]
    Cluster(String),
    /// The cause is in the message (not a `source`), so that callers printing only the
    /// top-level error (the trainer's `String` errors) still say why.
    #[error("reading the ClickHouse password file {}: {error}", path.display())]
    PasswordFile { path: PathBuf, error: std::io::Error },
    #[error("the ClickHouse password file {} is empty", path.display())]
    EmptyPasswordFile { path: PathBuf },
}

impl ClickHouseArgs {
    /// Settings for one server `url` and `database`, the rest at their defaults.
    pub fn new(url: impl Into<String>, database: impl Into<String>) -> Self {
        ClickHouseArgs { urls: vec![url.into()], database: database.into(), ..Default::default() }
    }

    /// Checks the values without touching the file system or the network.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_urls(&self.urls)?;
        if !crate::is_plain_name(&self.database) {
            return Err(ConfigError::Database(self.database.clone()));
        }
        if !(1..=MAX_ATTEMPTS).contains(&self.attempts) {
            return Err(ConfigError::Attempts(self.attempts));
        }
        if let Some(cluster) = self.cluster.as_deref().filter(|c| !crate::is_plain_name(c)) {
            return Err(ConfigError::Cluster(cluster.to_string()));
        }
        Ok(())
    }

    /// The password: the file's if a file is named, else `--clickhouse-password`
    /// (`CLICKHOUSE_PASSWORD`); an empty value counts as none.
    pub fn resolve_password(&self) -> Result<Option<String>, ConfigError> {
        match &self.password_file {
            Some(path) => read_password_file(path).map(Some),
            None => Ok(self.password.clone().filter(|p| !p.is_empty())),
        }
    }

    /// The checked settings with the password read, ready for [`Store::new`].
    pub fn store_config(&self) -> Result<StoreConfig, ConfigError> {
        self.validate()?;
        let mut config = StoreConfig::with_urls(check_urls(&self.urls)?, self.database.clone());
        config.user = self.user.clone().filter(|u| !u.is_empty());
        config.password = self.resolve_password()?;
        config.attempts = self.attempts;
        config.cluster = self.cluster.clone();
        Ok(config)
    }

    /// The store these settings name: checked, password read, not yet contacted (call
    /// [`Store::ping`] to find out whether the server answers).
    pub fn connect(&self) -> Result<Store, ConfigError> {
        Ok(Store::connect(self.store_config()?))
    }
}

/// The one reader of a password file: the content without surrounding whitespace (so
/// the newline editors and `echo` add is not part of the password). A missing,
/// unreadable or empty file is an error naming the file.
pub fn read_password_file(path: &Path) -> Result<String, ConfigError> {
    let content = std::fs::read_to_string(path).map_err(|error| ConfigError::PasswordFile { path: path.to_path_buf(), error })?;
    let password = content.trim();
    if password.is_empty() {
        return Err(ConfigError::EmptyPasswordFile { path: path.to_path_buf() });
    }
    Ok(password.to_string())
}

/// The server list of `--clickhouse-url`, checked: each item (surrounding spaces ignored,
/// so `a, b` reads as two URLs) an http(s) URL with a host, none listed twice (a typo
/// that would send the failover back to the server that just failed), at least one.
pub fn check_urls(urls: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut out: Vec<String> = Vec::with_capacity(urls.len());
    for url in urls.iter().map(|u| u.trim()) {
        if !is_http_url(url) {
            return Err(ConfigError::Url(url.to_string()));
        }
        if out.iter().any(|seen| seen.trim_end_matches('/') == url.trim_end_matches('/')) {
            return Err(ConfigError::DuplicateUrl(url.to_string()));
        }
        out.push(url.to_string());
    }
    if out.is_empty() {
        return Err(ConfigError::Url(String::new()));
    }
    Ok(out)
}

fn is_http_url(url: &str) -> bool {
    let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
    rest.is_some_and(|r| !r.is_empty() && !r.starts_with('/') && !r.contains(char::is_whitespace))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        clickhouse: ClickHouseArgs,
    }

    fn parse(args: &[&str]) -> Result<ClickHouseArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("test").chain(args.iter().copied())).map(|c| c.clickhouse)
    }

    #[test]
    fn flags_parse_and_defaults_are_the_documented_ones() {
        let a = parse(&["--clickhouse-url", "https://ch:8443", "--database", "nba_2", "--clickhouse-user", "nba", "--clickhouse-attempts", "3"]).unwrap();
        assert_eq!((a.urls.as_slice(), a.database.as_str(), a.user.as_deref(), a.attempts), (&["https://ch:8443".to_string()][..], "nba_2", Some("nba"), 3));
        let d = ClickHouseArgs::default();
        assert_eq!((d.urls.as_slice(), d.database.as_str(), d.attempts), (&[DEFAULT_URL.to_string()][..], DEFAULT_DATABASE, 5));
        assert!(d.validate().is_ok());
    }

    #[test]
    fn the_cluster_is_optional_checked_and_passed_to_the_store() {
        assert_eq!(parse(&[]).unwrap().cluster, None);
        let a = parse(&["--cluster", "nba_cluster"]).unwrap();
        assert_eq!(a.store_config().unwrap().cluster.as_deref(), Some("nba_cluster"));
        assert_eq!(ClickHouseArgs::default().store_config().unwrap().cluster, None);
        for bad in ["", "a-b", "c; DROP", "x.y"] {
            let a = ClickHouseArgs { cluster: Some(bad.into()), ..Default::default() };
            assert!(matches!(a.validate(), Err(ConfigError::Cluster(_))), "{bad:?}");
        }
    }

    #[test]
    fn attempts_out_of_range_are_refused_by_the_parser_and_by_validate() {
        assert!(parse(&["--clickhouse-attempts", "0"]).is_err());
        assert!(parse(&["--clickhouse-attempts", "21"]).is_err());
        let a = ClickHouseArgs { attempts: 0, ..Default::default() };
        assert!(matches!(a.validate(), Err(ConfigError::Attempts(0))));
    }

    #[test]
    fn bad_urls_and_database_names_are_refused_before_connecting() {
        for url in ["127.0.0.1:8123", "ftp://x", "http://", "http:///x", "http://a b", ""] {
            let e = ClickHouseArgs::new(url, "nba").connect().err();
            assert!(matches!(e, Some(ConfigError::Url(_))), "{url:?}: {e:?}");
        }
        for db in ["", "a-b", "nba; DROP", "x.y"] {
            assert!(matches!(ClickHouseArgs::new(DEFAULT_URL, db).connect().err(), Some(ConfigError::Database(_))), "{db:?}");
        }
        let store = ClickHouseArgs::new("https://ch.example:8443/", "nba_test_1").connect().unwrap();
        assert_eq!((store.url(), store.database()), ("https://ch.example:8443/", "nba_test_1"));
    }

    fn urls(list: &[&str]) -> Vec<String> {
        list.iter().map(|u| u.to_string()).collect()
    }

    #[test]
    fn several_urls_come_comma_separated_or_by_repeating_the_flag() {
        let a = parse(&["--clickhouse-url", "http://ch-0:8123,https://ch-1:8443"]).unwrap();
        assert_eq!(a.urls, urls(&["http://ch-0:8123", "https://ch-1:8443"]));
        let a = parse(&["--clickhouse-url", "http://ch-0:8123", "--clickhouse-url", "http://ch-1:8123,http://ch-2:8123"]).unwrap();
        assert_eq!(a.urls, urls(&["http://ch-0:8123", "http://ch-1:8123", "http://ch-2:8123"]));
        let config = a.store_config().unwrap();
        assert_eq!(config.urls, a.urls, "the store gets them in the given order");
        let store = a.connect().unwrap();
        assert_eq!((store.url(), store.urls()), ("http://ch-0:8123", a.urls.as_slice()), "calls start at the first");
    }

    #[test]
    fn a_url_list_is_trimmed_and_each_item_checked() {
        assert_eq!(check_urls(&urls(&[" http://a:1", "http://b:2 "])).unwrap(), urls(&["http://a:1", "http://b:2"]));
        let e = check_urls(&urls(&["http://a:1", "b:2"])).unwrap_err();
        assert!(matches!(&e, ConfigError::Url(u) if u == "b:2"), "{e}");
        // `a,,b` and a trailing comma leave an empty item: refused, not skipped.
        let e = parse(&["--clickhouse-url", "http://a:1,,http://b:2"]).unwrap().validate().unwrap_err();
        assert!(matches!(&e, ConfigError::Url(u) if u.is_empty()), "{e}");
        assert!(matches!(parse(&["--clickhouse-url", "http://a:1,"]).unwrap().connect().err(), Some(ConfigError::Url(_))));
        let e = check_urls(&urls(&["http://a:1", "http://b:2", "http://a:1/"])).unwrap_err();
        assert!(matches!(&e, ConfigError::DuplicateUrl(u) if u == "http://a:1/"), "{e}");
        assert!(e.to_string().contains("twice"), "{e}");
        assert!(matches!(check_urls(&[]), Err(ConfigError::Url(_))));
        let none = ClickHouseArgs { urls: vec![], ..Default::default() };
        assert!(matches!(none.connect().err(), Some(ConfigError::Url(_))), "no URL at all is refused");
    }

    /// `CLICKHOUSE_URL=a,b` is split like the flag. Run in a child process with the
    /// variable set (`set_var` is unsafe in edition 2024, and racy beside other tests).
    #[test]
    fn the_environment_variable_is_split_on_commas() {
        const CHILD_MARKER: &str = "NBA_STORE_URLS_ENV_CHILD";
        if std::env::var_os(CHILD_MARKER).is_some() {
            let a = parse(&[]).unwrap();
            assert_eq!(a.urls, urls(&["http://ch-0:8123", "http://ch-1:8123"]));
            assert!(a.validate().is_ok());
            return;
        }
        let exe = std::env::current_exe().expect("test binary path");
        let output = std::process::Command::new(exe)
            .args(["--exact", "config::tests::the_environment_variable_is_split_on_commas", "--test-threads=1"])
            .env(CHILD_MARKER, "1")
            .env("CLICKHOUSE_URL", "http://ch-0:8123,http://ch-1:8123")
            .output()
            .expect("run the test binary");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "child failed: {stdout}\n{}", String::from_utf8_lossy(&output.stderr));
        assert!(stdout.contains("1 passed"), "child ran no test: {stdout}");
    }

    #[test]
    fn the_password_file_is_trimmed_and_wins_over_the_password_value() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("password");
        std::fs::write(&file, "  s3cret-pw\r\n").unwrap();
        let mut a = ClickHouseArgs { password: Some("from-env".into()), ..Default::default() };
        assert_eq!(a.resolve_password().unwrap().as_deref(), Some("from-env"));
        a.password_file = Some(file);
        assert_eq!(a.resolve_password().unwrap().as_deref(), Some("s3cret-pw"));
        a.password_file = None;
        a.password = Some(String::new());
        assert_eq!(a.resolve_password().unwrap(), None, "an empty value is no password");
    }

    #[test]
    fn an_empty_or_missing_password_file_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty-pw");
        std::fs::write(&empty, " \n").unwrap();
        let mut a = ClickHouseArgs { password_file: Some(empty.clone()), ..Default::default() };
        let e = a.connect().err().unwrap();
        assert!(matches!(e, ConfigError::EmptyPasswordFile { .. }) && e.to_string().contains(&*empty.to_string_lossy()), "{e}");
        let missing = dir.path().join("missing-pw");
        a.password_file = Some(missing.clone());
        let e = a.connect().err().unwrap();
        assert!(matches!(e, ConfigError::PasswordFile { .. }) && e.to_string().contains(&*missing.to_string_lossy()), "{e}");
    }

    #[test]
    fn the_password_never_shows_in_debug_output() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "file-SECRET-1\n").unwrap();
        let mut a = parse(&["--clickhouse-password", "flag-SECRET-2", "--clickhouse-user", "nba"]).unwrap();
        assert!(!format!("{a:?}").contains("SECRET"), "{a:?}");
        a.password_file = Some(file);
        let config = a.store_config().unwrap();
        assert_eq!(config.password.as_deref(), Some("file-SECRET-1"));
        let shown = format!("{a:?} {config:?}");
        assert!(!shown.contains("SECRET") && shown.contains("<redacted>"), "{shown}");
    }
}
