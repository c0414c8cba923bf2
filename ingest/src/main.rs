//! `nba-ingest` binary: parses the command line, sets up logging, runs, maps errors to
//! exit code 2. All logic lives in the library.

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = nba_ingest::cli::Cli::parse();
    cli.global.log.init();
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
