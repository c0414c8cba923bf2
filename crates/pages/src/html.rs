//! Finding the few parts of a page that matter, and reading their cells.
//!
//! A box-score page is ~350 KB, most of it quarter tables, scripts and styles; the loader
//! needs about a tenth of it. So the page is scanned for the wanted element by its `id`
//! (a byte search, which also finds tables that the site wraps in HTML comments), and only
//! that slice is handed to a real HTML parser (`scraper`, html5ever underneath), which deals
//! with entities, attribute quoting and malformed markup. This keeps parsing well above the
//! speed of a whole-document DOM while never reading HTML with string tricks.

use memchr::memmem;
use scraper::{ElementRef, Html, Selector};
use std::sync::LazyLock;

/// The `<table ...>...</table>` slice whose opening tag carries `id="<id>"`, searching
/// inside HTML comments too. The first occurrence wins (pages that hold a commented and a
/// rendered copy hold the same data).
pub fn table_slice<'a>(page: &'a str, id: &str) -> Option<&'a str> {
    let needle = format!("id=\"{id}\"");
    let finder = memmem::Finder::new(needle.as_bytes());
    let bytes = page.as_bytes();
    let mut from = 0;
    while let Some(pos) = finder.find(&bytes[from..]) {
        let at = from + pos;
        from = at + needle.len();
        // The id must sit in a `<table` opening tag: no `>` between `<table` and it.
        let Some(open) = memmem::rfind(&bytes[..at], b"<table") else { continue };
        if bytes[open..at].contains(&b'>') {
            continue;
        }
        let end = memmem::find(&bytes[at..], b"</table>").map(|e| at + e + "</table>".len())?;
        return page.get(open..end);
    }
    None
}

/// Every distinct value of `prefix<VALUE>suffix` in the page, in order of appearance,
/// where VALUE is made of ASCII letters and digits (team codes in table ids).
pub fn ids_between(page: &str, prefix: &str, suffix: &str, max_len: usize) -> Vec<String> {
    let mut found: Vec<String> = Vec::new();
    for pos in memmem::find_iter(page.as_bytes(), prefix.as_bytes()) {
        let rest = &page[pos + prefix.len()..];
        let len = rest.bytes().take(max_len + 1).take_while(u8::is_ascii_alphanumeric).count();
        if len == 0 || len > max_len || !rest[len..].starts_with(suffix) {
            continue;
        }
        let value = &rest[..len];
        if !found.iter().any(|f| f == value) {
            found.push(value.to_string());
        }
    }
    found
}

/// One cell of a stats table row.
#[derive(Debug, Default, Clone)]
pub struct Cell {
    /// The `data-stat` attribute naming the column.
    pub stat: String,
    pub text: String,
    /// The site's sort key attribute (`csk`), which holds ids on schedule rows.
    pub csk: Option<String>,
    /// `href` of the first link inside the cell.
    pub href: Option<String>,
}

/// One parsed row of a stats table: its cells by `data-stat`.
#[derive(Debug, Default, Clone)]
pub struct Row {
    /// Cells in column order.
    pub cells: Vec<Cell>,
    /// `data-append-csv` of the row header cell: the player id.
    pub player_id: Option<String>,
    /// The row is a repeated header (`class="thead"`), e.g. "Reserves".
    pub is_header: bool,
    /// The row sits in `<tfoot>` (Team Totals).
    pub in_footer: bool,
}

impl Row {
    pub fn cell(&self, stat: &str) -> Option<&Cell> {
        self.cells.iter().find(|c| c.stat == stat)
    }
    /// The text of the cell in column `stat`.
    pub fn get(&self, stat: &str) -> Option<&str> {
        self.cell(stat).map(|c| c.text.as_str())
    }
}

static TR: LazyLock<Selector> = LazyLock::new(|| selector("tr"));
static CELL: LazyLock<Selector> = LazyLock::new(|| selector("th, td"));
static LINK: LazyLock<Selector> = LazyLock::new(|| selector("a"));

fn selector(css: &str) -> Selector {
    // The selectors are literals in this file; a failure is a programming error caught by tests.
    Selector::parse(css).unwrap_or_else(|e| panic!("invalid built-in selector {css:?}: {e}"))
}

/// Parses a table slice into its rows (header rows of `<thead>` skipped).
pub fn table_rows(table: &str) -> Vec<Row> {
    let doc = Html::parse_fragment(table);
    let mut rows = Vec::new();
    for tr in doc.select(&TR) {
        let section = ancestor_section(tr);
        if section == Some("thead") {
            continue;
        }
        let mut row = Row {
            is_header: tr.value().classes().any(|c| c == "thead"),
            in_footer: section == Some("tfoot"),
            ..Row::default()
        };
        for cell in tr.select(&CELL) {
            let el = cell.value();
            let Some(stat) = el.attr("data-stat") else { continue };
            if row.cells.is_empty() {
                row.player_id = el.attr("data-append-csv").map(str::to_string);
            }
            row.cells.push(Cell {
                stat: stat.to_string(),
                text: text_of(cell),
                csk: el.attr("csk").map(str::to_string),
                href: cell.select(&LINK).next().and_then(|a| a.value().attr("href")).map(str::to_string),
            });
        }
        rows.push(row);
    }
    rows
}

fn ancestor_section(el: ElementRef<'_>) -> Option<&'static str> {
    for node in el.ancestors() {
        if let Some(e) = node.value().as_element() {
            match e.name() {
                "thead" => return Some("thead"),
                "tfoot" => return Some("tfoot"),
                "tbody" => return Some("tbody"),
                "table" => return None,
                _ => {}
            }
        }
    }
    None
}

/// The element's text with whitespace collapsed and `&nbsp;` turned into a space.
pub fn text_of(el: ElementRef<'_>) -> String {
    let mut out = String::new();
    for t in el.text() {
        out.push_str(t);
    }
    normalize_space(&out)
}

pub fn normalize_space(s: &str) -> String {
    s.replace('\u{a0}', " ").split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text of the first `<tag>...</tag>` element in the page (e.g. the `<h1>`).
pub fn first_element_text(page: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let start = memmem::find(page.as_bytes(), open.as_bytes())?;
    let end = memmem::find(&page.as_bytes()[start..], close.as_bytes())? + start + close.len();
    let doc = Html::parse_fragment(page.get(start..end)?);
    let sel = selector(tag);
    doc.select(&sel).next().map(text_of)
}

/// Parsed links and labels of an inline fragment, in document order: `<strong>` texts
/// and `<a href>` links with their text. Used for the "Inactive:" line.
#[derive(Debug, PartialEq, Eq)]
pub enum Inline {
    Strong(String),
    Link { href: String, text: String },
    Text(String),
}

pub fn inline_items(fragment: &str) -> Vec<Inline> {
    let doc = Html::parse_fragment(fragment);
    let mut items = Vec::new();
    for node in doc.root_element().descendants() {
        if let Some(el) = ElementRef::wrap(node) {
            match el.value().name() {
                "strong" => items.push(Inline::Strong(text_of(el))),
                "a" => items.push(Inline::Link {
                    href: el.value().attr("href").unwrap_or_default().to_string(),
                    text: text_of(el),
                }),
                _ => {}
            }
        } else if let Some(text) = node.value().as_text() {
            // Loose text directly inside a block (e.g. "None"), not inside strong/a.
            let parent_is_inline = node
                .parent()
                .and_then(|p| p.value().as_element().map(|e| matches!(e.name(), "strong" | "a")))
                .unwrap_or(false);
            let t = normalize_space(text);
            let t = t.trim_matches(|c: char| c == ',' || c.is_whitespace());
            if !parent_is_inline && !t.is_empty() {
                items.push(Inline::Text(t.to_string()));
            }
        }
    }
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<div id="all_box-AAA-game-basic"><!--
<table class="x" id="box-AAA-game-basic"><tbody><tr><th data-stat="player" data-append-csv="p1"><a href="/players/p/p1.html">P&nbsp;One</a></th><td data-stat="pts">3</td></tr></tbody></table>
--></div><table id="box-BBB-game-basic"><thead><tr><th data-stat="player">Starters</th></tr></thead>
<tbody><tr class="thead"><th data-stat="player">Reserves</th></tr></tbody>
<tfoot><tr><th data-stat="player">Team Totals</th><td data-stat="pts">7</td></tr></tfoot></table>"#;

    #[test]
    fn finds_tables_inside_and_outside_comments() {
        let a = table_slice(PAGE, "box-AAA-game-basic").unwrap();
        assert!(a.starts_with("<table") && a.ends_with("</table>"));
        let rows = table_rows(a);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].player_id.as_deref(), Some("p1"));
        assert_eq!(rows[0].get("player"), Some("P One"));
        assert_eq!(rows[0].get("pts"), Some("3"));
        assert_eq!(rows[0].cell("player").unwrap().href.as_deref(), Some("/players/p/p1.html"));

        let b = table_rows(table_slice(PAGE, "box-BBB-game-basic").unwrap());
        assert_eq!(b.len(), 2, "thead rows skipped, tbody header row and tfoot kept");
        assert!(b[0].is_header && !b[0].in_footer);
        assert!(b[1].in_footer);
        assert_eq!(b[1].get("pts"), Some("7"));
        assert!(table_slice(PAGE, "box-CCC-game-basic").is_none());
        // `all_box-...` wrappers are not the table.
        assert!(table_slice(PAGE, "all_box-AAA-game-basic").is_none());
    }

    #[test]
    fn collects_team_codes_from_ids() {
        assert_eq!(ids_between(PAGE, "id=\"box-", "-game-basic\"", 3), vec!["AAA", "BBB"]);
    }

    #[test]
    fn reads_inline_items() {
        let items = inline_items(
            "<div><strong>Inactive:&nbsp;</strong><span><strong>LAL</strong>&nbsp;</span><a href=\"/players/c/c1.html\">C One</a>,&nbsp;<span><strong>DEN</strong></span> None </div>",
        );
        assert_eq!(
            items,
            vec![
                Inline::Strong("Inactive:".into()),
                Inline::Strong("LAL".into()),
                Inline::Link { href: "/players/c/c1.html".into(), text: "C One".into() },
                Inline::Strong("DEN".into()),
                Inline::Text("None".into()),
            ]
        );
    }

    #[test]
    fn first_h1() {
        assert_eq!(first_element_text("<p>x</p><h1>Game &amp; more</h1>", "h1").as_deref(), Some("Game & more"));
        assert_eq!(first_element_text("<p>x</p>", "h1"), None);
    }
}
