//! Every ClickHouse table of the project: its columns (in the order the row structs write
//! them), engine and keys. The `CREATE TABLE` statements are generated from these lists so
//! that a row struct and its table cannot drift apart unnoticed (see the tests in
//! `tests/store.rs`, which check each struct against the server's `DESCRIBE TABLE`).
//!
//! The SQL must run on ClickHouse 18.16 (Debian's package, used in development and CI)
//! and on current releases (24.x and later, production): plain MergeTree-family engines
//! with `PARTITION BY`/`ORDER BY`, no window functions, no CTEs, one JOIN at most.
//!
//! On a cluster (`--cluster NAME`) the same declarations give the replicated schema: each
//! table is created `ON CLUSTER` with the `Replicated` variant of its engine
//! ([`replicated_engine`]), one shard with any number of replicas (docs/clickhouse.md).

/// A table definition.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    /// `(column, ClickHouse type)` in insertion order.
    pub columns: &'static [(&'static str, &'static str)],
    /// Everything after the column list: `ENGINE = ... PARTITION BY ... ORDER BY ...`.
    pub engine: &'static str,
    pub comment: &'static str,
}

impl Table {
    /// `CREATE TABLE IF NOT EXISTS` on one server, with the declared engine.
    pub fn create_sql(&self, database: &str) -> String {
        self.create_sql_on(database, None)
    }

    /// `CREATE TABLE IF NOT EXISTS`: with `cluster`, `ON CLUSTER` it with the replicated
    /// engine; without, exactly [`Table::create_sql`].
    pub fn create_sql_on(&self, database: &str, cluster: Option<&str>) -> String {
        let cols: Vec<String> = self.columns.iter().map(|(n, t)| format!("    `{n}` {t}")).collect();
        let engine = match cluster {
            None => self.engine.to_string(),
            // The engines are constants of this file, each checked by a unit test.
            Some(_) => replicated_engine(self.engine, database, self.name)
                .unwrap_or_else(|| panic!("table {}: engine {:?} has no replicated form", self.name, self.engine)),
        };
        format!("CREATE TABLE IF NOT EXISTS `{database}`.`{}`{}\n(\n{}\n)\n{engine}", self.name, on_cluster(cluster), cols.join(",\n"))
    }

    /// True for the `ReplacingMergeTree` tables: a key's newest version wins, so a row
    /// written twice is one row through `FINAL` (and after merges).
    pub fn is_replacing(&self) -> bool {
        self.engine.starts_with("ENGINE = ReplacingMergeTree")
    }

    pub fn column_names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|(n, _)| *n).collect()
    }
}

/// ` ON CLUSTER name` for DDL on a cluster, nothing on one server. The name has been
/// checked to be a plain identifier (`ClickHouseArgs::validate`).
pub fn on_cluster(cluster: Option<&str>) -> String {
    cluster.map(|c| format!(" ON CLUSTER {c}")).unwrap_or_default()
}

/// The ZooKeeper path of a replicated table: one per shard (the server's `{shard}` macro),
/// database and table. Database and table are written out (18.16 would expand the
/// `{database}`/`{table}` macros as well): `SHOW CREATE TABLE` then shows the real path,
/// and a table renamed later keeps its replicas' path.
pub fn replica_path(database: &str, table: &str) -> String {
    format!("/clickhouse/tables/{{shard}}/{database}/{table}")
}

/// The `Replicated` form of a declared engine clause: `ENGINE = XMergeTree(args) rest`
/// becomes `ENGINE = ReplicatedXMergeTree('<replica_path>', '{replica}', args) rest`
/// (the engine's own arguments, such as a version column, kept after the two). `None`
/// for a clause that is not a MergeTree-family engine, or already replicated.
pub fn replicated_engine(engine: &str, database: &str, table: &str) -> Option<String> {
    let clause = engine.strip_prefix("ENGINE = ")?;
    let name_end = clause.find(|c: char| c == '(' || c.is_whitespace()).unwrap_or(clause.len());
    let (name, after) = clause.split_at(name_end);
    if !name.ends_with("MergeTree") || name.starts_with("Replicated") {
        return None;
    }
    let (args, rest) = match after.strip_prefix('(') {
        Some(inner) => {
            let close = inner.find(')')?;
            (inner[..close].trim(), &inner[close + 1..])
        }
        None => ("", after),
    };
    let mut params = vec![format!("'{}'", replica_path(database, table)), "'{replica}'".to_string()];
    if !args.is_empty() {
        params.push(args.to_string());
    }
    Some(format!("ENGINE = Replicated{name}({}){rest}", params.join(", ")))
}

/// Applied migrations, one row per version.
pub const SCHEMA_MIGRATIONS: Table = Table {
    name: "schema_migrations",
    columns: &[("version", "UInt32"), ("name", "String"), ("applied_at", "DateTime")],
    engine: "ENGINE = ReplacingMergeTree(applied_at) ORDER BY version",
    comment: "schema version table: which migrations ran, and when",
};

/// One row per scheduled game, from the monthly schedule pages.
pub const GAMES: Table = Table {
    name: "games",
    columns: &[
        ("game_id", "String"),
        ("game_date", "Date"),
        ("season", "UInt16"),
        ("season_type", "LowCardinality(String)"),
        ("start_time_et", "String"),
        ("away_team", "LowCardinality(String)"),
        ("home_team", "LowCardinality(String)"),
        ("away_pts", "Nullable(UInt16)"),
        ("home_pts", "Nullable(UInt16)"),
        ("overtimes", "UInt8"),
        ("attendance", "Nullable(UInt32)"),
        ("arena", "String"),
        ("remarks", "String"),
        ("has_box_score", "UInt8"),
        ("source_file", "String"),
        ("version", "UInt64"),
    ],
    engine: "ENGINE = ReplacingMergeTree(version) PARTITION BY season ORDER BY (game_date, game_id)",
    comment: "scheduled games from the schedule pages",
};

/// One row per player per team per game, did-not-play rows included.
pub const PLAYER_BOXSCORES: Table = Table {
    name: "player_boxscores",
    columns: &[
        ("game_id", "String"),
        ("game_date", "Date"),
        ("season", "UInt16"),
        ("season_type", "LowCardinality(String)"),
        ("team", "LowCardinality(String)"),
        ("opponent", "LowCardinality(String)"),
        ("is_home", "UInt8"),
        ("player_id", "String"),
        ("player_name", "String"),
        ("starter", "UInt8"),
        ("status", "LowCardinality(String)"),
        ("seconds", "UInt32"),
        ("fgm", "UInt16"),
        ("fga", "UInt16"),
        ("fg3m", "UInt16"),
        ("fg3a", "UInt16"),
        ("ftm", "UInt16"),
        ("fta", "UInt16"),
        ("oreb", "UInt16"),
        ("dreb", "UInt16"),
        ("reb", "UInt16"),
        ("ast", "UInt16"),
        ("stl", "UInt16"),
        ("blk", "UInt16"),
        ("tov", "UInt16"),
        ("pf", "UInt16"),
        ("pts", "UInt16"),
        ("plus_minus", "Nullable(Int16)"),
        ("ts_pct", "Nullable(Float32)"),
        ("efg_pct", "Nullable(Float32)"),
        ("usg_pct", "Nullable(Float32)"),
        ("off_rtg", "Nullable(Float32)"),
        ("def_rtg", "Nullable(Float32)"),
        ("bpm", "Nullable(Float32)"),
        ("row_index", "UInt8"),
        ("version", "UInt64"),
    ],
    engine: "ENGINE = ReplacingMergeTree(version) PARTITION BY season ORDER BY (game_date, game_id, team, player_id)",
    comment: "box-score rows per player, team and game",
};

/// The Team Totals rows plus the line score.
pub const TEAM_BOXSCORES: Table = Table {
    name: "team_boxscores",
    columns: &[
        ("game_id", "String"),
        ("game_date", "Date"),
        ("season", "UInt16"),
        ("season_type", "LowCardinality(String)"),
        ("team", "LowCardinality(String)"),
        ("opponent", "LowCardinality(String)"),
        ("is_home", "UInt8"),
        ("minutes", "UInt16"),
        ("fgm", "UInt16"),
        ("fga", "UInt16"),
        ("fg3m", "UInt16"),
        ("fg3a", "UInt16"),
        ("ftm", "UInt16"),
        ("fta", "UInt16"),
        ("oreb", "UInt16"),
        ("dreb", "UInt16"),
        ("reb", "UInt16"),
        ("ast", "UInt16"),
        ("stl", "UInt16"),
        ("blk", "UInt16"),
        ("tov", "UInt16"),
        ("pf", "UInt16"),
        ("pts", "UInt16"),
        ("opp_pts", "UInt16"),
        ("off_rtg", "Nullable(Float32)"),
        ("def_rtg", "Nullable(Float32)"),
        ("periods", "Array(UInt16)"),
        ("overtimes", "UInt8"),
        ("title", "String"),
        ("version", "UInt64"),
    ],
    engine: "ENGINE = ReplacingMergeTree(version) PARTITION BY season ORDER BY (game_date, game_id, team)",
    comment: "team totals and line score per team and game",
};

/// The official inactive list, published before tip-off.
pub const GAME_INACTIVES: Table = Table {
    name: "game_inactives",
    columns: &[
        ("game_id", "String"),
        ("game_date", "Date"),
        ("season", "UInt16"),
        ("team", "LowCardinality(String)"),
        ("opponent", "LowCardinality(String)"),
        ("player_id", "String"),
        ("player_name", "String"),
        ("version", "UInt64"),
    ],
    engine: "ENGINE = ReplacingMergeTree(version) PARTITION BY season ORDER BY (game_date, game_id, team, player_id)",
    comment: "official inactive list per team and game (known before tip-off)",
};

/// Findings of the checks run while parsing.
pub const DATA_QUALITY_ISSUES: Table = Table {
    name: "data_quality_issues",
    columns: &[
        ("game_id", "String"),
        ("game_date", "Date"),
        ("check_name", "LowCardinality(String)"),
        ("severity", "LowCardinality(String)"),
        ("team", "String"),
        ("player_id", "String"),
        ("message", "String"),
        ("source_file", "String"),
        ("detected_at", "DateTime"),
        ("version", "UInt64"),
    ],
    engine: "ENGINE = ReplacingMergeTree(version) ORDER BY (game_id, check_name, team, player_id)",
    comment: "data-quality findings per game",
};

/// The ledger: every file the loader saw, per run.
pub const INGEST_FILES: Table = Table {
    name: "ingest_files",
    columns: &[
        ("run_id", "String"),
        ("name", "String"),
        ("source", "String"),
        ("sha256", "String"),
        ("size", "UInt64"),
        ("status", "LowCardinality(String)"),
        ("reason", "String"),
        ("rows_written", "UInt64"),
        ("seen_at", "DateTime"),
        // Microseconds since the epoch: orders two entries of one file within a second
        // (DateTime64 is not in ClickHouse 18.16).
        ("seen_at_us", "UInt64"),
    ],
    engine: "ENGINE = MergeTree ORDER BY (name, seen_at)",
    comment: "ledger of every file seen by a load: loaded, unchanged or rejected",
};

/// Per player-game: the box score plus derived rates (NaN where undefined).
pub const PLAYER_GAME_SUMMARY: Table = Table {
    name: "player_game_summary",
    columns: &[
        ("game_id", "String"),
        ("game_date", "Date"),
        ("season", "UInt16"),
        ("season_type", "LowCardinality(String)"),
        ("team", "LowCardinality(String)"),
        ("opponent", "LowCardinality(String)"),
        ("is_home", "UInt8"),
        ("player_id", "String"),
        ("player_name", "String"),
        ("status", "LowCardinality(String)"),
        ("starter", "UInt8"),
        ("minutes", "Float64"),
        ("pts", "UInt16"),
        ("fgm", "UInt16"),
        ("fga", "UInt16"),
        ("fg3m", "UInt16"),
        ("fg3a", "UInt16"),
        ("ftm", "UInt16"),
        ("fta", "UInt16"),
        ("oreb", "UInt16"),
        ("dreb", "UInt16"),
        ("reb", "UInt16"),
        ("ast", "UInt16"),
        ("stl", "UInt16"),
        ("blk", "UInt16"),
        ("tov", "UInt16"),
        ("pf", "UInt16"),
        ("plus_minus", "Nullable(Int16)"),
        ("pts_per_min", "Float64"),
        ("ts_pct", "Float64"),
        ("efg_pct", "Float64"),
        ("usg_pct", "Float64"),
        ("ft_rate", "Float64"),
        ("fg3_rate", "Float64"),
        ("team_pts_share", "Float64"),
        ("team_min_share", "Float64"),
        ("team_fga_share", "Float64"),
        ("version", "UInt64"),
    ],
    engine: "ENGINE = ReplacingMergeTree(version) PARTITION BY season ORDER BY (game_date, game_id, team, player_id)",
    comment: "player box score plus derived rates per game",
};

/// Per team-game: possessions, pace, ratings, and the starters/bench split.
pub const TEAM_GAME_SUMMARY: Table = Table {
    name: "team_game_summary",
    columns: &[
        ("game_id", "String"),
        ("game_date", "Date"),
        ("season", "UInt16"),
        ("season_type", "LowCardinality(String)"),
        ("team", "LowCardinality(String)"),
        ("opponent", "LowCardinality(String)"),
        ("is_home", "UInt8"),
        ("won", "UInt8"),
        ("minutes", "UInt16"),
        ("pts", "UInt16"),
        ("opp_pts", "UInt16"),
        ("fga", "UInt16"),
        ("fta", "UInt16"),
        ("tov", "UInt16"),
        ("oreb", "UInt16"),
        ("dreb", "UInt16"),
        ("possessions", "Float64"),
        ("pace", "Float64"),
        ("off_rtg", "Float64"),
        ("def_rtg", "Float64"),
        ("starters_pts", "UInt16"),
        ("bench_pts", "UInt16"),
        ("starters_minutes", "Float64"),
        ("bench_minutes", "Float64"),
        ("starters_fga", "UInt16"),
        ("bench_fga", "UInt16"),
        ("starters_pts_per100", "Float64"),
        ("bench_pts_per100", "Float64"),
        ("version", "UInt64"),
    ],
    engine: "ENGINE = ReplacingMergeTree(version) PARTITION BY season ORDER BY (game_date, game_id, team)",
    comment: "team possessions, pace, ratings and starters/bench split per game",
};

/// One row per player-game (played or not): the point-in-time feature vector in the
/// contract's order, and the outcome columns kept apart from it.
pub const PLAYER_FEATURES: Table = Table {
    name: "player_features",
    columns: &[
        ("game_id", "String"),
        ("game_date", "Date"),
        ("season", "UInt16"),
        ("season_type", "LowCardinality(String)"),
        ("team", "LowCardinality(String)"),
        ("opponent", "LowCardinality(String)"),
        ("is_home", "UInt8"),
        ("player_id", "String"),
        ("feature_version", "UInt32"),
        ("contract_hash", "String"),
        ("features", "Array(Float32)"),
        // Outcomes of the game itself: targets and filters for training, never features.
        ("status", "LowCardinality(String)"),
        ("target_pts", "UInt16"),
        ("target_minutes", "Float64"),
        ("version", "UInt64"),
    ],
    engine: "ENGINE = ReplacingMergeTree(version) PARTITION BY season ORDER BY (game_date, game_id, player_id)",
    comment: "point-in-time feature vectors (contract order) with the target apart",
};

/// One row per `build` run: what it covered and the raw-data watermark it reached.
pub const BUILD_RUNS: Table = Table {
    name: "build_runs",
    columns: &[
        ("run_id", "String"),
        ("mode", "LowCardinality(String)"),
        ("started_at", "DateTime"),
        ("finished_at", "DateTime"),
        ("watermark", "UInt64"),
        ("from_date", "Date"),
        ("to_date", "Date"),
        ("games", "UInt64"),
        ("player_summary_rows", "UInt64"),
        ("team_summary_rows", "UInt64"),
        ("feature_rows", "UInt64"),
        ("feature_version", "UInt32"),
        ("contract_hash", "String"),
    ],
    engine: "ENGINE = MergeTree ORDER BY started_at",
    comment: "build runs and the raw-data version each one covered",
};

/// One row per `validate` run.
pub const VALIDATION_RUNS: Table = Table {
    name: "validation_runs",
    columns: &[
        ("run_id", "String"),
        ("started_at", "DateTime"),
        ("from_date", "Date"),
        ("to_date", "Date"),
        ("checks", "UInt32"),
        ("critical_failures", "UInt32"),
        ("warnings", "UInt32"),
        ("passed", "UInt8"),
    ],
    engine: "ENGINE = MergeTree ORDER BY started_at",
    comment: "validation runs: range, counts of failed checks, overall result",
};

/// One row per check per `validate` run.
pub const VALIDATION_RESULTS: Table = Table {
    name: "validation_results",
    columns: &[
        ("run_id", "String"),
        ("started_at", "DateTime"),
        ("check_name", "String"),
        ("severity", "LowCardinality(String)"),
        ("passed", "UInt8"),
        ("value", "Float64"),
        ("threshold", "Float64"),
        ("message", "String"),
    ],
    engine: "ENGINE = MergeTree ORDER BY (started_at, check_name)",
    comment: "per-check results of each validation run: figure, threshold, verdict",
};

/// Chunks of a backfill that have finished, so an interrupted backfill resumes.
pub const BACKFILL_CHECKPOINTS: Table = Table {
    name: "backfill_checkpoints",
    columns: &[
        ("backfill_id", "String"),
        ("chunk_from", "Date"),
        ("chunk_to", "Date"),
        ("finished_at", "DateTime"),
        ("files_loaded", "UInt64"),
        ("feature_rows", "UInt64"),
        ("validation_passed", "UInt8"),
    ],
    engine: "ENGINE = ReplacingMergeTree(finished_at) ORDER BY (backfill_id, chunk_from)",
    comment: "finished backfill chunks (resume points)",
};

/// One row per registry event of a model version (created, promoted, rolled back, refused
/// by the gate): the registry on disk mirrored for SQL. The current model is the version
/// of the latest `promoted`/`rolled_back` event.
pub const MODEL_REGISTRY: Table = Table {
    name: "model_registry",
    columns: &[
        ("version", "String"),
        ("event", "LowCardinality(String)"),
        ("event_at", "DateTime"),
        // Order of events: DateTime has whole seconds, and a train run writes "created"
        // and "promoted"/"refused" within one (18.16 has no DateTime64).
        ("event_at_us", "UInt64"),
        ("created_at", "DateTime"),
        ("source_commit", "String"),
        ("feature_version", "UInt32"),
        ("contract_hash", "String"),
        ("objective", "LowCardinality(String)"),
        ("train_rows", "UInt64"),
        ("test_scored_rows", "UInt64"),
        ("test_mae", "Float64"),
        ("best_baseline", "LowCardinality(String)"),
        ("best_baseline_mae", "Float64"),
        ("model_sha256", "String"),
        ("message", "String"),
        ("manifest", "String"),
    ],
    engine: "ENGINE = MergeTree ORDER BY (version, event_at_us)",
    comment: "model registry events (created, promoted, rolled_back, refused) with the manifest",
};

/// Every prediction the server made, appended off the request path. Graded against the
/// box scores by `nba-ingest grade` once the games are loaded.
pub const PREDICTIONS: Table = Table {
    name: "predictions",
    columns: &[
        ("predicted_at", "DateTime"),
        ("method", "LowCardinality(String)"),
        ("model_version", "LowCardinality(String)"),
        ("feature_version", "UInt32"),
        ("player_id", "String"),
        ("game_date", "Date"),
        ("team", "LowCardinality(String)"),
        ("opponent", "LowCardinality(String)"),
        ("is_home", "UInt8"),
        ("predicted_pts", "Float32"),
        ("p10", "Float32"),
        ("p90", "Float32"),
        ("line", "Nullable(Float32)"),
        ("p_over", "Nullable(Float32)"),
        ("call", "LowCardinality(String)"),
        ("features", "Array(Float32)"),
        // Migration 8: who asked and what was known. `request` (a client's call) or
        // `slate` (the slate run); rows logged before migration 8 read as `request`.
        ("source", "LowCardinality(String)"),
        // The slate run's name (`morning`, `pretip`, ...); empty for requests.
        ("run", "LowCardinality(String)"),
        // The slate run's clock (what it knew was published by then); for requests the
        // time of the answer.
        ("run_at", "DateTime"),
        ("availability_source", "LowCardinality(String)"),
        ("opponent_availability_source", "LowCardinality(String)"),
        ("lineup_source", "LowCardinality(String)"),
        ("opponent_lineup_source", "LowCardinality(String)"),
        // Migration 10: how many times this answer was given within the log's window (the
        // same question, model and inputs collapse into one row; the row is the latest).
        ("asked", "UInt32"),
        // Migration 11: where `line` came from (`request`, `consensus`, or a book's key;
        // empty without a line), the stored snapshot's time, and its decimal prices.
        ("line_source", "LowCardinality(String)"),
        ("line_time", "Nullable(DateTime)"),
        ("over_price", "Nullable(Float64)"),
        ("under_price", "Nullable(Float64)"),
    ],
    engine: "ENGINE = MergeTree PARTITION BY toYYYYMM(game_date) ORDER BY (game_date, player_id, predicted_at)",
    comment: "served predictions (one row per Predict answer, one per player per slate run) for grading and drift",
};

/// Daily error of served predictions per model version (the latest prediction per
/// player, date and version, against the player's points that day).
pub const PREDICTION_GRADES: Table = Table {
    name: "prediction_grades",
    columns: &[
        ("game_date", "Date"),
        ("model_version", "LowCardinality(String)"),
        ("predictions", "UInt64"),
        ("graded", "UInt64"),
        ("mae", "Float64"),
        ("rmse", "Float64"),
        ("bias", "Float64"),
        ("graded_at", "DateTime"),
    ],
    engine: "ENGINE = ReplacingMergeTree(graded_at) ORDER BY (game_date, model_version)",
    comment: "daily MAE of served predictions per model version",
};

/// One row per graded prediction (migration 9): for a client's calls the latest
/// prediction per player, date, model version and source; for the slate every run
/// separately. Only players who played are graded; `nba-ingest grade` deletes a day's rows
/// before writing them again, so a regrade leaves one row per prediction.
pub const GRADED_PREDICTIONS: Table = Table {
    name: "graded_predictions",
    columns: &[
        ("game_date", "Date"),
        ("player_id", "String"),
        ("model_version", "LowCardinality(String)"),
        // `request` or `slate`, and the slate run's name (empty for requests).
        ("source", "LowCardinality(String)"),
        ("run", "LowCardinality(String)"),
        ("predicted_at", "DateTime"),
        ("run_at", "DateTime"),
        ("team", "LowCardinality(String)"),
        ("availability_source", "LowCardinality(String)"),
        ("lineup_source", "LowCardinality(String)"),
        ("predicted", "Float32"),
        ("p10", "Float32"),
        ("p90", "Float32"),
        ("actual", "UInt16"),
        // predicted - actual: positive when the model said too much.
        ("error", "Float64"),
        ("abs_error", "Float64"),
        ("within_3", "UInt8"),
        ("within_5", "UInt8"),
        // p10 <= actual <= p90.
        ("in_interval", "UInt8"),
        ("line", "Nullable(Float32)"),
        ("p_over", "Nullable(Float32)"),
        ("call", "LowCardinality(String)"),
        // `hit`, `miss` or `push` of an OVER or UNDER call; empty for PASS or no line.
        ("outcome", "LowCardinality(String)"),
        // predicted - line, and its bucket by size (`0-1.5`, `1.5-3`, `3-5`, `5+`; empty
        // without a line).
        ("edge", "Nullable(Float64)"),
        ("edge_bucket", "LowCardinality(String)"),
        ("graded_at", "DateTime"),
        // Migration 11, against the market. Where the line came from (as in predictions).
        ("line_source", "LowCardinality(String)"),
        // Decimal odds of the called side (over_price for OVER, under_price for UNDER);
        // NULL without a priced call.
        ("price", "Nullable(Float64)"),
        // Return of a unit stake at that price: price - 1 on a hit, -1 on a miss, 0 on a push.
        ("profit", "Nullable(Float64)"),
        // The consensus line at tip-off (the last stored snapshot before it), and the
        // closing-line value of the call: closing - line for OVER, line - closing for
        // UNDER (positive: the market moved toward the call).
        ("closing_line", "Nullable(Float32)"),
        ("clv", "Nullable(Float64)"),
        // |line - actual|: the line taken as a prediction.
        ("line_abs_error", "Nullable(Float64)"),
    ],
    engine: "ENGINE = ReplacingMergeTree(graded_at) PARTITION BY toYYYYMM(game_date) ORDER BY (game_date, model_version, source, run, player_id)",
    comment: "every graded prediction: actual points, error, interval, and the call's hit, miss or push",
};

/// The daily summary of the graded predictions (migration 9), per model version, source,
/// slate run and edge bucket (`all` for every prediction of the group; the others only
/// the predictions with a line whose |edge| falls in the bucket). Counts, so that days add
/// up: a call's hit rate is hits / (calls - pushes).
pub const GRADE_SUMMARIES: Table = Table {
    name: "grade_summaries",
    columns: &[
        ("game_date", "Date"),
        ("model_version", "LowCardinality(String)"),
        ("source", "LowCardinality(String)"),
        ("run", "LowCardinality(String)"),
        ("edge_bucket", "LowCardinality(String)"),
        // Predictions selected for grading; of them, players who did not play (box score
        // or inactive list) and the graded ones. The rest wait for their game.
        ("predictions", "UInt64"),
        ("not_played", "UInt64"),
        ("graded", "UInt64"),
        // Over the graded rows (NaN when none).
        ("mae", "Float64"),
        ("rmse", "Float64"),
        ("bias", "Float64"),
        ("within_3", "Float64"),
        ("within_5", "Float64"),
        ("coverage", "Float64"),
        // OVER and UNDER calls of graded rows, and PASSes.
        ("calls", "UInt64"),
        ("passes", "UInt64"),
        ("over_calls", "UInt64"),
        ("over_hits", "UInt64"),
        ("over_pushes", "UInt64"),
        ("under_calls", "UInt64"),
        ("under_hits", "UInt64"),
        ("under_pushes", "UInt64"),
        ("graded_at", "DateTime"),
        // Migration 11, against the market, on exactly the graded rows with a line: how
        // many, the model's MAE on them and the line's own MAE (NaN when none).
        ("lined", "UInt64"),
        ("lined_mae", "Float64"),
        ("line_mae", "Float64"),
        // OVER and UNDER calls with a price; their summed unit-stake return and return per
        // call (NaN when none).
        ("priced_calls", "UInt64"),
        ("profit", "Float64"),
        ("roi", "Float64"),
        // Calls with a closing line: mean closing-line value, and how many moved toward
        // the call and away from it.
        ("clv_calls", "UInt64"),
        ("clv_mean", "Float64"),
        ("clv_toward", "UInt64"),
        ("clv_away", "UInt64"),
    ],
    engine: "ENGINE = ReplacingMergeTree(graded_at) ORDER BY (game_date, model_version, source, run, edge_bucket)",
    comment: "daily grade per model version, source, slate run and edge bucket: error, coverage, calls and their hits",
};

/// Injury reports as teams file them through game day: one row per player listed (or one
/// row with an empty player and status `None` for a team reported with nobody on it). A
/// team absent from a report is not reported. Keyed so that loading a report again adds
/// nothing; the read side is `crate::injuries`.
pub const INJURY_REPORTS: Table = Table {
    name: "injury_reports",
    columns: &[
        ("report_time", "DateTime"),
        ("game_date", "Date"),
        ("team", "LowCardinality(String)"),
        ("player_id", "String"),
        // As the report wrote it (the id is the resolved basketball-reference id).
        ("player_name", "String"),
        ("status", "LowCardinality(String)"),
        ("reason", "String"),
        ("source_file", "String"),
        ("version", "UInt64"),
    ],
    engine: "ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(game_date) ORDER BY (game_date, team, report_time, player_id)",
    comment: "injury reports (Out, Doubtful, Questionable, Probable, Available) per team, game date and report time",
};

pub const PROP_LINES: Table = Table {
    name: "prop_lines",
    columns: &[
        // When the book showed this line (its `last_update`, or the CSV's snapshot time).
        ("snapshot_time", "DateTime"),
        ("game_date", "Date"),
        ("game_id", "String"),
        // The book's key in lower case (`draftkings`, `fanduel`).
        ("book", "LowCardinality(String)"),
        ("player_id", "String"),
        // As the book wrote it (the id is the resolved basketball-reference id).
        ("player_name", "String"),
        // The player's team (basketball-reference's code).
        ("team", "LowCardinality(String)"),
        ("line", "Float32"),
        // Decimal odds (American odds are converted when loaded).
        ("over_price", "Float64"),
        ("under_price", "Float64"),
        // The game's start: the event's `commence_time`, else the schedule's time. Only
        // snapshots before it are stored (a later one is an in-game line).
        ("tipoff", "DateTime"),
        ("source_file", "String"),
        ("version", "UInt64"),
    ],
    engine: "ENGINE = ReplacingMergeTree(version) PARTITION BY toYYYYMM(game_date) ORDER BY (game_date, player_id, book, snapshot_time)",
    comment: "sportsbook player-points lines, one row per book, player and snapshot",
};

/// Tables of migration 11 (prop lines), in creation order.
pub const MARKET_TABLES: &[&Table] = &[&PROP_LINES];

/// Tables of migration 9 (grading of every call), in creation order.
pub const GRADING_TABLES: &[&Table] = &[&GRADED_PREDICTIONS, &GRADE_SUMMARIES];

/// Tables of migration 6 (pre-game information), in creation order.
pub const PREGAME_TABLES: &[&Table] = &[&INJURY_REPORTS];

/// Tables of migration 3 (models and serving), in creation order.
pub const SERVING_TABLES: &[&Table] = &[&MODEL_REGISTRY, &PREDICTIONS, &PREDICTION_GRADES];

/// Tables of migration 2 (analytics, features and the operations tables), in creation order.
pub const ANALYTICS_TABLES: &[&Table] =
    &[&PLAYER_GAME_SUMMARY, &TEAM_GAME_SUMMARY, &PLAYER_FEATURES, &BUILD_RUNS, &VALIDATION_RUNS, &VALIDATION_RESULTS, &BACKFILL_CHECKPOINTS];

/// Tables of migration 1, in creation order.
pub const RAW_TABLES: &[&Table] = &[&GAMES, &PLAYER_BOXSCORES, &TEAM_BOXSCORES, &GAME_INACTIVES, &DATA_QUALITY_ISSUES, &INGEST_FILES];

/// Every table, `schema_migrations` first, then the migrations' tables in order.
pub const ALL_TABLES: &[&Table] = &[
    &SCHEMA_MIGRATIONS,
    &GAMES,
    &PLAYER_BOXSCORES,
    &TEAM_BOXSCORES,
    &GAME_INACTIVES,
    &DATA_QUALITY_ISSUES,
    &INGEST_FILES,
    &PLAYER_GAME_SUMMARY,
    &TEAM_GAME_SUMMARY,
    &PLAYER_FEATURES,
    &BUILD_RUNS,
    &VALIDATION_RUNS,
    &VALIDATION_RESULTS,
    &BACKFILL_CHECKPOINTS,
    &MODEL_REGISTRY,
    &PREDICTIONS,
    &PREDICTION_GRADES,
    &INJURY_REPORTS,
    &GRADED_PREDICTIONS,
    &GRADE_SUMMARIES,
    &PROP_LINES,
];

/// Tables holding per-game rows that a changed page replaces.
pub const GAME_TABLES: &[&Table] = &[&PLAYER_BOXSCORES, &TEAM_BOXSCORES, &GAME_INACTIVES, &DATA_QUALITY_ISSUES];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_sql_lists_columns_in_order() {
        let sql = SCHEMA_MIGRATIONS.create_sql("db");
        assert!(sql.starts_with("CREATE TABLE IF NOT EXISTS `db`.`schema_migrations`"));
        let v = sql.find("`version` UInt32").unwrap();
        let n = sql.find("`name` String").unwrap();
        assert!(v < n);
        assert!(sql.ends_with("ORDER BY version"));
    }

    #[test]
    fn all_tables_lists_every_migrations_table_once() {
        let groups = [RAW_TABLES, ANALYTICS_TABLES, SERVING_TABLES, PREGAME_TABLES, GRADING_TABLES, MARKET_TABLES];
        let mut want: Vec<&str> = groups.iter().flat_map(|g| g.iter().map(|t| t.name)).collect();
        want.insert(0, SCHEMA_MIGRATIONS.name);
        let got: Vec<&str> = ALL_TABLES.iter().map(|t| t.name).collect();
        let (mut a, mut b) = (want.clone(), got.clone());
        a.sort_unstable();
        b.sort_unstable();
        assert_eq!(a, b);
        b.dedup();
        assert_eq!(b.len(), got.len());
    }

    /// Every table's replicated engine, spelled out: the engine family and its arguments
    /// kept, the path per shard, database and table, the replica macro.
    #[test]
    fn every_table_has_its_replicated_engine() {
        let path = |t: &str| format!("'/clickhouse/tables/{{shard}}/nba/{t}', '{{replica}}'");
        for table in ALL_TABLES {
            let got = replicated_engine(table.engine, "nba", table.name).unwrap_or_else(|| panic!("{}: {}", table.name, table.engine));
            let p = path(table.name);
            let want = match table.engine {
                "ENGINE = MergeTree ORDER BY (name, seen_at)" => format!("ENGINE = ReplicatedMergeTree({p}) ORDER BY (name, seen_at)"),
                "ENGINE = MergeTree ORDER BY started_at" => format!("ENGINE = ReplicatedMergeTree({p}) ORDER BY started_at"),
                "ENGINE = MergeTree ORDER BY (started_at, check_name)" => format!("ENGINE = ReplicatedMergeTree({p}) ORDER BY (started_at, check_name)"),
                "ENGINE = MergeTree ORDER BY (version, event_at_us)" => format!("ENGINE = ReplicatedMergeTree({p}) ORDER BY (version, event_at_us)"),
                e if e.starts_with("ENGINE = MergeTree PARTITION BY") => {
                    format!("ENGINE = ReplicatedMergeTree({p}){}", e.trim_start_matches("ENGINE = MergeTree"))
                }
                e if e.starts_with("ENGINE = ReplacingMergeTree(") => {
                    let (arg, rest) = e.trim_start_matches("ENGINE = ReplacingMergeTree(").split_once(')').unwrap();
                    assert!(["version", "applied_at", "finished_at", "graded_at"].contains(&arg), "{}: version column {arg}", table.name);
                    format!("ENGINE = ReplicatedReplacingMergeTree({p}, {arg}){rest}")
                }
                e => panic!("{}: engine {e} not covered by this test", table.name),
            };
            assert_eq!(got, want, "{}", table.name);
        }
        assert_eq!(
            replicated_engine(GAMES.engine, "db", "games").unwrap(),
            "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/db/games', '{replica}', version) PARTITION BY season ORDER BY (game_date, game_id)"
        );
    }

    #[test]
    fn engines_without_a_replicated_form_are_refused() {
        for engine in ["ENGINE = Memory", "ENGINE = ReplicatedMergeTree('/p', 'r') ORDER BY x", "ENGINE = Log", "MergeTree ORDER BY x", "ENGINE = MergeTree(x"]
        {
            assert_eq!(replicated_engine(engine, "db", "t"), None, "{engine}");
        }
    }

    #[test]
    fn create_sql_on_a_cluster_and_without() {
        let plain = GAMES.create_sql("nba");
        assert_eq!(GAMES.create_sql_on("nba", None), plain);
        assert!(plain.ends_with(GAMES.engine) && !plain.contains("ON CLUSTER") && !plain.contains("Replicated"));
        let clustered = GAMES.create_sql_on("nba", Some("nba_cluster"));
        assert!(clustered.starts_with("CREATE TABLE IF NOT EXISTS `nba`.`games` ON CLUSTER nba_cluster\n("), "{clustered}");
        assert!(clustered.ends_with(&replicated_engine(GAMES.engine, "nba", "games").unwrap()), "{clustered}");
        assert_eq!(on_cluster(None), "");
        assert!(GAMES.is_replacing() && !INGEST_FILES.is_replacing() && !PREDICTIONS.is_replacing());
    }

    #[test]
    fn column_names_are_unique() {
        for t in RAW_TABLES.iter().chain(ANALYTICS_TABLES) {
            let mut names = t.column_names();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{}", t.name);
        }
    }
}
