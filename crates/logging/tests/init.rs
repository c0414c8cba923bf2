//! `LogArgs::init` in a real process: this test binary runs itself again as a child
//! whose stderr is a pipe (as a log file or a collector would be), and reads what the
//! child logged.

// Helpers outside #[test] functions may panic: this is a test binary.
#![allow(clippy::unwrap_used)]

use clap::Parser;
use std::process::Command;

/// Set in the child: the flags it parses, separated by spaces.
const CHILD_ARGS: &str = "NBA_LOGGING_TEST_CHILD_ARGS";

#[derive(Debug, Parser)]
struct Cli {
    #[command(flatten)]
    log: nba_logging::LogArgs,
}

/// The child's body (a no-op in a normal run): init, then one line per level.
#[test]
fn child_logs_one_line_per_level() {
    let Ok(args) = std::env::var(CHILD_ARGS) else { return };
    let cli = Cli::parse_from(std::iter::once("child").chain(args.split_whitespace()));
    cli.log.init();
    tracing::debug!("debug line");
    tracing::info!(answer = 42, "info line");
    tracing::warn!("warn line");
}

/// Runs the child with `args` and the environment `env`; returns its stderr.
fn child_stderr(args: &str, env: &[(&str, &str)]) -> String {
    let exe = std::env::current_exe().unwrap();
    let mut c = Command::new(exe);
    c.args(["--exact", "child_logs_one_line_per_level", "--nocapture", "--test-threads", "1"]).env(CHILD_ARGS, args);
    for var in ["NBA_LOG", "NBA_LOG_FORMAT", "RUST_LOG"] {
        c.env_remove(var);
    }
    c.envs(env.iter().copied());
    let out = c.output().unwrap();
    assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn text_logs_into_a_pipe_have_no_colour_codes() {
    let log = child_stderr("", &[]);
    assert!(log.contains("info line") && log.contains("warn line"), "{log}");
    assert!(!log.contains("debug line"), "info is the default level: {log}");
    assert!(!log.contains('\x1b'), "ANSI escape codes in a pipe: {log:?}");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let log = child_stderr("--log-format json", &[]);
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("line")).collect();
    assert_eq!(lines.len(), 2, "{log}");
    for line in lines {
        assert!(line.starts_with('{') && line.ends_with('}') && line.contains("\"message\""), "{line}");
    }
    assert!(log.contains("\"answer\":42"), "{log}");
}

#[test]
fn the_level_comes_from_the_flags_then_nba_log_then_rust_log() {
    let warn_only = child_stderr("", &[("NBA_LOG", "warn"), ("RUST_LOG", "debug")]);
    assert!(warn_only.contains("warn line") && !warn_only.contains("info line"), "NBA_LOG wins over RUST_LOG: {warn_only}");
    let debug = child_stderr("", &[("RUST_LOG", "debug")]);
    assert!(debug.contains("debug line"), "RUST_LOG is honoured: {debug}");
    let verbose = child_stderr("-v", &[("NBA_LOG", "warn")]);
    assert!(verbose.contains("debug line"), "-v wins: {verbose}");
    let bad = child_stderr("", &[("RUST_LOG", "loud==")]);
    assert!(bad.contains("info line") && bad.contains("not a valid log filter"), "{bad}");
}
