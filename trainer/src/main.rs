//! `nba-trainer`: trains, evaluates, exports and promotes the points model. Thin: the
//! logic is in the library (`nba_trainer::run`).
//!
//! Exit codes: 0 trained (and promoted when asked) or command done, 3 the promotion gate
//! refused (the version is saved, not promoted), 2 error (nothing promoted).

use clap::Parser;

#[tokio::main]
async fn main() {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("NBA_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")))
        .with_writer(std::io::stderr)
        .init();
    let cli = nba_trainer::Cli::parse();
    let code = match nba_trainer::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nba-trainer: {e:#}");
            nba_trainer::EXIT_ERROR
        }
    };
    std::process::exit(code);
}
