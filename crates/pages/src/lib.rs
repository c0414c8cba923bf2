//! Parsers for the scraped basketball-reference pages: box scores (`scores/<game_id>.html`)
//! and monthly schedules (`standings/NBA_<season>_games-<month>.html`).
//!
//! Entry point: [`parse_page`], which tells the two kinds apart by file name, checks the
//! bytes are UTF-8 HTML and returns a typed [`Page`] or a [`PageError`] saying what is wrong.
//! [`parsed`] holds the typed results, [`checks`] the data-quality rules run on a parsed
//! page, and [`archive`] reads the files pages arrive in (season archives, folders, single
//! pages) as the loader and the fuzz targets do.

pub mod archive;
pub mod boxscore;
pub mod checks;
pub mod error;
pub mod html;
pub mod parsed;
pub mod schedule;
pub mod season;

pub use checks::{QualityIssue, Severity};
pub use error::PageError;
pub use parsed::*;

/// What a file holds, from its name alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageKind {
    /// A box score; the game id.
    BoxScore(String),
    /// A monthly schedule; the file name.
    Schedule(String),
}

impl PageKind {
    /// Classifies a path (archive member, file in a folder, or bare name) by its file name:
    /// `<game_id>.html` or `NBA_<season>_games-<month>.html`.
    pub fn of_path(path: &str) -> Option<PageKind> {
        let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
        if schedule::parse_schedule_name(name).is_some() {
            return Some(PageKind::Schedule(name.to_string()));
        }
        let stem = name.strip_suffix(".html")?;
        boxscore::parse_game_id(stem).ok().map(|_| PageKind::BoxScore(stem.to_string()))
    }

    /// The name the ledger knows a page by, the same whichever way it arrived:
    /// `scores/<game_id>.html` or `standings/<file>`.
    pub fn ledger_name(&self) -> String {
        match self {
            PageKind::BoxScore(id) => format!("scores/{id}.html"),
            PageKind::Schedule(name) => format!("standings/{name}"),
        }
    }
}

/// Parses one page's bytes; a box score dated after today (UTC) is refused, see
/// [`boxscore::check_not_future`].
pub fn parse_page(kind: &PageKind, bytes: &[u8]) -> Result<Page, PageError> {
    let page = parse_page_undated(kind, bytes)?;
    if let Page::BoxScore(game) = &page {
        boxscore::check_not_future(game, chrono::Utc::now().date_naive())?;
    }
    Ok(page)
}

/// [`parse_page`] without the check against today's date.
pub fn parse_page_undated(kind: &PageKind, bytes: &[u8]) -> Result<Page, PageError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(PageError::Empty);
    }
    let text = std::str::from_utf8(bytes).map_err(|e| PageError::NotUtf8 { offset: e.valid_up_to() })?;
    match kind {
        PageKind::BoxScore(id) => boxscore::parse_box_score(id, text).map(|b| Page::BoxScore(Box::new(b))),
        PageKind::Schedule(name) => schedule::parse_schedule(name, text).map(Page::Schedule),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_paths() {
        assert_eq!(PageKind::of_path("scores/201710170CLE.html"), Some(PageKind::BoxScore("201710170CLE".into())));
        assert_eq!(PageKind::of_path("/x/y/201710170CLE.html"), Some(PageKind::BoxScore("201710170CLE".into())));
        assert_eq!(PageKind::of_path("standings/NBA_2018_games-april.html").map(|k| k.ledger_name()), Some("standings/NBA_2018_games-april.html".into()));
        assert_eq!(PageKind::of_path("scores/readme.txt"), None);
        assert_eq!(PageKind::of_path("scores/20171017.html"), None);
    }

    #[test]
    fn rejects_empty_and_non_utf8() {
        let kind = PageKind::BoxScore("201710170CLE".into());
        assert_eq!(parse_page(&kind, b"  \n"), Err(PageError::Empty));
        assert_eq!(parse_page(&kind, b"<html>\xff</html>"), Err(PageError::NotUtf8 { offset: 6 }));
        assert_eq!(parse_page(&kind, b"just some text"), Err(PageError::NotHtml));
    }
}
