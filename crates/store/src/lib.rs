//! ClickHouse storage for the platform: the schema ([`schema`]), row structs beside it
//! ([`rows`]), migrations, the connection settings every binary shares ([`config`]), and
//! a small client wrapper that retries transient failures with backoff, fails over to
//! the next server when several replicas are listed, and says clearly which server and
//! database it could not reach.
//!
//! The `clickhouse` crate is used with schema validation off and values bound with
//! `bind()`, because the development and CI server is Debian's ClickHouse 18.16, which
//! lacks the metadata queries validation needs; `tests/store.rs` instead proves each row
//! struct against its table on a real server.

pub mod config;
pub mod injuries;
pub mod lines;
pub mod rows;
pub mod schema;

pub use config::{ClickHouseArgs, ConfigError};

use chrono::NaiveDate;
use clickhouse::Client;
use nba_pages::SeasonType;
use nba_pages::checks::GameResult;
use rows::TableRow;
use schema::Table;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Where the store lives, resolved: binaries build it with [`ClickHouseArgs::store_config`]
/// (which reads the password), tests directly. The password is redacted in `Debug`.
#[derive(Clone)]
pub struct StoreConfig {
    /// The servers, in order of preference: one, or several replicas of one cluster that
    /// each hold the database (calls go to one and fail over to the next, see
    /// [`Store::retry`]). Never empty ([`Store::new`] refuses an empty list).
    pub urls: Vec<String>,
    pub database: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// Attempts for each operation when the server is unreachable or fails (at least 1).
    pub attempts: u32,
    /// First backoff delay; doubled after each failed attempt.
    pub backoff: Duration,
    /// The ClickHouse cluster (`remote_servers`) that [`Store::migrate`] creates the
    /// schema on, with replicated engines; `None`: plain engines on the one server.
    pub cluster: Option<String>,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreConfig")
            .field("urls", &self.urls)
            .field("database", &self.database)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("attempts", &self.attempts)
            .field("cluster", &self.cluster)
            .finish()
    }
}

impl StoreConfig {
    /// One server.
    pub fn new(url: impl Into<String>, database: impl Into<String>) -> Self {
        StoreConfig::with_urls(vec![url.into()], database)
    }

    /// Several replicas, tried in this order.
    pub fn with_urls(urls: Vec<String>, database: impl Into<String>) -> Self {
        StoreConfig {
            urls,
            database: database.into(),
            user: None,
            password: None,
            attempts: config::DEFAULT_ATTEMPTS,
            backoff: Duration::from_millis(500),
            cluster: None,
        }
    }
}

/// A database name ClickHouse takes without quoting: ASCII letters, digits, underscores.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("ClickHouse at {url} failed on {op} after {attempts} attempt(s)")]
    Failed {
        url: String,
        op: String,
        attempts: u32,
        #[source]
        source: clickhouse::error::Error,
    },
    #[error("database name {0:?} must be letters, digits and underscores")]
    BadDatabaseName(String),
    #[error("no ClickHouse URL given")]
    NoUrls,
    #[error("mutation on {table} did not finish within {seconds} s")]
    MutationTimeout { table: String, seconds: u64 },
}

impl StoreError {
    /// The message followed by its causes (`...: bad response: Code: 193 ... Wrong
    /// password for user ...`), for callers that keep errors as text and would otherwise
    /// drop the server's own explanation.
    pub fn with_causes(&self) -> String {
        let mut out = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            out.push_str(": ");
            out.push_str(&c.to_string());
            cause = c.source();
        }
        out
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Migrations in order; each is a list of statements run idempotently. With `cluster`,
/// every statement is `ON CLUSTER` and the tables replicated (see [`schema`]).
fn migrations(db: &str, cluster: Option<&str>) -> Vec<(u32, &'static str, Vec<String>)> {
    let create = |tables: &[&Table]| -> Vec<String> { tables.iter().map(|t| t.create_sql_on(db, cluster)).collect() };
    vec![
        (1, "raw tables", create(schema::RAW_TABLES)),
        (2, "analytics and feature tables", {
            let mut sql = create(schema::ANALYTICS_TABLES);
            sql.push(features_view_sql_on(db, cluster));
            sql
        }),
        (3, "model registry and served predictions", create(schema::SERVING_TABLES)),
        (4, "feature contract v2: player_features_wide regenerated", features_view_regenerated(db, cluster)),
        (5, "feature contract v3: player_features_wide regenerated", features_view_regenerated(db, cluster)),
        (6, "injury reports", create(schema::PREGAME_TABLES)),
        (7, "feature contract v4: player_features_wide regenerated", features_view_regenerated(db, cluster)),
        (8, "predictions: source, slate run and what was known", vec![]),
        (9, "graded predictions and their daily summaries", create(schema::GRADING_TABLES)),
        (10, "predictions: repeated answers collapsed, with how often each was asked", vec![]),
        (11, "sportsbook prop lines; predictions and grades against the market", create(schema::MARKET_TABLES)),
    ]
}

/// Columns added to existing tables, by migration: `(migration, table, column, DEFAULT
/// for the rows already there)`. The table declarations in `schema.rs` already list them
/// (a new database gets them from `CREATE TABLE`); an older database gets the missing ones
/// by `ALTER TABLE ... ADD COLUMN` (18.16 has no `ADD COLUMN IF NOT EXISTS`, so the
/// server's columns are read first: rerunning adds nothing).
const ADDED_COLUMNS: &[(u32, &schema::Table, &str, &str)] = &[
    (8, &schema::PREDICTIONS, "source", "'request'"),
    (8, &schema::PREDICTIONS, "run", "''"),
    (8, &schema::PREDICTIONS, "run_at", "predicted_at"),
    (8, &schema::PREDICTIONS, "availability_source", "''"),
    (8, &schema::PREDICTIONS, "opponent_availability_source", "''"),
    (8, &schema::PREDICTIONS, "lineup_source", "''"),
    (8, &schema::PREDICTIONS, "opponent_lineup_source", "''"),
    (10, &schema::PREDICTIONS, "asked", "1"),
    (11, &schema::PREDICTIONS, "line_source", "if(isNull(line), '', 'request')"),
    (11, &schema::PREDICTIONS, "line_time", "NULL"),
    (11, &schema::PREDICTIONS, "over_price", "NULL"),
    (11, &schema::PREDICTIONS, "under_price", "NULL"),
    (11, &schema::GRADED_PREDICTIONS, "line_source", "if(isNull(line), '', 'request')"),
    (11, &schema::GRADED_PREDICTIONS, "price", "NULL"),
    (11, &schema::GRADED_PREDICTIONS, "profit", "NULL"),
    (11, &schema::GRADED_PREDICTIONS, "closing_line", "NULL"),
    (11, &schema::GRADED_PREDICTIONS, "clv", "NULL"),
    (11, &schema::GRADED_PREDICTIONS, "line_abs_error", "NULL"),
    (11, &schema::GRADE_SUMMARIES, "lined", "0"),
    (11, &schema::GRADE_SUMMARIES, "lined_mae", "nan"),
    (11, &schema::GRADE_SUMMARIES, "line_mae", "nan"),
    (11, &schema::GRADE_SUMMARIES, "priced_calls", "0"),
    (11, &schema::GRADE_SUMMARIES, "profit", "0"),
    (11, &schema::GRADE_SUMMARIES, "roi", "nan"),
    (11, &schema::GRADE_SUMMARIES, "clv_calls", "0"),
    (11, &schema::GRADE_SUMMARIES, "clv_mean", "nan"),
    (11, &schema::GRADE_SUMMARIES, "clv_toward", "0"),
    (11, &schema::GRADE_SUMMARIES, "clv_away", "0"),
];

/// A new feature contract's migration: `player_features_wide` dropped and created again
/// with the contract's columns.
fn features_view_regenerated(db: &str, cluster: Option<&str>) -> Vec<String> {
    vec![format!("DROP TABLE IF EXISTS `{db}`.player_features_wide{}", schema::on_cluster(cluster)), features_view_sql_on(db, cluster)]
}

/// Values per `has(?, column)` query: keeps queries well under ClickHouse's default
/// 256 KiB `max_query_size`.
const IN_CHUNK: usize = 1000;

/// The latest schema version this build knows.
pub const SCHEMA_VERSION: u32 = 11;

/// `player_features_wide`: the feature array as one named column per feature, for people
/// and monitoring queries. Generated from the contract, so it always matches it (the
/// base column `is_home` is left out: the feature of that name holds the same value).
/// (`CREATE OR REPLACE VIEW` is not in 18.16; a contract change bumps the migration.)
pub fn features_view_sql(db: &str) -> String {
    features_view_sql_on(db, None)
}

/// [`features_view_sql`], `ON CLUSTER` when a cluster is given.
pub fn features_view_sql_on(db: &str, cluster: Option<&str>) -> String {
    let cols: Vec<String> = nba_features::feature_names().iter().enumerate().map(|(i, n)| format!("features[{}] AS `{n}`", i + 1)).collect();
    format!(
        "CREATE VIEW IF NOT EXISTS `{db}`.player_features_wide{} AS SELECT game_id, game_date, season, season_type, team, \
         opponent, player_id, status, target_pts, target_minutes, feature_version, {} FROM `{db}`.player_features",
        schema::on_cluster(cluster),
        cols.join(", ")
    )
}

/// The history of summary rows: the one conversion the builder, the server and the
/// trainer use, so their vectors agree bit for bit.
pub fn history_of(players: &[rows::PlayerGameSummaryRow], teams: &[rows::TeamGameSummaryRow]) -> nba_features::History {
    nba_features::History::new(players.iter().map(|p| p.to_history()), teams.iter().map(|t| t.to_history()))
}

/// One server of [`StoreConfig::urls`] and the clients bound to it.
#[derive(Clone)]
struct Replica {
    url: String,
    /// Client bound to the project's database.
    client: Client,
    /// Client without a database, for `CREATE DATABASE`.
    root: Client,
}

impl Replica {
    fn connect(url: &str, config: &StoreConfig) -> Replica {
        let mut root = Client::default().with_url(url).with_validation(false);
        if let Some(u) = &config.user {
            root = root.with_user(u);
        }
        if let Some(p) = &config.password {
            root = root.with_password(p);
        }
        let client = root.clone().with_database(&config.database);
        Replica { url: url.to_string(), client, root }
    }
}

#[derive(Clone)]
pub struct Store {
    /// One per URL of the config, in its order; never empty.
    replicas: Arc<[Replica]>,
    /// Index into `replicas` of the server calls go to. Shared by the clones and pools of
    /// this store, so that once a call found a server down and moved on, every later call
    /// starts at the one that answered instead of waiting on the dead one again.
    current: Arc<AtomicUsize>,
    /// Times a call moved on to another replica (shared like `current`).
    failovers: Arc<AtomicU64>,
    config: StoreConfig,
}

impl Store {
    pub fn new(config: StoreConfig) -> Result<Self> {
        if !is_plain_name(&config.database) {
            return Err(StoreError::BadDatabaseName(config.database));
        }
        if config.urls.is_empty() {
            return Err(StoreError::NoUrls);
        }
        Ok(Store::connect(config))
    }

    /// The store of a checked config (at least one URL).
    fn connect(config: StoreConfig) -> Store {
        let replicas = config.urls.iter().map(|url| Replica::connect(url, &config)).collect();
        Store { replicas, current: Arc::new(AtomicUsize::new(0)), failovers: Arc::new(AtomicU64::new(0)), config }
    }

    /// The same database through a new connection pool. A pooled HTTP connection is
    /// driven by a task of the tokio runtime that opened it and dies with that runtime
    /// ("runtime dropped the dispatch task"), so a value that outlives a runtime, such as
    /// a store shared by many `#[tokio::test]`s, hands each runtime its own pool. The
    /// new pool starts at (and moves with) this store's current replica.
    pub fn new_pool(&self) -> Store {
        Store { current: self.current.clone(), failovers: self.failovers.clone(), ..Store::connect(self.config.clone()) }
    }

    pub fn database(&self) -> &str {
        &self.config.database
    }

    /// The URL of the server calls go to now: the first of the list until it was found
    /// unreachable, then the one the store failed over to.
    pub fn url(&self) -> &str {
        &self.replica().url
    }

    /// Every server of the list, in the configured order.
    pub fn urls(&self) -> &[String] {
        &self.config.urls
    }

    /// How many times a call moved on to another replica since this store was built.
    pub fn failovers(&self) -> u64 {
        self.failovers.load(Ordering::Relaxed)
    }

    /// The client bound to the database on the current server, for queries this crate
    /// does not wrap. Fetch it inside the closure given to [`Store::retry`] (not before),
    /// so that an attempt after a failover goes to the new server.
    pub fn client(&self) -> &Client {
        &self.replica().client
    }

    /// The client without a database on the current server.
    fn root(&self) -> &Client {
        &self.replica().root
    }

    fn replica(&self) -> &Replica {
        &self.replicas[self.current.load(Ordering::Relaxed) % self.replicas.len()]
    }

    /// Runs `op` until it succeeds, with up to `attempts` rounds. A round tries the
    /// replicas in turn from the current one: after a transient failure (the server
    /// unreachable, timed out, overloaded or shutting down) the next replica becomes the
    /// current one at once, for this call and every later one. Only when every replica
    /// failed does the call pause (doubling each round) before the next round. With one
    /// URL a round is one try. Any other error (bad SQL, a missing table) is returned at
    /// once: it would fail the same way on every replica.
    pub async fn retry<T, F, Fut>(&self, what: &str, mut op: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = clickhouse::error::Result<T>>,
    {
        let attempts = self.config.attempts.max(1);
        let mut delay = self.config.backoff;
        let (mut attempt, mut tried_this_round) = (1, 0);
        loop {
            let at = self.current.load(Ordering::Relaxed) % self.replicas.len();
            match op().await {
                Ok(v) => return Ok(v),
                Err(e) if is_transient(&e) && tried_this_round + 1 < self.replicas.len() => {
                    tried_this_round += 1;
                    self.fail_over(at, what, &e);
                }
                Err(e) if is_transient(&e) && attempt < attempts => {
                    let url = &self.replicas[at].url;
                    tracing::warn!(%url, op = what, attempt, error = %e, "ClickHouse call failed; retrying in {delay:?}");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(30));
                    (attempt, tried_this_round) = (attempt + 1, 0);
                }
                Err(source) => {
                    // Transient here means every replica failed, so the message names them all.
                    let url = if is_transient(&source) { self.config.urls.join(", ") } else { self.replicas[at].url.clone() };
                    return Err(StoreError::Failed { url, op: what.to_string(), attempts: attempt, source });
                }
            }
        }
    }

    /// Makes the replica after `failed` the current one, unless a concurrent call has
    /// already moved on from it (then its choice stands), and says so with both URLs.
    fn fail_over(&self, failed: usize, what: &str, error: &clickhouse::error::Error) {
        let next = (failed + 1) % self.replicas.len();
        if self.current.compare_exchange(failed, next, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
            self.failovers.fetch_add(1, Ordering::Relaxed);
            let (from, to) = (&self.replicas[failed].url, &self.replicas[next].url);
            tracing::warn!(%from, %to, op = what, %error, "ClickHouse replica failed; failing over to the next one");
        }
    }

    /// `SELECT 1`, with retries: fails clearly when the server is unreachable.
    pub async fn ping(&self) -> Result<()> {
        self.retry("ping", || self.root().query("SELECT 1").fetch_one::<u8>()).await.map(|_| ())
    }

    /// Creates the database and every table, idempotently; returns the versions applied
    /// now. On a cluster ([`StoreConfig::cluster`]) every statement runs `ON CLUSTER`, so
    /// every replica must be up (ClickHouse waits for each, up to its
    /// `distributed_ddl_task_timeout`).
    pub async fn migrate(&self) -> Result<Vec<u32>> {
        let db = self.config.database.clone();
        let cluster = self.config.cluster.as_deref();
        let create_db = format!("CREATE DATABASE IF NOT EXISTS `{db}`{}", schema::on_cluster(cluster));
        self.retry("create database", || self.root().query(&create_db).execute()).await?;
        let create_versions = schema::SCHEMA_MIGRATIONS.create_sql_on(&db, cluster);
        self.retry("create schema_migrations", || self.root().query(&create_versions).execute()).await?;
        let applied: HashSet<u32> = self
            .retry("read schema_migrations", || self.client().query("SELECT DISTINCT version FROM schema_migrations").fetch_all::<u32>())
            .await?
            .into_iter()
            .collect();
        let mut done = Vec::new();
        for (version, name, statements) in migrations(&db, cluster) {
            // Statements are idempotent, so a migration interrupted half-way is simply rerun.
            for sql in &statements {
                self.retry(name, || self.root().query(sql).execute()).await?;
            }
            self.add_missing_columns(version, name).await?;
            if !applied.contains(&version) {
                let row = rows::MigrationRow { version, name: name.to_string(), applied_at: chrono::Utc::now() };
                self.record_migration(&row).await?;
                done.push(version);
            }
        }
        Ok(done)
    }

    /// Records an applied migration. On a cluster the insert waits until every replica of
    /// the shard has it (`insert_quorum`): a binary connected to any replica then sees the
    /// new schema version as soon as `migrate` returns, instead of refusing to start while
    /// its replica catches up.
    async fn record_migration(&self, row: &rows::MigrationRow) -> Result<()> {
        let Some(cluster) = self.config.cluster.as_deref() else { return self.insert(std::slice::from_ref(row)).await };
        let count = "SELECT count() FROM system.clusters WHERE cluster = ? AND shard_num = 1";
        let replicas: u64 = self.retry("count the cluster's replicas", || self.root().query(count).bind(cluster).fetch_one::<u64>()).await?;
        self.retry("record the migration on every replica", || async {
            let client = self.client().clone().with_setting("insert_quorum", replicas.max(1).to_string());
            let mut insert = client.insert::<rows::MigrationRow>(schema::SCHEMA_MIGRATIONS.name).await?;
            insert.write(row).await?;
            insert.end().await
        })
        .await
    }

    /// The [`ADDED_COLUMNS`] of migration `version` that the server's tables lack, added
    /// in declaration order at the end of each table.
    async fn add_missing_columns(&self, version: u32, name: &str) -> Result<()> {
        for &(_, table, column, default) in ADDED_COLUMNS.iter().filter(|c| c.0 == version) {
            let present: u64 = self
                .retry(name, || {
                    self.root()
                        .query("SELECT count() FROM system.columns WHERE database = ? AND table = ? AND name = ?")
                        .bind(&self.config.database)
                        .bind(table.name)
                        .bind(column)
                        .fetch_one::<u64>()
                })
                .await?;
            if present > 0 {
                continue;
            }
            // Every added column is declared (checked by a unit test).
            let Some((_, ty)) = table.columns.iter().find(|(n, _)| *n == column) else { continue };
            let sql = format!(
                "ALTER TABLE `{}`.`{}`{} ADD COLUMN `{column}` {ty} DEFAULT {default}",
                self.config.database,
                table.name,
                schema::on_cluster(self.config.cluster.as_deref())
            );
            self.retry(name, || self.root().query(&sql).execute()).await?;
        }
        Ok(())
    }

    /// Drops the database with everything in it, if it exists. For tests and benchmarks,
    /// whose database names can come back (the server outlives the run).
    /// On a cluster, on every replica (which also removes the tables' replica entries in
    /// ZooKeeper, so the name can be used again).
    pub async fn drop_database(&self) -> Result<()> {
        let drop = format!("DROP DATABASE IF EXISTS `{}`{}", self.config.database, schema::on_cluster(self.config.cluster.as_deref()));
        self.retry("drop database", || self.root().query(&drop).execute()).await
    }

    /// [`Store::drop_database`], then [`Store::migrate`]: an empty, current schema.
    pub async fn recreate(&self) -> Result<Vec<u32>> {
        self.drop_database().await?;
        self.migrate().await
    }

    /// The highest applied migration, or None when the database is not set up.
    pub async fn schema_version(&self) -> Result<Option<u32>> {
        let exists: u8 = self
            .retry("check schema", || {
                self.root()
                    .query("SELECT count() > 0 FROM system.tables WHERE database = ? AND name = 'schema_migrations'")
                    .bind(&self.config.database)
                    .fetch_one::<u8>()
            })
            .await?;
        if exists == 0 {
            return Ok(None);
        }
        let v: u32 = self.retry("read schema version", || self.client().query("SELECT max(version) FROM schema_migrations").fetch_one()).await?;
        Ok((v > 0).then_some(v))
    }

    /// Inserts rows as one INSERT (one atomic block for the sizes the loader uses).
    ///
    /// Replicated tables deduplicate inserted blocks (`insert_deduplicate`): a block equal
    /// to one of the table's last 100 is dropped. That makes a retried insert of an
    /// append-only `MergeTree` table (ledger, runs, registry, prediction log) harmless, but
    /// would drop rows written again after a delete (a regrade within the same second
    /// writes the very block it deleted). So `ReplacingMergeTree` tables, the only ones
    /// deleted from, insert without it: a retried block there is collapsed by the table's
    /// key, as on one server. On a plain engine the setting changes nothing.
    pub async fn insert<T>(&self, rows: &[T]) -> Result<()>
    where
        for<'a> T: TableRow + clickhouse::RowWrite<Value<'a> = T>,
    {
        if rows.is_empty() {
            return Ok(());
        }
        let table = T::TABLE.name;
        self.retry(&format!("insert into {table}"), || async {
            let client = self.client().clone();
            let client = if T::TABLE.is_replacing() { client.with_setting("insert_deduplicate", "0") } else { client };
            let mut insert = client.insert::<T>(table).await?;
            for row in rows {
                insert.write(row).await?;
            }
            insert.end().await
        })
        .await
    }

    /// Deletes rows of `table` matching `condition` (SQL with `?` placeholders bound from
    /// `values`, one array each) and waits until the mutation has finished, so a following
    /// insert is never removed by it.
    pub async fn delete_where(&self, table: &Table, column: &str, values: &[String]) -> Result<()> {
        if values.is_empty() {
            return Ok(());
        }
        let sql = format!("ALTER TABLE `{}` DELETE WHERE has(?, `{column}`)", table.name);
        let before = self.mutation_ids(table).await?;
        let chunks = values.chunks(IN_CHUNK);
        let issued = chunks.len();
        for chunk in chunks {
            self.retry(&format!("delete from {}", table.name), || self.client().query(&sql).bind(chunk).execute()).await?;
        }
        self.wait_for_mutations(table, &before, issued).await
    }

    /// The ids of the mutations of `table` this server knows, done or not: taken before a
    /// delete, so that [`Store::wait_for_mutations`] can tell the delete's own mutations.
    async fn mutation_ids(&self, table: &Table) -> Result<HashSet<String>> {
        let ids: Vec<String> = self
            .retry("list mutations", || {
                self.root()
                    .query("SELECT mutation_id FROM system.mutations WHERE database = ? AND table = ?")
                    .bind(&self.config.database)
                    .bind(table.name)
                    .fetch_all()
            })
            .await?;
        Ok(ids.into_iter().collect())
    }

    /// Waits until this server lists at least `issued` mutations of `table` that were not in
    /// `before`, and has run every mutation of the table.
    ///
    /// On a replicated table an `ALTER ... DELETE` returns once the mutation is queued in
    /// ZooKeeper; the server lists it only when its own queue has pulled it, a moment
    /// later. Until then "no mutation pending" is true and means nothing, hence the count
    /// of new ids. (A retried `ALTER` may queue one more; at least `issued` still holds.)
    ///
    /// On a replica, a mutation also covers parts this replica has not fetched yet; when
    /// the only replica holding them is down (killed right after an insert), they cannot
    /// be fetched until it is back, and the mutation would not finish before then. So once
    /// every part left is such a part ([`Store::only_unfetchable_parts_left`]), the wait
    /// ends: everything this replica can read has been mutated, and a part fetched later
    /// is mutated before anything newer (mutations are ordered by block number on every
    /// replica).
    async fn wait_for_mutations(&self, table: &Table, before: &HashSet<String>, issued: usize) -> Result<()> {
        #[derive(clickhouse::Row, serde::Deserialize)]
        struct Mutation {
            mutation_id: String,
            is_done: u8,
        }
        let started = std::time::Instant::now();
        let deadline = started + Duration::from_secs(300);
        loop {
            let listed: Vec<Mutation> = self
                .retry("poll mutations", || {
                    self.root()
                        .query("SELECT ?fields FROM system.mutations WHERE database = ? AND table = ?")
                        .bind(&self.config.database)
                        .bind(table.name)
                        .fetch_all()
                })
                .await?;
            let seen = listed.iter().filter(|m| !before.contains(&m.mutation_id)).count() >= issued;
            let pending = listed.iter().filter(|m| m.is_done == 0).count();
            if seen && pending == 0 {
                return Ok(());
            }
            // Checked after a second only: a mutation normally finishes sooner.
            if seen && started.elapsed() > Duration::from_secs(1) && self.only_unfetchable_parts_left(table).await? {
                tracing::warn!(table = table.name, url = %self.url(), "mutation done on every part this replica has; the rest waits for parts only a replica that is down holds");
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err(StoreError::MutationTimeout { table: table.name.to_string(), seconds: 300 });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// True when no unfinished mutation of `table` has more parts to do than this replica
    /// has parts it cannot fetch ("No active replica has part": only a replica that is
    /// down holds them). Always false on a server without replicated tables.
    async fn only_unfetchable_parts_left(&self, table: &Table) -> Result<bool> {
        let sql = "SELECT (SELECT max(parts_to_do) FROM system.mutations WHERE database = ? AND table = ? AND is_done = 0) \
                   <= (SELECT count() FROM system.replication_queue WHERE database = ? AND table = ? AND type = 'GET_PART' \
                   AND num_tries > 0 AND position(last_exception, 'No active replica has part') > 0)";
        let db = &self.config.database;
        let only: u8 = self.retry("poll mutations", || self.root().query(sql).bind(db).bind(table.name).bind(db).bind(table.name).fetch_one::<u8>()).await?;
        Ok(only == 1)
    }

    /// For each file name the ledger has seen loaded, the sha256 of its latest loaded content.
    ///
    /// Empty while this server still has parts of the database to fetch from another
    /// replica: replicas fetch each table's parts on their own, so a ledger row written
    /// after its rows on another replica can be here before them (and stay so while that
    /// replica is down). Trusting it would skip files whose rows this server lacks; so
    /// every file is read again instead, and rows already here are replaced as for a
    /// changed page.
    pub async fn ledger_loaded(&self) -> Result<HashMap<String, String>> {
        let unfetched: u64 = self
            .retry("check for parts still to fetch", || {
                self.root()
                    .query("SELECT count() FROM system.replication_queue WHERE database = ? AND type = 'GET_PART'")
                    .bind(&self.config.database)
                    .fetch_one()
            })
            .await?;
        if unfetched > 0 {
            tracing::warn!(url = %self.url(), parts = unfetched, "parts still to fetch from another replica: the ledger is not trusted, every file is read again");
            return Ok(HashMap::new());
        }
        #[derive(clickhouse::Row, serde::Deserialize)]
        struct Entry {
            name: String,
            sha256: String,
        }
        let entries: Vec<Entry> = self
            .retry("read ledger", || {
                self.client()
                    .query(
                        "SELECT name, argMax(sha256, seen_at_us) AS sha256 FROM ingest_files \
                         WHERE status IN ('loaded', 'unchanged') GROUP BY name",
                    )
                    .fetch_all::<Entry>()
            })
            .await?;
        Ok(entries.into_iter().map(|e| (e.name, e.sha256)).collect())
    }

    /// Which of `game_ids` already have rows in any per-game table (left by an earlier
    /// version of the page, or by a run that stopped before writing its ledger entry).
    pub async fn games_with_rows(&self, game_ids: &[String]) -> Result<HashSet<String>> {
        let mut found = HashSet::new();
        if game_ids.is_empty() {
            return Ok(found);
        }
        for table in schema::GAME_TABLES {
            found.extend(self.distinct_in(table, "game_id", game_ids).await?);
        }
        Ok(found)
    }

    /// The values of `values` that occur in `table.column`.
    pub async fn distinct_in(&self, table: &Table, column: &str, values: &[String]) -> Result<Vec<String>> {
        let sql = format!("SELECT DISTINCT `{column}` FROM `{}` WHERE has(?, `{column}`)", table.name);
        let mut out = Vec::new();
        for chunk in values.chunks(IN_CHUNK) {
            let found: Vec<String> = self.retry(&format!("look up {}.{column}", table.name), || self.client().query(&sql).bind(chunk).fetch_all()).await?;
            out.extend(found);
        }
        Ok(out)
    }

    /// Final scores as the schedule pages tell them, for these games.
    pub async fn schedule_results(&self, game_ids: &[String]) -> Result<HashMap<String, (GameResult, NaiveDate)>> {
        #[derive(clickhouse::Row, serde::Deserialize)]
        struct R {
            game_id: String,
            #[serde(with = "clickhouse::serde::chrono::date")]
            game_date: NaiveDate,
            away_team: String,
            home_team: String,
            away_pts: Option<u16>,
            home_pts: Option<u16>,
            season_type: String,
            overtimes: u8,
        }
        let sql = "SELECT game_id, game_date, away_team, home_team, away_pts, home_pts, season_type, overtimes \
                   FROM games FINAL WHERE has(?, game_id)";
        let mut out = HashMap::new();
        for chunk in game_ids.chunks(IN_CHUNK) {
            let rows: Vec<R> = self.retry("read schedule results", || self.client().query(sql).bind(chunk).fetch_all()).await?;
            for r in rows {
                let result = GameResult {
                    game_id: r.game_id.clone(),
                    away_team: r.away_team,
                    home_team: r.home_team,
                    away_pts: r.away_pts,
                    home_pts: r.home_pts,
                    season_type: SeasonType::parse(&r.season_type).unwrap_or(SeasonType::RegularSeason),
                    overtimes: r.overtimes,
                };
                out.insert(r.game_id, (result, r.game_date));
            }
        }
        Ok(out)
    }

    /// Final scores as the box scores tell them, for these games (both teams loaded).
    pub async fn box_score_results(&self, game_ids: &[String]) -> Result<HashMap<String, (GameResult, NaiveDate)>> {
        #[derive(clickhouse::Row, serde::Deserialize)]
        struct R {
            game_id: String,
            #[serde(with = "clickhouse::serde::chrono::date")]
            game_date: NaiveDate,
            team: String,
            is_home: u8,
            pts: u16,
            season_type: String,
            overtimes: u8,
        }
        let sql = "SELECT game_id, game_date, team, is_home, pts, season_type, overtimes \
                   FROM team_boxscores FINAL WHERE has(?, game_id)";
        let mut sides: HashMap<String, (Option<R>, Option<R>)> = HashMap::new();
        for chunk in game_ids.chunks(IN_CHUNK) {
            let rows: Vec<R> = self.retry("read box-score results", || self.client().query(sql).bind(chunk).fetch_all()).await?;
            for r in rows {
                let entry = sides.entry(r.game_id.clone()).or_default();
                if r.is_home == 1 { entry.1 = Some(r) } else { entry.0 = Some(r) }
            }
        }
        Ok(sides
            .into_iter()
            .filter_map(|(id, (away, home))| {
                let (away, home) = (away?, home?);
                let result = GameResult {
                    game_id: id.clone(),
                    away_team: away.team,
                    home_team: home.team,
                    away_pts: Some(away.pts),
                    home_pts: Some(home.pts),
                    season_type: SeasonType::parse(&home.season_type).unwrap_or(SeasonType::RegularSeason),
                    overtimes: home.overtimes,
                };
                Some((id, (result, home.game_date)))
            })
            .collect())
    }

    /// Removes earlier findings of the named checks for these games (only where any exist,
    /// since each delete is a mutation).
    pub async fn delete_checks(&self, game_ids: &[String], checks: &[&str]) -> Result<()> {
        let checks: Vec<String> = checks.iter().map(|c| c.to_string()).collect();
        let sql = "SELECT DISTINCT game_id FROM data_quality_issues WHERE has(?, game_id) AND has(?, check_name)";
        let mut found = Vec::new();
        for chunk in game_ids.chunks(IN_CHUNK) {
            let ids: Vec<String> = self.retry("find earlier findings", || self.client().query(sql).bind(chunk).bind(&checks).fetch_all()).await?;
            found.extend(ids);
        }
        if found.is_empty() {
            return Ok(());
        }
        let del = "ALTER TABLE data_quality_issues DELETE WHERE has(?, game_id) AND has(?, check_name)";
        let before = self.mutation_ids(&schema::DATA_QUALITY_ISSUES).await?;
        let chunks = found.chunks(IN_CHUNK);
        let issued = chunks.len();
        for chunk in chunks {
            self.retry("delete earlier findings", || self.client().query(del).bind(chunk).bind(&checks).execute()).await?;
        }
        self.wait_for_mutations(&schema::DATA_QUALITY_ISSUES, &before, issued).await
    }

    /// Runs a SELECT returning rows of `T` (use `?fields` for its columns), with retries.
    pub async fn select<T>(&self, what: &str, sql: &str) -> Result<Vec<T>>
    where
        T: clickhouse::Row + 'static,
        for<'a> T: clickhouse::RowRead<Value<'a> = T>,
    {
        self.retry(what, || self.client().query(sql).fetch_all::<T>()).await
    }

    /// Deletes a table's rows dated within `[from, to]` (only when there are any, since
    /// each delete is a mutation) and waits for it.
    pub async fn delete_dates(&self, table: &Table, from: NaiveDate, to: NaiveDate) -> Result<()> {
        let (from, to) = (from.to_string(), to.to_string());
        let count_sql = format!("SELECT count() FROM `{}` WHERE game_date >= toDate(?) AND game_date <= toDate(?)", table.name);
        let n: u64 = self.retry(&format!("count {} rows to replace", table.name), || self.client().query(&count_sql).bind(&from).bind(&to).fetch_one()).await?;
        if n == 0 {
            return Ok(());
        }
        let sql = format!("ALTER TABLE `{}` DELETE WHERE game_date >= toDate(?) AND game_date <= toDate(?)", table.name);
        let before = self.mutation_ids(table).await?;
        self.retry(&format!("delete from {}", table.name), || self.client().query(&sql).bind(&from).bind(&to).execute()).await?;
        self.wait_for_mutations(table, &before, 1).await
    }

    /// A single number from a query (counts, maxima), with retries.
    pub async fn scalar_u64(&self, what: &str, sql: &str) -> Result<u64> {
        self.retry(what, || self.client().query(sql).fetch_one::<u64>()).await
    }

    /// The point-in-time history the feature code reads, from the stored summaries. The
    /// server builds its history this way, and the parity tests check that it gives the
    /// same vectors as the rows `build` wrote.
    pub async fn history(&self) -> Result<nba_features::History> {
        let (players, teams) = self.summaries().await?;
        Ok(history_of(&players, &teams))
    }

    /// Both summary tables, every row (FINAL).
    pub async fn summaries(&self) -> Result<(Vec<rows::PlayerGameSummaryRow>, Vec<rows::TeamGameSummaryRow>)> {
        let players = self.select("read player_game_summary", "SELECT ?fields FROM player_game_summary FINAL").await?;
        let teams = self.select("read team_game_summary", "SELECT ?fields FROM team_game_summary FINAL").await?;
        Ok((players, teams))
    }

    /// Row count of a table (without FINAL: what is physically there).
    pub async fn count(&self, table: &Table) -> Result<u64> {
        let sql = format!("SELECT count() FROM `{}`", table.name);
        self.retry(&format!("count {}", table.name), || self.client().query(&sql).fetch_one()).await
    }
}

/// Network trouble and server overload are worth retrying; a bad query is not.
fn is_transient(e: &clickhouse::error::Error) -> bool {
    use clickhouse::error::Error as E;
    match e {
        E::Network(_) | E::TimedOut => true,
        E::BadResponse(msg) => {
            // Memory limits, too many parts, server shutting down: transient server states.
            ["TOO_MANY_PARTS", "MEMORY_LIMIT", "Too many parts", "Memory limit", "ABORTED", "shutdown"].iter().any(|m| msg.contains(m))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two replicas that exist only as names: the tests' `op` decides how each answers,
    /// so the failover order is checked without a server.
    fn two_replicas(attempts: u32) -> Store {
        let mut config = StoreConfig::with_urls(vec!["http://ch-a:8123".into(), "http://ch-b:8123".into()], "nba");
        (config.attempts, config.backoff) = (attempts, Duration::from_millis(1));
        Store::new(config).unwrap()
    }

    /// Runs one `retry` whose every call records the server it went to and fails with
    /// `fail(url)` (None: succeeds).
    async fn call(store: &Store, fail: impl Fn(&str) -> Option<clickhouse::error::Error>) -> (Result<String>, Vec<String>) {
        let seen = std::sync::Mutex::new(Vec::new());
        let result = store
            .retry("test call", || {
                let url = store.url().to_string();
                seen.lock().unwrap().push(url.clone());
                let outcome = fail(&url).map_or(Ok(url), Err);
                async move { outcome }
            })
            .await;
        (result, seen.into_inner().unwrap())
    }

    fn down_at(dead: &'static str) -> impl Fn(&str) -> Option<clickhouse::error::Error> {
        move |url: &str| (url == dead).then_some(clickhouse::error::Error::TimedOut)
    }

    #[tokio::test]
    async fn a_dead_replica_is_skipped_at_once_and_remembered() {
        let store = two_replicas(5);
        let (result, seen) = call(&store, down_at("http://ch-a:8123")).await;
        assert_eq!(result.unwrap(), "http://ch-b:8123");
        assert_eq!(seen, ["http://ch-a:8123", "http://ch-b:8123"], "the next replica at once, no second try of the dead one");
        assert_eq!((store.url(), store.failovers()), ("http://ch-b:8123", 1));
        // Later calls, clones and new pools start at the replica that answered.
        for s in [store.clone(), store.new_pool()] {
            let (result, seen) = call(&s, down_at("http://ch-a:8123")).await;
            assert_eq!((result.unwrap(), seen.len()), ("http://ch-b:8123".to_string(), 1));
        }
        // And when that one dies, back to the first.
        let (result, seen) = call(&store, down_at("http://ch-b:8123")).await;
        assert_eq!((result.unwrap(), seen.len(), store.failovers()), ("http://ch-a:8123".to_string(), 2, 2));
    }

    #[tokio::test]
    async fn a_sql_error_is_returned_from_the_replica_that_gave_it() {
        let store = two_replicas(5);
        let sql_error = |_: &str| Some(clickhouse::error::Error::BadResponse("Code: 47, e.displayText() = DB::Exception: Unknown identifier: x".into()));
        let (result, seen) = call(&store, sql_error).await;
        let e = result.unwrap_err();
        assert_eq!(seen, ["http://ch-a:8123"], "not retried, not failed over");
        assert!(matches!(&e, StoreError::Failed { url, attempts: 1, .. } if url == "http://ch-a:8123"), "{e}");
        assert_eq!((store.url(), store.failovers()), ("http://ch-a:8123", 0));
    }

    #[tokio::test]
    async fn with_every_replica_down_each_gets_attempts_tries_and_the_error_names_all() {
        let store = two_replicas(3);
        let (result, seen) = call(&store, |_| Some(clickhouse::error::Error::TimedOut)).await;
        let e = result.unwrap_err();
        assert_eq!(seen.iter().filter(|u| u.ends_with("a:8123")).count(), 3, "{seen:?}");
        assert_eq!(seen.len(), 6, "3 rounds over 2 replicas: {seen:?}");
        assert!(matches!(&e, StoreError::Failed { attempts: 3, .. }), "{e}");
        assert!(e.to_string().contains("http://ch-a:8123, http://ch-b:8123"), "{e}");
    }

    #[tokio::test]
    async fn one_url_retries_as_before() {
        let mut config = StoreConfig::new("http://ch-a:8123", "nba");
        (config.attempts, config.backoff) = (3, Duration::from_millis(1));
        let store = Store::new(config).unwrap();
        let (result, seen) = call(&store, |_| Some(clickhouse::error::Error::TimedOut)).await;
        assert_eq!(seen.len(), 3);
        let e = result.unwrap_err();
        assert!(matches!(&e, StoreError::Failed { url, attempts: 3, .. } if url == "http://ch-a:8123"), "{e}");
        assert_eq!(store.failovers(), 0);
        assert!(matches!(Store::new(StoreConfig::with_urls(vec![], "nba")), Err(StoreError::NoUrls)));
    }

    /// An added column is declared by its table, after every column the table had before
    /// (ALTER appends at the end), in the order of ADDED_COLUMNS, so a migrated table and
    /// a new one have the same columns in the same order.
    #[test]
    fn added_columns_are_the_declared_tail() {
        let tables: Vec<&str> = ADDED_COLUMNS.iter().map(|c| c.1.name).collect();
        for name in tables {
            let added: Vec<&str> = ADDED_COLUMNS.iter().filter(|c| c.1.name == name).map(|c| c.2).collect();
            let table = ADDED_COLUMNS.iter().find(|c| c.1.name == name).map(|c| c.1).unwrap();
            let tail: Vec<&str> = table.column_names().split_off(table.columns.len() - added.len());
            assert_eq!(tail, added, "{name}: added columns must be the declared tail, in order");
        }
        assert!(ADDED_COLUMNS.iter().all(|c| c.0 <= SCHEMA_VERSION));
    }
}
