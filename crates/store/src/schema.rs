//! Every ClickHouse table of the project: its columns (in the order the row structs write
//! them), engine and keys. The `CREATE TABLE` statements are generated from these lists so
//! that a row struct and its table cannot drift apart unnoticed (see the tests in
//! `tests/store.rs`, which check each struct against the server's `DESCRIBE TABLE`).
//!
//! The SQL must run on ClickHouse 18.16 (Debian's package, used in development and CI)
//! and on current releases (24.x and later, production): plain MergeTree-family engines
//! with `PARTITION BY`/`ORDER BY`, no window functions, no CTEs, one JOIN at most.

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
    pub fn create_sql(&self, database: &str) -> String {
        let cols: Vec<String> = self.columns.iter().map(|(n, t)| format!("    `{n}` {t}")).collect();
        format!(
            "CREATE TABLE IF NOT EXISTS `{database}`.`{}`\n(\n{}\n)\n{}",
            self.name,
            cols.join(",\n"),
            self.engine
        )
    }

    pub fn column_names(&self) -> Vec<&'static str> {
        self.columns.iter().map(|(n, _)| *n).collect()
    }
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
    ],
    engine: "ENGINE = MergeTree ORDER BY (name, seen_at)",
    comment: "ledger of every file seen by a load: loaded, unchanged or rejected",
};

/// Tables of migration 1, in creation order.
pub const RAW_TABLES: &[&Table] =
    &[&GAMES, &PLAYER_BOXSCORES, &TEAM_BOXSCORES, &GAME_INACTIVES, &DATA_QUALITY_ISSUES, &INGEST_FILES];

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
    fn column_names_are_unique() {
        for t in RAW_TABLES {
            let mut names = t.column_names();
            names.sort_unstable();
            let before = names.len();
            names.dedup();
            assert_eq!(before, names.len(), "{}", t.name);
        }
    }
}
