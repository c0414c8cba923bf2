//! Player and team names as other sources write them, resolved to the platform's
//! basketball-reference ids ("claxtni01") and team codes ("BRK", "PHO", "CHO").
//!
//! Injury reports, sportsbooks and apps say "Nic Claxton", "Jaren Jackson Jr.", "Luka
//! Doncic", "BKN", "PHX", "Brooklyn Nets". The injury-report loader, the server's
//! `ResolvePlayer` and anything else taking a name from outside go through this crate, so
//! one name means one player everywhere.
//!
//! # Teams
//! [`canonical_team`] takes any code (ours, the NBA's, the short forms of apps), full name,
//! city or nickname of the 30 current franchises, compared by letters and digits only,
//! and answers our code; "LA" and "Los Angeles" alone, and anything unknown, are None.
//!
//! # Normalisation
//! [`normalize_name`]: ASCII transliteration (`deunicode`, which also covers letters that
//! Unicode decomposition leaves alone, such as the Turkish "ı" of "Ömer Aşık"), lowercase,
//! "Last, First" turned around, apostrophes and periods deleted, other punctuation a word
//! break, Jr./Sr./II/III/IV dropped, runs of single letters joined ("P. J." = "PJ").
//!
//! # Matching and scores
//! [`PlayerRegistry`] holds every player seen in the box scores and inactive lists, with
//! each name and team he was seen under and when. For a name it scores each player by
//! the best way the name matches one of his names, in this order:
//!
//! | match | score |
//! | --- | --- |
//! | the name is his basketball-reference id | 1.0 |
//! | exact normalised name | 0.90 |
//! | through the alias table (`data/player_aliases.csv`): a nickname for the first name ("Nic" / "Nicolas", "Herb" / "Herbert", "Moe" / "Moritz"), or a whole other name ("Enes Kanter" / "Enes Freedom") | 0.80 |
//! | first initial and the rest of the name ("N. Claxton") | 0.70 |
//! | fuzzy: Jaro-Winkler similarity of the normalised names at least 0.90 (one or two letters wrong) | 0.40 up to 0.60 |
//!
//! The team and date asked add up to 0.06: all of it when his team at that date is the
//! team asked (his team at a date: the stretch containing it, else his latest before
//! it), half when he played for that team at another time; with only a date, all of it
//! when he was seen within a year of it; with only a team, his latest team counts. The
//! context is smaller than the gap between two kinds of match, so it only orders players
//! matched the same way: "M. Bridges" of BKN in 2023-24 is Mikal, of CHA Miles. An
//! unknown team spelling counts as no team.
//!
//! [`PlayerRegistry::resolve`] answers `Resolved` only when the best score beats every
//! other by at least 0.02 ([`TIE_MARGIN`](registry::TIE_MARGIN)); when two players are
//! matched the same way and fit the team and date equally, it answers `Ambiguous` with
//! all of them, never a guess; `NotFound` when nothing matches.

pub mod aliases;
mod load;
mod normalize;
pub mod registry;
mod teams;

pub use aliases::{AliasError, AliasTable};
pub use normalize::normalize_name;
pub use registry::{Candidate, PlayerRegistry, PlayerSighting, Resolution};
pub use teams::{canonical_team, team_codes};

#[cfg(test)]
mod tests;
