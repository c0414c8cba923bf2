//! The read side of injury reports: an index over `injury_reports` that answers "who is
//! inactive for this team's game on this date, according to the latest report filed at or
//! before this time". The server uses it for a game that has no official inactive list yet.
//!
//! A report is complete for every team it lists: a player listed in an earlier report and
//! absent from the latest one is no longer on it. A team with no row in a report is not
//! covered by it, so its availability stays unknown unless an earlier report covered it.
//! A team reported with nobody on it has one row with an empty player and status `None`.

use crate::rows::InjuryReportRow;
use crate::{Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::{BTreeMap, HashMap};

/// A status an injury report gives, plus `None`: the row that says "this team is reported
/// and nobody is on it".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InjuryStatus {
    Out,
    Doubtful,
    Questionable,
    Probable,
    Available,
    /// The team is reported with nobody listed (player left empty).
    Nobody,
}

impl InjuryStatus {
    /// The statuses a listed player can have, as stored.
    pub const PLAYER_STATUSES: [InjuryStatus; 5] =
        [InjuryStatus::Out, InjuryStatus::Doubtful, InjuryStatus::Questionable, InjuryStatus::Probable, InjuryStatus::Available];

    pub fn as_str(self) -> &'static str {
        match self {
            InjuryStatus::Out => "Out",
            InjuryStatus::Doubtful => "Doubtful",
            InjuryStatus::Questionable => "Questionable",
            InjuryStatus::Probable => "Probable",
            InjuryStatus::Available => "Available",
            InjuryStatus::Nobody => "None",
        }
    }

    /// The status a report wrote, case-insensitively (`out`, `OUT`, `Out`); `None` for
    /// anything else.
    pub fn parse(s: &str) -> Option<InjuryStatus> {
        let s = s.trim();
        Self::PLAYER_STATUSES.into_iter().chain([InjuryStatus::Nobody]).find(|st| st.as_str().eq_ignore_ascii_case(s))
    }

    /// Whether a player with this status misses the game: Out always, Doubtful unless the
    /// caller says doubtful players play.
    pub fn is_inactive(self, doubtful_plays: bool) -> bool {
        match self {
            InjuryStatus::Out => true,
            InjuryStatus::Doubtful => !doubtful_plays,
            _ => false,
        }
    }
}

/// The inactive list one report gives for one team and game.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportedList {
    /// When the report was filed.
    pub report_time: DateTime<Utc>,
    /// Player ids of the inactive players, sorted, without duplicates.
    pub out: Vec<String>,
}

/// One report's entries for one team and game: `(player_id, status)`, the `None` row
/// included (it makes the team covered and adds nobody).
type ReportEntries = Vec<(String, InjuryStatus)>;

/// Injury reports indexed by game date and team, then by report time.
#[derive(Debug, Clone, Default)]
pub struct InjuryReports {
    by_game: HashMap<(NaiveDate, String), BTreeMap<DateTime<Utc>, ReportEntries>>,
}

impl InjuryReports {
    /// Builds the index. Rows with a status that is not one of [`InjuryStatus`]'s are
    /// skipped (the loader never writes them).
    pub fn new(rows: impl IntoIterator<Item = InjuryReportRow>) -> Self {
        let mut by_game: HashMap<(NaiveDate, String), BTreeMap<DateTime<Utc>, ReportEntries>> = HashMap::new();
        for row in rows {
            let Some(status) = InjuryStatus::parse(&row.status) else {
                tracing::warn!(status = %row.status, team = %row.team, date = %row.game_date, "injury report row with an unknown status skipped");
                continue;
            };
            by_game.entry((row.game_date, row.team)).or_default().entry(row.report_time).or_default().push((row.player_id, status));
        }
        InjuryReports { by_game }
    }

    /// Every report stored (`injury_reports FINAL`: a report loaded twice counts once).
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        let rows: Vec<InjuryReportRow> = store.select("read injury_reports", "SELECT ?fields FROM injury_reports FINAL").await?;
        Ok(InjuryReports::new(rows))
    }

    /// Number of (game date, team) pairs with at least one report.
    pub fn len(&self) -> usize {
        self.by_game.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_game.is_empty()
    }

    /// The inactive list of `team` for its game on `date` from the latest report at or
    /// before `as_of` that covers the team: Out players, and Doubtful ones unless
    /// `doubtful_plays`; Questionable/Probable/Available are available. None when no
    /// report at or before `as_of` covers that team and date.
    pub fn inactive(&self, date: NaiveDate, team: &str, as_of: DateTime<Utc>, doubtful_plays: bool) -> Option<ReportedList> {
        let reports = self.by_game.get(&(date, team.to_string()))?;
        let (report_time, entries) = reports.range(..=as_of).next_back()?;
        let mut out: Vec<String> = entries.iter().filter(|(_, status)| status.is_inactive(doubtful_plays)).map(|(id, _)| id.clone()).collect();
        out.sort_unstable();
        out.dedup();
        Some(ReportedList { report_time: *report_time, out })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2023, 10, 25).unwrap_or_default()
    }

    fn at(hour: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2023, 10, 25, hour, min, 0).single().unwrap_or_default()
    }

    fn row(time: DateTime<Utc>, team: &str, player: &str, status: &str) -> InjuryReportRow {
        InjuryReportRow {
            report_time: time,
            game_date: date(),
            team: team.into(),
            player_id: player.into(),
            player_name: player.into(),
            status: status.into(),
            reason: String::new(),
            source_file: "injuries/test.csv".into(),
            version: 1,
        }
    }

    /// BRK's reports on 2023-10-25 (times UTC): at 17:30 Claxton and Simmons out; at 21:30
    /// Claxton out, Simmons questionable, Whitehead doubtful; at 23:00 only Whitehead doubtful.
    fn reports() -> InjuryReports {
        InjuryReports::new([
            row(at(17, 30), "BRK", "claxtni01", "Out"),
            row(at(17, 30), "BRK", "simmobe01", "Out"),
            row(at(21, 30), "BRK", "claxtni01", "Out"),
            row(at(21, 30), "BRK", "simmobe01", "Questionable"),
            row(at(21, 30), "BRK", "whiteda01", "Doubtful"),
            row(at(23, 0), "BRK", "whiteda01", "Doubtful"),
            row(at(21, 30), "CLE", "", "None"),
            row(at(21, 30), "CLE", "mitchdo01", "Out"),
        ])
    }

    #[test]
    fn the_latest_report_at_or_before_the_time_wins() {
        let r = reports();
        let early = r.inactive(date(), "BRK", at(18, 0), false).unwrap();
        assert_eq!((early.report_time, early.out), (at(17, 30), vec!["claxtni01".to_string(), "simmobe01".to_string()]));
        // Exactly at a report's time, that report counts.
        let at_time = r.inactive(date(), "BRK", at(21, 30), false).unwrap();
        assert_eq!((at_time.report_time, at_time.out), (at(21, 30), vec!["claxtni01".to_string(), "whiteda01".to_string()]));
        // A later report replaces the list entirely: Claxton is off it.
        let late = r.inactive(date(), "BRK", at(23, 59), false).unwrap();
        assert_eq!(late.out, vec!["whiteda01".to_string()]);
    }

    #[test]
    fn reports_after_the_time_asked_are_ignored() {
        let r = reports();
        assert_eq!(r.inactive(date(), "BRK", at(17, 29), false), None, "the first report is later than the time asked");
        assert_eq!(r.inactive(date(), "BRK", at(21, 29), false).unwrap().report_time, at(17, 30));
    }

    #[test]
    fn doubtful_players_are_inactive_unless_the_flag_says_they_play() {
        let r = reports();
        assert_eq!(r.inactive(date(), "BRK", at(22, 0), false).unwrap().out, vec!["claxtni01".to_string(), "whiteda01".to_string()]);
        assert_eq!(r.inactive(date(), "BRK", at(22, 0), true).unwrap().out, vec!["claxtni01".to_string()]);
        // Questionable (Simmons at 21:30) is available either way.
        assert!(!r.inactive(date(), "BRK", at(22, 0), false).unwrap().out.contains(&"simmobe01".to_string()));
    }

    #[test]
    fn a_team_no_report_covers_is_unknown() {
        let r = reports();
        assert_eq!(r.inactive(date(), "PHI", at(23, 0), false), None, "PHI is in no report");
        assert_eq!(r.inactive(date().succ_opt().unwrap(), "BRK", at(23, 0), false), None, "another date");
        assert_eq!(r.len(), 2);
    }

    #[test]
    fn the_nobody_row_makes_a_known_empty_list() {
        let nobody = InjuryReports::new([row(at(20, 0), "MIA", "", "None")]);
        assert_eq!(nobody.inactive(date(), "MIA", at(20, 0), false), Some(ReportedList { report_time: at(20, 0), out: Vec::new() }));
        // Beside players, the None row adds nobody.
        assert_eq!(reports().inactive(date(), "CLE", at(22, 0), false).unwrap().out, vec!["mitchdo01".to_string()]);
    }

    #[test]
    fn statuses_parse_case_insensitively_and_round_trip() {
        for s in InjuryStatus::PLAYER_STATUSES.into_iter().chain([InjuryStatus::Nobody]) {
            assert_eq!(InjuryStatus::parse(s.as_str()), Some(s));
            assert_eq!(InjuryStatus::parse(&s.as_str().to_uppercase()), Some(s));
        }
        assert_eq!(InjuryStatus::parse("GTD"), None);
        assert_eq!(InjuryStatus::parse(""), None);
        // Rows with an unknown status are skipped, not guessed.
        assert!(InjuryReports::new([row(at(20, 0), "MIA", "butleji01", "Day-To-Day")]).is_empty());
    }
}
