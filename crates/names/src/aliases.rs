//! The alias table: first names that stand for each other ("nicolas" / "nic") and whole
//! names a player is also known by ("enes kanter" / "enes freedom").
//!
//! Kept as data (`data/player_aliases.csv`, compiled in) so adding a spelling a source
//! uses is a one-line change reviewed as data, not code. Each line holds two spellings;
//! both are normalised with [`normalize_name`] and matched both ways. Aliases are not
//! chained: "moe" stands for "moritz" and for "maurice", but "moritz" does not stand for
//! "maurice".

use crate::normalize::{normalize_name, split};
use std::collections::HashMap;
use std::sync::OnceLock;

/// The table shipped with the crate.
const BUILTIN: &str = include_str!("../data/player_aliases.csv");

/// A line of an alias table that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("alias table line {line}: {reason} (line: {text:?})")]
pub struct AliasError {
    /// 1-based line number.
    pub line: usize,
    pub text: String,
    pub reason: &'static str,
}

/// First-name and whole-name aliases, normalised.
#[derive(Debug, Clone, Default)]
pub struct AliasTable {
    first: HashMap<String, Vec<String>>,
    whole: HashMap<String, Vec<String>>,
}

impl AliasTable {
    /// The table of `data/player_aliases.csv`.
    pub fn builtin() -> &'static AliasTable {
        static TABLE: OnceLock<AliasTable> = OnceLock::new();
        // The file is part of the source; the test `the_builtin_table_parses` keeps it valid.
        TABLE.get_or_init(|| AliasTable::parse(BUILTIN).unwrap_or_else(|e| panic!("crates/names/data/player_aliases.csv: {e}")))
    }

    /// Parses an alias table: one `a,b` pair a line; blank lines and lines starting with
    /// `#` are skipped. Both sides one word (after normalisation) make a first-name alias,
    /// both several words a whole-name alias; anything else is an error naming the line.
    pub fn parse(text: &str) -> Result<AliasTable, AliasError> {
        let mut table = AliasTable::default();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let error = |reason| AliasError { line: index + 1, text: raw.to_string(), reason };
            let mut fields = line.split(',');
            let (Some(a), Some(b), None) = (fields.next(), fields.next(), fields.next()) else {
                return Err(error("expected two names separated by one comma"));
            };
            let (a, b) = (normalize_name(a), normalize_name(b));
            if a.is_empty() || b.is_empty() {
                return Err(error("a name is empty"));
            }
            if a == b {
                return Err(error("both names are the same once normalised"));
            }
            let map = match (split(&a).len(), split(&b).len()) {
                (1, 1) => &mut table.first,
                (x, y) if x > 1 && y > 1 => &mut table.whole,
                _ => return Err(error("one side is a first name and the other a full name")),
            };
            map.entry(a.clone()).or_default().push(b.clone());
            map.entry(b).or_default().push(a);
        }
        Ok(table)
    }

    /// First names that stand for this normalised first name.
    pub fn first_names(&self, first: &str) -> &[String] {
        self.first.get(first).map_or(&[], Vec::as_slice)
    }

    /// Whole names this normalised name is also known by.
    pub fn whole_names(&self, name: &str) -> &[String] {
        self.whole.get(name).map_or(&[], Vec::as_slice)
    }

    /// The other spellings of a normalised name: its whole-name aliases, then the name
    /// with its first word replaced by each first-name alias; each once, the name itself
    /// not included.
    pub fn variants(&self, name: &str) -> Vec<String> {
        let mut out: Vec<String> = self.whole_names(name).to_vec();
        let words = split(name);
        if let [first, rest @ ..] = words.as_slice()
            && !rest.is_empty()
        {
            let rest = rest.join(" ");
            for variant in self.first_names(first).iter().map(|alias| format!("{alias} {rest}")) {
                if !out.contains(&variant) {
                    out.push(variant);
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_table_parses() {
        let table = AliasTable::parse(BUILTIN).unwrap();
        assert!(table.first.len() >= 20, "{} first names", table.first.len());
        assert!(!table.whole.is_empty());
    }

    #[test]
    fn aliases_go_both_ways_and_do_not_chain() {
        let table = AliasTable::builtin();
        assert_eq!(table.first_names("nicolas"), ["nic"]);
        assert_eq!(table.first_names("nic"), ["nicolas"]);
        assert_eq!(table.first_names("herb"), ["herbert"]);
        let mut moe = table.first_names("moe").to_vec();
        moe.sort();
        assert_eq!(moe, ["maurice", "moritz"]);
        assert_eq!(table.first_names("moritz"), ["moe"]);
        assert!(table.first_names("luka").is_empty());
    }

    #[test]
    fn variants_of_a_name() {
        let table = AliasTable::builtin();
        assert_eq!(table.variants("nic claxton"), ["nicolas claxton"]);
        assert_eq!(table.variants("nahshon hyland"), ["bones hyland"]);
        assert_eq!(table.variants("enes kanter"), ["enes freedom"]);
        assert!(table.variants("nic").is_empty(), "a first name alone has no last name to keep");
        assert!(table.variants("luka doncic").is_empty());
    }

    #[test]
    fn bad_lines_are_errors_naming_the_line() {
        let cases = [
            ("# ok\nnic\n", 2, "expected two names separated by one comma"),
            ("a,b,c", 1, "expected two names separated by one comma"),
            ("nic,", 1, "a name is empty"),
            ("Nic,nic.", 1, "both names are the same once normalised"),
            ("\n\nnic,nicolas claxton", 3, "one side is a first name and the other a full name"),
        ];
        for (text, line, reason) in cases {
            let err = AliasTable::parse(text).unwrap_err();
            assert_eq!((err.line, err.reason), (line, reason), "{text:?}");
            assert!(err.to_string().contains(&format!("line {line}")), "{err}");
        }
    }

    #[test]
    fn comments_and_blank_lines_are_skipped() {
        let table = AliasTable::parse("# header, with a comma\n\n  herbert , herb \n").unwrap();
        assert_eq!(table.first_names("herbert"), ["herb"]);
    }
}
