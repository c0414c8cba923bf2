//! The two documented shapes of a prop-lines file, read into one list of Over/Under pairs
//! with the place each came from. Values stay text here: whether a time, team, line, price
//! or player is good is decided per pair by the loader, so one bad pair never costs the
//! others. Only a file that cannot be read as either shape is refused whole.
//!
//! - JSON: the event-odds shape of the public odds APIs. One event, an array of events, or
//!   the historical wrapper `{"timestamp": ..., "data": <event or array>}`. An event has
//!   `commence_time`, `home_team`, `away_team` and `bookmakers[]` (`key`, `last_update`,
//!   `markets[]`); a market with `key = player_points` has `outcomes[]` (`name` Over or
//!   Under, `description` the player, `point`, `price`). Other markets are skipped. The
//!   two sides of a player's line are paired here: same player, same point first.
//! - CSV with the header [`CSV_HEADER`], one line per book, player and snapshot holding
//!   both sides; quoting, blank lines and `#` comments as every fed file's CSV
//!   ([`crate::feed`]).

use crate::feed;
use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone as _, Utc};
use chrono_tz::America::New_York;
use serde::Deserialize;
use serde_json::Value;

pub use crate::feed::FileError;

/// The CSV header, in this order.
pub const CSV_HEADER: [&str; 9] = ["snapshot_time", "book", "game_date", "home_team", "away_team", "player", "line", "over_price", "under_price"];

/// The one market read from event-odds JSON; every other market is skipped.
pub const POINTS_MARKET: &str = "player_points";

/// How the file names the game's day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GameWhen {
    /// The CSV's `game_date` (the US Eastern date, as in `games`); tip-off from the
    /// schedule.
    Date(String),
    /// The event's `commence_time`: its tip-off, and its US Eastern date the game's day.
    Commence(String),
}

/// One side of a line, as the file wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawSide {
    pub point: String,
    pub price: String,
}

/// One book's line for one player at one snapshot, as the file wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine {
    /// Where in the file: `line 7`, `event 2 bookmakers[1].markets[0].outcomes[4,5]`.
    pub location: String,
    /// Empty when the JSON has no `last_update` or `timestamp` for it.
    pub snapshot_time: String,
    pub book: String,
    pub when: GameWhen,
    pub home_team: String,
    pub away_team: String,
    /// The player as the book spells him.
    pub player: String,
    /// Missing when the file has no such side (a CSV price left empty, an outcome alone).
    pub over: Option<RawSide>,
    pub under: Option<RawSide>,
}

/// What a file turned into: its pairs, entries that are not lines at all (wrong number of
/// fields, an outcome that is neither Over nor Under or names no player), each with its
/// location, and how many markets other than [`POINTS_MARKET`] were skipped.
#[derive(Debug, Default)]
pub struct ParsedFile {
    pub lines: Vec<RawLine>,
    pub malformed: Vec<(String, String)>,
    pub markets_skipped: u64,
}

/// Reads a file in either shape: JSON when its first non-blank character is `{` or `[`,
/// CSV otherwise.
pub fn parse_file(bytes: &[u8]) -> Result<ParsedFile, FileError> {
    feed::parse_either(bytes, parse_json, parse_csv)
}

fn parse_csv(text: &str) -> Result<ParsedFile, FileError> {
    let mut out = ParsedFile::default();
    for (location, fields) in feed::csv_records(text, &CSV_HEADER)? {
        let n = fields.len();
        let Ok([snapshot_time, book, game_date, home_team, away_team, player, point, over_price, under_price]) = <[String; 9]>::try_from(fields) else {
            out.malformed.push((location, feed::wrong_field_count(n, &CSV_HEADER)));
            continue;
        };
        // An empty price is a side the book did not offer.
        let side = |price: String| (!price.is_empty()).then(|| RawSide { point: point.clone(), price });
        let (over, under) = (side(over_price), side(under_price));
        out.lines.push(RawLine { location, snapshot_time, book, when: GameWhen::Date(game_date), home_team, away_team, player, over, under });
    }
    Ok(out)
}

#[derive(Debug, Deserialize)]
struct JsonEvent {
    commence_time: String,
    home_team: String,
    away_team: String,
    #[serde(default)]
    bookmakers: Vec<JsonBook>,
}

#[derive(Debug, Deserialize)]
struct JsonBook {
    key: String,
    #[serde(default)]
    last_update: Option<String>,
    #[serde(default)]
    markets: Vec<JsonMarket>,
}

#[derive(Debug, Deserialize)]
struct JsonMarket {
    key: String,
    #[serde(default)]
    last_update: Option<String>,
    /// Kept loose: a bad outcome is rejected alone, not the file.
    #[serde(default)]
    outcomes: Vec<Value>,
}

fn parse_json(text: &str) -> Result<ParsedFile, FileError> {
    let value: Value = serde_json::from_str(text).map_err(not_event_odds)?;
    let (timestamp, data) = unwrap_historical(value)?;
    let events = match data {
        Value::Array(events) => events,
        event @ Value::Object(_) => vec![event],
        other => return Err(not_event_odds(format!("expected an event, an array of events or {{\"timestamp\", \"data\"}}, found {}", kind_of(&other)))),
    };
    let mut out = ParsedFile::default();
    for (e, event) in events.into_iter().enumerate() {
        let event: JsonEvent = serde_json::from_value(event).map_err(|err| not_event_odds(format!("event {}: {err}", e + 1)))?;
        read_event(&event, &format!("event {}", e + 1), timestamp.as_deref(), &mut out);
    }
    Ok(out)
}

fn not_event_odds(why: impl std::fmt::Display) -> FileError {
    FileError::Json(format!("not event odds in the documented JSON shape: {why}"))
}

/// The historical wrapper's `timestamp` and `data`; any other value is the data itself.
fn unwrap_historical(value: Value) -> Result<(Option<String>, Value), FileError> {
    match value {
        Value::Object(mut wrapper) if wrapper.contains_key("data") && !wrapper.contains_key("bookmakers") => {
            let timestamp = match wrapper.remove("timestamp") {
                None | Some(Value::Null) => None,
                Some(Value::String(t)) => Some(t),
                Some(other) => return Err(not_event_odds(format!("`timestamp` must be a time as text, found {}", kind_of(&other)))),
            };
            Ok((timestamp, wrapper.remove("data").unwrap_or(Value::Null)))
        }
        other => Ok((None, other)),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Every points market of an event into pairs; other markets counted as skipped.
fn read_event(event: &JsonEvent, place: &str, timestamp: Option<&str>, out: &mut ParsedFile) {
    for (b, book) in event.bookmakers.iter().enumerate() {
        for (m, market) in book.markets.iter().enumerate() {
            if !market.key.trim().eq_ignore_ascii_case(POINTS_MARKET) {
                out.markets_skipped += 1;
                continue;
            }
            // The market's own update, else the book's, else the time the snapshot was taken.
            let snapshot_time = market.last_update.as_deref().or(book.last_update.as_deref()).or(timestamp).unwrap_or_default();
            let market_place = format!("{place} bookmakers[{b}].markets[{m}]");
            let mut outcomes = Vec::new();
            for (i, value) in market.outcomes.iter().enumerate() {
                match read_outcome(i, value) {
                    Ok(o) => outcomes.push(o),
                    Err(reason) => out.malformed.push((format!("{market_place}.outcomes[{i}]"), reason)),
                }
            }
            for pair in pair_outcomes(outcomes) {
                let indices: Vec<String> = pair.indices.iter().map(ToString::to_string).collect();
                out.lines.push(RawLine {
                    location: format!("{market_place}.outcomes[{}]", indices.join(",")),
                    snapshot_time: snapshot_time.to_string(),
                    book: book.key.clone(),
                    when: GameWhen::Commence(event.commence_time.clone()),
                    home_team: event.home_team.clone(),
                    away_team: event.away_team.clone(),
                    player: pair.player,
                    over: pair.over,
                    under: pair.under,
                });
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Over,
    Under,
}

#[derive(Debug)]
struct Outcome {
    index: usize,
    side: Side,
    player: String,
    side_values: RawSide,
}

/// One outcome: its side, player, and point and price as text (a number as written).
fn read_outcome(index: usize, value: &Value) -> Result<Outcome, String> {
    let Value::Object(o) = value else {
        return Err(format!("an outcome must be an object, found {}", kind_of(value)));
    };
    let name = o.get("name").and_then(Value::as_str).unwrap_or_default().trim();
    let side = if name.eq_ignore_ascii_case("over") {
        Side::Over
    } else if name.eq_ignore_ascii_case("under") {
        Side::Under
    } else {
        return Err(format!("outcome name {name:?} is neither Over nor Under"));
    };
    let player = o.get("description").and_then(Value::as_str).unwrap_or_default().trim();
    if player.is_empty() {
        return Err(format!("{name} outcome without a `description` (the player's name)"));
    }
    let side_values = RawSide { point: value_text(o.get("point")), price: value_text(o.get("price")) };
    Ok(Outcome { index, side, player: player.to_string(), side_values })
}

/// A JSON value as text: a number as written, text as is, missing or null empty.
fn value_text(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A player's Over and Under of one market, or a side alone.
#[derive(Debug)]
struct Pair {
    indices: Vec<usize>,
    player: String,
    over: Option<RawSide>,
    under: Option<RawSide>,
}

/// Pairs the outcomes of one market by player: an Over with an Under of the same point
/// first, then leftover Overs and Unders in order (their points differ: the loader
/// rejects them), then what is left alone. Pairs in the order of their first outcome.
fn pair_outcomes(outcomes: Vec<Outcome>) -> Vec<Pair> {
    let mut players: Vec<String> = Vec::new();
    for o in &outcomes {
        if !players.contains(&o.player) {
            players.push(o.player.clone());
        }
    }
    let mut pairs = Vec::new();
    for player in players {
        let (mut overs, mut unders): (Vec<&Outcome>, Vec<&Outcome>) = outcomes.iter().filter(|o| o.player == player).partition(|o| o.side == Side::Over);
        let mut matched = Vec::new();
        overs.retain(|over| match unders.iter().position(|u| same_point(&u.side_values.point, &over.side_values.point)) {
            Some(at) => {
                matched.push((*over, unders.remove(at)));
                false
            }
            None => true,
        });
        let leftover = overs.len().max(unders.len());
        let mut overs = overs.into_iter().map(Some).chain(std::iter::repeat(None));
        let mut unders = unders.into_iter().map(Some).chain(std::iter::repeat(None));
        let rest = (0..leftover).map(|_| (overs.next().flatten(), unders.next().flatten()));
        let all = matched.into_iter().map(|(o, u)| (Some(o), Some(u))).chain(rest);
        for (over, under) in all {
            let indices: Vec<usize> = [over, under].into_iter().flatten().map(|o| o.index).collect();
            let side = |o: Option<&Outcome>| o.map(|o| o.side_values.clone());
            pairs.push(Pair { indices, player: player.clone(), over: side(over), under: side(under) });
        }
    }
    pairs.sort_by_key(|p| p.indices.iter().min().copied().unwrap_or(usize::MAX));
    pairs
}

/// Two points as written are the same line: equal numbers, or equal text when either is
/// not a number.
fn same_point(a: &str, b: &str) -> bool {
    match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a.trim() == b.trim(),
    }
}

/// A snapshot or commence time: RFC 3339 with an offset (`2023-10-27T14:02:11Z`),
/// truncated to the second (the table's resolution).
pub fn parse_time(field: &str, s: &str) -> Result<DateTime<Utc>, String> {
    if s.trim().is_empty() {
        return Err(format!("no {field}"));
    }
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map(|t| DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t))
        .map_err(|e| format!("{field} {s:?} is not an RFC 3339 time with an offset such as 2023-10-27T14:00:00Z ({e})"))
}

/// A line: a finite number, not negative.
pub fn parse_line(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f64>() {
        Err(_) if s.trim().is_empty() => Err("no line (point)".to_string()),
        Err(_) => Err(format!("line {s:?} is not a number")),
        Ok(x) if !x.is_finite() => Err(format!("line {s:?} is not a finite number")),
        Ok(x) if x < 0.0 => Err(format!("line {s:?} is negative")),
        Ok(x) => Ok(x as f32),
    }
}

/// A price as decimal odds. A number of size 100 or more is American (-115 → 1 + 100/115,
/// +120 → 2.2); one strictly between 1 and 100 is decimal already; anything else (0, 1,
/// -50, text) is not odds.
pub fn decimal_odds(s: &str) -> Result<f64, String> {
    let not_odds = || format!("price {s:?} is not odds (American: -115, +120, size 100 or more; decimal: above 1 and below 100, such as 1.87)");
    let x: f64 = s.trim().parse().map_err(|_| not_odds())?;
    if !x.is_finite() {
        Err(not_odds())
    } else if x >= 100.0 {
        Ok(1.0 + x / 100.0)
    } else if x <= -100.0 {
        Ok(1.0 + 100.0 / -x)
    } else if x > 1.0 {
        Ok(x)
    } else {
        Err(not_odds())
    }
}

/// A game's tip-off from the schedule's `start_time_et` ("7:30p", US Eastern) on its date;
/// the end of the game day (US Eastern) when the schedule has no time or one not in that
/// form.
pub fn schedule_tipoff(date: NaiveDate, start_time_et: &str) -> DateTime<Utc> {
    let at = |d: NaiveDate, t: NaiveTime| New_York.from_local_datetime(&d.and_time(t)).earliest().map(|t| t.with_timezone(&Utc));
    let started = parse_clock(start_time_et).and_then(|t| at(date, t));
    let day_end = || date.succ_opt().and_then(|next| at(next, NaiveTime::MIN)).unwrap_or_else(|| date.and_time(NaiveTime::MIN).and_utc());
    started.unwrap_or_else(day_end)
}

/// "7:30p", "10:00 PM", "12:05a" → the time of day.
fn parse_clock(s: &str) -> Option<NaiveTime> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_suffix('m').unwrap_or(&s).trim_end();
    let (clock, pm) = match s.strip_suffix('p') {
        Some(c) => (c, true),
        None => (s.strip_suffix('a')?, false),
    };
    let (h, m) = clock.trim().split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    if !(1..=12).contains(&h) {
        return None;
    }
    NaiveTime::from_hms_opt(h % 12 + if pm { 12 } else { 0 }, m, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        parse_time("t", s).unwrap()
    }

    #[test]
    fn american_and_decimal_odds_and_what_is_not_odds() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        assert!(close(decimal_odds("-115").unwrap(), 1.0 + 100.0 / 115.0));
        assert!(close(decimal_odds("+120").unwrap(), 2.2));
        assert!(close(decimal_odds("120").unwrap(), 2.2));
        assert!(close(decimal_odds("-100").unwrap(), 2.0));
        assert!(close(decimal_odds("100").unwrap(), 2.0));
        assert!(close(decimal_odds("-250").unwrap(), 1.4));
        assert!(close(decimal_odds(" 1.87 ").unwrap(), 1.87));
        assert!(close(decimal_odds("99.5").unwrap(), 99.5));
        for bad in ["0", "1", "1.0", "-50", "-99.9", "0.5", "abc", "", "NaN", "inf", "-inf"] {
            let err = decimal_odds(bad).unwrap_err();
            assert!(err.contains("not odds") && err.contains(&format!("{bad:?}")), "{bad}: {err}");
        }
    }

    #[test]
    fn lines_are_finite_and_not_negative() {
        assert_eq!(parse_line("27.5"), Ok(27.5));
        assert_eq!(parse_line("0"), Ok(0.0));
        assert!(parse_line("-2.5").unwrap_err().contains("negative"));
        assert!(parse_line("NaN").unwrap_err().contains("finite"));
        assert!(parse_line("inf").unwrap_err().contains("finite"));
        assert!(parse_line("abc").unwrap_err().contains("not a number"));
        assert!(parse_line("").unwrap_err().contains("no line"));
    }

    #[test]
    fn csv_lines_hold_both_sides_and_an_empty_price_is_a_missing_side() {
        let text = "snapshot_time,book,game_date,home_team,away_team,player,line,over_price,under_price\n\
                    # caesars, 18:00 UTC\n\
                    2023-10-27T18:00:00Z,Caesars,2023-10-27,BOS,MIA,Jayson Tatum,27.5,-115,-105\n\
                    \n\
                    2023-10-27T18:00:00Z,caesars,2023-10-27,MEM,DEN,\"Jackson Jr., Jaren\",17.5,,-110\n\
                    2023-10-27T18:00:00Z,caesars,2023-10-27,MEM,DEN,Ja Morant,24.5\n";
        let parsed = parse_file(text.as_bytes()).unwrap();
        assert_eq!(parsed.lines.len(), 2);
        let tatum = &parsed.lines[0];
        assert_eq!((tatum.location.as_str(), tatum.book.as_str(), tatum.when.clone()), ("line 3", "Caesars", GameWhen::Date("2023-10-27".into())));
        assert_eq!(tatum.over, Some(RawSide { point: "27.5".into(), price: "-115".into() }));
        assert_eq!(tatum.under, Some(RawSide { point: "27.5".into(), price: "-105".into() }));
        let jjj = &parsed.lines[1];
        assert_eq!((jjj.location.as_str(), jjj.player.as_str(), jjj.over.is_none(), jjj.under.is_some()), ("line 5", "Jackson Jr., Jaren", true, true));
        assert_eq!(parsed.malformed, vec![("line 6".to_string(), format!("7 fields, expected 9 ({})", CSV_HEADER.join(",")))]);
        assert!(matches!(parse_file(b"time,book,player\n1,2,3\n"), Err(FileError::BadHeader(_))));
        assert_eq!(parse_file(b" \n").unwrap_err(), FileError::Empty);
    }

    fn event(bookmakers: &str) -> String {
        format!(
            r#"{{"id": "x", "sport_key": "basketball_nba", "commence_time": "2023-10-27T23:30:00Z",
                "home_team": "Boston Celtics", "away_team": "Miami Heat", "bookmakers": [{bookmakers}]}}"#
        )
    }

    const DK: &str = r#"{"key": "draftkings", "title": "DraftKings", "last_update": "2023-10-27T14:05:00Z", "markets": [
        {"key": "h2h", "outcomes": [{"name": "Boston Celtics", "price": -250}]},
        {"key": "player_points", "last_update": "2023-10-27T14:02:11Z", "outcomes": [
            {"name": "Over", "description": "Jayson Tatum", "price": -115, "point": 27.5},
            {"name": "Over", "description": "Jimmy Butler", "price": -105, "point": 20.5},
            {"name": "Under", "description": "Jayson Tatum", "price": -105, "point": 27.5},
            {"name": "Under", "description": "Jimmy Butler", "price": "-115", "point": 21.5},
            {"name": "Over", "description": "Tyler Herro", "price": 1.87, "point": 20.5},
            {"name": "Yes", "description": "Bam Adebayo", "price": 1.9},
            {"name": "Under", "price": 1.9, "point": 3.5}]}]}"#;

    #[test]
    fn event_odds_json_pairs_the_sides_of_each_player_and_skips_other_markets() {
        let parsed = parse_file(event(DK).as_bytes()).unwrap();
        assert_eq!(parsed.markets_skipped, 1);
        let got: Vec<(&str, &str, bool, bool)> =
            parsed.lines.iter().map(|l| (l.location.as_str(), l.player.as_str(), l.over.is_some(), l.under.is_some())).collect();
        assert_eq!(
            got,
            vec![
                ("event 1 bookmakers[0].markets[1].outcomes[0,2]", "Jayson Tatum", true, true),
                // Different points: paired, for the loader to reject.
                ("event 1 bookmakers[0].markets[1].outcomes[1,3]", "Jimmy Butler", true, true),
                ("event 1 bookmakers[0].markets[1].outcomes[4]", "Tyler Herro", true, false),
            ]
        );
        let tatum = &parsed.lines[0];
        assert_eq!((tatum.snapshot_time.as_str(), tatum.book.as_str()), ("2023-10-27T14:02:11Z", "draftkings"));
        assert_eq!((tatum.home_team.as_str(), tatum.away_team.as_str()), ("Boston Celtics", "Miami Heat"));
        assert_eq!(tatum.when, GameWhen::Commence("2023-10-27T23:30:00Z".into()));
        assert_eq!(tatum.over, Some(RawSide { point: "27.5".into(), price: "-115".into() }));
        assert_eq!(parsed.lines[1].under, Some(RawSide { point: "21.5".into(), price: "-115".into() }));
        let malformed: Vec<&str> = parsed.malformed.iter().map(|(place, _)| place.as_str()).collect();
        assert_eq!(malformed, ["event 1 bookmakers[0].markets[1].outcomes[5]", "event 1 bookmakers[0].markets[1].outcomes[6]"]);
        assert!(parsed.malformed[0].1.contains("\"Yes\"") && parsed.malformed[1].1.contains("description"), "{:?}", parsed.malformed);
    }

    #[test]
    fn json_one_event_an_array_or_the_historical_wrapper_and_the_snapshot_time_fallbacks() {
        // The market has no last_update: the book's; the book has none: the wrapper's.
        let fd = r#"{"key": "FanDuel", "last_update": "2023-10-27T21:31:00Z", "markets": [{"key": "player_points", "outcomes": [
            {"name": "Over", "description": "Jayson Tatum", "price": 1.91, "point": 28.5},
            {"name": "Under", "description": "Jayson Tatum", "price": 1.91, "point": 28.5}]}]}"#;
        let mgm = r#"{"key": "betmgm", "markets": [{"key": "player_points", "outcomes": [
            {"name": "Over", "description": "Jayson Tatum", "price": -110, "point": 27.5},
            {"name": "Under", "description": "Jayson Tatum", "price": -110, "point": 27.5}]}]}"#;
        let books = format!("{fd}, {mgm}");
        let wrapped = format!(r#"{{"timestamp": "2023-10-27T21:35:00Z", "previous_timestamp": null, "data": [{}]}}"#, event(&books));
        let parsed = parse_file(wrapped.as_bytes()).unwrap();
        let times: Vec<(&str, &str)> = parsed.lines.iter().map(|l| (l.book.as_str(), l.snapshot_time.as_str())).collect();
        assert_eq!(times, [("FanDuel", "2023-10-27T21:31:00Z"), ("betmgm", "2023-10-27T21:35:00Z")]);
        let single = parse_file(format!(r#"{{"timestamp": "2023-10-27T21:35:00Z", "data": {}}}"#, event(mgm)).as_bytes()).unwrap();
        assert_eq!(single.lines[0].snapshot_time, "2023-10-27T21:35:00Z");
        // Without a wrapper nothing gives a time: left empty for the loader to reject.
        let bare = parse_file(format!("[{}, {}]", event(mgm), event(fd)).as_bytes()).unwrap();
        assert_eq!((bare.lines[0].snapshot_time.as_str(), bare.lines[1].location.as_str()), ("", "event 2 bookmakers[0].markets[0].outcomes[0,1]"));
        // A missing event field is named, with the event.
        let err = parse_file(br#"[{"home_team": "Boston Celtics", "away_team": "Miami Heat"}]"#).unwrap_err().to_string();
        assert!(err.contains("event 1") && err.contains("commence_time"), "{err}");
        assert!(matches!(parse_file(b"[1, 2]"), Err(FileError::Json(_))));
        assert!(matches!(parse_file(br#"{"timestamp": 5, "data": []}"#), Err(FileError::Json(_))));
        assert!(matches!(parse_file(b"{not json"), Err(FileError::Json(_))));
    }

    #[test]
    fn times_need_an_offset_and_are_kept_to_the_second() {
        assert_eq!(utc("2023-10-27T10:02:11-04:00"), utc("2023-10-27T14:02:11Z"));
        assert_eq!(utc("2023-10-27T14:02:11.750Z"), utc("2023-10-27T14:02:11Z"));
        assert!(parse_time("snapshot_time", "2023-10-27 14:00").unwrap_err().contains("snapshot_time"));
        assert_eq!(parse_time("snapshot_time", " "), Err("no snapshot_time".to_string()));
        assert!(feed::parse_game_date("10/27/2023").is_err());
    }

    #[test]
    fn the_schedule_time_is_us_eastern_on_the_game_date_else_the_end_of_the_day() {
        let d = |m, day| NaiveDate::from_ymd_opt(2023, m, day).unwrap();
        assert_eq!(schedule_tipoff(d(10, 27), "7:30p"), utc("2023-10-27T23:30:00Z"));
        assert_eq!(schedule_tipoff(d(10, 27), "10:00p"), utc("2023-10-28T02:00:00Z"));
        assert_eq!(schedule_tipoff(d(12, 25), "12:00p"), utc("2023-12-25T17:00:00Z"), "noon, EST");
        assert_eq!(schedule_tipoff(d(12, 25), "8:00 PM"), utc("2023-12-26T01:00:00Z"));
        assert_eq!(schedule_tipoff(d(10, 27), "12:30a"), utc("2023-10-27T04:30:00Z"));
        for none in ["", "TBD", "19:30", "13:00p"] {
            assert_eq!(schedule_tipoff(d(10, 27), none), utc("2023-10-28T04:00:00Z"), "{none:?}: the end of the day, EDT");
        }
        assert_eq!(schedule_tipoff(d(12, 25), ""), utc("2023-12-26T05:00:00Z"), "EST");
    }
}
