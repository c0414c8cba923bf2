//! The monthly schedule page parser (`standings/NBA_<season>_games-<month>.html`).

use crate::boxscore::parse_game_id;
use crate::error::PageError;
use crate::html;
use crate::parsed::{Schedule, ScheduledGame, SeasonType};
use crate::season;
use chrono::NaiveDate;
use memchr::memmem;

/// Month names as schedule page names spell them, January first.
pub const MONTHS: [&str; 12] = ["january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"];

/// Splits `NBA_2024_games-october.html` into (2024, "october").
pub fn parse_schedule_name(file_name: &str) -> Option<(u16, String)> {
    let rest = file_name.strip_prefix("NBA_")?.strip_suffix(".html")?;
    let (season, month) = rest.split_once("_games-")?;
    let season: u16 = season.parse().ok().filter(|s| (1947..=2100).contains(s))?;
    let month = month.to_ascii_lowercase();
    MONTHS.contains(&month.as_str()).then_some((season, month))
}

/// First and last day of the month a schedule page of `season` covers: a season's
/// October-December pages are of the calendar year before the one it ends in.
pub fn schedule_month_days(season: u16, month: &str) -> Option<(NaiveDate, NaiveDate)> {
    let m = u32::try_from(MONTHS.iter().position(|x| *x == month)? + 1).ok()?;
    let year = if m >= 10 { i32::from(season) - 1 } else { i32::from(season) };
    let first = NaiveDate::from_ymd_opt(year, m, 1)?;
    let last = first.checked_add_months(chrono::Months::new(1))?.pred_opt()?;
    Some((first, last))
}

/// Season type of a schedule row. Schedule pages do not mark playoff games, so the
/// league calendar says where the regular season ends; the box-score page, when loaded,
/// is authoritative and a disagreement is flagged by the loader.
pub fn schedule_season_type(season: u16, date: NaiveDate, remarks: &str) -> SeasonType {
    if remarks.contains("Play-In") {
        SeasonType::PlayIn
    } else if remarks.contains("Tournament") && season::ist_final_date(season) == Some(date) {
        SeasonType::IstFinal
    } else if season::regular_season_end(season).is_some_and(|end| date > end) {
        SeasonType::Playoffs
    } else {
        SeasonType::RegularSeason
    }
}

pub fn parse_schedule(file_name: &str, page: &str) -> Result<Schedule, PageError> {
    let (season, month) = parse_schedule_name(file_name).ok_or_else(|| PageError::UnknownPageName(file_name.to_string()))?;
    if page.trim().is_empty() {
        return Err(PageError::Empty);
    }
    if memmem::find(page.as_bytes(), b"<table").is_none() && memmem::find(page.as_bytes(), b"<html").is_none() {
        return Err(PageError::NotHtml);
    }
    let table = html::table_slice(page, "schedule").ok_or_else(|| PageError::MissingTable("schedule".into()))?;
    let mut games = Vec::new();
    for (index, row) in html::table_rows(table).iter().enumerate() {
        if row.is_header || row.in_footer || row.is_empty() {
            continue;
        }
        let bad = |what: String| PageError::BadScheduleRow { index, what };
        let game_id = row.cell("date_game").and_then(|c| c.csk.map(str::to_string)).ok_or_else(|| bad("no game id (csk) on the date cell".into()))?;
        let (game_date, home_code) = parse_game_id(&game_id).map_err(|e| bad(e.to_string()))?;
        let team_code = |stat: &str| -> Result<String, PageError> {
            // csk is "LAL.202310240DEN"; the link is "/teams/LAL/2024.html".
            let cell = row.cell(stat);
            let from_csk = cell.and_then(|c| c.csk).and_then(|v| v.split_once('.')).map(|(t, _)| t);
            let from_href = cell.and_then(|c| c.href).and_then(|h| h.strip_prefix("/teams/")).and_then(|r| r.split('/').next());
            from_csk
                .or(from_href)
                .filter(|t| t.len() == 3 && t.bytes().all(|b| b.is_ascii_uppercase()))
                .map(str::to_string)
                .ok_or_else(|| bad(format!("no team code in {stat}")))
        };
        let away_team = team_code("visitor_team_name")?;
        let home_team = team_code("home_team_name")?;
        if home_team != home_code {
            return Err(bad(format!("home team {home_team} does not match game id {game_id}")));
        }
        let points = |stat: &str| -> Result<Option<u16>, PageError> {
            let v = row.get(stat).unwrap_or("").trim();
            if v.is_empty() {
                return Ok(None);
            }
            v.parse().map(Some).map_err(|_| bad(format!("{stat} is {v:?}, not a score")))
        };
        let away_pts = points("visitor_pts")?;
        let home_pts = points("home_pts")?;
        let overtimes = parse_overtimes(row.get("overtimes").unwrap_or(""))
            .ok_or_else(|| bad(format!("overtimes cell {:?} is not like OT or 2OT", row.get("overtimes").unwrap_or(""))))?;
        let attendance_raw = row.get("attendance").unwrap_or("").replace(',', "");
        let attendance = if attendance_raw.trim().is_empty() {
            None
        } else {
            Some(attendance_raw.trim().parse().map_err(|_| bad(format!("attendance {attendance_raw:?} is not a number")))?)
        };
        let remarks = row.get("game_remarks").unwrap_or("").to_string();
        games.push(ScheduledGame {
            season_type: schedule_season_type(season, game_date, &remarks),
            has_box_score: row.cell("box_score_text").and_then(|c| c.href).is_some_and(|h| h.ends_with(&format!("/{game_id}.html"))),
            game_id,
            game_date,
            season,
            start_time_et: row.get("game_start_time").unwrap_or("").to_string(),
            away_team,
            home_team,
            away_pts,
            home_pts,
            overtimes,
            attendance,
            arena: row.get("arena_name").unwrap_or("").to_string(),
            remarks,
        });
    }
    Ok(Schedule { season, month, games })
}

/// "" → 0, "OT" → 1, "2OT" → 2.
fn parse_overtimes(cell: &str) -> Option<u8> {
    let c = cell.trim();
    if c.is_empty() {
        return Some(0);
    }
    let n = c.strip_suffix("OT")?;
    if n.is_empty() { Some(1) } else { n.parse().ok() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(parse_schedule_name("NBA_2024_games-october.html"), Some((2024, "october".into())));
        assert_eq!(parse_schedule_name("NBA_2024_games-smarch.html"), None);
        assert_eq!(parse_schedule_name("NBA_24_games-october.html"), None);
        assert_eq!(parse_schedule_name("201710170CLE.html"), None);
    }

    #[test]
    fn month_days() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(schedule_month_days(2024, "october"), Some((d(2023, 10, 1), d(2023, 10, 31))));
        assert_eq!(schedule_month_days(2024, "february"), Some((d(2024, 2, 1), d(2024, 2, 29))));
        assert_eq!(schedule_month_days(2020, "september"), Some((d(2020, 9, 1), d(2020, 9, 30))));
        assert_eq!(schedule_month_days(2024, "smarch"), None);
    }

    #[test]
    fn overtimes() {
        assert_eq!(parse_overtimes(""), Some(0));
        assert_eq!(parse_overtimes("OT"), Some(1));
        assert_eq!(parse_overtimes("3OT"), Some(3));
        assert_eq!(parse_overtimes("x"), None);
    }

    #[test]
    fn season_types_from_the_calendar() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(schedule_season_type(2023, d(2023, 4, 9), ""), SeasonType::RegularSeason);
        assert_eq!(schedule_season_type(2023, d(2023, 4, 11), "Play-In Game"), SeasonType::PlayIn);
        assert_eq!(schedule_season_type(2023, d(2023, 4, 15), ""), SeasonType::Playoffs);
        assert_eq!(schedule_season_type(2024, d(2023, 12, 9), "In-Season Tournament"), SeasonType::IstFinal);
        assert_eq!(schedule_season_type(2024, d(2023, 12, 7), "In-Season Tournament"), SeasonType::RegularSeason);
    }
}
