//! The registry on real players of the data (`tests/fixtures/sightings.csv`), asked with
//! names as injury reports, books and apps spell them.

use crate::{Candidate, PlayerRegistry, PlayerSighting, Resolution};
use chrono::NaiveDate;

const SIGHTINGS: &str = include_str!("../tests/fixtures/sightings.csv");

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_else(|e| panic!("date {s:?}: {e}"))
}

fn sightings() -> Vec<PlayerSighting> {
    SIGHTINGS
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("player_id,"))
        .map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 5, "{line}");
            PlayerSighting { player_id: f[0].into(), name: f[1].into(), team: f[2].into(), first: date(f[3]), last: date(f[4]) }
        })
        .collect()
}

fn registry() -> PlayerRegistry {
    PlayerRegistry::new(sightings())
}

/// The resolved candidate, or a panic saying what came back instead.
fn resolved(r: &PlayerRegistry, name: &str, team: Option<&str>, on: Option<&str>) -> Candidate {
    match r.resolve(name, team, on.map(date)) {
        Resolution::Resolved(c) => c,
        other => panic!("{name:?} ({team:?}, {on:?}): {other:?}"),
    }
}

fn resolved_id(r: &PlayerRegistry, name: &str, team: Option<&str>, on: Option<&str>) -> String {
    resolved(r, name, team, on).player_id
}

fn ambiguous_ids(r: &PlayerRegistry, name: &str, team: Option<&str>, on: Option<&str>) -> Vec<String> {
    match r.resolve(name, team, on.map(date)) {
        Resolution::Ambiguous(cs) => {
            let mut ids: Vec<String> = cs.into_iter().map(|c| c.player_id).collect();
            ids.sort();
            ids
        }
        other => panic!("{name:?} ({team:?}, {on:?}) should be ambiguous: {other:?}"),
    }
}

#[test]
fn the_fixture_holds_the_players() {
    let r = registry();
    assert_eq!(r.len(), 54);
    assert!(!r.is_empty());
    assert!(PlayerRegistry::new(Vec::new()).is_empty());
}

#[test]
fn accents_dropped() {
    let r = registry();
    for (name, id) in [
        ("Luka Doncic", "doncilu01"),
        ("Nikola Jokic", "jokicni01"),
        ("Bogdan Bogdanovic", "bogdabo01"),
        ("Bojan Bogdanovic", "bogdabo02"),
        ("Jonas Valanciunas", "valanjo01"),
        ("Dennis Schroder", "schrode01"),
        ("Jusuf Nurkic", "nurkiju01"),
        ("Omer Asik", "asikom01"),
        ("Juancho Hernangomez", "hernaju01"),
        ("Willy Hernangomez", "hernawi01"),
        // The accented spelling itself, of course.
        ("Luka Dončić", "doncilu01"),
    ] {
        let c = resolved(&r, name, None, None);
        assert_eq!(c.player_id, id, "{name}");
        assert_eq!(c.score, 0.90, "{name}: an exact match, no context");
    }
    // Bogdan and Bojan differ by two letters: not even a fuzzy candidate of each other.
    let cs = r.candidates("Bojan Bogdanovic", None, None, 5);
    assert_eq!(cs.iter().map(|c| c.player_id.as_str()).collect::<Vec<_>>(), ["bogdabo02"]);
}

#[test]
fn suffixes_and_injury_report_order() {
    let r = registry();
    for (name, id) in [
        ("Jaren Jackson Jr", "jacksja02"),
        ("Jaren Jackson", "jacksja02"),
        ("Jackson Jr., Jaren", "jacksja02"),
        ("Gary Trent Jr.", "trentga02"),
        ("Gary Trent", "trentga02"),
        ("Kelly Oubre Jr.", "oubreke01"),
        ("Kelly Oubre", "oubreke01"),
        ("Lonnie Walker", "walkelo01"),
        ("Gary Payton II", "paytoga02"),
        ("Nick Smith", "smithni01"),
        ("Jabari Smith Jr", "smithja05"),
        ("Porter Jr., Otto", "porteot01"),
        ("Michael Porter Jr.", "portemi01"),
    ] {
        assert_eq!(resolved_id(&r, name, None, None), id, "{name}");
    }
}

#[test]
fn nicknames_through_the_alias_table() {
    let r = registry();
    for (name, id) in [
        ("Nicolas Claxton", "claxtni01"),
        ("Herb Jones", "joneshe01"),
        ("Cameron Thomas", "thomaca02"),
        ("Cam Johnson", "johnsca02"),
        ("Moe Wagner", "wagnemo01"),
        ("Nic Batum", "batumni01"),
        ("Mohamed Bamba", "bambamo01"),
        ("Sviatoslav Mykhailiuk", "mykhasv01"),
        ("Patrick Mills", "millspa02"),
        ("Ishmael Smith", "smithis01"),
        ("Nazreon Reid", "reidna01"),
        ("Nah'Shon Hyland", "hylanbo01"),
        ("Enes Kanter", "kanteen01"),
        ("Kenyon Martin Jr.", "martike04"),
        ("Juan Hernangomez", "hernaju01"),
        ("Guillermo Hernangomez", "hernawi01"),
        ("Ogugua Anunoby", "anunoog01"),
    ] {
        let c = resolved(&r, name, None, None);
        assert_eq!(c.player_id, id, "{name}");
        assert_eq!(c.score, 0.80, "{name}: an alias match, no context");
    }
    // The names books print as basketball-reference does are exact.
    for (name, id) in [("Nic Claxton", "claxtni01"), ("Cam Thomas", "thomaca02"), ("Herbert Jones", "joneshe01"), ("Bones Hyland", "hylanbo01")] {
        let c = resolved(&r, name, None, None);
        assert_eq!((c.player_id.as_str(), c.name.as_str(), c.score), (id, name, 0.90));
    }
    // Brothers: "Steph" is Stephen through the alias table, never Seth; "S. Curry" alone
    // is a tie the team breaks.
    let steph = resolved(&r, "Steph Curry", None, None);
    assert_eq!((steph.player_id.as_str(), steph.score), ("curryst01", 0.80));
    assert_eq!(ambiguous_ids(&r, "S. Curry", None, None), ["curryse01", "curryst01"]);
    assert_eq!(resolved_id(&r, "S. Curry", Some("CHA"), Some("2024-02-20")), "curryse01");
    assert_eq!(resolved_id(&r, "S. Curry", Some("GS"), Some("2024-02-20")), "curryst01");
    // Moe Wagner's brother on the same team is no candidate of the alias.
    let cs = r.candidates("Moe Wagner", Some("ORL"), Some(date("2023-11-01")), 5);
    assert_eq!(cs[0].player_id, "wagnemo01");
    assert!(cs.iter().all(|c| c.player_id != "wagnefr01" || c.score < 0.70), "{cs:?}");
}

#[test]
fn initials() {
    let r = registry();
    for (name, id) in [
        ("PJ Washington", "washipj01"),
        ("P.J. Washington", "washipj01"),
        ("P. J. Washington", "washipj01"),
        ("PJ Tucker", "tuckepj01"),
        ("OG Anunoby", "anunoog01"),
        ("D'Angelo Russell", "russeda01"),
        ("DAngelo Russell", "russeda01"),
        ("KJ Martin", "martike04"),
    ] {
        assert_eq!(resolved_id(&r, name, None, None), id, "{name}");
    }
    // First initial and last name: a unique one resolves, at the initial score.
    for (name, id) in [("N. Claxton", "claxtni01"), ("D. Russell", "russeda01"), ("G. Antetokounmpo", "antetgi01"), ("T. Antetokounmpo", "antetth01")] {
        let c = resolved(&r, name, None, None);
        assert_eq!(c.player_id, id, "{name}");
        assert_eq!(c.score, 0.70, "{name}");
    }
}

#[test]
fn a_traded_player_is_on_the_team_of_the_date() {
    let r = registry();
    // Gary Trent Jr.: Portland until the 2021 deadline, then Toronto.
    assert_eq!(resolved(&r, "Gary Trent Jr.", None, Some("2021-03-20")).team, "POR");
    assert_eq!(resolved(&r, "Gary Trent Jr.", None, Some("2021-04-10")).team, "TOR");
    // OG Anunoby: traded to New York on 2023-12-30; between two games, the last team.
    assert_eq!(resolved(&r, "OG Anunoby", None, Some("2023-12-20")).team, "TOR");
    assert_eq!(resolved(&r, "OG Anunoby", None, Some("2024-01-05")).team, "NYK");
    // Summer after his last game: his latest team; no date: his latest team too.
    assert_eq!(resolved(&r, "Bojan Bogdanovic", None, Some("2024-07-01")).team, "NYK");
    assert_eq!(resolved(&r, "Bojan Bogdanovic", None, None).team, "NYK");
    // Before his first game here: his first team.
    assert_eq!(resolved(&r, "Bojan Bogdanovic", None, Some("2016-01-01")).team, "IND");

    // The team asked, in any spelling, fits him at that date: the whole context.
    let on_team = resolved(&r, "Gary Trent Jr", Some("Toronto Raptors"), Some("2023-10-25"));
    assert_eq!((on_team.team.as_str(), on_team.score), ("TOR", 0.96));
    // His former team: half; a team he never played for: none. Still him: the only Gary Trent.
    assert_eq!(resolved(&r, "Gary Trent Jr", Some("Blazers"), Some("2023-10-25")).score, 0.93);
    assert_eq!(resolved(&r, "Gary Trent Jr", Some("BKN"), Some("2023-10-25")).score, 0.90);
}

#[test]
fn team_and_date_break_ties() {
    let r = registry();
    // Mikal (Phoenix, then Brooklyn) and Miles (Charlotte) Bridges.
    assert_eq!(resolved_id(&r, "M. Bridges", Some("BKN"), Some("2023-11-01")), "bridgmi01");
    assert_eq!(resolved_id(&r, "M. Bridges", Some("PHX"), Some("2020-01-15")), "bridgmi01");
    assert_eq!(resolved_id(&r, "M. Bridges", Some("CHA"), Some("2023-11-01")), "bridgmi02");
    assert_eq!(resolved_id(&r, "M Bridges", Some("Charlotte Hornets"), None), "bridgmi02");
    // Three Holidays; Jrue and Justin are the two J.
    assert_eq!(resolved_id(&r, "J. Holiday", Some("BOS"), Some("2023-11-01")), "holidjr01");
    assert_eq!(resolved_id(&r, "J. Holiday", Some("Nuggets"), Some("2023-11-01")), "holidju01");
    assert_eq!(resolved_id(&r, "A. Holiday", None, None), "holidaa01");
    // Markieff, Marcus and Monte Morris, each on his team of the day.
    assert_eq!(resolved_id(&r, "M. Morris", Some("DAL"), Some("2024-01-10")), "morrima02");
    assert_eq!(resolved_id(&r, "M. Morris", Some("LA Clippers"), Some("2022-12-01")), "morrima03");
    assert_eq!(resolved_id(&r, "M. Morris", Some("DEN"), Some("2021-01-10")), "morrimo01");
    // Only a date, around which all three played: still a tie.
    assert_eq!(ambiguous_ids(&r, "M. Morris", None, Some("2023-01-01")), ["morrima02", "morrima03", "morrimo01"]);
}

#[test]
fn a_true_tie_is_ambiguous_with_both() {
    let r = registry();
    // Jalen and Jaylin Williams: both Oklahoma City, both seen on 2023-10-30.
    assert_eq!(ambiguous_ids(&r, "J. Williams", Some("OKC"), Some("2023-10-30")), ["willija06", "willija07"]);
    let Resolution::Ambiguous(tied) = r.resolve("J. Williams", Some("OKC"), Some(date("2023-10-30"))) else { unreachable!() };
    assert_eq!(tied[0].score, tied[1].score);
    assert!(tied.iter().all(|c| c.team == "OKC"));
    // Without context, the Bridges are a tie too; and so is the team neither played for.
    assert_eq!(ambiguous_ids(&r, "M. Bridges", None, None), ["bridgmi01", "bridgmi02"]);
    assert_eq!(ambiguous_ids(&r, "M. Bridges", Some("BOS"), Some("2023-11-01")), ["bridgmi01", "bridgmi02"]);
    // Spelled in full, each is his own.
    assert_eq!(resolved_id(&r, "Jalen Williams", Some("OKC"), Some("2023-10-30")), "willija06");
    assert_eq!(resolved_id(&r, "Jaylin Williams", Some("OKC"), Some("2023-10-30")), "willija07");
}

#[test]
fn typos_are_fuzzy_matches() {
    let r = registry();
    for (name, id) in [("Giannis Antetokoumpo", "antetgi01"), ("Luka Doncik", "doncilu01"), ("Jusuf Nurkich", "nurkiju01"), ("Nikola Jokicc", "jokicni01")] {
        let c = resolved(&r, name, None, None);
        assert_eq!(c.player_id, id, "{name}");
        assert!((0.40..0.60).contains(&c.score), "{name}: {}", c.score);
    }
}

#[test]
fn unknown_names_are_not_found() {
    let r = registry();
    for name in ["Michael Jordan", "Zzz Qqq", "", "   ", ".,'-", "Larry Bird", "zzzzzzz01"] {
        assert_eq!(r.resolve(name, None, None), Resolution::NotFound, "{name:?}");
        assert!(r.candidates(name, Some("BRK"), Some(date("2023-11-01")), 10).is_empty(), "{name:?}");
    }
    assert_eq!(PlayerRegistry::new(Vec::new()).resolve("Nic Claxton", None, None), Resolution::NotFound);
}

#[test]
fn an_unknown_team_breaks_no_tie_and_rejects_no_one() {
    let r = registry();
    // The date still counts (he played around it): as if no team were given.
    let unknown_team = resolved(&r, "Nic Claxton", Some("Seattle SuperSonics"), Some("2023-11-01"));
    assert_eq!(unknown_team, resolved(&r, "Nic Claxton", None, Some("2023-11-01")));
    assert_eq!(unknown_team.score, 0.96);
    assert_eq!(ambiguous_ids(&r, "M. Bridges", Some("XYZ"), None), ["bridgmi01", "bridgmi02"]);
}

#[test]
fn a_player_id_is_accepted_as_the_name() {
    let r = registry();
    let c = resolved(&r, "claxtni01", Some("LAL"), Some("2023-11-01"));
    assert_eq!(c, Candidate { player_id: "claxtni01".into(), name: "Nic Claxton".into(), team: "BRK".into(), score: 1.0 });
    assert_eq!(resolved_id(&r, " DONCILU01 ", None, None), "doncilu01");
    assert_eq!(r.name_of("doncilu01"), Some("Luka Dončić"));
    assert_eq!(r.name_of("kanteen01"), Some("Enes Freedom"));
    assert_eq!(r.name_of("jordami01"), None);
}

#[test]
fn candidates_are_ranked_and_limited() {
    let r = registry();
    let all = r.candidates("M. Morris", Some("DAL"), Some(date("2024-01-10")), 10);
    assert_eq!(all.iter().map(|c| c.player_id.as_str()).collect::<Vec<_>>(), ["morrima02", "morrima03", "morrimo01"]);
    assert!(all.windows(2).all(|w| w[0].score >= w[1].score), "{all:?}");
    assert!(all.iter().all(|c| (0.0..=1.0).contains(&c.score)));
    assert_eq!(all[0].team, "DAL");
    assert_eq!(all[2].team, "DET", "Monte Morris's team on that date");
    assert_eq!(r.candidates("M. Morris", Some("DAL"), Some(date("2024-01-10")), 2), all[..2]);
    assert!(r.candidates("M. Morris", None, None, 0).is_empty());
}

#[test]
fn sightings_are_taken_as_they_come() {
    let d = date;
    let r = PlayerRegistry::new([
        PlayerSighting { player_id: "claxtni01".into(), name: "Nic Claxton".into(), team: "BKN".into(), first: d("2024-03-19"), last: d("2023-10-25") },
        PlayerSighting { player_id: " ".into(), name: "Nobody".into(), team: "BRK".into(), first: d("2023-10-25"), last: d("2023-10-25") },
        PlayerSighting { player_id: "kempsh01".into(), name: "Shawn Kemp".into(), team: "sea".into(), first: d("1990-01-01"), last: d("1997-04-20") },
    ]);
    assert_eq!(r.len(), 2, "a sighting without an id is skipped");
    // The team in any spelling is stored as our code; dates the wrong way round still cover the season.
    let c = resolved(&r, "Nic Claxton", Some("BRK"), Some("2023-12-01"));
    assert_eq!((c.team.as_str(), c.score), ("BRK", 0.96));
    // A team outside the 30 is kept as given, uppercased.
    assert_eq!(resolved(&r, "Shawn Kemp", None, None).team, "SEA");
    assert_eq!(r.resolve("Nobody", None, None), Resolution::NotFound);
}

#[test]
fn only_a_date_prefers_the_player_seen_around_it() {
    // Two players of one name, a decade apart (made up: the data has no such pair).
    let d = date;
    let r = PlayerRegistry::new([
        PlayerSighting { player_id: "samena01".into(), name: "Sam Name".into(), team: "SAC".into(), first: d("2008-10-28"), last: d("2010-04-14") },
        PlayerSighting { player_id: "samena02".into(), name: "Sam Name Jr.".into(), team: "PHO".into(), first: d("2022-10-19"), last: d("2024-03-20") },
    ]);
    assert_eq!(ambiguous_ids(&r, "Sam Name", None, None), ["samena01", "samena02"]);
    assert_eq!(resolved_id(&r, "Sam Name", None, Some("2024-11-01")), "samena02");
    assert_eq!(resolved_id(&r, "Sam Name", None, Some("2009-01-01")), "samena01");
    assert_eq!(ambiguous_ids(&r, "Sam Name", None, Some("2016-01-01")), ["samena01", "samena02"], "nobody around: no tie broken");
    assert_eq!(resolved_id(&r, "Sam Name", Some("Suns"), None), "samena02");
}
