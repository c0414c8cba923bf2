//! `nba-server`: thin entry point; the server lives in the library ([`nba_server::run`]).

use clap::Parser;
use nba_server::config::{Cli, Command};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    cli.log.init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("nba-server: cannot start the runtime: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(cfg) => {
                // Everything checkable is checked before a port is bound.
                let secrets = cfg.validate()?;
                let grpc = tokio::net::TcpListener::bind(cfg.listen).await.map_err(|e| anyhow::anyhow!("binding gRPC {}: {e}", cfg.listen))?;
                let admin = tokio::net::TcpListener::bind(cfg.admin_listen).await.map_err(|e| anyhow::anyhow!("binding admin {}: {e}", cfg.admin_listen))?;
                nba_server::run(*cfg, secrets, grpc, admin, nba_server::shutdown_signal()).await.map(|()| std::process::ExitCode::SUCCESS)
            }
            Command::Predict(args) => nba_server::client::run(args).await.map(|()| std::process::ExitCode::SUCCESS),
            Command::Slate(args) => {
                let summary = nba_server::slate_run::run(&args, std::sync::Arc::new(chrono::Utc::now)).await?;
                print!("{}", summary.render());
                Ok(if summary.clean() { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::from(1) })
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("nba-server: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
