//! What is known about a game at request time, and where it came from: each team's
//! inactive list and starting five.
//!
//! A list is either known (possibly empty: "nobody out") or unknown. Unknown is never
//! turned into "nobody": the features that read it are then missing (NaN), the state
//! the model was trained to expect. Precedence, per team:
//!
//! | | inactive list | starting five |
//! | --- | --- | --- |
//! | 1 | given in the request: `REQUEST` | given in the request: `REQUEST` |
//! | 2 | a stored game's official list: `OFFICIAL` | a stored game's box-score starters: `OFFICIAL` |
//! | 3 | the latest injury report filed at or before now: `INJURY_REPORT` | - |
//! | 4 | `UNKNOWN` | `UNKNOWN` |
//!
//! `ignore_stored` skips 2 and 3 (a what-if, or the morning view of a past game). A stored
//! game's official list is known even when `game_inactives` has no row for it: the page
//! said "None".

use crate::error::ServeError;
use chrono::{DateTime, NaiveDate, Utc};
use nba_api::proto::predict::InfoSource;
use nba_store::injuries::InjuryReports;
use std::collections::HashMap;
use std::sync::Arc;

/// Players in a starting lineup.
pub const LINEUP_SIZE: usize = 5;

/// Where a list came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    Official,
    InjuryReport,
    Request,
    Unknown,
}

impl Source {
    pub fn proto(self) -> InfoSource {
        match self {
            Source::Official => InfoSource::Official,
            Source::InjuryReport => InfoSource::InjuryReport,
            Source::Request => InfoSource::Request,
            Source::Unknown => InfoSource::Unknown,
        }
    }
}

/// One team's list (inactive players or starters) as resolved for a request. Part of the
/// feature cache's key: a stored game's list (`OFFICIAL`) is compared and hashed by
/// identity, since every request for that game shares the snapshot's one list (the key
/// holds it, so its address cannot be reused while the key lives); any other list (given,
/// or from an injury report) by its players.
#[derive(Debug, Clone)]
pub struct Known {
    /// Player ids, sorted and without duplicates; None while unknown. Shared: a stored
    /// game's list is the snapshot's own, not a copy per request.
    pub ids: Option<Arc<[String]>>,
    pub source: Source,
    /// When the injury report it came from was filed.
    pub report_time: Option<DateTime<Utc>>,
}

impl PartialEq for Known {
    fn eq(&self, other: &Known) -> bool {
        let same_ids = match (self.source, &self.ids, &other.ids) {
            (Source::Official, Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (_, a, b) => a == b,
        };
        self.source == other.source && self.report_time == other.report_time && same_ids
    }
}

impl Eq for Known {}

impl std::hash::Hash for Known {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.source.hash(h);
        self.report_time.hash(h);
        match (self.source, &self.ids) {
            (Source::Official, Some(ids)) => std::ptr::hash(Arc::as_ptr(ids).cast::<String>(), h),
            (_, ids) => ids.hash(h),
        }
    }
}

impl Known {
    fn unknown() -> Known {
        Known { ids: None, source: Source::Unknown, report_time: None }
    }

    fn of(ids: Vec<String>, source: Source) -> Known {
        Known { ids: Some(sorted(ids)), source, report_time: None }
    }
}

/// Sorted, without duplicates, shared.
fn sorted(mut ids: Vec<String>) -> Arc<[String]> {
    ids.sort_unstable();
    ids.dedup();
    ids.into()
}

/// How a request's lists are resolved: what it ignores, and the injury-report rules.
#[derive(Debug, Clone, Copy)]
pub struct Resolve {
    pub ignore_stored: bool,
    /// Reports filed after this are not seen (the request's "now").
    pub as_of: DateTime<Utc>,
    /// Doubtful players play (else they count as inactive).
    pub doubtful_plays: bool,
}

/// A stored game's inactive players and starters for one team, as read.
type ListsAsRead = (Vec<String>, Vec<String>);

/// A stored game's lists for one team, each sorted: known even when empty.
#[derive(Debug, Clone, Default)]
pub struct StoredLists {
    /// The official inactive list (`game_inactives`).
    pub inactive: Arc<[String]>,
    /// The box score's starters.
    pub starters: Arc<[String]>,
}

/// The stored request-time information of every game, read with the history.
#[derive(Debug, Default)]
pub struct GameDay {
    /// Every stored game's lists, by date then team (looked up by a borrowed team code:
    /// every request reads four lists).
    stored: foldhash::HashMap<NaiveDate, foldhash::HashMap<String, StoredLists>>,
    pub injuries: InjuryReports,
}

impl GameDay {
    /// The stored games `(date, team)` with their official inactive players and box-score
    /// starters `(date, team, player)`; a list of a game not among `games` is not kept.
    pub fn new(
        games: impl IntoIterator<Item = (NaiveDate, String)>,
        inactive: impl IntoIterator<Item = (NaiveDate, String, String)>,
        starters: impl IntoIterator<Item = (NaiveDate, String, String)>,
        injuries: InjuryReports,
    ) -> GameDay {
        let mut lists: HashMap<NaiveDate, HashMap<String, ListsAsRead>> = HashMap::new();
        for (date, team) in games {
            lists.entry(date).or_default().entry(team).or_default();
        }
        for (date, team, player) in inactive {
            if let Some((out, _)) = lists.get_mut(&date).and_then(|d| d.get_mut(&team)) {
                out.push(player);
            }
        }
        for (date, team, player) in starters {
            if let Some((_, five)) = lists.get_mut(&date).and_then(|d| d.get_mut(&team)) {
                five.push(player);
            }
        }
        let stored = lists
            .into_iter()
            .map(|(date, teams)| (date, teams.into_iter().map(|(t, (i, s))| (t, StoredLists { inactive: sorted(i), starters: sorted(s) })).collect()))
            .collect();
        GameDay { stored, injuries }
    }

    fn stored(&self, date: NaiveDate, team: &str) -> Option<&StoredLists> {
        self.stored.get(&date)?.get(team)
    }

    /// Known lists of a stored game, shared with the snapshot.
    fn official(ids: &Arc<[String]>) -> Known {
        Known { ids: Some(ids.clone()), source: Source::Official, report_time: None }
    }

    /// `team`'s inactive list for its game on `date`; `given` is the request's (validated).
    pub fn inactive(&self, date: NaiveDate, team: &str, given: Option<Vec<String>>, how: Resolve) -> Known {
        if let Some(ids) = given {
            return Known::of(ids, Source::Request);
        }
        if how.ignore_stored {
            return Known::unknown();
        }
        if let Some(lists) = self.stored(date, team) {
            return Self::official(&lists.inactive);
        }
        match self.injuries.inactive(date, team, how.as_of, how.doubtful_plays) {
            Some(report) => Known { report_time: Some(report.report_time), ..Known::of(report.out, Source::InjuryReport) },
            None => Known::unknown(),
        }
    }

    /// `team`'s starting five for its game on `date`; `given` is the request's (validated).
    pub fn starters(&self, date: NaiveDate, team: &str, given: Option<Vec<String>>, how: Resolve) -> Known {
        if let Some(ids) = given {
            return Known::of(ids, Source::Request);
        }
        if how.ignore_stored {
            return Known::unknown();
        }
        match self.stored(date, team) {
            Some(lists) => Self::official(&lists.starters),
            None => Known::unknown(),
        }
    }
}

/// A basketball-reference player or team id: short, and only letters, digits, `_-.`.
pub fn valid_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 32 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// A request's inactive list: every entry a player id.
pub fn given_inactive(ids: Option<&[String]>, field: &'static str) -> Result<Option<Vec<String>>, ServeError> {
    let Some(ids) = ids else { return Ok(None) };
    if let Some(bad) = ids.iter().find(|id| !valid_id(id)) {
        return Err(ServeError::invalid(field, format!("{bad:?} is not a player id")));
    }
    Ok(Some(ids.to_vec()))
}

/// A request's starting lineup: player ids, at most five different ones (fewer is
/// accepted: a lineup only partly announced).
pub fn given_starters(ids: Option<&[String]>, field: &'static str) -> Result<Option<Vec<String>>, ServeError> {
    let Some(mut ids) = given_inactive(ids, field)? else { return Ok(None) };
    ids.sort_unstable();
    ids.dedup();
    if ids.len() > LINEUP_SIZE {
        return Err(ServeError::invalid(field, format!("{} players; a starting lineup has {LINEUP_SIZE}", ids.len())));
    }
    Ok(Some(ids))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use nba_store::rows::InjuryReportRow;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2023, 10, d).unwrap_or_default()
    }

    fn at(d: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2023, 10, d, hour, 0, 0).single().unwrap_or_default()
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn report(time: DateTime<Utc>, date: NaiveDate, team: &str, player: &str, status: &str) -> InjuryReportRow {
        InjuryReportRow {
            report_time: time,
            game_date: date,
            team: team.into(),
            player_id: player.into(),
            player_name: player.into(),
            status: status.into(),
            reason: String::new(),
            source_file: "test.csv".into(),
            version: 1,
        }
    }

    /// BOS played on the 25th (stored, nobody inactive, starters known); NYK on the 26th
    /// is not stored and has reports.
    fn game_day() -> GameDay {
        let starters = ["e", "d", "c", "b", "a"].map(|p| (day(25), "BOS".to_string(), p.to_string()));
        // An inactive row of a game that is not stored is not kept.
        let stray = [(day(24), "BOS".to_string(), "s".to_string())];
        let injuries = InjuryReports::new([
            report(at(26, 12), day(26), "NYK", "x", "Out"),
            report(at(26, 18), day(26), "NYK", "y", "Out"),
            report(at(26, 18), day(26), "NYK", "z", "Doubtful"),
            report(at(25, 18), day(25), "BOS", "q", "Out"),
        ]);
        GameDay::new([(day(25), "BOS".to_string())], stray, starters, injuries)
    }

    fn list(k: &Known) -> Option<Vec<String>> {
        k.ids.as_deref().map(<[String]>::to_vec)
    }

    fn how(as_of: DateTime<Utc>) -> Resolve {
        Resolve { ignore_stored: false, as_of, doubtful_plays: false }
    }

    #[test]
    fn a_stored_game_is_official_even_without_rows_and_beats_reports() {
        let g = game_day();
        let k = g.inactive(day(25), "BOS", None, how(at(30, 0)));
        assert_eq!((list(&k), k.source, k.report_time), (Some(vec![]), Source::Official, None));
        let s = g.starters(day(25), "BOS", None, how(at(30, 0)));
        assert_eq!((list(&s), s.source), (Some(ids(&["a", "b", "c", "d", "e"])), Source::Official));
    }

    #[test]
    fn the_latest_report_at_or_before_now_is_used() {
        let g = game_day();
        let noon = g.inactive(day(26), "NYK", None, how(at(26, 13)));
        assert_eq!((list(&noon), noon.source, noon.report_time), (Some(ids(&["x"])), Source::InjuryReport, Some(at(26, 12))));
        let evening = g.inactive(day(26), "NYK", None, how(at(26, 18)));
        assert_eq!((list(&evening), evening.report_time), (Some(ids(&["y", "z"])), Some(at(26, 18))), "the later report replaces the earlier");
        let doubtful_plays = g.inactive(day(26), "NYK", None, Resolve { doubtful_plays: true, ..how(at(26, 18)) });
        assert_eq!(list(&doubtful_plays), Some(ids(&["y"])));
        let morning = g.inactive(day(26), "NYK", None, how(at(26, 11)));
        assert_eq!((list(&morning), morning.source), (None, Source::Unknown), "no report filed yet");
        // No lineups come from a report.
        assert_eq!(g.starters(day(26), "NYK", None, how(at(26, 18))).source, Source::Unknown);
    }

    #[test]
    fn the_request_wins_and_ignore_stored_leaves_only_the_request() {
        let g = game_day();
        let given = g.inactive(day(25), "BOS", Some(ids(&["b", "a", "b"])), how(at(30, 0)));
        assert_eq!((list(&given), given.source), (Some(ids(&["a", "b"])), Source::Request));
        let ignore = Resolve { ignore_stored: true, ..how(at(30, 0)) };
        assert_eq!(g.inactive(day(25), "BOS", None, ignore).source, Source::Unknown);
        assert_eq!(g.inactive(day(26), "NYK", None, ignore).source, Source::Unknown);
        assert_eq!(g.starters(day(25), "BOS", None, ignore).ids, None);
        let empty = g.starters(day(25), "BOS", Some(vec![]), ignore);
        assert_eq!((list(&empty), empty.source), (Some(vec![]), Source::Request), "given empty is known, not unknown");
    }

    #[test]
    fn given_lists_are_checked() {
        let six = ids(&["a", "b", "c", "d", "e", "f"]);
        let e = given_starters(Some(&six), "team_starters").unwrap_err().to_string();
        assert!(e.starts_with("team_starters:") && e.contains("6 players") && e.contains("has 5"), "{e}");
        assert_eq!(given_starters(Some(&ids(&["a", "a", "b"])), "team_starters").unwrap(), Some(ids(&["a", "b"])));
        assert!(given_starters(Some(&ids(&["a b"])), "team_starters").is_err());
        assert!(given_inactive(Some(&ids(&[""])), "team_inactive").unwrap_err().to_string().starts_with("team_inactive:"));
        assert_eq!(given_inactive(None, "team_inactive").unwrap(), None);
    }
}
