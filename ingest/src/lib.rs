//! `nba-ingest`: loads scraped basketball-reference pages into ClickHouse.
//!
//! - [`cli`]: the typed command line.
//! - [`load`]: the load pipeline (sources → parse → batched, idempotent writes → ledger).
//! - [`build`]: raw tables → summaries and point-in-time features.
//! - [`validate`]: the validation checks; [`backfill`]: load, build and validate by chunk.
//! - [`monitoring`]: the monitoring queries and the `status` screen; [`grade`]: served
//!   predictions against what happened.
//! - [`scrape`]: polite fetching of new pages into a raw page store.
//! - [`injuries`]: injury reports (CSV or JSON) into `injury_reports`.
//! - [`lines`]: sportsbook player-points lines (event-odds JSON or CSV) into `prop_lines`.
//!
//! Page parsing itself lives in the `nba-pages` crate, tables and rows in `nba-store`.

pub mod backfill;
pub mod build;
pub mod cli;
pub mod feed;
pub mod grade;
pub mod injuries;
pub mod lines;
pub mod load;
pub mod monitoring;
pub mod progress;
pub mod scrape;
pub mod validate;

use anyhow::Context;
use cli::{
    BackfillArgs, BuildArgs, Cli, Command, GlobalArgs, InjuriesCommand, InjuriesLoadArgs, LinesCommand, LinesLoadArgs, LoadArgs, ProgressMode, QueryArgs,
    RangeArgs, ScrapeArgs,
};
use nba_store::Store;
use std::process::ExitCode;

/// The store the global flags name, through the constructor every binary shares.
pub fn store_from_args(g: &GlobalArgs) -> anyhow::Result<Store> {
    Ok(g.clickhouse.connect()?)
}

/// Runs one command; returns the process exit code.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let global = &cli.global;
    match cli.command {
        Command::Migrate => migrate(global).await,
        Command::Load(args) => load_pages(global, args).await,
        Command::Build(args) => build_tables(global, &args).await,
        Command::Validate(args) => validate_range(global, &args).await,
        Command::Backfill(args) => backfill_range(global, args).await,
        Command::Grade(args) => grade_predictions(global, &args).await,
        Command::Features => {
            print!("{}", contract_markdown());
            Ok(ExitCode::SUCCESS)
        }
        Command::Status => status(global).await,
        Command::Query(args) => monitoring_query(global, args).await,
        Command::Scrape(args) => scrape_pages(global, args).await,
        Command::Injuries(InjuriesCommand::Load(args)) => load_injuries(global, &args).await,
        Command::Lines(LinesCommand::Load(args)) => load_lines(global, &args).await,
    }
}

/// Exit code 0 when everything went through, 1 when the run finished with rejected files
/// or failed checks.
fn exit_code(all_good: bool) -> ExitCode {
    if all_good { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn wants_progress(global: &GlobalArgs) -> bool {
    global.progress != ProgressMode::Never
}

/// The store, reachable and at this build's schema version.
async fn migrated_store(global: &GlobalArgs) -> anyhow::Result<Store> {
    let store = store_from_args(global)?;
    store.ping().await?;
    load::check_schema(&store).await?;
    Ok(store)
}

async fn migrate(global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = store_from_args(global)?;
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

async fn load_pages(global: &GlobalArgs, args: LoadArgs) -> anyhow::Result<ExitCode> {
    let defaults = load::LoadOptions::new(args.paths, wants_progress(global));
    let opts = load::LoadOptions {
        batch_pages: usize::try_from(args.batch_pages).unwrap_or(load::LoadOptions::DEFAULT_BATCH_PAGES),
        workers: args.workers.unwrap_or(defaults.workers),
        dry_run: args.dry_run,
        ..defaults
    };
    let store = if args.dry_run { None } else { Some(store_from_args(global)?) };
    if let Some(store) = &store {
        store.ping().await?;
    }
    let summary = load::load(store.as_ref(), &opts).await?;
    print!("{}", summary.render(args.dry_run));
    Ok(exit_code(summary.rejected.is_empty()))
}

async fn build_tables(global: &GlobalArgs, args: &BuildArgs) -> anyhow::Result<ExitCode> {
    let store = migrated_store(global).await?;
    let summary = build::build(&store, &build::BuildOptions { from: args.from, to: args.to, full: args.full }).await?;
    print!("{summary}");
    Ok(ExitCode::SUCCESS)
}

async fn validate_range(global: &GlobalArgs, args: &RangeArgs) -> anyhow::Result<ExitCode> {
    let store = migrated_store(global).await?;
    let today = chrono::Utc::now().date_naive();
    let outcome = validate::validate(&store, args.from, args.to, today).await?;
    validate::record(&store, &outcome).await?;
    print!("{}", outcome.render());
    Ok(exit_code(outcome.critical_failures() == 0))
}

async fn backfill_range(global: &GlobalArgs, args: BackfillArgs) -> anyhow::Result<ExitCode> {
    let store = migrated_store(global).await?;
    let (from, to) = (args.from, args.to);
    let opts = backfill::BackfillOptions { from, to, chunk_days: args.chunk_days, load: load::LoadOptions::new(args.paths, wants_progress(global)) };
    let s = backfill::backfill(&store, &opts, chrono::Utc::now().date_naive()).await?;
    println!("backfill {from} .. {to}: {} chunks, {} done earlier, {} done now", s.chunks, s.done_before, s.done_now);
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
    Ok(exit_code(s.rejected.is_empty() && s.failed_validation.is_empty()))
}

/// Grades the predictions of `--from..--to`, by default the week up to the last loaded game.
async fn grade_predictions(global: &GlobalArgs, args: &RangeArgs) -> anyhow::Result<ExitCode> {
    let store = migrated_store(global).await?;
    let last: String = store.retry("last game", || store.client().query("SELECT toString(max(game_date)) FROM player_game_summary").fetch_one()).await?;
    let last = chrono::NaiveDate::parse_from_str(&last, "%Y-%m-%d").context("last game date")?;
    let to = args.to.unwrap_or(last);
    let from = args.from.unwrap_or(to - chrono::Days::new(6));
    let rows = grade::grade(&store, from, to).await?;
    print!("{}", grade::render(&rows));
    Ok(ExitCode::SUCCESS)
}

async fn status(global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let store = migrated_store(global).await?;
    print!("{}", monitoring::status(&store).await?);
    Ok(ExitCode::SUCCESS)
}

/// `query --list`, or one monitoring query in the requested format.
async fn monitoring_query(global: &GlobalArgs, args: QueryArgs) -> anyhow::Result<ExitCode> {
    if args.list {
        for (name, sql) in monitoring::QUERIES {
            let about = sql.lines().next().unwrap_or("").trim_start_matches("--").trim();
            println!("{name:<20} {about}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let name = args.name.unwrap_or_default();
    let sql = monitoring::query_sql(&name).ok_or_else(|| anyhow::anyhow!("no monitoring query named {name:?}; `nba-ingest query --list` shows them"))?;
    let store = store_from_args(global)?;
    store.ping().await?;
    print!("{}", monitoring::run_formatted(&store, sql, &args.format).await?);
    Ok(ExitCode::SUCCESS)
}

/// Scrapes `--from..--to` (default: yesterday, UTC) and, with `--load`, loads what the
/// page store holds for those dates.
async fn scrape_pages(global: &GlobalArgs, args: ScrapeArgs) -> anyhow::Result<ExitCode> {
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
        progress: wants_progress(global),
    };
    let store = if args.no_db { None } else { Some(migrated_store(global).await?) };
    let summary = scrape::scrape(store.as_ref(), &opts).await?;
    print!("{}", scrape::render(&summary));
    let mut all_good = summary.rejected.is_empty();
    if args.load {
        // Up to the schedule horizon: the upcoming months' schedule pages are loaded too.
        let dates = Some((from, scrape::schedule_horizon(to)));
        let load_opts = load::LoadOptions { dates, ..load::LoadOptions::new(vec![args.store], wants_progress(global)) };
        let loaded = load::load(store.as_ref(), &load_opts).await?;
        print!("{}", loaded.render(false));
        all_good &= loaded.rejected.is_empty();
    }
    Ok(exit_code(all_good))
}

/// Loads injury-report files; exit code 1 when a file or an entry was rejected.
async fn load_injuries(global: &GlobalArgs, args: &InjuriesLoadArgs) -> anyhow::Result<ExitCode> {
    let store = migrated_store(global).await?;
    let summary = injuries::load(&store, &args.paths).await?;
    print!("{}", summary.render());
    Ok(exit_code(summary.all_good()))
}

/// Loads sportsbook prop-line files; exit code 1 when a file or a line was rejected.
async fn load_lines(global: &GlobalArgs, args: &LinesLoadArgs) -> anyhow::Result<ExitCode> {
    let store = migrated_store(global).await?;
    let summary = lines::load(&store, &args.paths).await?;
    print!("{}", summary.render());
    Ok(exit_code(summary.all_good()))
}

/// The feature contract as a Markdown table (docs/features.md is this output).
pub fn contract_markdown() -> String {
    let mut out = format!(
        "Contract version {}, hash `{}`, {} features, in this order. Timing: *pre-game* features come from earlier games and the \
         schedule; *request-time* features read what is published on game day and can change until tip-off (the inactive lists, \
         or the confirmed starting lineups) and are missing (NaN) while it is not known.\n\n\
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
