//! The one logging setup of `nba-ingest`, `nba-trainer` and `nba-server`: the flags
//! ([`LogArgs`], flattened into each command line) and [`LogArgs::init`], which installs
//! the `tracing` subscriber writing to stderr.
//!
//! Which filter applies, first match wins:
//! 1. `-v` (debug) or `-vv` (trace), typed for one run;
//! 2. `--log-level` / `NBA_LOG`, a level or filter directives;
//! 3. `RUST_LOG`, the ecosystem's variable, for deployments that already set it;
//! 4. `info`.
//!
//! Logs are text or JSON (`--log-format`, `NBA_LOG_FORMAT`). Text is coloured only when
//! stderr is a terminal, so log files and collectors never get ANSI escape codes.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// The level when nothing else is asked for.
pub const DEFAULT_LEVEL: &str = "info";

/// Environment variable of the ecosystem's filter, read after the project's own.
pub const RUST_LOG: &str = "RUST_LOG";

/// How much is logged and in which format. Every flag is global: it may be given before
/// or after the subcommand.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct LogArgs {
    /// Debug logs (-v), trace logs (-vv); wins over --log-level and RUST_LOG.
    #[arg(short = 'v', long = "verbose", action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Log level (error, warn, info, debug, trace) or filter directives such as
    /// `info,nba_server=debug`. When unset: RUST_LOG if set, else info.
    #[arg(long = "log-level", env = "NBA_LOG", global = true, value_parser = parse_filter)]
    pub log_level: Option<String>,
    /// Log format: text (coloured only on a terminal) or json (one object per line).
    #[arg(long = "log-format", env = "NBA_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, Default, clap::ValueEnum, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// The filter chosen, and what to warn about once logging works.
#[derive(Debug, PartialEq, Eq)]
pub struct FilterChoice {
    pub directives: String,
    /// Set when `RUST_LOG` held directives that do not parse (the default is used).
    pub warning: Option<String>,
}

impl LogArgs {
    /// The filter for these flags, given `RUST_LOG`'s value (see the module docs for
    /// the order).
    pub fn filter_choice(&self, rust_log: Option<&str>) -> FilterChoice {
        let explicit = match self.verbose {
            0 => self.log_level.clone(),
            1 => Some("debug".to_string()),
            _ => Some("trace".to_string()),
        };
        if let Some(directives) = explicit {
            return FilterChoice { directives, warning: None };
        }
        match rust_log.map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) if parse_filter(v).is_ok() => FilterChoice { directives: v.to_string(), warning: None },
            Some(v) => FilterChoice {
                directives: DEFAULT_LEVEL.to_string(),
                warning: Some(format!("{RUST_LOG}={v:?} is not a valid log filter; logging at {DEFAULT_LEVEL}")),
            },
            None => FilterChoice { directives: DEFAULT_LEVEL.to_string(), warning: None },
        }
    }

    /// Installs the process's log subscriber on stderr. A second call (tests that embed
    /// a binary's code next to others) leaves the first subscriber in place.
    pub fn init(&self) {
        let choice = self.filter_choice(std::env::var(RUST_LOG).ok().as_deref());
        // The directives were checked by `filter_choice`; `info` is the safe fallback.
        let filter = EnvFilter::try_new(&choice.directives).unwrap_or_else(|_| EnvFilter::new(DEFAULT_LEVEL));
        let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(std::io::stderr().is_terminal());
        let _ = match self.log_format {
            LogFormat::Json => builder.json().try_init(),
            LogFormat::Text => builder.try_init(),
        };
        if let Some(warning) = choice.warning {
            tracing::warn!("{warning}");
        }
    }
}

/// Checks a level or filter directives (clap value parser of `--log-level`).
fn parse_filter(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() {
        return Err("empty log filter".into());
    }
    EnvFilter::builder().parse(value).map(|_| value.to_string()).map_err(|e| format!("not a log level or filter: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        log: LogArgs,
    }

    fn parse(args: &[&str]) -> Result<LogArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("test").chain(args.iter().copied())).map(|c| c.log)
    }

    #[test]
    fn verbose_wins_then_the_level_then_rust_log_then_info() {
        let d = |a: &LogArgs, rust_log| a.filter_choice(rust_log).directives;
        assert_eq!(d(&parse(&["-v", "--log-level", "warn"]).unwrap(), Some("error")), "debug");
        assert_eq!(d(&parse(&["-vv"]).unwrap(), None), "trace");
        assert_eq!(d(&parse(&["-vvv"]).unwrap(), None), "trace");
        assert_eq!(d(&parse(&["--log-level", "warn,nba_server=debug"]).unwrap(), Some("error")), "warn,nba_server=debug");
        assert_eq!(d(&parse(&[]).unwrap(), Some("error")), "error");
        assert_eq!(d(&parse(&[]).unwrap(), None), "info");
        assert_eq!(d(&parse(&[]).unwrap(), Some("  ")), "info");
    }

    #[test]
    fn a_bad_level_is_refused_and_a_bad_rust_log_falls_back_with_a_warning() {
        assert!(parse(&["--log-level", "loud=="]).is_err());
        assert!(parse(&["--log-level", ""]).is_err());
        let choice = parse(&[]).unwrap().filter_choice(Some("loud=="));
        assert_eq!(choice.directives, "info");
        assert!(choice.warning.is_some_and(|w| w.contains("RUST_LOG")));
    }

    #[test]
    fn the_format_defaults_to_text_and_takes_json() {
        assert_eq!(parse(&[]).unwrap().log_format, LogFormat::Text);
        assert_eq!(parse(&["--log-format", "json"]).unwrap().log_format, LogFormat::Json);
        assert!(parse(&["--log-format", "xml"]).is_err());
    }
}
