//! Name normalisation: the one form every spelling of a player's name is compared in.
//!
//! Sources disagree on accents ("Luka Dončić" / "Luka Doncic"), punctuation ("P.J." /
//! "PJ", "D'Angelo" / "DAngelo"), generational suffixes ("Jaren Jackson Jr." / "Jaren
//! Jackson") and order (the NBA's injury report writes "Jackson Jr., Jaren"). None of
//! these tell two players apart in practice, so all are removed before comparing.

/// Generational suffixes, dropped wherever they stand after the first word.
const SUFFIXES: [&str; 5] = ["jr", "sr", "ii", "iii", "iv"];

/// Lowercase, diacritics removed, punctuation removed, suffixes (jr, sr, ii, iii, iv)
/// dropped, whitespace collapsed: "Luka Dončić" -> "luka doncic", "Jaren Jackson Jr." ->
/// "jaren jackson", "P.J. Washington" -> "pj washington", "D'Angelo Russell" -> "dangelo russell".
///
/// In detail, in order:
/// 1. Every character is transliterated to ASCII (`deunicode`: "ć" -> "c", "ş" -> "s",
///    "ı" -> "i", the typographic apostrophe -> "'").
/// 2. "Last, First" becomes "First Last" when the name has exactly one comma and what
///    follows it is not only a suffix ("Jackson Jr., Jaren" -> "Jaren Jackson Jr.";
///    "Jaren Jackson, Jr." keeps its order).
/// 3. Apostrophes and periods are deleted ("D'Angelo" -> "dangelo", "P.J." -> "pj"); any
///    other character that is not a letter or digit separates words ("Toscano-Anderson"
///    -> "toscano anderson").
/// 4. Suffix words after the first word are dropped.
/// 5. Runs of one-letter words are joined ("P. J. Washington" -> "pj washington"), so
///    spaced and unspaced initials agree; a lone initial stays ("N. Claxton" -> "n claxton").
pub fn normalize_name(s: &str) -> String {
    let ascii = deunicode::deunicode(s);
    let ordered = first_name_first(&ascii);
    let words = drop_suffixes(words(&ordered));
    join_initials(words).join(" ")
}

/// The words of a name as `normalize_name` returns them, for callers that compare parts.
pub(crate) fn split(normalized: &str) -> Vec<&str> {
    normalized.split(' ').filter(|w| !w.is_empty()).collect()
}

/// Step 2: "Last, First" -> "First Last"; commas otherwise become spaces.
fn first_name_first(s: &str) -> String {
    let mut parts = s.split(',');
    let (Some(last), Some(first), None) = (parts.next(), parts.next(), parts.next()) else {
        return s.replace(',', " ");
    };
    let after = words(first);
    if after.is_empty() || after.iter().all(|w| SUFFIXES.contains(&w.as_str())) {
        return format!("{last} {first}");
    }
    format!("{first} {last}")
}

/// Step 3: lowercase ASCII words.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
        } else if matches!(c, '\'' | '.' | '`') {
            // Deleted, not a separator: "D'Angelo" is one word, "P.J." one pair of initials.
        } else if !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// Step 4: suffixes after the first word removed ("J.R. Smith" keeps its "jr").
fn drop_suffixes(words: Vec<String>) -> Vec<String> {
    words.into_iter().enumerate().filter(|(i, w)| *i == 0 || !SUFFIXES.contains(&w.as_str())).map(|(_, w)| w).collect()
}

/// Step 5: consecutive one-letter words joined into one.
fn join_initials(words: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(words.len());
    let mut previous_was_initial = false;
    for word in words {
        let is_initial = word.len() == 1;
        match out.last_mut() {
            Some(last) if is_initial && previous_was_initial => last.push_str(&word),
            _ => out.push(word),
        }
        previous_was_initial = is_initial;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_examples() {
        assert_eq!(normalize_name("Luka Dončić"), "luka doncic");
        assert_eq!(normalize_name("Jaren Jackson Jr."), "jaren jackson");
        assert_eq!(normalize_name("P.J. Washington"), "pj washington");
        assert_eq!(normalize_name("D'Angelo Russell"), "dangelo russell");
    }

    #[test]
    fn accents_of_real_names_are_transliterated() {
        assert_eq!(normalize_name("Jonas Valančiūnas"), "jonas valanciunas");
        assert_eq!(normalize_name("Dennis Schröder"), "dennis schroder");
        assert_eq!(normalize_name("Alperen Şengün"), "alperen sengun");
        // Turkish dotless ı has no Unicode decomposition (NFD would keep it): the reason
        // for deunicode. Both are names of the data, as basketball-reference spells them.
        assert_eq!(normalize_name("Ömer Aşık"), "omer asik");
        assert_eq!(normalize_name("Ersan İlyasova"), "ersan ilyasova");
        assert_eq!(normalize_name("Vlatko Čančar"), "vlatko cancar");
    }

    #[test]
    fn suffixes_are_dropped_but_not_a_first_word() {
        assert_eq!(normalize_name("Lonnie Walker IV"), "lonnie walker");
        assert_eq!(normalize_name("Marvin Bagley III"), "marvin bagley");
        assert_eq!(normalize_name("Gary Payton II"), "gary payton");
        assert_eq!(normalize_name("Xavier Tillman Sr."), "xavier tillman");
        assert_eq!(normalize_name("J.R. Smith"), "jr smith");
        assert_eq!(normalize_name("J. R. Smith"), "jr smith");
    }

    #[test]
    fn initials_agree_spaced_or_not() {
        assert_eq!(normalize_name("P. J. Washington"), "pj washington");
        assert_eq!(normalize_name("PJ Washington"), "pj washington");
        assert_eq!(normalize_name("OG Anunoby"), "og anunoby");
        assert_eq!(normalize_name("N. Claxton"), "n claxton");
    }

    #[test]
    fn injury_report_order_is_turned_around() {
        assert_eq!(normalize_name("Jackson Jr., Jaren"), "jaren jackson");
        assert_eq!(normalize_name("Jaren Jackson, Jr."), "jaren jackson");
        assert_eq!(normalize_name("Claxton, Nic"), "nic claxton");
        assert_eq!(normalize_name("Toscano-Anderson, Juan"), "juan toscano anderson");
    }

    #[test]
    fn case_space_and_stray_punctuation_do_not_matter() {
        assert_eq!(normalize_name("  NIKOLA   jokić "), "nikola jokic");
        assert_eq!(normalize_name("Nah\u{2019}Shon Hyland"), "nahshon hyland");
        assert_eq!(normalize_name("Kelly Oubre Jr"), normalize_name("Kelly Oubre Jr."));
    }

    #[test]
    fn nothing_left_is_an_empty_string() {
        assert_eq!(normalize_name(""), "");
        assert_eq!(normalize_name(" .,'- "), "");
        assert_eq!(normalize_name(","), "");
        assert_eq!(split(""), Vec::<&str>::new());
    }
}
