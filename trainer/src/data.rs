//! Reads played rows of `player_features` (FINAL) and splits them by time: fixed
//! periods (seasons or date ranges), or rolling windows relative to an as-of date D
//! ([`Rolling`]: the last N seasons up to D minus the validation and test windows, the K
//! days of validation, the M days of test ending at D).

use crate::TrainError;
use chrono::{Days, NaiveDate};
use nba_store::Store;
use serde::{Deserialize, Serialize};

/// One played game of a player: features in contract order and the points scored.
#[derive(Debug, Clone, clickhouse::Row, Deserialize)]
pub struct FeatureRow {
    #[serde(with = "clickhouse::serde::chrono::date")]
    pub game_date: NaiveDate,
    pub season: u16,
    pub game_id: String,
    pub player_id: String,
    /// His team, the opponent and the venue: the state-D evaluation recomputes the
    /// request-time features from them (`crate::game_day::lists_forced_empty`).
    pub team: String,
    pub opponent: String,
    pub is_home: u8,
    pub contract_hash: String,
    pub features: Vec<f32>,
    pub target_pts: u16,
}

/// Reads every played row, checks the contract of each and drops none silently.
pub async fn read_played(store: &Store) -> Result<Vec<FeatureRow>, TrainError> {
    read_played_through(store, None).await
}

/// [`read_played`], limited to games on or before `last` when given: a rolling run as of
/// D never reads a row after D.
pub async fn read_played_through(store: &Store, last: Option<NaiveDate>) -> Result<Vec<FeatureRow>, TrainError> {
    let base = "SELECT ?fields FROM player_features FINAL WHERE status = 'Played'";
    let order = "ORDER BY game_date, game_id, player_id";
    let read = match last {
        None => store.select("read player_features", &format!("{base} {order}")).await,
        Some(d) => {
            let (sql, d) = (format!("{base} AND game_date <= toDate(?) {order}"), d.to_string());
            store.retry("read player_features", || store.client().query(&sql).bind(&d).fetch_all::<FeatureRow>()).await
        }
    };
    let rows: Vec<FeatureRow> = read.map_err(|e| {
        TrainError::Data(format!("reading player_features in database {:?}: {e} (run `nba-ingest migrate`, `load` and `build` first)", store.database()))
    })?;
    let want = nba_features::contract_hash();
    let n = nba_features::N_FEATURES;
    for r in &rows {
        if r.contract_hash != want {
            return Err(TrainError::Data(format!(
                "row {} / {} has feature contract {} but this trainer uses {want} (v{}): rebuild features with `nba-ingest build`",
                r.game_id,
                r.player_id,
                r.contract_hash,
                nba_features::FEATURE_VERSION
            )));
        }
        if r.features.len() != n {
            return Err(TrainError::Data(format!("row {} / {} has {} features, the contract has {n}", r.game_id, r.player_id, r.features.len())));
        }
    }
    Ok(rows)
}

/// Which rows a part of the split takes: seasons (inclusive) or dates (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Period {
    Seasons { from: u16, to: u16 },
    Dates { from: NaiveDate, to: NaiveDate },
}

impl Period {
    pub fn contains(&self, r: &FeatureRow) -> bool {
        match *self {
            Period::Seasons { from, to } => (from..=to).contains(&r.season),
            Period::Dates { from, to } => (from..=to).contains(&r.game_date),
        }
    }
}

impl std::str::FromStr for Period {
    type Err = String;
    /// `2018-2022` or `2024` (seasons, the year a season ends) or
    /// `2023-10-01..2024-01-31` (dates).
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?}: expected seasons like 2018-2022 or 2024, or dates like 2023-10-01..2024-01-31");
        if let Some((a, b)) = s.split_once("..") {
            let d = |x: &str| NaiveDate::parse_from_str(x.trim(), "%Y-%m-%d").map_err(|_| bad());
            let (from, to) = (d(a)?, d(b)?);
            return if from <= to { Ok(Period::Dates { from, to }) } else { Err(bad()) };
        }
        let y = |x: &str| x.trim().parse::<u16>().map_err(|_| bad());
        let (from, to) = match s.split_once('-') {
            Some((a, b)) => (y(a)?, y(b)?),
            None => (y(s)?, y(s)?),
        };
        if from <= to { Ok(Period::Seasons { from, to }) } else { Err(bad()) }
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Period::Seasons { from, to } if from == to => write!(f, "{from}"),
            Period::Seasons { from, to } => write!(f, "{from}-{to}"),
            Period::Dates { from, to } => write!(f, "{from}..{to}"),
        }
    }
}

/// Rolling windows relative to an as-of date D (`--as-of`): training from the start of
/// the season `train_seasons - 1` seasons before D's, validation the `valid_days` days
/// before the test window, test the last `test_days` days up to D (0: no test window).
///
/// The windows end at the last played game on or before D, so a D in the off-season (or
/// on a day without games) trains on the season that ended, not on empty windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rolling {
    pub as_of: NaiveDate,
    pub train_seasons: u16,
    pub valid_days: u32,
    pub test_days: u32,
}

/// How the three parts are chosen, before any row is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Periods {
    Fixed { train: Period, valid: Period, test: Period },
    Rolling(Rolling),
}

/// The test period's label when there is no test window: the metrics, the report and the
/// gate are then on the validation rows, which early stopping has already seen.
pub const NO_TEST_WINDOW: &str = "none (no test window: the metrics are on the validation window, which early stopping used)";

/// The periods of a run once the rows have fixed them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolved {
    pub train: Period,
    pub valid: Period,
    /// None: no test window (rolling with `--test-days 0`).
    pub test: Option<Period>,
    /// D of a rolling run.
    pub as_of: Option<NaiveDate>,
}

impl Resolved {
    /// The test period as the manifest says it ([`NO_TEST_WINDOW`] when there is none).
    pub fn test_label(&self) -> String {
        self.test.map(|p| p.to_string()).unwrap_or_else(|| NO_TEST_WINDOW.to_string())
    }
}

impl Periods {
    /// The last game date a run may read: D of a rolling run.
    pub fn last_date(&self) -> Option<NaiveDate> {
        match self {
            Periods::Fixed { .. } => None,
            Periods::Rolling(r) => Some(r.as_of),
        }
    }

    /// The periods over `rows` (fixed periods as given; rolling windows from the rows
    /// on or before D).
    pub fn resolve(&self, rows: &[FeatureRow]) -> Result<Resolved, TrainError> {
        match *self {
            Periods::Fixed { train, valid, test } => Ok(Resolved { train, valid, test: Some(test), as_of: None }),
            Periods::Rolling(r) => r.resolve(rows),
        }
    }
}

impl Rolling {
    fn resolve(&self, rows: &[FeatureRow]) -> Result<Resolved, TrainError> {
        let as_of = self.as_of;
        let err = |what: String| TrainError::Data(format!("rolling periods as of {as_of}: {what}"));
        let upto = || rows.iter().filter(|r| r.game_date <= as_of);
        let last = upto().map(|r| r.game_date).max().ok_or_else(|| err("no played rows on or before this date".into()))?;
        if last < as_of {
            tracing::info!(%as_of, last_game = %last, "the windows end at the last played game on or before the as-of date");
        }
        let back = |d: NaiveDate, days: u32| d.checked_sub_days(Days::new(days.into())).ok_or_else(|| err(format!("{days} days before {d} is out of range")));
        // Windows are inclusive: the test window is [last - M + 1, last], validation the
        // K days before it, training everything before validation.
        let test = if self.test_days == 0 { None } else { Some(Period::Dates { from: back(last, self.test_days - 1)?, to: last }) };
        let valid_to = back(last, self.test_days)?;
        let valid_from = back(valid_to, self.valid_days.saturating_sub(1))?;
        let train_to = back(valid_from, 1)?;
        let season = upto().filter(|r| r.game_date == last).map(|r| r.season).max().unwrap_or_default();
        let first_season = season.saturating_sub(self.train_seasons.saturating_sub(1));
        let train_from = upto().filter(|r| r.season >= first_season).map(|r| r.game_date).min().unwrap_or(last);
        if train_from > train_to {
            return Err(err(format!(
                "the training window is empty: season {first_season} starts {train_from}, the validation window {valid_from}..{valid_to} (ask for more --train-seasons or fewer --valid-days / --test-days)"
            )));
        }
        let seasons_found = upto().filter(|r| r.season >= first_season).map(|r| r.season).min().map_or(0, |s| season - s + 1);
        if seasons_found < self.train_seasons {
            tracing::warn!(asked = self.train_seasons, found = seasons_found, first = %train_from, "fewer seasons of played rows than --train-seasons asks for");
        }
        Ok(Resolved {
            train: Period::Dates { from: train_from, to: train_to },
            valid: Period::Dates { from: valid_from, to: valid_to },
            test,
            as_of: Some(as_of),
        })
    }
}

/// Row indices of the three parts, in time order.
#[derive(Debug, Clone)]
pub struct Split {
    pub train: Vec<usize>,
    pub valid: Vec<usize>,
    /// The rows every reported metric and the gate are computed on: the test period, or
    /// the validation rows again when there is no test window (`periods.test` is None).
    pub test: Vec<usize>,
    pub periods: Resolved,
}

impl Split {
    /// Which rows the metrics are on: "test", or "validation" without a test window.
    pub fn evaluated_part(&self) -> &'static str {
        if self.periods.test.is_some() { "test" } else { "validation" }
    }
}

/// Splits by fixed periods (see [`split_resolved`]).
pub fn split(rows: &[FeatureRow], train: Period, valid: Period, test: Period, min_rows: usize) -> Result<Split, TrainError> {
    split_resolved(rows, Resolved { train, valid, test: Some(test), as_of: None }, min_rows)
}

/// Splits by time and checks the parts have `min_rows` rows and are strictly ordered
/// (every train date before every validation date, every validation date before every
/// test date). Without a test window the validation rows are also the evaluated rows.
pub fn split_resolved(rows: &[FeatureRow], periods: Resolved, min_rows: usize) -> Result<Split, TrainError> {
    let pick = |p: Period| (0..rows.len()).filter(|&i| p.contains(&rows[i])).collect::<Vec<_>>();
    let (train, valid) = (pick(periods.train), pick(periods.valid));
    let test = periods.test.map(pick);
    let rolling = periods.as_of.map(|d| format!(" (rolling, as of {d})")).unwrap_or_default();
    let parts = [("train", Some(&train), Some(periods.train), "--train-seasons"), ("validation", Some(&valid), Some(periods.valid), "--valid-days")];
    for (name, part, p, flag) in parts.into_iter().chain([("test", test.as_ref(), periods.test, "--test-days")]) {
        let (Some(part), Some(p)) = (part, p) else { continue };
        if part.len() < min_rows {
            let hint = if periods.as_of.is_some() { format!(": widen the window ({flag}) or lower --min-rows") } else { String::new() };
            return Err(TrainError::Data(format!("{name} period {p}{rolling} has {} played rows, need at least {min_rows}{hint}", part.len())));
        }
    }
    let range = |v: &[usize]| {
        let dates = v.iter().map(|&i| rows[i].game_date);
        (dates.clone().min().unwrap_or_default(), dates.max().unwrap_or_default())
    };
    let (t, v) = (range(&train), range(&valid));
    let te = test.as_deref().map(range);
    if t.1 >= v.0 || te.is_some_and(|te| v.1 >= te.0) {
        return Err(TrainError::Data(format!("periods overlap or are out of order: train {t:?}, validation {v:?}, test {te:?}")));
    }
    let test = test.unwrap_or_else(|| valid.clone());
    Ok(Split { train, valid, test, periods })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_parse() {
        assert_eq!("2018-2022".parse::<Period>().unwrap(), Period::Seasons { from: 2018, to: 2022 });
        assert_eq!("2024".parse::<Period>().unwrap(), Period::Seasons { from: 2024, to: 2024 });
        let d = "2023-10-01..2024-01-31".parse::<Period>().unwrap();
        assert_eq!(d.to_string(), "2023-10-01..2024-01-31");
        for bad in ["", "2022-2018", "x", "2024-02-01..2024-01-01", "2024-13-01..2024-12-01"] {
            assert!(bad.parse::<Period>().is_err(), "{bad}");
        }
    }

    fn row(date: &str, season: u16) -> FeatureRow {
        FeatureRow {
            game_date: date.parse().unwrap(),
            season,
            game_id: String::new(),
            player_id: String::new(),
            team: String::new(),
            opponent: String::new(),
            is_home: 0,
            contract_hash: String::new(),
            features: vec![],
            target_pts: 0,
        }
    }

    #[test]
    fn split_is_by_time_and_refuses_overlap() {
        let rows = vec![row("2022-01-01", 2022), row("2023-01-01", 2023), row("2024-01-01", 2024), row("2024-02-01", 2024)];
        let s = split(&rows, "2022".parse().unwrap(), "2023".parse().unwrap(), "2024".parse().unwrap(), 1).unwrap();
        assert_eq!((s.train, s.valid, s.test), (vec![0], vec![1], vec![2, 3]));
        assert!(split(&rows, "2022-2023".parse().unwrap(), "2023".parse().unwrap(), "2024".parse().unwrap(), 1).is_err());
        assert!(split(&rows, "2022".parse().unwrap(), "2023".parse().unwrap(), "2025".parse().unwrap(), 1).is_err());
    }

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn dates(from: &str, to: &str) -> Period {
        Period::Dates { from: d(from), to: d(to) }
    }

    /// One row a day from `from` to `to` (inclusive), of `season`.
    fn days(from: &str, to: &str, season: u16) -> Vec<FeatureRow> {
        d(from).iter_days().take_while(|x| *x <= d(to)).map(|x| row(&x.to_string(), season)).collect()
    }

    /// Three seasons of daily games: 2022 (Oct 2021 - Jun 2022), 2023, 2024 (to Jun 2024).
    fn three_seasons() -> Vec<FeatureRow> {
        [days("2021-10-19", "2022-06-16", 2022), days("2022-10-18", "2023-06-12", 2023), days("2023-10-24", "2024-06-17", 2024)].concat()
    }

    fn rolling(as_of: &str, train_seasons: u16, valid_days: u32, test_days: u32) -> Periods {
        Periods::Rolling(Rolling { as_of: d(as_of), train_seasons, valid_days, test_days })
    }

    #[test]
    fn rolling_windows_end_at_the_as_of_date() {
        let rows = three_seasons();
        // No test window: validation is the 30 days up to D, training the season before it.
        let r = rolling("2024-03-31", 1, 30, 0).resolve(&rows).unwrap();
        assert_eq!((r.train, r.valid, r.test), (dates("2023-10-24", "2024-03-01"), dates("2024-03-02", "2024-03-31"), None));
        assert_eq!((r.as_of, r.test_label().as_str()), (Some(d("2024-03-31")), NO_TEST_WINDOW));
        // A test window: the last 7 days; validation the 30 before them; two seasons back.
        let r = rolling("2024-03-31", 2, 30, 7).resolve(&rows).unwrap();
        assert_eq!((r.train, r.valid, r.test), (dates("2022-10-18", "2024-02-23"), dates("2024-02-24", "2024-03-24"), Some(dates("2024-03-25", "2024-03-31"))));
        // More seasons than there are: from the first row (a warning, not an error).
        assert_eq!(rolling("2024-03-31", 5, 30, 0).resolve(&rows).unwrap().train, dates("2021-10-19", "2024-03-01"));
        // Fixed periods pass through unchanged.
        let fixed = Periods::Fixed { train: "2022".parse().unwrap(), valid: "2023".parse().unwrap(), test: "2024".parse().unwrap() };
        assert_eq!(fixed.resolve(&rows).unwrap().test, Some("2024".parse().unwrap()));
        assert_eq!((fixed.last_date(), rolling("2024-03-31", 1, 30, 0).last_date()), (None, Some(d("2024-03-31"))));
    }

    #[test]
    fn rolling_windows_cross_season_boundaries_and_leap_days() {
        let rows = three_seasons();
        // D on a leap day: 29 days of February are the validation window.
        let r = rolling("2024-02-29", 1, 29, 0).resolve(&rows).unwrap();
        assert_eq!((r.train, r.valid), (dates("2023-10-24", "2024-01-31"), dates("2024-02-01", "2024-02-29")));
        // D on the first day of a season: D's season has one day, the validation window
        // reaches back into the previous season (no games in between: fewer rows).
        let r = rolling("2023-10-24", 2, 200, 0).resolve(&rows).unwrap();
        assert_eq!((r.train, r.valid), (dates("2022-10-18", "2023-04-07"), dates("2023-04-08", "2023-10-24")));
        let s = split_resolved(&rows, r, 1).unwrap();
        // 2023-04-08..2023-06-12 (66 days) and 2023-10-24.
        assert_eq!(s.valid.len(), 67);
        // The training window would start after the validation window: clear error.
        let e = rolling("2023-10-24", 1, 30, 0).resolve(&rows).unwrap_err().to_string();
        assert!(e.contains("as of 2023-10-24") && e.contains("training window is empty") && e.contains("--train-seasons"), "{e}");
    }

    #[test]
    fn an_off_season_as_of_date_ends_the_windows_at_the_last_game() {
        let rows = three_seasons();
        let r = rolling("2024-08-20", 1, 30, 7).resolve(&rows).unwrap();
        assert_eq!((r.valid, r.test), (dates("2024-05-12", "2024-06-10"), Some(dates("2024-06-11", "2024-06-17"))));
        assert_eq!(r.as_of, Some(d("2024-08-20")));
        // Before any game: nothing to train on.
        let e = rolling("2021-10-01", 1, 30, 0).resolve(&rows).unwrap_err().to_string();
        assert!(e.contains("no played rows on or before"), "{e}");
    }

    #[test]
    fn rolling_windows_without_games_are_a_clear_error() {
        // A break of six days without games (2024-02-16..2024-02-21) and a 3-day test window in it.
        let rows: Vec<FeatureRow> = three_seasons().into_iter().filter(|r| !(d("2024-02-16")..=d("2024-02-21")).contains(&r.game_date)).collect();
        let e = split_resolved(&rows, rolling("2024-02-25", 1, 3, 4).resolve(&rows).unwrap(), 1).unwrap_err().to_string();
        assert!(e.contains("validation period 2024-02-19..2024-02-21 (rolling, as of 2024-02-25) has 0 played rows") && e.contains("--valid-days"), "{e}");
        // Too few rows in the test window for --min-rows.
        let e = split_resolved(&rows, rolling("2024-02-25", 1, 30, 4).resolve(&rows).unwrap(), 5).unwrap_err().to_string();
        assert!(e.contains("test period 2024-02-22..2024-02-25 (rolling, as of 2024-02-25) has 4 played rows, need at least 5"), "{e}");
    }

    #[test]
    fn without_a_test_window_the_validation_rows_are_evaluated() {
        let rows = three_seasons();
        let s = split_resolved(&rows, rolling("2024-03-31", 1, 30, 0).resolve(&rows).unwrap(), 1).unwrap();
        assert_eq!(s.test, s.valid);
        assert_eq!(s.valid.len(), 30);
        assert_eq!(s.evaluated_part(), "validation");
        assert!(s.train.iter().chain(&s.valid).all(|&i| rows[i].game_date <= d("2024-03-31")));
        let s = split_resolved(&rows, rolling("2024-03-31", 1, 30, 7).resolve(&rows).unwrap(), 1).unwrap();
        assert_eq!((s.test.len(), s.evaluated_part()), (7, "test"));
        assert!(s.valid.iter().all(|&i| rows[i].game_date < rows[s.test[0]].game_date));
    }
}
