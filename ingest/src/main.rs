//! `nba-ingest` binary: parses the command line, sets up logging, runs, maps errors to
//! exit code 2. All logic lives in the library.

use clap::Parser;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = nba_ingest::cli::Cli::parse();
    let default_level = match cli.global.verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level)))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("nba-ingest: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    match runtime.block_on(nba_ingest::run(cli)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nba-ingest: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
