//! `nba-trainer`: trains, evaluates, exports and promotes the points model. Thin: the
//! logic is in the library (`nba_trainer::run`).
//!
//! Exit codes: 0 trained (and promoted when asked) or command done, 3 the promotion gate
//! refused (the version is saved, not promoted), 2 error (nothing promoted).

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = nba_trainer::Cli::parse();
    cli.log.init();
    let code = match nba_trainer::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nba-trainer: {e:#}");
            nba_trainer::EXIT_ERROR
        }
    };
    std::process::exit(code);
}
