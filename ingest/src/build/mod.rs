//! `nba-ingest build`: raw tables → `player_game_summary`, `team_game_summary` and the
//! point-in-time `player_features`.
//!
//! Incremental by default: the raw rows carry the version (load time) that wrote them,
//! and each build records the newest version it has seen (`build_runs.watermark`). Games
//! with newer rows have changed; since a game feeds the rolling features of every later
//! game, the build rewrites all rows from the earliest changed date on. Summaries and
//! features are computed in memory from the whole history (a few seconds for seven
//! seasons), then the date range is replaced: delete (waited for), insert, and only then
//! the `build_runs` row, so an interrupted build is simply redone by the next one.

pub mod summaries;

use anyhow::Context;
use chrono::NaiveDate;
use nba_features::{GameContext, History};
use nba_store::rows::{BuildRunRow, InactiveRow, PlayerBoxscoreRow, PlayerFeaturesRow, TeamBoxscoreRow};
use nba_store::{Store, schema};
use std::collections::{HashMap, HashSet};
use std::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// First game date to rebuild; default: the earliest changed game.
    pub from: Option<NaiveDate>,
    /// Last game date to rebuild; default: the newest game.
    pub to: Option<NaiveDate>,
    /// Rebuild everything regardless of what changed.
    pub full: bool,
}

#[derive(Debug, Clone, Default)]
pub struct BuildSummary {
    pub mode: &'static str,
    pub range: Option<(NaiveDate, NaiveDate)>,
    pub changed_games: usize,
    pub games: u64,
    pub player_summary_rows: u64,
    pub team_summary_rows: u64,
    pub feature_rows: u64,
    pub seconds: f64,
}

impl std::fmt::Display for BuildSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "build summary ({})", self.mode)?;
        match self.range {
            None if self.mode == "empty" => writeln!(f, "  nothing to do: the raw tables are empty (run `nba-ingest load` first)")?,
            None => writeln!(f, "  nothing to do: no raw rows changed since the last build")?,
            Some((from, to)) => {
                writeln!(f, "  games {from} .. {to}: {} games ({} changed since the last build)", self.games, self.changed_games)?;
                writeln!(
                    f,
                    "  rows written: player_game_summary {}, team_game_summary {}, player_features {}",
                    self.player_summary_rows, self.team_summary_rows, self.feature_rows
                )?;
            }
        }
        writeln!(f, "  time: {:.1} s", self.seconds)
    }
}

/// Everything the build reads from the raw tables.
pub struct RawRows {
    pub players: Vec<PlayerBoxscoreRow>,
    pub teams: Vec<TeamBoxscoreRow>,
    pub inactives: Vec<InactiveRow>,
}

impl RawRows {
    pub async fn read(store: &Store) -> anyhow::Result<RawRows> {
        let players = store.select::<PlayerBoxscoreRow>("read player_boxscores", "SELECT ?fields FROM player_boxscores FINAL").await?;
        let teams = store.select::<TeamBoxscoreRow>("read team_boxscores", "SELECT ?fields FROM team_boxscores FINAL").await?;
        let inactives = store.select::<InactiveRow>("read game_inactives", "SELECT ?fields FROM game_inactives FINAL").await?;
        Ok(RawRows { players, teams, inactives })
    }

    /// What was published before each game's tip-off, by (game, team): the official
    /// inactive lists and the starting fives (the box score's starters).
    pub fn game_day(&self) -> GameDayLists<'_> {
        let mut inactive: HashMap<(&str, &str), Vec<String>> = HashMap::new();
        for i in &self.inactives {
            inactive.entry((i.game_id.as_str(), i.team.as_str())).or_default().push(i.player_id.clone());
        }
        let mut starters: HashMap<(&str, &str), Vec<String>> = HashMap::new();
        for p in self.players.iter().filter(|p| p.starter == 1) {
            starters.entry((p.game_id.as_str(), p.team.as_str())).or_default().push(p.player_id.clone());
        }
        GameDayLists { inactive, starters }
    }
}

/// The request-time information of past games, by (game id, team). Every stored page
/// carries its official inactive list ("None" = nobody), so a team without an entry had
/// nobody inactive; likewise every box score names its five starters.
pub struct GameDayLists<'a> {
    pub inactive: HashMap<(&'a str, &'a str), Vec<String>>,
    pub starters: HashMap<(&'a str, &'a str), Vec<String>>,
}

impl GameDayLists<'_> {
    fn of(map: &HashMap<(&str, &str), Vec<String>>, game_id: &str, team: &str) -> Vec<String> {
        map.get(&(game_id, team)).cloned().unwrap_or_default()
    }
}

/// Summaries and history computed from raw rows, in memory.
pub struct ComputedSummaries {
    pub players: Vec<nba_store::rows::PlayerGameSummaryRow>,
    pub teams: Vec<nba_store::rows::TeamGameSummaryRow>,
    pub history: History,
}

pub fn compute_summaries(raw: &RawRows, version: u64) -> ComputedSummaries {
    let teams = summaries::team_summaries(&raw.teams, &raw.players, version);
    let players = summaries::player_summaries(&raw.players, &raw.teams, version);
    let history = nba_store::history_of(&players, &teams);
    ComputedSummaries { players, teams, history }
}

/// The context of a player's row as known at tip-off: inactive lists and lineups known.
pub fn context_of(p: &PlayerBoxscoreRow, lists: &GameDayLists<'_>) -> GameContext {
    let (game, team, opp) = (p.game_id.as_str(), p.team.as_str(), p.opponent.as_str());
    GameContext {
        date: p.game_date,
        season: p.season,
        team: p.team.clone(),
        opponent: p.opponent.clone(),
        is_home: p.is_home == 1,
        team_inactive: Some(GameDayLists::of(&lists.inactive, game, team)),
        opp_inactive: Some(GameDayLists::of(&lists.inactive, game, opp)),
        team_starters: Some(GameDayLists::of(&lists.starters, game, team)),
        opp_starters: Some(GameDayLists::of(&lists.starters, game, opp)),
    }
}

/// The features row of one raw player row.
pub fn features_row(p: &PlayerBoxscoreRow, history: &History, lists: &GameDayLists<'_>, version: u64) -> PlayerFeaturesRow {
    let ctx = context_of(p, lists);
    PlayerFeaturesRow {
        game_id: p.game_id.clone(),
        game_date: p.game_date,
        season: p.season,
        season_type: p.season_type.clone(),
        team: p.team.clone(),
        opponent: p.opponent.clone(),
        is_home: p.is_home,
        player_id: p.player_id.clone(),
        feature_version: nba_features::FEATURE_VERSION,
        contract_hash: nba_features::contract_hash(),
        features: nba_features::compute(history, &p.player_id, &ctx).to_vec(),
        status: p.status.clone(),
        target_pts: p.pts,
        target_minutes: f64::from(p.seconds) / 60.0,
        version,
    }
}

/// Rows per INSERT for the big tables: bounds client memory.
const INSERT_CHUNK: usize = 50_000;

pub async fn build(store: &Store, opts: &BuildOptions) -> anyhow::Result<BuildSummary> {
    let started = Instant::now();
    let started_at = chrono::Utc::now();
    let version = u64::try_from(started_at.timestamp_millis()).unwrap_or(0);
    let previous = store.scalar_u64("read last build watermark", "SELECT toUInt64(max(watermark)) FROM build_runs WHERE mode != 'range'").await?;
    let raw = RawRows::read(store).await.context("reading the raw tables")?;
    let changes = Changes::since(&raw, previous);
    let (Some(first_date), Some(last_date)) = (raw.teams.iter().map(|t| t.game_date).min(), raw.teams.iter().map(|t| t.game_date).max()) else {
        // Nothing loaded yet (or a backfill chunk without games): nothing to build.
        tracing::warn!(database = store.database(), "the raw tables are empty: nothing to build (run `nba-ingest load` first)");
        return Ok(BuildSummary { mode: "empty", seconds: started.elapsed().as_secs_f64(), ..Default::default() });
    };

    // Rows written under another feature contract (an upgrade added or changed a
    // feature) are stale everywhere, so the nightly incremental build rebuilds them all
    // instead of leaving a table that mixes two contracts.
    let stale = feature_rows_of_other_contracts(store).await?;
    let mode = if opts.from.is_some() || opts.to.is_some() {
        "range"
    } else if opts.full || previous == 0 || stale > 0 {
        "full"
    } else {
        "incremental"
    };
    if mode == "full" && stale > 0 {
        tracing::info!(stale, contract = %nba_features::contract_hash(), "feature rows of another contract: rebuilding everything");
    }
    let from = match (mode, opts.from) {
        (_, Some(d)) => d,
        ("full" | "range", None) => first_date,
        _ => match changes.earliest_date {
            Some(d) => d,
            None => {
                tracing::info!(watermark = previous, "no raw rows changed since the last build");
                return Ok(BuildSummary { mode, seconds: started.elapsed().as_secs_f64(), ..Default::default() });
            }
        },
    };
    let to = opts.to.unwrap_or(last_date);
    anyhow::ensure!(from <= to, "--from {from} is after --to {to}");
    tracing::info!(mode, %from, %to, changed = changes.games, "building");

    let rows = BuiltRows::of_range(&raw, version, from, to);
    rows.replace_range(store, from, to).await?;
    let summary = BuildSummary {
        mode,
        range: Some((from, to)),
        changed_games: changes.games,
        games: rows.games(),
        player_summary_rows: rows.players.len() as u64,
        team_summary_rows: rows.teams.len() as u64,
        feature_rows: rows.features.len() as u64,
        seconds: started.elapsed().as_secs_f64(),
    };
    // Last: the watermark moves only once everything above is written. A range build
    // does not move it (it may not cover every changed game).
    let watermark = if mode == "range" { previous } else { changes.newest_version };
    record_run(store, &summary, started_at, watermark, (from, to)).await?;
    Ok(summary)
}

/// What changed in the raw tables since the last build's watermark.
struct Changes {
    /// The newest version of any raw row: the next watermark.
    newest_version: u64,
    /// Games with a raw row newer than the watermark.
    games: usize,
    /// The earliest date of such a game.
    earliest_date: Option<NaiveDate>,
}

impl Changes {
    fn since(raw: &RawRows, watermark: u64) -> Changes {
        let versions = raw.players.iter().map(|r| (r.version, r.game_id.as_str()));
        let versions = versions.chain(raw.teams.iter().map(|r| (r.version, r.game_id.as_str())));
        let versions = versions.chain(raw.inactives.iter().map(|r| (r.version, r.game_id.as_str())));
        let mut newest_version = 0;
        let mut changed = HashSet::new();
        for (version, game_id) in versions {
            newest_version = newest_version.max(version);
            if version > watermark {
                changed.insert(game_id);
            }
        }
        let date_of: HashMap<&str, NaiveDate> = raw.teams.iter().map(|t| (t.game_id.as_str(), t.game_date)).collect();
        let earliest_date = changed.iter().filter_map(|g| date_of.get(g)).min().copied();
        Changes { newest_version, games: changed.len(), earliest_date }
    }
}

/// `player_features` rows written under another feature contract than this build's.
async fn feature_rows_of_other_contracts(store: &Store) -> anyhow::Result<u64> {
    let hash = nba_features::contract_hash();
    let sql = "SELECT count() FROM player_features WHERE contract_hash != ?";
    Ok(store.retry("count feature rows of another contract", || store.client().query(sql).bind(&hash).fetch_one()).await?)
}

/// The rows a build writes for one date range.
struct BuiltRows {
    players: Vec<nba_store::rows::PlayerGameSummaryRow>,
    teams: Vec<nba_store::rows::TeamGameSummaryRow>,
    features: Vec<PlayerFeaturesRow>,
}

impl BuiltRows {
    /// Summaries and features are computed from the whole history (a game's features read
    /// every earlier game), then cut to `from..=to`.
    fn of_range(raw: &RawRows, version: u64, from: NaiveDate, to: NaiveDate) -> BuiltRows {
        let in_range = |d: NaiveDate| d >= from && d <= to;
        let summaries = compute_summaries(raw, version);
        let lists = raw.game_day();
        BuiltRows {
            players: summaries.players.iter().filter(|r| in_range(r.game_date)).cloned().collect(),
            teams: summaries.teams.iter().filter(|r| in_range(r.game_date)).cloned().collect(),
            features: raw.players.iter().filter(|p| in_range(p.game_date)).map(|p| features_row(p, &summaries.history, &lists, version)).collect(),
        }
    }

    fn games(&self) -> u64 {
        self.teams.iter().map(|t| t.game_id.as_str()).collect::<HashSet<_>>().len() as u64
    }

    /// Deletes the range's rows (waiting for each delete) and inserts these.
    async fn replace_range(&self, store: &Store, from: NaiveDate, to: NaiveDate) -> anyhow::Result<()> {
        for table in [&schema::PLAYER_GAME_SUMMARY, &schema::TEAM_GAME_SUMMARY, &schema::PLAYER_FEATURES] {
            store.delete_dates(table, from, to).await?;
        }
        for chunk in self.players.chunks(INSERT_CHUNK) {
            store.insert(chunk).await?;
        }
        for chunk in self.teams.chunks(INSERT_CHUNK) {
            store.insert(chunk).await?;
        }
        for chunk in self.features.chunks(INSERT_CHUNK) {
            store.insert(chunk).await?;
        }
        Ok(())
    }
}

/// The `build_runs` row of a finished build.
async fn record_run(
    store: &Store,
    summary: &BuildSummary,
    started_at: chrono::DateTime<chrono::Utc>,
    watermark: u64,
    (from, to): (NaiveDate, NaiveDate),
) -> anyhow::Result<()> {
    store
        .insert(&[BuildRunRow {
            run_id: format!("{}-{}", started_at.format("%Y%m%dT%H%M%S%.3fZ"), std::process::id()),
            mode: summary.mode.to_string(),
            started_at,
            finished_at: chrono::Utc::now(),
            watermark,
            from_date: from,
            to_date: to,
            games: summary.games,
            player_summary_rows: summary.player_summary_rows,
            team_summary_rows: summary.team_summary_rows,
            feature_rows: summary.feature_rows,
            feature_version: nba_features::FEATURE_VERSION,
            contract_hash: nba_features::contract_hash(),
        }])
        .await?;
    Ok(())
}
