//! Where a request's feature vector comes from: the league history read from ClickHouse,
//! the shared feature contract's `compute`, and a cache of computed vectors.
//!
//! Validation of a request's fields also lives here, since it needs the history (known
//! teams, the player's latest team).
//!
//! The server keeps a snapshot of the whole league history (every player's and team's
//! game summaries, the stored games' official inactive lists and starters, the injury
//! reports, the sportsbooks' prop lines and the player registry) in memory, read from
//! ClickHouse with the same row-to-history conversion the builder uses, so a vector
//! computed here equals the `player_features` row of any historical game bit for bit. What each request's lists
//! are, and where they come from, is [`crate::game_day`]'s business. The snapshot is
//! replaced (never edited) when ClickHouse holds newer rows; if ClickHouse is unreachable
//! the last snapshot keeps serving and readiness reports degraded. Computed vectors are
//! kept in a bounded cache (quick_cache) keyed by everything that determines them.

use crate::error::ServeError;
use crate::game_day::{GameDay, Known, Resolve, Source, given_inactive, given_starters, valid_id};
use crate::predict::AnswerMemo;
use crate::telemetry::Registered;
use arc_swap::ArcSwapOption;
use chrono::{DateTime, NaiveDate, Utc};
use nba_features::{GameContext, History, N_FEATURES};
use nba_names::PlayerRegistry;
use nba_store::Store;
use nba_store::injuries::InjuryReports;
use nba_store::lines::PropLines;
use nba_store::rows::{GameRow, InactiveRow};
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Feature-cache lookups by result (`nba_feature_cache_requests_total`).
static CACHE_HITS: Registered<metrics::Counter> = Registered::new(|| metrics::counter!("nba_feature_cache_requests_total", "result" => "hit"));
static CACHE_MISSES: Registered<metrics::Counter> = Registered::new(|| metrics::counter!("nba_feature_cache_requests_total", "result" => "miss"));

/// The tables a snapshot is read from: a refresh reloads when any of them changed (its
/// newest row version or its row count). `player_boxscores` feeds the player registry.
const WATCHED_TABLES: [&str; 7] = ["player_game_summary", "team_game_summary", "game_inactives", "games", "injury_reports", "prop_lines", "player_boxscores"];

/// One immutable view of the league's history, replaced whole when ClickHouse changes.
#[derive(Debug)]
pub struct HistorySnapshot {
    pub history: History,
    /// The stored games' official inactive lists and starters, and the injury reports.
    pub game_day: GameDay,
    /// Scheduled games by date: (home, away), from the schedule pages.
    pub schedule: HashMap<NaiveDate, Vec<(String, String)>>,
    /// The sportsbooks' points lines, read with the injury reports (a request without a
    /// line uses them at the source's clock, see `predict::choose_line`).
    pub lines: PropLines,
    /// Every player seen, for names as other sources write them.
    pub registry: Arc<PlayerRegistry>,
    /// What the snapshot was read at: each of [`WATCHED_TABLES`]' max version and count.
    pub watermark: Vec<u64>,
    pub loaded_at: DateTime<Utc>,
    /// Increases with every snapshot (cache keys include it).
    pub generation: u64,
}

/// A request after validation: what determines the vector (and its sources).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VectorKey {
    pub generation: u64,
    pub player_id: String,
    pub date: NaiveDate,
    /// The platform's codes (static for the 30 franchises: no allocation, nothing to fetch).
    pub team: Cow<'static, str>,
    pub opponent: Cow<'static, str>,
    pub is_home: bool,
    pub team_inactive: Known,
    pub opp_inactive: Known,
    pub team_starters: Known,
    pub opp_starters: Known,
}

/// A computed vector and what it was computed for (shared: the cache hands the same one
/// to every request that asks the same question).
#[derive(Debug)]
pub struct FeatureVector {
    pub values: Arc<[f32; N_FEATURES]>,
    /// The game's date.
    pub date: NaiveDate,
    /// The teams in the platform's codes, whatever spelling the request used.
    pub team: String,
    pub opponent: String,
    pub games_before: u32,
    /// Where each list came from: the player's team's and the opponent's inactive list,
    /// then their starting fives.
    pub availability_source: Source,
    pub opponent_availability_source: Source,
    pub lineup_source: Source,
    pub opponent_lineup_source: Source,
    /// The latest filing time of the injury reports used (None when no list came from one).
    pub injury_report_time: Option<DateTime<Utc>>,
    /// The served model's answer for these values, kept for the next request.
    pub memo: AnswerMemo,
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
    pub team_starters: Option<&'a [String]>,
    pub opp_starters: Option<&'a [String]>,
    /// Use only what the query gives (no stored lists, reports or lineups).
    pub ignore_stored: bool,
}

/// Feature vectors for requests: the current [`HistorySnapshot`], its refresh from
/// ClickHouse, and the cache of computed vectors.
pub struct FeatureSource {
    store: Store,
    snapshot: ArcSwapOption<HistorySnapshot>,
    /// False after a refresh failed, until one succeeds.
    healthy: AtomicBool,
    cache: VectorCache,
    refreshing: tokio::sync::Mutex<()>,
    /// Doubtful players of an injury report play (`--doubtful-plays`).
    doubtful_plays: bool,
    /// "Now" for a request: injury reports filed and lines posted later are not seen.
    clock: Clock,
}

/// Computed vectors by what determines them. Every request reads it, from every runtime
/// thread: quick_cache's sharded cache takes a shard's read lock and sets an entry's
/// reference bit on a hit (its S3-FIFO-like policy), where an LRU must relink the entry
/// under one lock shared by all threads. Keys carry client-given lists, so the hasher is
/// foldhash's seeded `quality` variant: fast on these short keys, unlike SipHash.
type VectorCache = quick_cache::sync::Cache<VectorKey, Arc<FeatureVector>, quick_cache::UnitWeighter, foldhash::quality::RandomState>;

/// What time it is for the feature source: the wall clock when serving, the run's own
/// time for a slate run (`--as-of`) and in tests.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

impl FeatureSource {
    pub fn new(store: Store, cache_entries: usize, doubtful_plays: bool) -> Self {
        let cap = cache_entries.max(1);
        FeatureSource {
            store,
            snapshot: ArcSwapOption::empty(),
            healthy: AtomicBool::new(false),
            cache: VectorCache::with(cap, cap as u64, quick_cache::UnitWeighter, foldhash::quality::RandomState::default(), Default::default()),
            refreshing: tokio::sync::Mutex::new(()),
            doubtful_plays,
            clock: Arc::new(Utc::now),
        }
    }

    /// The same source with another clock.
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// "Now" for a request (the wall clock, or a slate run's `--as-of`).
    pub fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }

    pub fn snapshot(&self) -> Option<Arc<HistorySnapshot>> {
        self.snapshot.load_full()
    }

    /// ClickHouse answered the last refresh.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }

    /// Reloads the history if ClickHouse holds newer rows. Returns whether the snapshot
    /// changed. On error the old snapshot stays and `healthy()` turns false.
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
        let (history, game_day) = self.read_history().await?;
        let schedule = self.read_schedule().await?;
        let lines = PropLines::load(&self.store).await?;
        let registry = Arc::new(PlayerRegistry::load(&self.store).await?);
        let generation = old.map_or(1, |s| s.generation + 1);
        let snap = HistorySnapshot { history, game_day, schedule, lines, registry, watermark, loaded_at: Utc::now(), generation };
        tracing::info!(
            players = snap.history.player_count(),
            player_games = snap.history.player_game_count(),
            team_games = snap.history.team_game_count(),
            last_date = ?snap.history.last_date(),
            injury_reports = snap.game_day.injuries.len(),
            prop_line_games = snap.lines.len(),
            generation,
            ms = started.elapsed().as_millis() as u64,
            "feature history loaded"
        );
        metrics::gauge!("nba_feature_history_player_games").set(snap.history.player_game_count() as f64);
        self.snapshot.store(Some(Arc::new(snap)));
        // Old vectors cannot be hit again (the generation is in the key); free them now.
        self.cache.clear();
        Ok(true)
    }

    /// The history and, from the same rows, the stored games, their starters and official
    /// inactive lists; and the injury reports. The history is built with the same
    /// `to_history` as the builder's, so vectors equal its rows bit for bit.
    async fn read_history(&self) -> Result<(History, GameDay), nba_store::StoreError> {
        let (players, teams) = self.store.summaries().await?;
        let inactives: Vec<InactiveRow> = self.store.select("read game_inactives", "SELECT ?fields FROM game_inactives FINAL").await?;
        let game_day = GameDay::new(
            teams.iter().map(|t| (t.game_date, t.team.clone())),
            inactives.into_iter().map(|r| (r.game_date, r.team, r.player_id)),
            players.iter().filter(|p| p.starter == 1).map(|p| (p.game_date, p.team.clone(), p.player_id.clone())),
            InjuryReports::load(&self.store).await?,
        );
        Ok((nba_store::history_of(&players, &teams), game_day))
    }

    /// Scheduled games by date, each day sorted.
    async fn read_schedule(&self) -> Result<HashMap<NaiveDate, Vec<(String, String)>>, nba_store::StoreError> {
        let games: Vec<GameRow> = self.store.select("read games", "SELECT ?fields FROM games FINAL").await?;
        let mut schedule: HashMap<NaiveDate, Vec<(String, String)>> = HashMap::new();
        for g in games {
            schedule.entry(g.game_date).or_default().push((g.home_team, g.away_team));
        }
        for day in schedule.values_mut() {
            day.sort();
        }
        Ok(schedule)
    }

    async fn watermark(&self) -> Result<Vec<u64>, nba_store::StoreError> {
        /// A table's newest row version and row count.
        #[derive(clickhouse::Row, serde::Deserialize)]
        struct TableWatermark {
            v: u64,
            n: u64,
        }
        let mut out = Vec::with_capacity(2 * WATCHED_TABLES.len());
        for table in WATCHED_TABLES {
            let sql = format!("SELECT max(version) AS v, count() AS n FROM {table}");
            let w: Vec<TableWatermark> = self.store.select("read watermark", &sql).await?;
            let (v, n) = w.first().map_or((0, 0), |w| (w.v, w.n));
            out.extend([v, n]);
        }
        Ok(out)
    }

    /// The current snapshot for one request, read without touching its reference count
    /// (which every request on every thread would otherwise write): hold it briefly, and
    /// `as_deref().ok_or_else(FeatureSource::not_loaded)`.
    pub fn guard(&self) -> arc_swap::Guard<Option<Arc<HistorySnapshot>>> {
        self.snapshot.load()
    }

    /// UNAVAILABLE: no snapshot has been read yet.
    pub fn not_loaded() -> ServeError {
        ServeError::Unavailable("the feature history is not loaded yet (ClickHouse unreachable since start)".into())
    }

    /// The feature vector for a query in a given snapshot with injury reports read as of
    /// `now` ([`FeatureSource::now`]), from the cache or computed (the caller reads the rest
    /// of what it needs, such as the stored lines, from the same snapshot and instant).
    pub fn vector_in(&self, snap: &HistorySnapshot, q: &FeatureQuery<'_>, now: DateTime<Utc>) -> Result<Arc<FeatureVector>, ServeError> {
        let key = self.key(snap, q, now)?;
        if let Some(f) = self.cache.get(&key) {
            CACHE_HITS.with(|c| c.increment(1));
            return Ok(f);
        }
        CACHE_MISSES.with(|c| c.increment(1));
        // Checked here, not in `key`: a cached vector's player was checked in the same
        // snapshot (its generation is in the key), and the check reads his games, which a
        // hit does not otherwise touch.
        if !snap.history.has_player_before(&key.player_id, key.date) {
            return Err(self.unknown_player(&key.player_id, key.date));
        }
        let ctx = GameContext {
            date: key.date,
            season: nba_pages::season::season_of(key.date),
            team: key.team.to_string(),
            opponent: key.opponent.to_string(),
            is_home: key.is_home,
            team_inactive: key.team_inactive.ids.as_deref().map(<[String]>::to_vec),
            opp_inactive: key.opp_inactive.ids.as_deref().map(<[String]>::to_vec),
            team_starters: key.team_starters.ids.as_deref().map(<[String]>::to_vec),
            opp_starters: key.opp_starters.ids.as_deref().map(<[String]>::to_vec),
        };
        let values = nba_features::compute(&snap.history, &key.player_id, &ctx);
        let games_before = snap.history.player_before(&key.player_id, key.date).iter().filter(|g| g.played).count() as u32;
        let f = Arc::new(FeatureVector {
            values: Arc::new(values),
            date: key.date,
            team: key.team.to_string(),
            opponent: key.opponent.to_string(),
            games_before,
            availability_source: key.team_inactive.source,
            opponent_availability_source: key.opp_inactive.source,
            lineup_source: key.team_starters.source,
            opponent_lineup_source: key.opp_starters.source,
            injury_report_time: key.team_inactive.report_time.max(key.opp_inactive.report_time),
            memo: AnswerMemo::default(),
        });
        self.cache.insert(key, f.clone());
        Ok(f)
    }

    /// Validates a query against the snapshot, resolves the teams' spellings, the default
    /// team, and each list's source. Whether the player has games before the date is
    /// checked on a cache miss (`vector_in`).
    fn key(&self, snap: &HistorySnapshot, q: &FeatureQuery<'_>, now: DateTime<Utc>) -> Result<VectorKey, ServeError> {
        let h = &snap.history;
        if !valid_id(q.player_id) {
            return Err(ServeError::invalid("player_id", format!("{:?} is not a basketball-reference player id", q.player_id)));
        }
        let date = parse_date(q.game_date)?;
        let opponent = known_team(h, q.opponent).ok_or_else(|| ServeError::invalid("opponent", format!("unknown team {:?}", q.opponent)))?;
        let team = match q.team {
            Some(t) => known_team(h, t).ok_or_else(|| ServeError::invalid("team", format!("unknown team {t:?}")))?,
            None => match h.player_before(q.player_id, date).last() {
                // His team's code as stored (static when it is a current franchise's).
                Some(g) => nba_names::canonical_team(&g.team).filter(|c| *c == g.team).map_or_else(|| Cow::Owned(g.team.clone()), Cow::Borrowed),
                None => return Err(self.unknown_player(q.player_id, date)),
            },
        };
        if team == opponent {
            return Err(ServeError::invalid("opponent", format!("{team} cannot play itself")));
        }
        let how = Resolve { ignore_stored: q.ignore_stored, as_of: now, doubtful_plays: self.doubtful_plays };
        let g = &snap.game_day;
        Ok(VectorKey {
            generation: snap.generation,
            player_id: q.player_id.to_string(),
            date,
            team_inactive: g.inactive(date, &team, given_inactive(q.team_inactive, "team_inactive")?, how),
            opp_inactive: g.inactive(date, &opponent, given_inactive(q.opp_inactive, "opponent_inactive")?, how),
            team_starters: g.starters(date, &team, given_starters(q.team_starters, "team_starters")?, how),
            opp_starters: g.starters(date, &opponent, given_starters(q.opp_starters, "opponent_starters")?, how),
            team,
            opponent,
            is_home: q.is_home,
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

/// A game date the server predicts: YYYY-MM-DD, from the league's first season to 400
/// days from now.
fn parse_date(s: &str) -> Result<NaiveDate, ServeError> {
    let date = iso_date(s).ok_or_else(|| ServeError::invalid("game_date", format!("{s:?} is not a date (YYYY-MM-DD)")))?;
    let first = NaiveDate::from_ymd_opt(1946, 11, 1).unwrap_or(NaiveDate::MIN);
    let last = Utc::now().date_naive() + chrono::Days::new(400);
    if date < first || date > last {
        return Err(ServeError::invalid("game_date", format!("{date} is outside the dates this server predicts ({first} to {last})")));
    }
    Ok(date)
}

/// A `YYYY-MM-DD` date; the common ten-digit spelling is read directly, anything else
/// as chrono reads `%Y-%m-%d` (chrono's general parser costs more than the rest of a
/// request's validation).
pub fn iso_date(s: &str) -> Option<NaiveDate> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().try_fold(0u32, |n, &c| c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0')));
    if b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && let (Some(y), Some(m), Some(d)) = (digits(0..4), digits(5..7), digits(8..10))
    {
        return NaiveDate::from_ymd_opt(y as i32, m, d);
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// The platform's code of a team, from any spelling clients use ("PHX", "Phoenix Suns",
/// "pho"). One of the 30 current franchises is known even before its first stored game
/// (its features from history are then missing, not an error: a slate on the first days
/// of the data, a franchise's first game); a code outside their aliases is accepted as
/// written when the history knows it (a former franchise's code).
fn known_team(h: &History, spelled: &str) -> Option<Cow<'static, str>> {
    match nba_names::canonical_team(spelled) {
        Some(code) => Some(Cow::Borrowed(code)),
        None => (valid_id(spelled) && h.knows_team(spelled)).then(|| Cow::Owned(spelled.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ten-digit spelling is read directly; every other string as chrono reads
    /// `%Y-%m-%d`, so the fast path accepts and refuses exactly what chrono does.
    #[test]
    fn iso_dates_read_as_chrono_reads_them() {
        let chrono = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        for s in [
            "2024-03-05",
            "2024-3-5",
            "2024-02-29",
            "2023-02-29",
            "2024-13-01",
            "2024-00-10",
            "2024-04-31",
            "0000-01-01",
            "2024-03-5 ",
            " 2024-03-05",
            "2024/03/05",
            "20240305",
            "2024-03-0x",
            "+2024-03-05",
            "",
            "2024-03-05T00:00",
            "９９９９-01-01",
        ] {
            assert_eq!(iso_date(s), chrono(s), "{s:?}");
        }
        assert_eq!(iso_date("2024-03-05"), NaiveDate::from_ymd_opt(2024, 3, 5));
    }
}
