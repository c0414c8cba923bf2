//! `nba-server slate`: the day's slate predicted and stored before tip-off.
//!
//! Every player of every game of the day is predicted through the same code as `Predict`
//! ([`Predictor::predict_with`] on the registry's current model, features from the same
//! history snapshot), with what is known at the run's clock: the stored official lists,
//! else the latest injury report filed by then, else unknown; announced lineups when a
//! file gives them; the consensus of the stored prop lines posted by then, else no line.
//! Each answer is written to `predictions` with `source = slate`, the run's name and
//! clock, the model version, where each list came from and the line it used (with its
//! snapshot time and prices), so grading sees the whole slate and not only what clients
//! happened to ask.
//!
//! A run is named (`--run morning`, `--run pretip`): rerunning a date's run writes only
//! the players it has not stored yet (a run cut off half-way is completed, a finished one
//! writes nothing). A player who cannot be predicted is reported with the reason and the
//! others are kept; so is a team whose announced lineup cannot be read.

use crate::error::ServeError;
use crate::feature_source::{Clock, FeatureSource, HistorySnapshot};
use crate::predict::Predictor;
use crate::predlog::{Logged, prediction_row};
use crate::served_model::{LoadedModel, ModelSlot, load_version};
use crate::slate::{self, Lineups};
use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use clap::Args;
use nba_registry::Registry;
use nba_store::rows::PredictionRow;
use nba_store::{ClickHouseArgs, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The `predictions.method` of the slate run's rows.
pub const METHOD: &str = "Slate";

/// `nba-server slate`: one run of a day's slate.
#[derive(Debug, Clone, Args)]
pub struct SlateArgs {
    /// Game date: YYYY-MM-DD, `today` or `tomorrow` (the league's US Eastern calendar at
    /// the run's clock).
    #[arg(long, env = "NBA_SLATE_DATE", default_value = "today")]
    pub date: String,
    /// This run's name (for example `morning`, `pretip`). Rerunning a date's run writes only
    /// the players it has not stored yet.
    #[arg(long, env = "NBA_SLATE_RUN", value_parser = parse_run_name)]
    pub run: String,
    /// The run's clock (RFC 3339, e.g. 2024-03-20T15:00:00Z): injury reports filed and prop
    /// lines posted after it are not used. Default: now.
    #[arg(long, env = "NBA_SLATE_AS_OF")]
    pub as_of: Option<DateTime<Utc>>,
    /// Announced starting lineups (JSON: `{"game_date": "YYYY-MM-DD", "teams": {"BOS":
    /// ["Jayson Tatum", "holidjr01", ...]}}`, names or basketball-reference ids, five per
    /// team). Teams not in the file keep their stored lineup, else unknown.
    #[arg(long, env = "NBA_SLATE_LINEUPS")]
    pub lineups: Option<PathBuf>,
    #[command(flatten)]
    pub predictions: crate::config::PredictionArgs,
    #[command(flatten)]
    pub clickhouse: ClickHouseArgs,
}

/// A run name: what ClickHouse stores and the CronJobs pass; short and plain.
fn parse_run_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| s.to_string()).ok_or_else(|| format!("{s:?}: a run name is 1-32 letters, digits, '-' or '_' (for example morning, pretip)"))
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct SlateRunSummary {
    pub date: Option<NaiveDate>,
    pub run: String,
    pub as_of: Option<DateTime<Utc>>,
    pub model_version: String,
    pub games: usize,
    /// Players on the slate.
    pub players: usize,
    /// Rows written by this run.
    pub written: usize,
    /// Players this run had already stored (a rerun).
    pub already_stored: usize,
    /// Players not predicted, with the reason.
    pub failed: Vec<(String, String)>,
    /// Teams whose announced lineup was set aside, with the reason.
    pub rejected_lineups: Vec<String>,
    /// Written rows by the source of the player's team's inactive list, and of its lineup.
    pub availability_sources: BTreeMap<String, usize>,
    pub lineup_sources: BTreeMap<String, usize>,
    /// Written rows that used a stored line (the consensus at the run's clock).
    pub with_line: usize,
}

impl SlateRunSummary {
    /// Nothing was set aside.
    pub fn clean(&self) -> bool {
        self.failed.is_empty() && self.rejected_lineups.is_empty()
    }

    /// The summary for people.
    pub fn render(&self) -> String {
        let date = self.date.map_or("-".to_string(), |d| d.to_string());
        let as_of = self.as_of.map_or("-".to_string(), |t| t.to_rfc3339());
        let mut out = format!("slate {date} run {} (as of {as_of}), model {}\n", self.run, self.model_version);
        out.push_str(&format!(
            "  {} games, {} players: {} written, {} already stored by this run, {} failed\n",
            self.games,
            self.players,
            self.written,
            self.already_stored,
            self.failed.len()
        ));
        let tally = |m: &BTreeMap<String, usize>| m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
        if self.written > 0 {
            out.push_str(&format!("  inactive lists: {}\n  lineups: {}\n", tally(&self.availability_sources), tally(&self.lineup_sources)));
            out.push_str(&format!("  stored lines: {} of {} written players\n", self.with_line, self.written));
        }
        for (player, why) in &self.failed {
            out.push_str(&format!("  failed {player}: {why}\n"));
        }
        for why in &self.rejected_lineups {
            out.push_str(&format!("  lineup set aside: {why}\n"));
        }
        out
    }
}

/// Runs the slate of `args.date` at the run's clock (`--as-of`, else `clock`).
pub async fn run(args: &SlateArgs, clock: Clock) -> anyhow::Result<SlateRunSummary> {
    let as_of = args.as_of.unwrap_or_else(|| clock());
    let date = game_date(&args.date, as_of)?;
    let mut summary = SlateRunSummary { date: Some(date), run: args.run.clone(), as_of: Some(as_of), ..Default::default() };
    let store = Store::new(args.clickhouse.store_config()?).context("ClickHouse client")?;
    let model = current_model(&args.predictions.registry).await?;
    summary.model_version = model.version.clone();
    let features = FeatureSource::new(store.clone(), 100_000, args.predictions.doubtful_plays).with_clock(Arc::new(move || as_of));
    features.refresh().await.context("reading the history from ClickHouse")?;
    let snap = features.snapshot().context("no history snapshot after a successful read")?;
    let lineups = match &args.lineups {
        Some(path) => read_lineups(path, date, &snap, &mut summary.rejected_lineups)?,
        None => Lineups::new(),
    };
    let requests = match slate::requests(&snap, date, &lineups) {
        Ok(r) => r,
        Err(ServeError::NoGamesScheduled { .. }) => return Ok(summary),
        Err(e) => return Err(e.into()),
    };
    summary.games = snap.schedule.get(&date).map_or(0, Vec::len);
    summary.players = requests.len();
    let stored = stored_players(&store, date, &args.run).await?;
    // Each player is asked once: nothing to reuse.
    let model_slot = Arc::new(ModelSlot::new(Registry::new(&args.predictions.registry)));
    let predictor = Predictor { feature_source: Arc::new(features), model_slot, log: None, reuse_answers: false };
    let by = || Logged { method: METHOD, source: PredictionRow::SLATE, run: &args.run, run_at: as_of, predicted_at: Utc::now() };
    let mut rows = Vec::new();
    for req in &requests {
        if stored.contains(&req.player_id) {
            summary.already_stored += 1;
            continue;
        }
        match predictor.predict_with(&model, req, METHOD) {
            Ok(scored) => {
                let row = prediction_row(by(), &scored.response, req.is_home, &scored.features, scored.line.as_ref());
                *summary.availability_sources.entry(row.availability_source.clone()).or_default() += 1;
                *summary.lineup_sources.entry(row.lineup_source.clone()).or_default() += 1;
                summary.with_line += usize::from(row.line.is_some());
                rows.push(row);
            }
            Err(e) => summary.failed.push((req.player_id.clone(), e.to_string())),
        }
    }
    store.insert(&rows).await.context("writing the slate to predictions")?;
    summary.written = rows.len();
    tracing::info!(
        %date,
        run = %args.run,
        written = summary.written,
        with_line = summary.with_line,
        already = summary.already_stored,
        failed = summary.failed.len(),
        "slate run"
    );
    Ok(summary)
}

/// `today`, `tomorrow` (the league's calendar at `as_of`) or a date.
fn game_date(s: &str, as_of: DateTime<Utc>) -> anyhow::Result<NaiveDate> {
    let today = slate::league_today(as_of);
    match s.trim() {
        "today" => Ok(today),
        "tomorrow" => today.succ_opt().context("no day after today"),
        d => NaiveDate::parse_from_str(d, "%Y-%m-%d").with_context(|| format!("--date {d:?}: expected YYYY-MM-DD, today or tomorrow")),
    }
}

/// The registry's current version, loaded and checked as the server loads it.
async fn current_model(root: &Path) -> anyhow::Result<Arc<LoadedModel>> {
    let registry = Registry::new(root);
    let loaded = tokio::task::spawn_blocking(move || {
        let current = registry.current()?.context("no model has been promoted in the registry yet")?;
        load_version(&registry, &current.version).with_context(|| format!("loading model {}", current.version))
    })
    .await
    .context("model loading task")??;
    Ok(Arc::new(loaded))
}

/// Players this date's run has already stored.
async fn stored_players(store: &Store, date: NaiveDate, run: &str) -> anyhow::Result<std::collections::HashSet<String>> {
    let sql = "SELECT DISTINCT player_id FROM predictions WHERE game_date = toDate(?) AND source = ? AND run = ?";
    let d = date.to_string();
    let ids: Vec<String> =
        store.retry("read the run's stored players", || store.client().query(sql).bind(&d).bind(PredictionRow::SLATE).bind(run).fetch_all()).await?;
    Ok(ids.into_iter().collect())
}

/// The lineups file as a lineups feed writes it.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LineupsFile {
    game_date: NaiveDate,
    teams: BTreeMap<String, Vec<String>>,
}

/// Announced lineups of `date`, by team code and player id. A team whose entry cannot be
/// used (unknown team, not playing that day, a name that does not resolve to one player
/// of the team, not five players) is set aside with the reason; an unreadable file, or one
/// for another date, is an error.
fn read_lineups(path: &Path, date: NaiveDate, snap: &HistorySnapshot, rejected: &mut Vec<String>) -> anyhow::Result<Lineups> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading lineups {}", path.display()))?;
    let file: LineupsFile = serde_json::from_str(&text).with_context(|| format!("lineups {}: not the documented JSON", path.display()))?;
    anyhow::ensure!(file.game_date == date, "lineups {}: for {}, not the slate's date {date}", path.display(), file.game_date);
    let playing: Vec<&str> = snap.schedule.get(&date).into_iter().flatten().flat_map(|(h, a)| [h.as_str(), a.as_str()]).collect();
    let mut out = Lineups::new();
    for (spelled, names) in &file.teams {
        let where_ = format!("{}: team {spelled:?}", path.display());
        let Some(team) = nba_names::canonical_team(spelled).filter(|t| playing.contains(t)) else {
            rejected.push(format!("{where_}: not a team playing on {date}"));
            continue;
        };
        match resolve_lineup(snap, team, date, names) {
            Ok(ids) => {
                out.insert(team.to_string(), ids);
            }
            Err(why) => rejected.push(format!("{where_}: {why}")),
        }
    }
    Ok(out)
}

/// Five names or ids of `team`'s players, as ids.
fn resolve_lineup(snap: &HistorySnapshot, team: &str, date: NaiveDate, names: &[String]) -> Result<Vec<String>, String> {
    if names.len() != 5 {
        return Err(format!("{} players listed, a lineup has 5", names.len()));
    }
    let mut ids = Vec::with_capacity(5);
    for name in names {
        let id = if snap.registry.name_of(name).is_some() {
            name.trim().to_string()
        } else {
            match snap.registry.resolve(name, Some(team), Some(date)) {
                nba_names::Resolution::Resolved(c) => c.player_id,
                nba_names::Resolution::NotFound => return Err(format!("{name:?} matches no player")),
                nba_names::Resolution::Ambiguous(c) => {
                    let ids: Vec<&str> = c.iter().map(|c| c.player_id.as_str()).collect();
                    return Err(format!("{name:?} is ambiguous ({})", ids.join(", ")));
                }
            }
        };
        if ids.contains(&id) {
            return Err(format!("{name:?} is listed twice"));
        }
        ids.push(id);
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn dates_follow_the_league_calendar_at_the_runs_clock() {
        // 02:00 UTC on 21 March is still 20 March in New York.
        let t = Utc.with_ymd_and_hms(2024, 3, 21, 2, 0, 0).unwrap();
        assert_eq!(game_date("today", t).unwrap(), NaiveDate::from_ymd_opt(2024, 3, 20).unwrap());
        assert_eq!(game_date("tomorrow", t).unwrap(), NaiveDate::from_ymd_opt(2024, 3, 21).unwrap());
        assert_eq!(game_date("2024-02-29", t).unwrap(), NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        let e = game_date("2023-02-29", t).unwrap_err().to_string();
        assert!(e.contains("2023-02-29") && e.contains("YYYY-MM-DD"), "{e}");
    }

    #[test]
    fn run_names_are_plain() {
        assert_eq!(parse_run_name("pretip").unwrap(), "pretip");
        assert_eq!(parse_run_name("morning-2").unwrap(), "morning-2");
        for bad in ["", "a b", "x'; DROP", &"x".repeat(33)] {
            assert!(parse_run_name(bad).is_err(), "{bad:?}");
        }
    }
}
