//! The box-score page parser (`scores/<game_id>.html`).

use crate::error::PageError;
use crate::html::{self, Inline, Row};
use crate::parsed::{Advanced, BoxScore, Counting, Inactive, PlayerLine, PlayerStatus, SeasonType, TeamBox};
use crate::season;
use chrono::NaiveDate;
use memchr::memmem;

/// Splits a game id `YYYYMMDD0TTT` into its date and home team code.
pub fn parse_game_id(game_id: &str) -> Result<(NaiveDate, &str), PageError> {
    let bad = || PageError::BadGameId(game_id.to_string());
    let bytes = game_id.as_bytes();
    if bytes.len() != 12 || !bytes[..9].iter().all(u8::is_ascii_digit) || !bytes[9..].iter().all(u8::is_ascii_uppercase) {
        return Err(bad());
    }
    let date = NaiveDate::parse_from_str(&game_id[..8], "%Y%m%d").map_err(|_| bad())?;
    Ok((date, &game_id[9..]))
}

/// Parses a box-score page. `game_id` comes from the file name and is checked against the
/// page's own links.
pub fn parse_box_score(game_id: &str, page: &str) -> Result<BoxScore, PageError> {
    let (game_date, home_code) = parse_game_id(game_id)?;
    if page.trim().is_empty() {
        return Err(PageError::Empty);
    }
    if memmem::find(page.as_bytes(), b"<table").is_none() && memmem::find(page.as_bytes(), b"<html").is_none() {
        return Err(PageError::NotHtml);
    }
    check_self_links(game_id, page)?;

    let teams = html::ids_between(page, "id=\"box-", "-game-basic\"", 3);
    if teams.len() != 2 {
        return Err(PageError::TeamCount { found: teams });
    }
    let away_code = match teams.iter().position(|t| t == home_code) {
        Some(0) => teams[1].clone(),
        Some(_) => teams[0].clone(),
        None => return Err(PageError::HomeTeamMissing { home: home_code.to_string(), found: teams }),
    };

    let title = html::first_element_text(page, "h1").ok_or(PageError::MissingTitle)?;
    let season_type = season_type_from_title(&title);
    let season = season_from_links(page).unwrap_or_else(|| season::season_of(game_date));
    let line_score = parse_line_score(page)?;

    let mut away = parse_team(page, &away_code)?;
    let mut home = parse_team(page, home_code)?;
    for team in [&mut away, &mut home] {
        team.periods =
            line_score.iter().find(|(code, _)| *code == team.team).map(|(_, p)| p.clone()).ok_or_else(|| PageError::MissingLineScore(team.team.clone()))?;
    }
    for team in [&away, &home] {
        check_possible(team)?;
    }
    let (inactives, has_inactive_line) = parse_inactives(page, [&away_code, home_code]);

    Ok(BoxScore { game_id: game_id.to_string(), game_date, season, season_type, title, away, home, inactives, has_inactive_line })
}

/// Most points one player has scored in an NBA game (Wilt Chamberlain, 1962) and one team
/// (186, Detroit, 1983, in three overtimes). Anything above is not a real game.
pub const MAX_PLAYER_POINTS: u16 = 100;
pub const MAX_TEAM_POINTS: u16 = 200;

/// Refuses numbers no real game can have: more made than attempted shots, more threes made
/// than field goals, rebounds that are not offensive plus defensive, points over the
/// records, a player on the floor longer than the game (48 minutes plus 5 per overtime,
/// from the line score). Such a page is corrupt or forged; loading it would feed the
/// features impossible values, so it is rejected like a page that does not parse.
/// Inconsistencies real pages do have (points that do not match the shots, as in
/// `202101050MEM`) stay data-quality findings, in [`crate::checks`].
fn check_possible(team: &TeamBox) -> Result<(), PageError> {
    let impossible = |row: &str, what: String| PageError::Impossible { team: team.team.clone(), row: row.to_string(), what };
    let game_seconds = 48 * 60 + 5 * 60 * u32::try_from(team.periods.len().saturating_sub(4)).unwrap_or(u32::MAX / 600);
    let rows = team.players.iter().map(|p| (p.player_id.as_str(), &p.stats, Some(p.seconds))).chain([("Team Totals", &team.totals, None)]);
    for (row, c, seconds) in rows {
        for (made, attempted, m, a) in [
            ("fg", "fga", c.fgm, c.fga),
            ("fg3", "fg3a", c.fg3m, c.fg3a),
            ("ft", "fta", c.ftm, c.fta),
            ("fg3", "fg", c.fg3m, c.fgm),
            ("fg3a", "fga", c.fg3a, c.fga),
        ] {
            if m > a {
                return Err(impossible(row, format!("{made} {m} is more than {attempted} {a}")));
            }
        }
        if u32::from(c.oreb) + u32::from(c.dreb) != u32::from(c.reb) {
            return Err(impossible(row, format!("trb {} is not orb {} + drb {}", c.reb, c.oreb, c.dreb)));
        }
        let max_points = if seconds.is_some() { MAX_PLAYER_POINTS } else { MAX_TEAM_POINTS };
        if c.pts > max_points {
            return Err(impossible(row, format!("{} points, more than the record {max_points}", c.pts)));
        }
        if let Some(s) = seconds.filter(|s| *s > game_seconds) {
            return Err(impossible(row, format!("{}:{:02} played in a game of {} minutes", s / 60, s % 60, game_seconds / 60)));
        }
    }
    Ok(())
}

/// A box score exists only once its game is played: refuses a page dated after `today`
/// (the caller's UTC date). Pages are dated by the US local date, which is never ahead of
/// UTC, so a day of slack covers a clock that is off.
pub fn check_not_future(game: &BoxScore, today: NaiveDate) -> Result<(), PageError> {
    if game.game_date > today + chrono::Days::new(1) {
        return Err(PageError::FutureGame { game_id: game.game_id.clone(), date: game.game_date, today });
    }
    Ok(())
}

/// A page links its own play-by-play, plus-minus and shot-chart pages by game id; a page
/// saved under another game's name is caught here.
fn check_self_links(game_id: &str, page: &str) -> Result<(), PageError> {
    let links = html::ids_between_each(page, "/boxscores/", ["pbp/", "shot-chart/", "plus-minus/"], ".html", 12);
    for ids in links {
        if let Some(found) = ids.into_iter().find(|id| id.len() == 12 && id != game_id) {
            return Err(PageError::WrongGame { expected: game_id.to_string(), found });
        }
    }
    Ok(())
}

/// The site's headings: "Play-In Game: ...", "In-Season Tournament Final: ...",
/// "2023 NBA Finals Game 5: ...", "2022 NBA Eastern Conference First Round Game 1: ...";
/// regular-season games have no prefix ("A at B Box Score, <date>").
pub fn season_type_from_title(title: &str) -> SeasonType {
    let Some((prefix, _)) = title.split_once(':') else { return SeasonType::RegularSeason };
    let prefix = prefix.trim();
    if prefix.starts_with("Play-In") {
        SeasonType::PlayIn
    } else if prefix.contains("Tournament Final") || prefix.contains("Cup Final") || prefix.contains("Cup Championship") {
        SeasonType::IstFinal
    } else if prefix.contains("NBA") && prefix.rsplit_once(" Game ").is_some_and(|(_, n)| n.parse::<u8>().is_ok()) {
        SeasonType::Playoffs
    } else {
        SeasonType::RegularSeason
    }
}

/// `/leagues/NBA_2020_games.html` names the season the game belongs to.
fn season_from_links(page: &str) -> Option<u16> {
    let ids = html::ids_between(page, "/leagues/NBA_", "_games.html", 4);
    match ids.as_slice() {
        [one] => one.parse().ok(),
        _ => None,
    }
}

fn parse_team(page: &str, team: &str) -> Result<TeamBox, PageError> {
    let basic_id = format!("box-{team}-game-basic");
    let adv_id = format!("box-{team}-game-advanced");
    let basic = html::table_slice(page, &basic_id).ok_or_else(|| PageError::MissingTable(basic_id.clone()))?;
    let advanced = html::table_slice(page, &adv_id).ok_or_else(|| PageError::MissingTable(adv_id.clone()))?;

    let mut players: Vec<PlayerLine> = Vec::new();
    let mut totals = None;
    let mut minutes = 0;
    let mut starter = true;
    for (index, row) in html::table_rows(basic).iter().enumerate() {
        if row.is_header {
            // The "Reserves" header row ends the starters.
            starter = false;
            continue;
        }
        if row.in_footer || row.get("player") == Some("Team Totals") {
            let c = RowReader { table: &basic_id, row, label: "Team Totals" };
            totals = Some(c.counting()?);
            minutes = c.number::<u16>("mp")?.unwrap_or(0);
            continue;
        }
        let player_id = row.player_id.clone().ok_or_else(|| PageError::MissingPlayerId { table: basic_id.clone(), index })?;
        if players.iter().any(|p| p.player_id == player_id) {
            return Err(PageError::DuplicatePlayer { table: basic_id.clone(), player_id });
        }
        let c = RowReader { table: &basic_id, row, label: &player_id };
        let player_name = row.get("player").unwrap_or_default().to_string();
        let line = match row.get("reason") {
            Some(reason) => PlayerLine {
                status: PlayerStatus::from_reason(reason).ok_or_else(|| c.bad("reason", reason, "known did-not-play reason"))?,
                player_id,
                player_name,
                starter,
                seconds: 0,
                stats: Counting::default(),
                plus_minus: None,
                advanced: Advanced::default(),
            },
            None => PlayerLine {
                seconds: c.seconds("mp")?,
                stats: c.counting()?,
                plus_minus: c.number::<i16>("plus_minus")?,
                player_id,
                player_name,
                starter,
                status: PlayerStatus::Played,
                advanced: Advanced::default(),
            },
        };
        players.push(line);
    }
    let totals = totals.ok_or_else(|| PageError::MissingTotals { table: basic_id.clone() })?;

    let (mut off_rtg, mut def_rtg) = (None, None);
    for row in html::table_rows(advanced) {
        if row.is_header {
            continue;
        }
        if row.in_footer || row.get("player") == Some("Team Totals") {
            let c = RowReader { table: &adv_id, row: &row, label: "Team Totals" };
            off_rtg = c.number("off_rtg")?;
            def_rtg = c.number("def_rtg")?;
            continue;
        }
        let (Some(id), None) = (row.player_id.as_deref(), row.get("reason")) else { continue };
        let c = RowReader { table: &adv_id, row: &row, label: id };
        if let Some(p) = players.iter_mut().find(|p| p.player_id == id) {
            p.advanced = Advanced {
                ts_pct: c.number("ts_pct")?,
                efg_pct: c.number("efg_pct")?,
                usg_pct: c.number("usg_pct")?,
                off_rtg: c.number("off_rtg")?,
                def_rtg: c.number("def_rtg")?,
                bpm: c.number("bpm")?,
            };
        }
    }
    Ok(TeamBox { team: team.to_string(), players, totals, minutes, off_rtg, def_rtg, periods: Vec::new() })
}

/// Reads typed cells of one row, naming table, row and column in every error.
struct RowReader<'a> {
    table: &'a str,
    row: &'a Row,
    label: &'a str,
}

impl RowReader<'_> {
    fn bad(&self, column: &str, value: &str, expected: &'static str) -> PageError {
        PageError::BadCell { table: self.table.to_string(), row: self.label.to_string(), column: column.to_string(), value: value.to_string(), expected }
    }

    /// An optional number: an empty or absent cell is None. A leading `+` is accepted
    /// (plus/minus) and so is a leading `.` (".427").
    fn number<T: std::str::FromStr>(&self, column: &str) -> Result<Option<T>, PageError> {
        let Some(raw) = self.row.get(column) else { return Ok(None) };
        let v = raw.trim();
        if v.is_empty() {
            return Ok(None);
        }
        let v = v.strip_prefix('+').unwrap_or(v);
        let owned;
        let v = if v.starts_with('.') || v.starts_with("-.") {
            owned = v.replacen('.', "0.", 1);
            owned.as_str()
        } else {
            v
        };
        v.parse::<T>().map(Some).map_err(|_| self.bad(column, raw, std::any::type_name::<T>()))
    }

    /// A counting stat; the page must print it.
    fn count(&self, column: &str) -> Result<u16, PageError> {
        match self.number::<u16>(column)? {
            Some(v) => Ok(v),
            None => Err(self.bad(column, self.row.get(column).unwrap_or(""), "count")),
        }
    }

    fn counting(&self) -> Result<Counting, PageError> {
        Ok(Counting {
            fgm: self.count("fg")?,
            fga: self.count("fga")?,
            fg3m: self.count("fg3")?,
            fg3a: self.count("fg3a")?,
            ftm: self.count("ft")?,
            fta: self.count("fta")?,
            oreb: self.count("orb")?,
            dreb: self.count("drb")?,
            reb: self.count("trb")?,
            ast: self.count("ast")?,
            stl: self.count("stl")?,
            blk: self.count("blk")?,
            tov: self.count("tov")?,
            pf: self.count("pf")?,
            pts: self.count("pts")?,
        })
    }

    /// Minutes played as "MM:SS" (or plain minutes) to seconds.
    fn seconds(&self, column: &str) -> Result<u32, PageError> {
        let raw = self.row.get(column).unwrap_or("").trim();
        if raw.is_empty() {
            return Ok(0);
        }
        let parsed = match raw.split_once(':') {
            Some((m, s)) => match (m.parse::<u32>(), s.parse::<u32>()) {
                (Ok(m), Ok(s)) if s < 60 => Some(m * 60 + s),
                _ => None,
            },
            None => raw.parse::<u32>().ok().map(|m| m * 60),
        };
        parsed.filter(|s| *s <= 90 * 60).ok_or_else(|| self.bad(column, raw, "MM:SS playing time"))
    }
}

/// `(team code, points per period)` from the `line_score` table.
fn parse_line_score(page: &str) -> Result<Vec<(String, Vec<u16>)>, PageError> {
    let table = html::table_slice(page, "line_score").ok_or_else(|| PageError::MissingTable("line_score".into()))?;
    let mut out = Vec::new();
    for row in html::table_rows(table) {
        if row.is_header || row.in_footer {
            continue;
        }
        let Some(team) = row.get("team").map(str::to_string).filter(|t| !t.is_empty()) else { continue };
        let reader = RowReader { table: "line_score", row: &row, label: &team };
        let mut periods = Vec::new();
        for cell in row.cells().filter(|c| c.stat != "team" && c.stat != "T") {
            periods.push(reader.number::<u16>(cell.stat)?.unwrap_or(0));
        }
        out.push((team, periods));
    }
    Ok(out)
}

/// The "Inactive:" line: `<strong>TEAM</strong>` labels followed by player links, or
/// "None". Returns the entries and whether the line was found at all.
fn parse_inactives(page: &str, teams: [&str; 2]) -> (Vec<Inactive>, bool) {
    let Some(start) = memmem::find(page.as_bytes(), b"<strong>Inactive:") else { return (Vec::new(), false) };
    let Some(len) = memmem::find(&page.as_bytes()[start..], b"</div>") else { return (Vec::new(), false) };
    let Some(fragment) = page.get(start..start + len) else { return (Vec::new(), false) };
    let mut out = Vec::new();
    let mut team: Option<&str> = None;
    for item in html::inline_items(fragment) {
        match item {
            Inline::Strong(label) => team = teams.iter().copied().find(|t| *t == label),
            Inline::Link { href, text } => {
                let Some(team) = team else { continue };
                let Some(id) = href.strip_prefix("/players/").and_then(|r| r.split('/').nth(1)).and_then(|f| f.strip_suffix(".html")) else {
                    continue;
                };
                if !out.iter().any(|i: &Inactive| i.team == team && i.player_id == id) {
                    out.push(Inactive { team: team.to_string(), player_id: id.to_string(), player_name: text });
                }
            }
            Inline::Text(_) => {}
        }
    }
    (out, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn game_ids() {
        let (d, home) = parse_game_id("201710170CLE").unwrap();
        assert_eq!(d, NaiveDate::from_ymd_opt(2017, 10, 17).unwrap());
        assert_eq!(home, "CLE");
        for bad in ["", "201710170cle", "20171017CLE", "201713170CLE", "201710170CLEX", "2017101700LE"] {
            assert!(parse_game_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn titles() {
        use SeasonType::*;
        let cases = [
            ("Los Angeles Lakers at Denver Nuggets Box Score, October 24, 2023", RegularSeason),
            ("2023 NBA Finals Game 5: Miami Heat at Denver Nuggets Box Score, June 12, 2023", Playoffs),
            ("2022 NBA Eastern Conference First Round Game 1: A at B Box Score, April 16, 2022", Playoffs),
            ("Play-In Game: Minnesota Timberwolves at Los Angeles Lakers Box Score, April 11, 2023", PlayIn),
            ("In-Season Tournament Final: Indiana Pacers at Los Angeles Lakers Box Score, December 9, 2023", IstFinal),
            ("In-Season Tournament Semifinal: A at B Box Score, December 7, 2023", RegularSeason),
        ];
        for (t, want) in cases {
            assert_eq!(season_type_from_title(t), want, "{t}");
        }
    }
}
