//! The player registry: every player seen in the box scores and inactive lists, with the
//! names and teams he was seen under and when, and the ranking of players for a name as
//! another source spells it (rules in the crate doc).

use crate::aliases::AliasTable;
use crate::normalize::{normalize_name, split};
use crate::teams::canonical_team;
use chrono::NaiveDate;
use std::collections::HashMap;

/// One (player, team) stretch seen in the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlayerSighting {
    /// basketball-reference id, e.g. `claxtni01`.
    pub player_id: String,
    /// The name as the data spells it, e.g. "Nic Claxton".
    pub name: String,
    /// Team in any spelling [`canonical_team`] takes; kept as given (uppercased) otherwise.
    pub team: String,
    /// First and last game date of the stretch (swapped if given the wrong way round).
    pub first: NaiveDate,
    pub last: NaiveDate,
}

/// A player who may be the one a name means.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub player_id: String,
    /// His name as the data spells it (the latest one seen).
    pub name: String,
    /// His team at the date asked (or his latest team).
    pub team: String,
    /// 0..=1, higher is better.
    pub score: f64,
}

/// The one answer for an automatic loader: see [`PlayerRegistry::resolve`].
#[derive(Debug, Clone, PartialEq)]
pub enum Resolution {
    Resolved(Candidate),
    NotFound,
    Ambiguous(Vec<Candidate>),
}

/// Score of a player id given as the name.
pub const SCORE_ID: f64 = 1.0;
/// Base score of an exact match of the normalised name.
pub const SCORE_EXACT: f64 = 0.90;
/// Base score of a match through the alias table (first name or whole name).
pub const SCORE_ALIAS: f64 = 0.80;
/// Base score of "first initial + the rest of the name" ("N. Claxton").
pub const SCORE_INITIAL: f64 = 0.70;
/// Base score of a fuzzy match at the threshold; a perfect similarity would add
/// [`FUZZY_SPAN`].
pub const SCORE_FUZZY: f64 = 0.40;
/// Range of the fuzzy score above [`SCORE_FUZZY`], proportional to the similarity's
/// excess over [`FUZZY_THRESHOLD`].
pub const FUZZY_SPAN: f64 = 0.20;
/// Jaro-Winkler similarity of normalised names below which two names are unrelated.
/// At 0.90, one or two letters wrong in a full name pass ("giannis antetokoumpo",
/// "jaylen williams" for Jalen Williams, 0.98); unrelated players sharing a first name do
/// not ("michael jordan" against "michael porter" is 0.886), nor do Bogdan and Bojan
/// Bogdanović (0.899).
pub const FUZZY_THRESHOLD: f64 = 0.90;
/// Added for the team and date asked: the whole of it when he was on that team at that
/// date, half when he was on that team at another time. Smaller than the gap between
/// two kinds of match, so context only orders players matched the same way.
pub const CONTEXT_WEIGHT: f64 = 0.06;
/// With only a date asked: a player seen within this many days of it gets the whole
/// [`CONTEXT_WEIGHT`].
pub const AROUND_DAYS: i64 = 365;
/// [`PlayerRegistry::resolve`] answers Resolved only when the best score beats every
/// other by at least this much.
pub const TIE_MARGIN: f64 = 0.02;

#[derive(Debug, Clone)]
struct Stretch {
    team: String,
    name: String,
    first: NaiveDate,
    last: NaiveDate,
}

#[derive(Debug, Clone)]
struct Player {
    id: String,
    /// Sorted by first date.
    stretches: Vec<Stretch>,
    /// Distinct normalised names.
    names: Vec<String>,
}

impl Player {
    /// The stretch of the latest date seen.
    fn latest(&self) -> &Stretch {
        // A player exists only with at least one stretch (see `PlayerRegistry::with_aliases`).
        self.stretches.iter().max_by_key(|s| (s.last, s.first)).unwrap_or(&self.stretches[0])
    }

    /// His stretch at `date`: one containing it (the latest begun), else the last one
    /// ended before it, else the first one (all begin after it).
    fn at(&self, date: NaiveDate) -> &Stretch {
        let containing = self.stretches.iter().filter(|s| s.first <= date && date <= s.last).max_by_key(|s| s.first);
        let before = || self.stretches.iter().filter(|s| s.last < date).max_by_key(|s| s.last);
        containing.or_else(before).unwrap_or(&self.stretches[0])
    }

    fn ever_on(&self, team: &str) -> bool {
        self.stretches.iter().any(|s| s.team == team)
    }

    fn seen_around(&self, date: NaiveDate) -> bool {
        let days = chrono::Days::new(AROUND_DAYS.unsigned_abs());
        self.stretches
            .iter()
            .any(|s| s.first.checked_sub_days(days).is_none_or(|from| from <= date) && s.last.checked_add_days(days).is_none_or(|to| date <= to))
    }
}

/// Players by id and by normalised name, with their teams by date.
#[derive(Debug, Clone)]
pub struct PlayerRegistry {
    players: Vec<Player>,
    by_id: HashMap<String, usize>,
    by_name: HashMap<String, Vec<usize>>,
    aliases: AliasTable,
}

impl PlayerRegistry {
    /// A registry of these sightings with the crate's alias table.
    pub fn new(sightings: impl IntoIterator<Item = PlayerSighting>) -> Self {
        Self::with_aliases(sightings, AliasTable::builtin().clone())
    }

    /// A registry with another alias table. Sightings without a player id are skipped.
    pub fn with_aliases(sightings: impl IntoIterator<Item = PlayerSighting>, aliases: AliasTable) -> Self {
        let mut players: Vec<Player> = Vec::new();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        for s in sightings {
            let id = s.player_id.trim();
            if id.is_empty() {
                continue;
            }
            let team = canonical_team(&s.team).map_or_else(|| s.team.trim().to_uppercase(), str::to_string);
            let (first, last) = if s.first <= s.last { (s.first, s.last) } else { (s.last, s.first) };
            let index = *by_id.entry(id.to_string()).or_insert_with(|| {
                players.push(Player { id: id.to_string(), stretches: Vec::new(), names: Vec::new() });
                players.len() - 1
            });
            let player = &mut players[index];
            let normalized = normalize_name(&s.name);
            if !normalized.is_empty() && !player.names.contains(&normalized) {
                player.names.push(normalized);
            }
            player.stretches.push(Stretch { team, name: s.name.trim().to_string(), first, last });
        }
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (index, player) in players.iter_mut().enumerate() {
            player.stretches.sort_by_key(|s| (s.first, s.last));
            for name in &player.names {
                by_name.entry(name.clone()).or_default().push(index);
            }
        }
        PlayerRegistry { players, by_id, by_name, aliases }
    }

    /// Ranked candidates, best first, at most `limit`; `team` (any spelling, through
    /// canonical_team) and `date` break ties (a player who was on that team on/around
    /// that date ranks above one who was not). Scores and rules: see the crate doc.
    pub fn candidates(&self, name: &str, team: Option<&str>, date: Option<NaiveDate>, limit: usize) -> Vec<Candidate> {
        let team = team.and_then(canonical_team);
        let mut ranked: Vec<Candidate> = self
            .name_scores(name)
            .into_iter()
            .map(|(index, name_score)| {
                let player = &self.players[index];
                let context = if name_score >= SCORE_ID { 0.0 } else { context(player, team, date) };
                let stretch = date.map_or_else(|| player.latest(), |d| player.at(d));
                Candidate {
                    player_id: player.id.clone(),
                    name: player.latest().name.clone(),
                    team: stretch.team.clone(),
                    score: (name_score + CONTEXT_WEIGHT * context).min(1.0),
                }
            })
            .collect();
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.player_id.cmp(&b.player_id)));
        ranked.truncate(limit);
        ranked
    }

    /// One answer for an automatic loader. Resolved when the best candidate's score beats
    /// every other candidate's by at least [`TIE_MARGIN`]: in practice a unique match of
    /// the best kind (id, exact, alias, initial, fuzzy), or one of several matched the
    /// same way that alone fits the team and date. NotFound when nothing matches.
    /// Ambiguous otherwise, with every candidate within the margin of the best (never a
    /// guess).
    pub fn resolve(&self, name: &str, team: Option<&str>, date: Option<NaiveDate>) -> Resolution {
        let mut ranked = self.candidates(name, team, date, usize::MAX);
        let Some(best) = ranked.first().map(|c| c.score) else {
            return Resolution::NotFound;
        };
        ranked.retain(|c| best - c.score < TIE_MARGIN);
        if ranked.len() == 1 { Resolution::Resolved(ranked.remove(0)) } else { Resolution::Ambiguous(ranked) }
    }

    /// A basketball-reference id given as the name is accepted as is when known: this is
    /// his name as the data spells it (the latest one seen).
    pub fn name_of(&self, player_id: &str) -> Option<&str> {
        self.by_id.get(player_id.trim()).map(|&i| self.players[i].latest().name.as_str())
    }

    /// Number of players.
    pub fn len(&self) -> usize {
        self.players.len()
    }

    pub fn is_empty(&self) -> bool {
        self.players.is_empty()
    }

    /// The best name score of every player the name may mean.
    fn name_scores(&self, name: &str) -> HashMap<usize, f64> {
        let mut scores: HashMap<usize, f64> = HashMap::new();
        let trimmed = name.trim();
        if let Some(&index) = self.by_id.get(trimmed).or_else(|| self.by_id.get(&trimmed.to_ascii_lowercase())) {
            scores.insert(index, SCORE_ID);
            return scores;
        }
        let query = normalize_name(name);
        if query.is_empty() {
            return scores;
        }
        let mut note = |index: usize, score: f64| {
            let best = scores.entry(index).or_insert(score);
            *best = best.max(score);
        };
        for &index in self.by_name.get(&query).into_iter().flatten() {
            note(index, SCORE_EXACT);
        }
        for variant in self.aliases.variants(&query) {
            for &index in self.by_name.get(&variant).into_iter().flatten() {
                note(index, SCORE_ALIAS);
            }
        }
        let initial = as_initial(&query);
        for (index, player) in self.players.iter().enumerate() {
            for known in &player.names {
                if initial.is_some_and(|(letter, rest)| is_initial_of(letter, rest, known)) {
                    note(index, SCORE_INITIAL);
                }
                let similarity = strsim::jaro_winkler(&query, known);
                if similarity >= FUZZY_THRESHOLD {
                    note(index, SCORE_FUZZY + FUZZY_SPAN * (similarity - FUZZY_THRESHOLD) / (1.0 - FUZZY_THRESHOLD));
                }
            }
        }
        scores
    }
}

/// 0..=1: how well the player fits the team and date asked (see [`CONTEXT_WEIGHT`]).
fn context(player: &Player, team: Option<&str>, date: Option<NaiveDate>) -> f64 {
    match (team, date) {
        (Some(team), date) => {
            let stretch = date.map_or_else(|| player.latest(), |d| player.at(d));
            if stretch.team == team {
                1.0
            } else if player.ever_on(team) {
                0.5
            } else {
                0.0
            }
        }
        (None, Some(date)) => f64::from(u8::from(player.seen_around(date))),
        (None, None) => 0.0,
    }
}

/// "n claxton" -> ('n', "claxton"): a query that is a first initial and a last name.
fn as_initial(query: &str) -> Option<(char, &str)> {
    let (first, rest) = query.split_once(' ')?;
    let mut chars = first.chars();
    match (chars.next(), chars.next()) {
        (Some(letter), None) if !rest.is_empty() => Some((letter, rest)),
        _ => None,
    }
}

/// Whether `known` ("nic claxton") is a first name starting with `letter` followed by
/// `rest`; a known name that is itself only an initial and the rest is an exact match,
/// not this.
fn is_initial_of(letter: char, rest: &str, known: &str) -> bool {
    let words = split(known);
    match words.split_first() {
        Some((first, others)) if first.len() > 1 && first.starts_with(letter) => others.join(" ") == rest,
        _ => false,
    }
}
