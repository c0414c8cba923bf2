//! Where a request's feature vector comes from: the league history read from ClickHouse,
//! the shared feature contract's `compute`, and a cache of computed vectors.
//!
//! Validation of a request's fields also lives here, since it needs the history (known
//! teams, the player's latest team).
//!
//! The server keeps a snapshot of the whole league history (every player's and team's
//! game summaries and the official inactive lists) in memory, read from ClickHouse with
//! the same row-to-history conversion the builder uses, so a vector computed here equals
//! the `player_features` row of any historical game bit for bit. The snapshot is replaced
//! (never edited) when ClickHouse holds newer summaries; if ClickHouse is unreachable
//! the last snapshot keeps serving and readiness reports degraded. Computed vectors are
//! kept in a bounded LRU cache keyed by everything that determines them.

use crate::error::ServeError;
use arc_swap::ArcSwapOption;
use chrono::{DateTime, NaiveDate, Utc};
use nba_features::{GameContext, History, N_FEATURES};
use nba_store::Store;
use nba_store::rows::{GameRow, InactiveRow};
use std::collections::HashMap;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

/// One immutable view of the league's history, replaced whole when ClickHouse changes.
#[derive(Debug)]
pub struct HistorySnapshot {
    pub history: History,
    /// Official inactive lists by (date, team).
    pub inactive: HashMap<(NaiveDate, String), Vec<String>>,
    /// Scheduled games by date: (home, away), from the schedule pages.
    pub schedule: HashMap<NaiveDate, Vec<(String, String)>>,
    /// What the snapshot was read at: (summary rows' max version and count, schedule
    /// rows' max version and count).
    pub watermark: [u64; 4],
    pub loaded_at: DateTime<Utc>,
    /// Increases with every snapshot (cache keys include it).
    pub generation: u64,
}

/// A request after validation: what determines the vector.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VectorKey {
    pub generation: u64,
    pub player_id: String,
    pub date: NaiveDate,
    pub team: String,
    pub opponent: String,
    pub is_home: bool,
    pub team_inactive: Vec<String>,
    pub opp_inactive: Vec<String>,
}

/// A computed vector and what it was computed for.
#[derive(Debug, Clone)]
pub struct FeatureVector {
    pub values: Arc<[f32; N_FEATURES]>,
    pub team: String,
    pub games_before: u32,
}

/// What the caller asks for (strings as received; validated here).
#[derive(Debug, Clone, Default)]
pub struct FeatureQuery<'a> {
    pub player_id: &'a str,
    pub game_date: &'a str,
    pub opponent: &'a str,
    pub is_home: bool,
    pub team: Option<&'a str>,
    pub team_inactive: Option<&'a [String]>,
    pub opp_inactive: Option<&'a [String]>,
}

/// Feature vectors for requests: the current [`HistorySnapshot`], its refresh from
/// ClickHouse, and the cache of computed vectors.
pub struct FeatureSource {
    store: Store,
    snapshot: ArcSwapOption<HistorySnapshot>,
    /// False after a refresh failed, until one succeeds.
    healthy: AtomicBool,
    cache: Mutex<lru::LruCache<VectorKey, FeatureVector>>,
    refreshing: tokio::sync::Mutex<()>,
}

/// A basketball-reference player or team id: short, and only letters, digits, `_-.`.
fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

impl FeatureSource {
    pub fn new(store: Store, cache_entries: usize) -> Self {
        let cap = NonZeroUsize::new(cache_entries.max(1)).unwrap_or(NonZeroUsize::MIN);
        FeatureSource {
            store,
            snapshot: ArcSwapOption::empty(),
            healthy: AtomicBool::new(false),
            cache: Mutex::new(lru::LruCache::new(cap)),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn snapshot(&self) -> Option<Arc<HistorySnapshot>> {
        self.snapshot.load_full()
    }

    /// ClickHouse answered the last refresh.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Reloads the history if ClickHouse holds newer summaries. Returns whether the
    /// snapshot changed. On error the old snapshot stays and `healthy()` turns false.
    pub async fn refresh(&self) -> Result<bool, nba_store::StoreError> {
        let _one = self.refreshing.lock().await;
        let result = self.refresh_locked().await;
        self.healthy.store(result.is_ok(), Ordering::Relaxed);
        metrics::gauge!("nba_feature_store_healthy").set(if result.is_ok() { 1.0 } else { 0.0 });
        if let Err(e) = &result {
            metrics::counter!("nba_clickhouse_errors_total", "operation" => "feature_refresh").increment(1);
            tracing::warn!(error = %e, "feature refresh failed; serving the last snapshot");
        }
        result
    }

    async fn refresh_locked(&self) -> Result<bool, nba_store::StoreError> {
        let watermark = self.watermark().await?;
        let old = self.snapshot();
        if old.as_ref().is_some_and(|s| s.watermark == watermark) {
            return Ok(false);
        }
        let started = std::time::Instant::now();
        // Store::history converts rows with the same to_history the builder uses.
        let history = self.store.history().await?;
        let inactives: Vec<InactiveRow> = self.store.select("read game_inactives", "SELECT ?fields FROM game_inactives FINAL").await?;
        let mut inactive: HashMap<(NaiveDate, String), Vec<String>> = HashMap::new();
        for r in inactives {
            inactive.entry((r.game_date, r.team)).or_default().push(r.player_id);
        }
        let games: Vec<GameRow> = self.store.select("read games", "SELECT ?fields FROM games FINAL").await?;
        let mut schedule: HashMap<NaiveDate, Vec<(String, String)>> = HashMap::new();
        for g in games {
            schedule.entry(g.game_date).or_default().push((g.home_team, g.away_team));
        }
        for day in schedule.values_mut() {
            day.sort();
        }
        let generation = old.map_or(1, |s| s.generation + 1);
        let snap = HistorySnapshot { history, inactive, schedule, watermark, loaded_at: Utc::now(), generation };
        tracing::info!(
            players = snap.history.player_count(),
            player_games = snap.history.player_game_count(),
            team_games = snap.history.team_game_count(),
            last_date = ?snap.history.last_date(),
            generation,
            ms = started.elapsed().as_millis() as u64,
            "feature history loaded"
        );
        metrics::gauge!("nba_feature_history_player_games").set(snap.history.player_game_count() as f64);
        self.snapshot.store(Some(Arc::new(snap)));
        // Old vectors cannot be hit again (the generation is in the key); free them now.
        if let Ok(mut c) = self.cache.lock() {
            c.clear();
        }
        Ok(true)
    }

    async fn watermark(&self) -> Result<[u64; 4], nba_store::StoreError> {
        /// A table's newest row version and row count.
        #[derive(clickhouse::Row, serde::Deserialize)]
        struct TableWatermark {
            v: u64,
            n: u64,
        }
        let mut out = [0; 4];
        for (i, table) in ["player_game_summary", "games"].into_iter().enumerate() {
            let sql = format!("SELECT max(version) AS v, count() AS n FROM {table}");
            let w: Vec<TableWatermark> = self.store.select("read watermark", &sql).await?;
            if let Some(w) = w.first() {
                out[2 * i] = w.v;
                out[2 * i + 1] = w.n;
            }
        }
        Ok(out)
    }

    /// The feature vector for a query, from the cache or computed.
    pub fn vector(&self, q: &FeatureQuery<'_>) -> Result<FeatureVector, ServeError> {
        let Some(snap) = self.snapshot() else {
            return Err(ServeError::Unavailable("the feature history is not loaded yet (ClickHouse unreachable since start)".into()));
        };
        let key = self.key(&snap, q)?;
        if let Some(f) = self.cache.lock().ok().and_then(|mut c| c.get(&key).cloned()) {
            metrics::counter!("nba_feature_cache_requests_total", "result" => "hit").increment(1);
            return Ok(f);
        }
        metrics::counter!("nba_feature_cache_requests_total", "result" => "miss").increment(1);
        let ctx = GameContext {
            date: key.date,
            season: nba_pages::season::season_of(key.date),
            team: key.team.clone(),
            opponent: key.opponent.clone(),
            is_home: key.is_home,
            team_inactive: Some(key.team_inactive.clone()),
            opp_inactive: Some(key.opp_inactive.clone()),
            team_starters: None,
            opp_starters: None,
        };
        let values = nba_features::compute(&snap.history, &key.player_id, &ctx);
        let games_before = snap.history.player_before(&key.player_id, key.date).iter().filter(|g| g.played).count() as u32;
        let f = FeatureVector { values: Arc::new(values), team: key.team.clone(), games_before };
        if let Ok(mut c) = self.cache.lock() {
            c.put(key, f.clone());
        }
        Ok(f)
    }

    /// Validates a query against the snapshot and resolves defaults.
    fn key(&self, snap: &HistorySnapshot, q: &FeatureQuery<'_>) -> Result<VectorKey, ServeError> {
        let h = &snap.history;
        if !valid_id(q.player_id) {
            return Err(ServeError::invalid("player_id", format!("{:?} is not a basketball-reference player id", q.player_id)));
        }
        let date = NaiveDate::parse_from_str(q.game_date, "%Y-%m-%d")
            .map_err(|_| ServeError::invalid("game_date", format!("{:?} is not a date (YYYY-MM-DD)", q.game_date)))?;
        let first = NaiveDate::from_ymd_opt(1946, 11, 1).unwrap_or(NaiveDate::MIN);
        let last = Utc::now().date_naive() + chrono::Days::new(400);
        if date < first || date > last {
            return Err(ServeError::invalid("game_date", format!("{date} is outside the dates this server predicts ({first} to {last})")));
        }
        let team_known = |t: &str| valid_id(t) && h.knows_team(t);
        if !team_known(q.opponent) {
            return Err(ServeError::invalid("opponent", format!("unknown team {:?}", q.opponent)));
        }
        let team = match q.team {
            Some(t) if !team_known(t) => {
                return Err(ServeError::invalid("team", format!("unknown team {t:?}")));
            }
            Some(t) => t.to_string(),
            None => match h.current_team(q.player_id, date) {
                Some(t) => t.to_string(),
                None => return Err(self.unknown_player(q.player_id, date)),
            },
        };
        if team == q.opponent {
            return Err(ServeError::invalid("opponent", format!("{team} cannot play itself")));
        }
        if h.player_before(q.player_id, date).is_empty() {
            return Err(self.unknown_player(q.player_id, date));
        }
        let list = |given: Option<&[String]>, team: &str, field: &'static str| -> Result<Vec<String>, ServeError> {
            let mut ids: Vec<String> = match given {
                Some(ids) => {
                    if let Some(bad) = ids.iter().find(|id| !valid_id(id)) {
                        return Err(ServeError::invalid(field, format!("{bad:?} is not a player id")));
                    }
                    ids.to_vec()
                }
                None => snap.inactive.get(&(date, team.to_string())).cloned().unwrap_or_default(),
            };
            ids.sort_unstable();
            ids.dedup();
            Ok(ids)
        };
        let team_inactive = list(q.team_inactive, &team, "team_inactive")?;
        let opp_inactive = list(q.opp_inactive, q.opponent, "opponent_inactive")?;
        Ok(VectorKey {
            generation: snap.generation,
            player_id: q.player_id.to_string(),
            date,
            team,
            opponent: q.opponent.to_string(),
            is_home: q.is_home,
            team_inactive,
            opp_inactive,
        })
    }

    /// No history for a player: NOT_FOUND when the snapshot is current, UNAVAILABLE when
    /// ClickHouse could not be asked (he may be in data we could not read).
    fn unknown_player(&self, player_id: &str, date: NaiveDate) -> ServeError {
        if self.healthy() {
            ServeError::PlayerNotFound { player_id: player_id.to_string(), date: date.to_string() }
        } else {
            metrics::counter!("nba_feature_unavailable_total").increment(1);
            ServeError::Unavailable(format!("player {player_id:?} is not in the cached history and ClickHouse is unreachable"))
        }
    }
}
