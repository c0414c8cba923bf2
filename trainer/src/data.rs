//! Reads played rows of `player_features` (FINAL) and splits them by time.

use crate::TrainError;
use chrono::NaiveDate;
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
    let sql = "SELECT ?fields FROM player_features FINAL WHERE status = 'Played' ORDER BY game_date, game_id, player_id";
    let rows: Vec<FeatureRow> = store.select("read player_features", sql).await.map_err(|e| {
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

/// Row indices of the three parts, in time order.
#[derive(Debug, Clone)]
pub struct Split {
    pub train: Vec<usize>,
    pub valid: Vec<usize>,
    pub test: Vec<usize>,
}

/// Splits by time and checks the parts are non-empty and strictly ordered (every train
/// date before every validation date, every validation date before every test date).
pub fn split(rows: &[FeatureRow], train: Period, valid: Period, test: Period, min_rows: usize) -> Result<Split, TrainError> {
    let pick = |p: Period| (0..rows.len()).filter(|&i| p.contains(&rows[i])).collect::<Vec<_>>();
    let s = Split { train: pick(train), valid: pick(valid), test: pick(test) };
    for (name, part, p) in [("train", &s.train, train), ("validation", &s.valid, valid), ("test", &s.test, test)] {
        if part.len() < min_rows {
            return Err(TrainError::Data(format!("{name} period {p} has {} played rows, need at least {min_rows}", part.len())));
        }
    }
    let range = |v: &[usize]| {
        let dates = v.iter().map(|&i| rows[i].game_date);
        (dates.clone().min().unwrap_or_default(), dates.max().unwrap_or_default())
    };
    let (t, v, te) = (range(&s.train), range(&s.valid), range(&s.test));
    if t.1 >= v.0 || v.1 >= te.0 {
        return Err(TrainError::Data(format!("periods overlap or are out of order: train {t:?}, validation {v:?}, test {te:?}")));
    }
    Ok(s)
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
}
