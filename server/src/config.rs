//! The command line of `nba-server`: one typed config, every flag also settable from the
//! environment (the Kubernetes manifests set them there), validated before a port is bound.

use clap::{Args, Parser, Subcommand};
use nba_logging::LogArgs;
use nba_store::{ClickHouseArgs, StoreConfig};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// gRPC points predictions from the registry's current model and live features.
#[derive(Debug, Parser)]
#[command(name = "nba-server", version, about, long_about)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve gRPC (Predict, PredictBatch, GetModel, Explain, the KServe V2 inference
    /// protocol, health, reflection) and the admin HTTP port (/metrics, /live, /ready,
    /// POST /admin/reload). SIGTERM/SIGINT: NOT_SERVING, drain, exit 0.
    Serve(Box<ServeConfig>),
    /// Call a running server's Predict and print the answers (a real gRPC client).
    Predict(ClientArgs),
    /// Predict every player of a day's games with what is known now (as `Predict` does)
    /// and store them in `predictions` (source = slate). Exit 0 done, 1 done with players
    /// or lineups set aside (listed), 2 failed.
    Slate(Box<crate::slate_run::SlateArgs>),
}

#[derive(Debug, Clone, Args)]
pub struct ServeConfig {
    /// gRPC listen address.
    #[arg(long, env = "NBA_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,
    /// Admin HTTP listen address (/metrics, /live, /ready, POST /admin/reload).
    #[arg(long, env = "NBA_ADMIN_LISTEN", default_value = "127.0.0.1:9090")]
    pub admin_listen: SocketAddr,
    #[command(flatten)]
    pub predictions: PredictionArgs,
    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,
    /// Seconds between checks of the registry's `current` pointer (0: only on
    /// POST /admin/reload).
    #[arg(long, env = "NBA_MODEL_POLL_SECS", default_value_t = 5)]
    pub model_poll_secs: u64,
    /// Seconds between checks of ClickHouse for newly built games (the history is
    /// reloaded when the summary tables changed).
    #[arg(long, env = "NBA_FEATURE_REFRESH_SECS", default_value_t = 60)]
    pub feature_refresh_secs: u64,
    /// Computed feature vectors kept in memory (beyond it, those asked least often and least lately are evicted).
    #[arg(long, env = "NBA_FEATURE_CACHE_ENTRIES", default_value_t = 100_000)]
    pub feature_cache_entries: usize,
    /// Largest accepted request message, bytes.
    #[arg(long, env = "NBA_MAX_REQUEST_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_request_bytes: usize,
    /// Most requests in one PredictBatch, rows in one ModelInfer.
    #[arg(long, env = "NBA_MAX_BATCH", default_value_t = 10_000)]
    pub max_batch: usize,
    /// Most rows in one Arrow Flight record batch.
    #[arg(long, env = "NBA_MAX_FLIGHT_BATCH", default_value_t = 1_000_000)]
    pub max_flight_batch: usize,
    /// Bytes of answers one Arrow Flight exchange may hold while its client does not
    /// read them (a client that writes everything before reading anything); past it the
    /// exchange ends with RESOURCE_EXHAUSTED instead of waiting forever. About 60 bytes per
    /// answered row of the `features` exchange.
    #[arg(long, env = "NBA_MAX_FLIGHT_ANSWER_BACKLOG_BYTES", default_value_t = 128 * 1024 * 1024,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub max_flight_answer_backlog_bytes: u64,
    /// Seconds an Arrow Flight exchange may make no progress (no input message arrives and
    /// the client takes no answer) before it ends with DEADLINE_EXCEEDED, its buffers
    /// freed; 0: never. A client that writes or reads a message now and then is never cut off.
    #[arg(long, env = "NBA_FLIGHT_STALL_SECS", default_value_t = 120, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    pub flight_stall_secs: u64,
    /// Largest accepted Arrow Flight message (one encoded batch), bytes.
    #[arg(long, env = "NBA_MAX_FLIGHT_MESSAGE_BYTES", default_value_t = 512 * 1024 * 1024)]
    pub max_flight_message_bytes: usize,
    /// Concurrent requests per connection (HTTP/2 streams served at once); more are
    /// refused with RESOURCE_EXHAUSTED.
    #[arg(long, env = "NBA_MAX_CONCURRENCY", default_value_t = 256)]
    pub max_concurrency: usize,
    /// Seconds to keep draining in-flight calls after SIGTERM before exiting anyway.
    #[arg(long, env = "NBA_SHUTDOWN_GRACE_SECS", default_value_t = 20)]
    pub shutdown_grace_secs: u64,
    /// Seconds between reporting NOT_SERVING and closing the listener, so load balancers
    /// (Kubernetes endpoints) stop routing here first.
    #[arg(long, env = "NBA_SHUTDOWN_DELAY_SECS", default_value_t = 0)]
    pub shutdown_delay_secs: u64,
    /// TLS certificate chain (PEM). With --tls-key, gRPC is served over TLS (rustls).
    #[arg(long, env = "NBA_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "NBA_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// File holding the bearer token clients must send (`authorization: Bearer ...`).
    /// NBA_AUTH_TOKEN is read when this is not set. No token: no check.
    #[arg(long, env = "NBA_AUTH_TOKEN_FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// Append every prediction to ClickHouse's `predictions` table (batched, off the
    /// request path).
    #[arg(long, env = "NBA_PREDICTION_LOG", default_value_t = true, action = clap::ArgAction::Set)]
    pub prediction_log: bool,
    /// Keep the model's answer (points, p10, p90) beside each cached feature vector and
    /// give it again to a request asking the same question of the same model, instead of
    /// walking the trees again (the answer is a function of the two). false: walk them on
    /// every call (to measure what reuse saves, or to rule it out).
    #[arg(long, env = "NBA_REUSE_ANSWERS", default_value_t = true, action = clap::ArgAction::Set)]
    pub reuse_answers: bool,
    /// Seconds the prediction log collapses repeated answers before writing them (one row
    /// per distinct answer, with how often it was given); also the longest a logged answer
    /// waits before it is in ClickHouse.
    #[arg(long, env = "NBA_PREDICTION_LOG_WINDOW_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub prediction_log_window_secs: u64,
    /// Low-latency mode, off by default (0): this many background threads spin on CPUs
    /// that would otherwise idle while requests keep arriving, so that a call does not
    /// wait for a halted (virtual) CPU to wake. They run under SCHED_IDLE (any real work
    /// preempts them) but burn idle CPU, which counts against a Kubernetes CPU limit:
    /// use only with dedicated CPUs or no CPU limit. A sensible value is the number of
    /// cores (`nproc`); at most twice that. See docs/server.md.
    #[arg(long, env = "NBA_KEEP_CPUS_AWAKE", default_value_t = 0, value_name = "THREADS")]
    pub keep_cpus_awake: usize,
    /// With --keep-cpus-awake: how long after the latest request the threads keep
    /// spinning before they sleep, microseconds.
    #[arg(long, env = "NBA_KEEP_AWAKE_WINDOW_US", default_value_t = 2000)]
    pub keep_awake_window_us: u64,
}

/// What a prediction is made with, the same for the server and the slate run: the model
/// registry and the injury-report rule.
#[derive(Debug, Clone, Args)]
pub struct PredictionArgs {
    /// Model registry root (the trainer's --registry); its current version is used.
    #[arg(long, env = "NBA_REGISTRY", default_value = "registry")]
    pub registry: PathBuf,
    /// Injury reports' Doubtful players play. Off: a Doubtful player counts as inactive
    /// (as Out does) when a team's list comes from an injury report.
    #[arg(long, env = "NBA_DOUBTFUL_PLAYS")]
    pub doubtful_plays: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ClientArgs {
    /// Server address.
    #[arg(long, env = "NBA_SERVER_ADDR", default_value = "http://127.0.0.1:50051")]
    pub addr: String,
    /// Bearer token, if the server wants one.
    #[arg(long, env = "NBA_AUTH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// One request per value: PLAYER_ID,YYYY-MM-DD,OPPONENT,home|away[,LINE].
    #[arg(required = true)]
    pub requests: Vec<String>,
}

/// Why a config cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{0}")]
    Invalid(String),
    #[error("reading {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error(transparent)]
    ClickHouse(#[from] nba_store::ConfigError),
}

/// What [`ServeConfig::validate`] read from files or the environment: the ClickHouse
/// connection with its password, and the bearer token. Never printed (`Debug` redacts).
#[derive(Clone)]
pub struct Secrets {
    pub clickhouse: StoreConfig,
    pub auth_token: Option<String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets").field("clickhouse", &self.clickhouse).field("auth_token", &self.auth_token.as_ref().map(|_| "<redacted>")).finish()
    }
}

/// The bearer token: from the file if one is named, else from `NBA_AUTH_TOKEN`.
fn read_auth_token(file: Option<&PathBuf>) -> Result<Option<String>, ConfigError> {
    let value = match file {
        Some(p) => Some(std::fs::read_to_string(p).map_err(|source| ConfigError::Read { path: p.display().to_string(), source })?),
        None => std::env::var("NBA_AUTH_TOKEN").ok(),
    };
    Ok(value.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()))
}

impl ServeConfig {
    /// Checks everything that can be checked before binding a port, and reads the secrets.
    pub fn validate(&self) -> Result<Secrets, ConfigError> {
        let bad = |m: String| Err(ConfigError::Invalid(m));
        if self.listen == self.admin_listen && self.listen.port() != 0 {
            return bad(format!("--listen and --admin-listen are both {}", self.listen));
        }
        self.clickhouse.validate()?;
        if self.feature_cache_entries == 0 || self.max_batch == 0 || self.max_concurrency == 0 || self.max_request_bytes < 1024 {
            return bad("--feature-cache-entries, --max-batch and --max-concurrency must be positive; --max-request-bytes at least 1024".into());
        }
        if self.feature_refresh_secs == 0 {
            return bad("--feature-refresh-secs must be at least 1".into());
        }
        if self.keep_cpus_awake > 0 {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            if self.keep_cpus_awake > 2 * cores {
                return bad(format!("--keep-cpus-awake {} is more than twice the {cores} available cores", self.keep_cpus_awake));
            }
            if self.keep_awake_window_us == 0 || self.keep_awake_window_us > 10_000_000 {
                return bad(format!("--keep-awake-window-us must be 1 to 10000000 (10 s), got {}", self.keep_awake_window_us));
            }
        }
        for p in [&self.tls_cert, &self.tls_key].into_iter().flatten() {
            if !p.is_file() {
                return bad(format!("TLS file {} does not exist", p.display()));
            }
        }
        let secrets = Secrets { clickhouse: self.clickhouse.store_config()?, auth_token: read_auth_token(self.auth_token_file.as_ref())? };
        if let Some(t) = &secrets.auth_token
            && t.len() < 16
        {
            return bad("the bearer token must be at least 16 characters".into());
        }
        Ok(secrets)
    }

    /// How long the --keep-cpus-awake threads spin after the latest request.
    pub fn keep_awake_window(&self) -> Duration {
        Duration::from_micros(self.keep_awake_window_us)
    }

    pub fn model_poll(&self) -> Option<Duration> {
        (self.model_poll_secs > 0).then(|| Duration::from_secs(self.model_poll_secs))
    }

    /// How long a Flight exchange may make no progress (None: forever).
    pub fn flight_stall(&self) -> Option<Duration> {
        (self.flight_stall_secs > 0).then(|| Duration::from_secs(self.flight_stall_secs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> ServeConfig {
        let mut v = vec!["nba-server", "serve"];
        v.extend_from_slice(args);
        match Cli::try_parse_from(v).unwrap().command {
            Command::Serve(c) => *c,
            other => unreachable!("{other:?}"),
        }
    }

    #[test]
    fn every_subcommand_is_a_valid_clap_command() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn defaults_are_loopback_and_valid() {
        let c = parse(&[]);
        assert!(c.listen.ip().is_loopback() && c.admin_listen.ip().is_loopback());
        assert!(c.validate().is_ok());
    }

    #[test]
    fn bad_values_are_refused_before_binding() {
        assert!(parse(&["--database", "a-b"]).validate().is_err());
        assert!(parse(&["--clickhouse-url", "127.0.0.1:8123"]).validate().is_err());
        assert!(parse(&["--listen", "127.0.0.1:7000", "--admin-listen", "127.0.0.1:7000"]).validate().is_err());
        assert!(parse(&["--max-batch", "0"]).validate().is_err());
        assert!(parse(&["--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"]).validate().is_err());
        assert!(Cli::try_parse_from(["nba-server", "serve", "--tls-cert", "x.pem"]).is_err(), "cert needs a key");
    }

    #[test]
    fn keep_cpus_awake_is_off_by_default_and_checked() {
        let c = parse(&[]);
        assert_eq!((c.keep_cpus_awake, c.keep_awake_window()), (0, Duration::from_micros(2000)));
        assert!(parse(&["--keep-cpus-awake", "1"]).validate().is_ok());
        assert!(parse(&["--keep-cpus-awake", "1", "--keep-awake-window-us", "0"]).validate().is_err());
        assert!(parse(&["--keep-awake-window-us", "0"]).validate().is_ok(), "the window is not used when off");
        assert!(parse(&["--keep-cpus-awake", "100000"]).validate().is_err());
    }

    #[test]
    fn flight_stall_defaults_to_two_minutes_and_0_is_never() {
        assert_eq!(parse(&[]).flight_stall(), Some(Duration::from_secs(120)));
        assert_eq!(parse(&["--flight-stall-secs", "0"]).flight_stall(), None);
        assert_eq!(parse(&["--flight-stall-secs", "2"]).flight_stall(), Some(Duration::from_secs(2)));
        assert!(Cli::try_parse_from(["nba-server", "serve", "--flight-stall-secs", "86401"]).is_err(), "at most a day");
        assert!(Cli::try_parse_from(["nba-server", "serve", "--flight-stall-secs", "-1"]).is_err());
    }

    #[test]
    fn doubtful_players_are_inactive_unless_the_flag_says_they_play() {
        assert!(!parse(&[]).predictions.doubtful_plays);
        assert!(parse(&["--doubtful-plays"]).predictions.doubtful_plays);
    }

    #[test]
    fn secrets_come_from_files_and_are_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("token");
        std::fs::write(&f, "s3cret-token-0123456789\n").unwrap();
        let c = parse(&["--auth-token-file", f.to_str().unwrap()]);
        let s = c.validate().unwrap();
        assert_eq!(s.auth_token.as_deref(), Some("s3cret-token-0123456789"));
        assert!(!format!("{s:?}").contains("s3cret"));
        std::fs::write(&f, "short").unwrap();
        assert!(c.validate().is_err(), "a short token is refused");
    }

    #[test]
    fn the_clickhouse_password_is_read_once_at_validation_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("ch-password");
        std::fs::write(&f, "ch-SECRET-pw\n").unwrap();
        let c = parse(&["--clickhouse-user", "nba", "--clickhouse-password-file", f.to_str().unwrap(), "--clickhouse-attempts", "2"]);
        let s = c.validate().unwrap();
        assert_eq!((s.clickhouse.user.as_deref(), s.clickhouse.password.as_deref(), s.clickhouse.attempts), (Some("nba"), Some("ch-SECRET-pw"), 2));
        assert!(!format!("{s:?} {c:?}").contains("SECRET"));
        std::fs::write(&f, "").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("empty") && e.contains("ch-password"), "an empty password file is refused before binding: {e}");
    }
}
