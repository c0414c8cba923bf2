//! Season arithmetic: which season a date belongs to, and where each season's regular
//! season ends (needed to tell playoff games apart on schedule pages, which do not say).

use chrono::{Datelike, NaiveDate};

/// Published league calendar facts per season (the year the season ends).
struct SeasonCalendar {
    season: u16,
    /// Last day of the regular season; later games are play-in or playoffs.
    regular_season_end: (i32, u32, u32),
    /// The In-Season Tournament final, which does not count in the standings.
    ist_final: Option<(i32, u32, u32)>,
}

const CALENDAR: &[SeasonCalendar] = &[
    SeasonCalendar { season: 2018, regular_season_end: (2018, 4, 11), ist_final: None },
    SeasonCalendar { season: 2019, regular_season_end: (2019, 4, 10), ist_final: None },
    // The 2019-20 season paused in March 2020 and finished its seeding games in the bubble.
    SeasonCalendar { season: 2020, regular_season_end: (2020, 8, 14), ist_final: None },
    SeasonCalendar { season: 2021, regular_season_end: (2021, 5, 16), ist_final: None },
    SeasonCalendar { season: 2022, regular_season_end: (2022, 4, 10), ist_final: None },
    SeasonCalendar { season: 2023, regular_season_end: (2023, 4, 9), ist_final: None },
    SeasonCalendar { season: 2024, regular_season_end: (2024, 4, 14), ist_final: Some((2023, 12, 9)) },
    SeasonCalendar { season: 2025, regular_season_end: (2025, 4, 13), ist_final: Some((2024, 12, 17)) },
    SeasonCalendar { season: 2026, regular_season_end: (2026, 4, 12), ist_final: Some((2025, 12, 16)) },
];

fn ymd((y, m, d): (i32, u32, u32)) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

/// The last regular-season day of `season`, when the calendar knows it.
pub fn regular_season_end(season: u16) -> Option<NaiveDate> {
    CALENDAR.iter().find(|c| c.season == season).and_then(|c| ymd(c.regular_season_end))
}

/// The In-Season Tournament final's date of `season`, when there was one.
pub fn ist_final_date(season: u16) -> Option<NaiveDate> {
    CALENDAR.iter().find(|c| c.season == season).and_then(|c| c.ist_final.and_then(ymd))
}

/// The season (year it ends) a game date falls in. Seasons start in October, except
/// that the 2019-20 season ran on to October 2020 and 2020-21 began in December 2020.
pub fn season_of(date: NaiveDate) -> u16 {
    let year = date.year();
    let season = if year == 2020 && date.month() <= 11 {
        2020
    } else if date.month() >= 9 {
        year + 1
    } else {
        year
    };
    u16::try_from(season).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn seasons_follow_the_league_calendar() {
        assert_eq!(season_of(d(2017, 10, 17)), 2018);
        assert_eq!(season_of(d(2018, 4, 11)), 2018);
        assert_eq!(season_of(d(2018, 6, 8)), 2018);
        // The bubble: 2019-20 finished in October 2020.
        assert_eq!(season_of(d(2020, 8, 15)), 2020);
        assert_eq!(season_of(d(2020, 10, 11)), 2020);
        assert_eq!(season_of(d(2020, 12, 22)), 2021);
        assert_eq!(season_of(d(2021, 7, 20)), 2021);
        assert_eq!(season_of(d(2023, 10, 24)), 2024);
    }

    #[test]
    fn calendar_lookups() {
        assert_eq!(regular_season_end(2020), Some(d(2020, 8, 14)));
        assert_eq!(ist_final_date(2024), Some(d(2023, 12, 9)));
        assert_eq!(ist_final_date(2023), None);
        assert_eq!(regular_season_end(1999), None);
    }
}
