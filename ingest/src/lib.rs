//! `nba-ingest`: loads scraped basketball-reference pages into ClickHouse.
//!
//! - [`cli`]: the typed command line.
//! - [`load`]: the load pipeline (sources → parse → batched, idempotent writes → ledger).
//! - [`report`]: the end-of-run summary.
//! - [`scrape`]: polite fetching of new pages into a raw page store.
//!
//! Page parsing itself lives in the `nba-pages` crate, tables and rows in `nba-store`.

pub mod backfill;
pub mod build;
pub mod cli;
pub mod grade;
pub mod load;
pub mod ops;
pub mod progress;
pub mod report;
pub mod scrape;
pub mod validate;

use anyhow::Context;
use cli::{Cli, Command, GlobalArgs, ProgressMode};
use nba_store::Store;
use std::process::ExitCode;

/// The store the global flags name, through the constructor every binary shares.
pub fn store_from_args(g: &GlobalArgs) -> anyhow::Result<Store> {
    Ok(g.clickhouse.connect()?)
}

/// Runs one command; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Migrate => {
            let store = store_from_args(&cli.global)?;
            store.ping().await?;
            let applied = store.migrate().await?;
            let version = store.schema_version().await?.unwrap_or(0);
            if applied.is_empty() {
                println!("database {} is up to date (schema version {version})", store.database());
            } else {
                println!("database {}: applied migrations {applied:?}; schema version {version}", store.database());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Build(args) => {
            let store = store_from_args(&cli.global)?;
            store.ping().await?;
            load::check_schema(&store).await?;
            let summary = build::build(&store, &build::BuildOptions { from: args.from, to: args.to, full: args.full }).await?;
            print!("{summary}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate(args) => {
            let store = store_from_args(&cli.global)?;
            store.ping().await?;
            load::check_schema(&store).await?;
            let today = chrono::Utc::now().date_naive();
            let report = validate::validate(&store, args.from, args.to, today).await?;
            validate::record(&store, &report).await?;
            print!("{}", report.render());
            Ok(if report.critical_failures() == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Backfill(args) => {
            let store = store_from_args(&cli.global)?;
            store.ping().await?;
            load::check_schema(&store).await?;
            let opts = backfill::BackfillOptions {
                from: args.from,
                to: args.to,
                chunk_days: args.chunk_days,
                load: load::LoadOptions {
                    paths: args.paths,
                    batch_pages: 500,
                    workers: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
                    dry_run: false,
                    progress: cli.global.progress != ProgressMode::Never,
                    dates: None,
                },
            };
            let s = backfill::backfill(&store, &opts, chrono::Utc::now().date_naive()).await?;
            println!("backfill {} .. {}: {} chunks, {} done earlier, {} done now", args.from, args.to, s.chunks, s.done_before, s.done_now);
            println!("  files loaded {}, feature rows written {}, files rejected {}", s.files_loaded, s.feature_rows, s.rejected.len());
            for r in s.rejected.iter().take(20) {
                println!("    {}: {}", r.source, r.reason);
            }
            for (from, to, checks) in &s.failed_validation {
                println!("  validation of {from} .. {to} failed critically: {checks}");
            }
            if !s.failed_validation.is_empty() {
                println!("  see `nba-ingest query backfill_progress` and `nba-ingest validate --from .. --to ..`");
            }
            Ok(if s.rejected.is_empty() && s.failed_validation.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Grade(args) => {
            let store = store_from_args(&cli.global)?;
            store.ping().await?;
            load::check_schema(&store).await?;
            let last: String =
                store.retry("last game", || store.client().query("SELECT toString(max(game_date)) FROM player_game_summary").fetch_one()).await?;
            let last = chrono::NaiveDate::parse_from_str(&last, "%Y-%m-%d").context("last game date")?;
            let to = args.to.unwrap_or(last);
            let from = args.from.unwrap_or(to - chrono::Days::new(6));
            let rows = grade::grade(&store, from, to).await?;
            print!("{}", grade::render(&rows));
            Ok(ExitCode::SUCCESS)
        }
        Command::Features => {
            print!("{}", contract_markdown());
            Ok(ExitCode::SUCCESS)
        }
        Command::Status => {
            let store = store_from_args(&cli.global)?;
            store.ping().await?;
            load::check_schema(&store).await?;
            print!("{}", ops::status(&store).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Query(args) => {
            if args.list {
                for (name, sql) in ops::QUERIES {
                    let about = sql.lines().next().unwrap_or("").trim_start_matches("--").trim();
                    println!("{name:<20} {about}");
                }
                return Ok(ExitCode::SUCCESS);
            }
            let name = args.name.unwrap_or_default();
            let sql = ops::query_sql(&name).ok_or_else(|| anyhow::anyhow!("no monitoring query named {name:?}; `nba-ingest query --list` shows them"))?;
            let store = store_from_args(&cli.global)?;
            store.ping().await?;
            print!("{}", ops::run_formatted(&store, sql, &args.format).await?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Scrape(args) => {
            let yesterday = chrono::Utc::now().date_naive().pred_opt().unwrap_or_default();
            let (from, to) = (args.from.unwrap_or(yesterday), args.to.unwrap_or(yesterday));
            let opts = scrape::ScrapeOptions {
                from,
                to,
                base_url: args.base_url,
                store_dir: args.store.clone(),
                fetch: scrape::fetch::FetchConfig {
                    user_agent: args.user_agent,
                    rate_per_minute: args.rate_per_minute,
                    timeout: std::time::Duration::from_secs(args.timeout_secs),
                    max_attempts: args.attempts,
                    backoff: std::time::Duration::from_millis(args.backoff_ms),
                },
                max_failures: args.max_failures,
                refresh: args.refresh,
                progress: cli.global.progress != ProgressMode::Never,
            };
            let store = if args.no_db { None } else { Some(store_from_args(&cli.global)?) };
            if let Some(store) = &store {
                store.ping().await?;
                load::check_schema(store).await?;
            }
            let summary = scrape::scrape(store.as_ref(), &opts).await?;
            print!("{}", scrape::render(&summary));
            let mut ok = summary.rejected.is_empty();
            if args.load {
                let load_opts = load::LoadOptions {
                    paths: vec![args.store],
                    batch_pages: 500,
                    workers: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
                    dry_run: false,
                    progress: cli.global.progress != ProgressMode::Never,
                    dates: Some((from, to)),
                };
                let loaded = load::load(store.as_ref(), &load_opts).await?;
                print!("{}", report::render(&loaded, false));
                ok &= loaded.rejected.is_empty();
            }
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
        Command::Load(args) => {
            let workers = args.workers.unwrap_or_else(|| std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2));
            let opts = load::LoadOptions {
                paths: args.paths,
                batch_pages: usize::try_from(args.batch_pages).unwrap_or(500),
                workers,
                dry_run: args.dry_run,
                progress: cli.global.progress != ProgressMode::Never,
                dates: None,
            };
            let store = if args.dry_run { None } else { Some(store_from_args(&cli.global)?) };
            if let Some(store) = &store {
                store.ping().await?;
            }
            let summary = load::load(store.as_ref(), &opts).await?;
            print!("{}", report::render(&summary, args.dry_run));
            Ok(if summary.rejected.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
        }
    }
}

/// The feature contract as a Markdown table (docs/features.md is this output).
pub fn contract_markdown() -> String {
    let mut out = format!(
        "Contract version {}, hash `{}`, {} features, in this order. Timing: *pre-game* features come from earlier games and the \
         schedule; *request-time* features read the game's official inactive lists, which a caller supplies on game day.\n\n\
         | # | feature | group | timing | definition |\n| --- | --- | --- | --- | --- |\n",
        nba_features::FEATURE_VERSION,
        nba_features::contract_hash(),
        nba_features::N_FEATURES
    );
    for (i, f) in nba_features::features().iter().enumerate() {
        out.push_str(&format!("| {} | `{}` | {} | {} | {} |\n", i + 1, f.name, f.group.label(), f.timing.label(), f.definition));
    }
    out
}
