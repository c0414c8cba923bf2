//! Reading the registry's sightings from ClickHouse: every (player, name, team, season)
//! of the box scores and the official inactive lists, with its first and last date.
//!
//! Inactive lists are read too because a player can be on a roster for weeks without
//! playing (injured, two-way): an injury report names exactly those players. Grouping by
//! season as well as team keeps a player who left a team and came back in a later season
//! from looking like he never left.

use crate::registry::{PlayerRegistry, PlayerSighting};
use chrono::NaiveDate;
use nba_store::{Store, StoreError};

/// One group of the query below.
#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct SightingRow {
    player_id: String,
    player_name: String,
    team: String,
    #[serde(with = "clickhouse::serde::chrono::date")]
    first_date: NaiveDate,
    #[serde(with = "clickhouse::serde::chrono::date")]
    last_date: NaiveDate,
}

/// Runs on ClickHouse 18.16 and 24.x alike (no window functions). `FINAL` so a game
/// replaced by a changed page is counted once, as it now reads.
const SIGHTINGS_SQL: &str = "\
    SELECT player_id, player_name, team, min(game_date) AS first_date, max(game_date) AS last_date \
    FROM ( \
        SELECT player_id, player_name, team, season, game_date FROM player_boxscores FINAL \
        UNION ALL \
        SELECT player_id, player_name, team, season, game_date FROM game_inactives FINAL \
    ) \
    WHERE player_id != '' \
    GROUP BY player_id, player_name, team, season \
    ORDER BY player_id, first_date";

impl PlayerRegistry {
    /// Reads every (player, name, team, first date, last date) from ClickHouse
    /// (player_boxscores FINAL and game_inactives FINAL, grouped), then `new`.
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        let rows: Vec<SightingRow> = store.select("read player sightings", SIGHTINGS_SQL).await?;
        Ok(PlayerRegistry::new(rows.into_iter().map(|r| PlayerSighting {
            player_id: r.player_id,
            name: r.player_name,
            team: r.team,
            first: r.first_date,
            last: r.last_date,
        })))
    }
}
