//! The two documented shapes of an injury-report file, read into one list of entries
//! with the place each came from. Values stay text here: whether a time, date, team,
//! status or player is good is decided per entry by the loader, so one bad entry never
//! costs the others. Only a file that cannot be read as either shape is refused whole.
//!
//! - CSV with the header `report_time,game_date,team,player,status,reason`; quoting,
//!   blank lines and `#` comments as every fed file's CSV ([`crate::feed`]).
//! - JSON: `{"report_time": ..., "games": [{"game_date", "team", "players": [{"player",
//!   "status", "reason"}]}]}`, or an array of such objects. A game with `"players": []`
//!   is the team reported with nobody on it.

use crate::feed;
use chrono::{DateTime, Utc};
use serde::Deserialize;

pub use crate::feed::FileError;

/// The CSV header, in this order.
pub const CSV_HEADER: [&str; 6] = ["report_time", "game_date", "team", "player", "status", "reason"];

/// One entry of a report, as the file wrote it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RawEntry {
    /// Where in the file: `line 7`, or `report 1 games[2].players[0]`.
    pub location: String,
    pub report_time: String,
    pub game_date: String,
    pub team: String,
    /// A name as the report spells it, a basketball-reference id, or empty for the
    /// "nobody" entry.
    pub player: String,
    pub status: String,
    pub reason: String,
}

/// What a file turned into: its entries, and lines that are not entries at all (wrong
/// number of fields), each with its location.
#[derive(Debug, Default)]
pub struct ParsedFile {
    pub entries: Vec<RawEntry>,
    pub malformed: Vec<(String, String)>,
}

/// Reads a file in either shape: JSON when its first non-blank character is `{` or `[`,
/// CSV otherwise.
pub fn parse_file(bytes: &[u8]) -> Result<ParsedFile, FileError> {
    feed::parse_either(bytes, parse_json, parse_csv)
}

fn parse_csv(text: &str) -> Result<ParsedFile, FileError> {
    let mut out = ParsedFile::default();
    for (location, fields) in feed::csv_records(text, &CSV_HEADER)? {
        // A trailing empty reason may be left off.
        let fields: Vec<String> = match fields.len() {
            5 => fields.into_iter().chain([String::new()]).collect(),
            6 => fields,
            n => {
                out.malformed.push((location, feed::wrong_field_count(n, &CSV_HEADER)));
                continue;
            }
        };
        let [report_time, game_date, team, player, status, reason] = <[String; 6]>::try_from(fields).unwrap_or_default();
        out.entries.push(RawEntry { location, report_time, game_date, team, player, status, reason });
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonReport {
    report_time: String,
    games: Vec<JsonGame>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonGame {
    game_date: String,
    team: String,
    players: Vec<JsonPlayer>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonPlayer {
    player: String,
    status: String,
    #[serde(default)]
    reason: String,
}

fn parse_json(text: &str) -> Result<ParsedFile, FileError> {
    // Parsed straight into the typed shape, so a missing field is reported with its line
    // and column.
    let reports: Vec<JsonReport> = if text.trim_start().starts_with('[') {
        serde_json::from_str(text).map_err(not_a_report)?
    } else {
        vec![serde_json::from_str(text).map_err(not_a_report)?]
    };
    let mut out = ParsedFile::default();
    for (r, report) in reports.into_iter().enumerate() {
        for (g, game) in report.games.into_iter().enumerate() {
            let entry = |location: String, player: String, status: String, reason: String| RawEntry {
                location,
                report_time: report.report_time.clone(),
                game_date: game.game_date.clone(),
                team: game.team.clone(),
                player,
                status,
                reason,
            };
            if game.players.is_empty() {
                out.entries.push(entry(format!("report {} games[{g}] (no players)", r + 1), String::new(), "None".into(), String::new()));
            }
            for (p, player) in game.players.iter().enumerate() {
                let location = format!("report {} games[{g}].players[{p}]", r + 1);
                out.entries.push(entry(location, player.player.clone(), player.status.clone(), player.reason.clone()));
            }
        }
    }
    Ok(out)
}

fn not_a_report(e: serde_json::Error) -> FileError {
    FileError::Json(format!("not an injury report in the documented JSON shape: {e}"))
}

/// A report time: RFC 3339 with an offset (`2023-10-25T17:30:00-04:00`, or `Z`).
pub fn parse_report_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("report_time {s:?} is not an RFC 3339 time with an offset such as 2023-10-25T17:30:00-04:00 ({e})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn utc(s: &str) -> DateTime<Utc> {
        parse_report_time(s).unwrap()
    }

    #[test]
    fn csv_needs_the_header_and_reports_malformed_lines_by_number() {
        let text = "report_time,game_date,team,player,status,reason\n\
                    # a comment\n\
                    2023-10-25T17:30:00-04:00,2023-10-25,BKN,Nic Claxton,Out,Left ankle sprain\n\
                    2023-10-25T17:30:00-04:00,2023-10-25,BKN,Ben Simmons,Probable\n\
                    \n\
                    only,three,fields\n";
        let parsed = parse_file(text.as_bytes()).unwrap();
        assert_eq!(parsed.entries.len(), 2);
        assert_eq!((parsed.entries[0].location.as_str(), parsed.entries[0].player.as_str()), ("line 3", "Nic Claxton"));
        assert_eq!((parsed.entries[1].status.as_str(), parsed.entries[1].reason.as_str()), ("Probable", ""));
        assert_eq!(parsed.malformed.len(), 1);
        assert_eq!(parsed.malformed[0].0, "line 6");
        assert!(matches!(parse_file(b"time,date,team\n1,2,3\n"), Err(FileError::BadHeader(_))));
        assert_eq!(parse_file(b"  \n").unwrap_err(), FileError::Empty);
        assert!(matches!(parse_file(&[b'a', 0xff]), Err(FileError::NotUtf8(1))));
    }

    #[test]
    fn json_object_or_array_and_an_empty_player_list_is_the_nobody_entry() {
        let one = r#"{"report_time": "2023-10-25T17:30:00-04:00", "games": [
            {"game_date": "2023-10-25", "team": "BKN", "players": [{"player": "Nic Claxton", "status": "Out", "reason": "Injury/Illness - Left Ankle; Sprain"}]},
            {"game_date": "2023-10-25", "team": "CLE", "players": []}]}"#;
        let parsed = parse_file(one.as_bytes()).unwrap();
        assert_eq!(parsed.entries.len(), 2);
        assert_eq!(parsed.entries[0].location, "report 1 games[0].players[0]");
        assert_eq!((parsed.entries[1].player.as_str(), parsed.entries[1].status.as_str()), ("", "None"));
        let many = format!("[{one}, {one}]");
        let parsed = parse_file(many.as_bytes()).unwrap();
        assert_eq!(parsed.entries.len(), 4);
        assert_eq!(parsed.entries[3].location, "report 2 games[1] (no players)");
        // A missing field is named, with where it is.
        let err = parse_file(br#"{"report_time": "x", "games": [{"team": "BKN", "players": []}]}"#).unwrap_err().to_string();
        assert!(err.contains("game_date") && err.contains("line 1"), "{err}");
    }

    #[test]
    fn times_need_an_offset_and_dates_the_iso_form() {
        assert_eq!(utc("2023-10-25T17:30:00-04:00"), utc("2023-10-25T21:30:00Z"));
        assert!(parse_report_time("2023-10-25T17:30:00").is_err(), "no offset");
        assert!(parse_report_time("yesterday").unwrap_err().contains("yesterday"));
        assert_eq!(feed::parse_game_date("2023-10-25").unwrap(), NaiveDate::from_ymd_opt(2023, 10, 25).unwrap());
        assert!(feed::parse_game_date("10/25/2023").is_err());
    }
}
