//! The command line of `nba-ingest`: one typed config, every flag also settable from the
//! environment, validated before any work starts.

use clap::{Args, Parser, Subcommand};
use nba_logging::LogArgs;
use nba_store::ClickHouseArgs;
use std::path::PathBuf;

/// Loads scraped basketball-reference pages into ClickHouse.
///
/// Exit codes: 0 success; 1 finished, but some files were rejected (see the summary and
/// the `ingest_files` ledger); 2 error (bad arguments, ClickHouse unreachable after
/// retries, schema missing).
#[derive(Debug, Parser)]
#[command(name = "nba-ingest", version, about, long_about)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every subcommand takes (before or after its name).
#[derive(Debug, Args)]
pub struct GlobalArgs {
    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,
    #[command(flatten)]
    pub log: LogArgs,
    /// Progress bar: auto (on a terminal), always, never.
    #[arg(long, env = "NBA_PROGRESS", default_value = "auto", global = true)]
    pub progress: ProgressMode,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum, PartialEq, Eq)]
pub enum ProgressMode {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create the database and tables (idempotent; records the schema version).
    Migrate,
    /// Load pages: season archives (.tar.zst, .tar.gz, .tar; streamed, never unpacked),
    /// folders (walked for pages and archives) and single .html files.
    ///
    /// Loading the same input twice writes no data rows: pages whose content the ledger
    /// already holds are skipped, and a changed page replaces its game's rows.
    Load(LoadArgs),
    /// Build the analytics tables (player_game_summary, team_game_summary) and the
    /// point-in-time player_features from the raw tables.
    ///
    /// Incremental by default: rebuilds from the earliest game whose raw rows changed since
    /// the last build. --from/--to rebuild a date range; --full rebuilds everything.
    Build(BuildArgs),
    /// Run the validation checks (coverage, sums, features, duplicates, freshness, feature
    /// NaN rates and ranges), store them and print a table. Exit code 1 when a critical
    /// check fails.
    Validate(RangeArgs),
    /// Load, build and validate a date range in chunks, checkpointing each finished
    /// chunk: an interrupted backfill resumes where it stopped; a finished one, rerun,
    /// changes nothing. Stops (exit 1) at a chunk whose validation fails critically.
    Backfill(BackfillArgs),
    /// One screen for the morning: per season games scheduled/loaded/with features, last
    /// load, build and validation, open data-quality findings, the freshest game.
    Status,
    /// Run a monitoring query from sql/monitoring (embedded in the binary).
    Query(QueryArgs),
    /// Print the feature contract (version, hash, ordered names and definitions) as Markdown.
    Features,
    /// Fetch new schedule and box-score pages from the site, politely, into a raw page
    /// store folder that `load` reads (`scores/`, `standings/`, as in the archives).
    ///
    /// Stored box scores are never fetched again (unless --refresh, which asks
    /// conditionally); a schedule page is refetched while its month may be incomplete.
    /// Bad responses are not stored, are recorded in the `ingest_files` ledger (unless
    /// --no-db) and are asked for again next run. Exit code 1 when a page failed.
    Scrape(ScrapeArgs),
    /// Grade served predictions (the server's `predictions` table) against the box scores:
    /// every prediction and call, and daily summaries per model version, source and run.
    ///
    /// Graded: for client requests the latest prediction per player, day, model version;
    /// for the slate every run. Each gets its points, error, within 3/5, p10-p90, and the
    /// call's hit/miss/push on its line (`graded_predictions`); per day, model version,
    /// source, slate run and edge bucket: MAE, bias, coverage, calls and hits
    /// (`grade_summaries`); per day and model version the MAE of the latest prediction
    /// (`prediction_grades`). Players who did not play are counted, not graded. Rerunning
    /// replaces the days' grades. Default range: the last 7 days of loaded games.
    Grade(RangeArgs),
    /// Injury reports (Out, Doubtful, Questionable, Probable, Available per player, team
    /// and game date): the pre-game availability the server uses for a game without an
    /// official inactive list. Shapes: docs/ingest.md, "Injury reports".
    #[command(subcommand)]
    Injuries(InjuriesCommand),
    /// Sportsbook player-points lines (one line per book, player and snapshot, Over and
    /// Under priced): what the server, the slate and grading compare predictions with.
    /// Shapes: docs/ingest.md, "Prop lines".
    #[command(subcommand)]
    Lines(LinesCommand),
}

#[derive(Debug, Subcommand)]
pub enum InjuriesCommand {
    /// Load report files (CSV or JSON; folders: their .csv and .json files). Names and
    /// teams are resolved to ids and codes; a bad entry is rejected with its line and the
    /// reason (data_quality_issues and the summary) and the rest is kept. Loading the same
    /// file twice writes nothing. Exit code 1 when anything was rejected.
    Load(InjuriesLoadArgs),
}

#[derive(Debug, Args)]
pub struct InjuriesLoadArgs {
    /// Report files (.csv, .json) or folders holding them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum LinesCommand {
    /// Load line files (the odds APIs' event-odds JSON, or CSV; folders: their .csv and
    /// .json files). Players and teams are resolved to ids and codes, prices stored as
    /// decimal odds; a bad line is rejected with its place and the reason
    /// (data_quality_issues and the summary) and the rest is kept. Loading the same file
    /// twice writes nothing. Exit code 1 when anything was rejected.
    Load(LinesLoadArgs),
}

#[derive(Debug, Args)]
pub struct LinesLoadArgs {
    /// Line files (.json, .csv) or folders holding them.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ScrapeArgs {
    /// First game date (YYYY-MM-DD; default: yesterday, UTC).
    #[arg(long, env = "NBA_SCRAPE_FROM")]
    pub from: Option<chrono::NaiveDate>,
    /// Last game date (YYYY-MM-DD; default: yesterday, UTC).
    #[arg(long, env = "NBA_SCRAPE_TO")]
    pub to: Option<chrono::NaiveDate>,
    /// Raw page store folder (created if missing).
    #[arg(long, env = "NBA_PAGE_STORE")]
    pub store: PathBuf,
    /// Site root.
    #[arg(long, env = "NBA_SCRAPE_BASE_URL", default_value = "https://www.basketball-reference.com")]
    pub base_url: String,
    /// Requests per minute, retries included (one global limit).
    #[arg(long, env = "NBA_SCRAPE_RATE_PER_MINUTE", default_value_t = 20,
          value_parser = clap::value_parser!(u32).range(1..=6000))]
    pub rate_per_minute: u32,
    /// User-Agent sent with every request: say who we are and how to reach us.
    #[arg(long, env = "NBA_SCRAPE_USER_AGENT", default_value = crate::scrape::DEFAULT_USER_AGENT)]
    pub user_agent: String,
    /// Timeout of one request, body included, in seconds.
    #[arg(long, env = "NBA_SCRAPE_TIMEOUT_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub timeout_secs: u64,
    /// Attempts per page before it counts as failed.
    #[arg(long, env = "NBA_SCRAPE_ATTEMPTS", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(1..=20))]
    pub attempts: u32,
    /// First retry backoff in milliseconds (doubles per attempt, with jitter).
    #[arg(long, env = "NBA_SCRAPE_BACKOFF_MS", default_value_t = 2000)]
    pub backoff_ms: u64,
    /// Stop the run after this many pages failed or were rejected.
    #[arg(long, env = "NBA_SCRAPE_MAX_FAILURES", default_value_t = 10,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub max_failures: u32,
    /// Ask again for stored pages, with If-None-Match / If-Modified-Since; a 304 keeps the
    /// stored copy.
    #[arg(long, env = "NBA_SCRAPE_REFRESH")]
    pub refresh: bool,
    /// Then load the store's pages of the date range (like `load --dates`).
    #[arg(long, env = "NBA_SCRAPE_LOAD", conflicts_with = "no_db")]
    pub load: bool,
    /// Use no ClickHouse at all (rejections are then only in the summary).
    #[arg(long, env = "NBA_SCRAPE_NO_DB")]
    pub no_db: bool,
}

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// First game date (YYYY-MM-DD).
    #[arg(long)]
    pub from: chrono::NaiveDate,
    /// Last game date (YYYY-MM-DD).
    #[arg(long)]
    pub to: chrono::NaiveDate,
    /// Days per chunk.
    #[arg(long, env = "NBA_BACKFILL_CHUNK_DAYS", default_value_t = 31,
          value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub chunk_days: u32,
    /// Archives, folders or .html files holding the pages.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// Query name (see --list).
    #[arg(required_unless_present = "list")]
    pub name: Option<String>,
    /// List the available queries.
    #[arg(long)]
    pub list: bool,
    /// ClickHouse output format.
    #[arg(long, default_value = "PrettyCompactNoEscapes")]
    pub format: String,
}

#[derive(Debug, Args)]
pub struct RangeArgs {
    /// First game date (YYYY-MM-DD); default: the first loaded game.
    #[arg(long)]
    pub from: Option<chrono::NaiveDate>,
    /// Last game date (YYYY-MM-DD); default: the last loaded game.
    #[arg(long)]
    pub to: Option<chrono::NaiveDate>,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// First game date to rebuild (YYYY-MM-DD).
    #[arg(long)]
    pub from: Option<chrono::NaiveDate>,
    /// Last game date to rebuild (YYYY-MM-DD).
    #[arg(long)]
    pub to: Option<chrono::NaiveDate>,
    /// Rebuild every game.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    pub full: bool,
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Archives, folders or .html files.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Pages per write batch (one INSERT per table per batch).
    #[arg(long, env = "NBA_LOAD_BATCH", default_value_t = 500,
          value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub batch_pages: u64,
    /// Parser threads (default: one per core).
    #[arg(long, env = "NBA_LOAD_WORKERS")]
    pub workers: Option<usize>,
    /// Parse and check the pages and print the summary, without ClickHouse.
    #[arg(long)]
    pub dry_run: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn every_subcommand_is_a_valid_clap_command() {
        // clap checks a subcommand (unique ids, for instance) only when it is run.
        Cli::command().debug_assert();
    }

    #[test]
    fn the_shared_flags_are_accepted_before_and_after_the_subcommand() {
        let after = Cli::try_parse_from(["nba-ingest", "status", "--clickhouse-attempts", "2", "-v", "--database", "x"]).unwrap();
        let before = Cli::try_parse_from(["nba-ingest", "--clickhouse-attempts", "2", "-v", "--database", "x", "status"]).unwrap();
        for cli in [after, before] {
            assert_eq!((cli.global.clickhouse.attempts, cli.global.log.verbose, cli.global.clickhouse.database.as_str()), (2, 1, "x"));
        }
        let scrape = Cli::try_parse_from(["nba-ingest", "scrape", "--store", "s", "--attempts", "7", "--clickhouse-attempts", "3"]).unwrap();
        let Command::Scrape(args) = scrape.command else { panic!("not scrape") };
        assert_eq!((args.attempts, scrape.global.clickhouse.attempts), (7, 3), "--attempts is the scraper's, not ClickHouse's");
    }
}
