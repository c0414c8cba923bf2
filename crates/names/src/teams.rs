//! Team spellings: every way clients write one of the 30 franchises, to the platform's
//! own code (basketball-reference's: "BRK", "CHO", "PHO").
//!
//! A spelling is compared by its letters and digits only, lowercased and transliterated
//! ("L.A. Clippers", "la-clippers" and "LA Clippers" are all `laclippers`), against a
//! table of codes, cities and nicknames. "Los Angeles" and "LA" alone name two teams and
//! are no team; so is anything not in the table (no guessing at typos: a wrong team
//! would silently move a player).

use std::collections::HashMap;
use std::sync::OnceLock;

/// One franchise: its basketball-reference code, other codes in use (the NBA's own, the
/// short forms of apps and books), its city forms and its nicknames. Every city form
/// joined with every nickname is a full name; each alone is accepted too.
struct Team {
    code: &'static str,
    other_codes: &'static [&'static str],
    cities: &'static [&'static str],
    nicknames: &'static [&'static str],
}

/// The 30 current franchises. Cities shared by two teams (Los Angeles, LA) are only
/// accepted with a nickname: see [`SHARED_CITIES`].
const TEAMS: [Team; 30] = [
    Team { code: "ATL", other_codes: &[], cities: &["Atlanta"], nicknames: &["Hawks"] },
    Team { code: "BOS", other_codes: &[], cities: &["Boston"], nicknames: &["Celtics"] },
    Team { code: "BRK", other_codes: &["BKN"], cities: &["Brooklyn"], nicknames: &["Nets"] },
    Team { code: "CHO", other_codes: &["CHA"], cities: &["Charlotte"], nicknames: &["Hornets"] },
    Team { code: "CHI", other_codes: &[], cities: &["Chicago"], nicknames: &["Bulls"] },
    Team { code: "CLE", other_codes: &[], cities: &["Cleveland"], nicknames: &["Cavaliers", "Cavs"] },
    Team { code: "DAL", other_codes: &[], cities: &["Dallas"], nicknames: &["Mavericks", "Mavs"] },
    Team { code: "DEN", other_codes: &[], cities: &["Denver"], nicknames: &["Nuggets"] },
    Team { code: "DET", other_codes: &[], cities: &["Detroit"], nicknames: &["Pistons"] },
    Team { code: "GSW", other_codes: &["GS"], cities: &["Golden State"], nicknames: &["Warriors"] },
    Team { code: "HOU", other_codes: &[], cities: &["Houston"], nicknames: &["Rockets"] },
    Team { code: "IND", other_codes: &[], cities: &["Indiana"], nicknames: &["Pacers"] },
    Team { code: "LAC", other_codes: &[], cities: &["Los Angeles", "LA"], nicknames: &["Clippers"] },
    Team { code: "LAL", other_codes: &[], cities: &["Los Angeles", "LA"], nicknames: &["Lakers"] },
    Team { code: "MEM", other_codes: &[], cities: &["Memphis"], nicknames: &["Grizzlies"] },
    Team { code: "MIA", other_codes: &[], cities: &["Miami"], nicknames: &["Heat"] },
    Team { code: "MIL", other_codes: &[], cities: &["Milwaukee"], nicknames: &["Bucks"] },
    Team { code: "MIN", other_codes: &[], cities: &["Minnesota"], nicknames: &["Timberwolves", "Wolves"] },
    Team { code: "NOP", other_codes: &["NO"], cities: &["New Orleans"], nicknames: &["Pelicans"] },
    Team { code: "NYK", other_codes: &["NY"], cities: &["New York"], nicknames: &["Knicks"] },
    Team { code: "OKC", other_codes: &[], cities: &["Oklahoma City"], nicknames: &["Thunder"] },
    Team { code: "ORL", other_codes: &[], cities: &["Orlando"], nicknames: &["Magic"] },
    Team { code: "PHI", other_codes: &[], cities: &["Philadelphia"], nicknames: &["76ers", "Sixers"] },
    Team { code: "PHO", other_codes: &["PHX"], cities: &["Phoenix"], nicknames: &["Suns"] },
    Team { code: "POR", other_codes: &[], cities: &["Portland"], nicknames: &["Trail Blazers", "Blazers"] },
    Team { code: "SAC", other_codes: &[], cities: &["Sacramento"], nicknames: &["Kings"] },
    Team { code: "SAS", other_codes: &["SA"], cities: &["San Antonio"], nicknames: &["Spurs"] },
    Team { code: "TOR", other_codes: &[], cities: &["Toronto"], nicknames: &["Raptors"] },
    Team { code: "UTA", other_codes: &["UTAH"], cities: &["Utah"], nicknames: &["Jazz"] },
    Team { code: "WAS", other_codes: &["WSH"], cities: &["Washington"], nicknames: &["Wizards"] },
];

/// Cities of two franchises: never a team on their own.
const SHARED_CITIES: [&str; 2] = ["Los Angeles", "LA"];

/// basketball-reference's team code for any spelling clients use: own codes ("BRK"),
/// NBA codes ("BKN", "PHX", "CHA", "NOP", "GSW", "NYK", "SAS", "UTA", "WAS"), common short
/// forms ("GS", "NY", "SA", "NO", "UTAH", "WSH"), full names ("Brooklyn Nets",
/// "LA Clippers", "Los Angeles Clippers"), nicknames alone ("Nets") -- case and
/// punctuation insensitive. None when not a team. Covers the 30 current franchises.
pub fn canonical_team(s: &str) -> Option<&'static str> {
    // Most callers already write the code (every request names two teams): found without
    // normalising the spelling.
    if let Some(team) = TEAMS.iter().find(|t| t.code == s) {
        return Some(team.code);
    }
    spellings().get(&key(s)).copied()
}

/// The 30 codes the platform uses (basketball-reference's).
pub fn team_codes() -> impl Iterator<Item = &'static str> {
    TEAMS.iter().map(|t| t.code)
}

/// What a spelling is compared by: its ASCII letters and digits, lowercased.
fn key(s: &str) -> String {
    deunicode::deunicode(s).chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

/// Spelling key -> code, built once from [`TEAMS`].
fn spellings() -> &'static HashMap<String, &'static str> {
    static MAP: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map = HashMap::new();
        for team in &TEAMS {
            let alone = team.other_codes.iter().chain(team.nicknames).chain(team.cities.iter().filter(|c| !SHARED_CITIES.contains(c)));
            for spelling in std::iter::once(&team.code).chain(alone) {
                map.insert(key(spelling), team.code);
            }
            for city in team.cities {
                for nickname in team.nicknames {
                    map.insert(key(&format!("{city} {nickname}")), team.code);
                }
            }
        }
        map
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_codes_are_themselves_in_any_case() {
        for code in team_codes() {
            assert_eq!(canonical_team(code), Some(code));
            assert_eq!(canonical_team(&code.to_lowercase()), Some(code));
        }
        assert_eq!(team_codes().count(), 30);
    }

    #[test]
    fn nba_codes_and_short_forms() {
        for (given, code) in [
            ("BKN", "BRK"),
            ("PHX", "PHO"),
            ("CHA", "CHO"),
            ("NOP", "NOP"),
            ("GSW", "GSW"),
            ("NYK", "NYK"),
            ("SAS", "SAS"),
            ("UTA", "UTA"),
            ("WAS", "WAS"),
            ("GS", "GSW"),
            ("NY", "NYK"),
            ("SA", "SAS"),
            ("NO", "NOP"),
            ("UTAH", "UTA"),
            ("WSH", "WAS"),
            ("bkn", "BRK"),
            (" phx ", "PHO"),
        ] {
            assert_eq!(canonical_team(given), Some(code), "{given}");
        }
    }

    #[test]
    fn full_names_nicknames_and_cities() {
        for (given, code) in [
            ("Brooklyn Nets", "BRK"),
            ("Nets", "BRK"),
            ("Brooklyn", "BRK"),
            ("LA Clippers", "LAC"),
            ("L.A. Clippers", "LAC"),
            ("Los Angeles Clippers", "LAC"),
            ("los angeles lakers", "LAL"),
            ("Lakers", "LAL"),
            ("Phoenix Suns", "PHO"),
            ("Charlotte Hornets", "CHO"),
            ("Portland Trail Blazers", "POR"),
            ("Portland Trailblazers", "POR"),
            ("Blazers", "POR"),
            ("Philadelphia 76ers", "PHI"),
            ("Sixers", "PHI"),
            ("Golden State Warriors", "GSW"),
            ("Golden State", "GSW"),
            ("Oklahoma City Thunder", "OKC"),
            ("New Orleans Pelicans", "NOP"),
            ("Minnesota Timberwolves", "MIN"),
            ("Cavs", "CLE"),
            ("Utah Jazz", "UTA"),
            ("Washington Wizards", "WAS"),
        ] {
            assert_eq!(canonical_team(given), Some(code), "{given}");
        }
    }

    #[test]
    fn every_franchise_by_its_full_name() {
        let mut codes: Vec<&str> = TEAMS.iter().map(|t| canonical_team(&format!("{} {}", t.cities[0], t.nicknames[0])).unwrap()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), 30);
    }

    #[test]
    fn not_a_team() {
        for given in ["", "  ", "Los Angeles", "LA", "L.A.", "XYZ", "Seattle SuperSonics", "NJN", "Brooklyn Nest", "Nets!!x"] {
            assert_eq!(canonical_team(given), None, "{given:?}");
        }
    }

    #[test]
    fn no_spelling_names_two_teams() {
        // Building the map would silently let the later team win; count instead.
        let mut seen: HashMap<String, &str> = HashMap::new();
        for team in &TEAMS {
            let mut own: Vec<String> =
                std::iter::once(team.code).chain(team.other_codes.iter().copied()).chain(team.nicknames.iter().copied()).map(key).collect();
            own.extend(team.cities.iter().filter(|c| !SHARED_CITIES.contains(c)).map(|c| key(c)));
            for spelling in own {
                if let Some(other) = seen.insert(spelling.clone(), team.code) {
                    assert_eq!(other, team.code, "{spelling} names {other} and {}", team.code);
                }
            }
        }
    }
}
