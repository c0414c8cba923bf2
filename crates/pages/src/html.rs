//! Finding the few parts of a page that matter, and reading their cells.
//!
//! A box-score page is ~350 KB, most of it quarter tables, scripts and styles; the loader
//! needs about a fifth of it. So the page is scanned for the wanted element by its `id`
//! (a byte search, which also finds tables that the site wraps in HTML comments), and only
//! that slice is handed to a real HTML parser, which deals with entities, attribute quoting
//! and malformed markup. Byte searches only ever *locate* a section; what is inside it is
//! read by the parser, never with string tricks.
//!
//! The parser is [`html5gum`], a WHATWG-conformant HTML5 tokenizer (it passes the html5lib
//! tokenizer tests), driven through its callback emitter so that tag names, attribute values
//! and text are lent from its buffers rather than allocated one by one. No DOM is built:
//! [`table_rows`] keeps only the state a table needs (section, open row, open cell) and
//! applies the tree-construction rules that matter for these tables: a new cell or row, or
//! the end of a row, the open section or the table, closes the open cell; cells outside a
//! `<tr>` get an implied row; `<thead>` rows are skipped, and tokenizing starts at `<tbody>`.
//!
//! Why no DOM: parsing is most of the loader's time, and building a tree for each table
//! costs several times what tokenizing it does. On the table slices of the 2023-24
//! archive (86 MB), `scraper`'s `parse_fragment` (html5ever plus a DOM) takes 1.9 s,
//! html5ever's tokenizer alone 1.5 s, and html5gum's 0.47 s. The results on all 8,528
//! pages of the seven seasons are identical to a DOM-based reader's. On deliberately broken
//! markup they can differ where a tree builder would restructure the document: tables
//! nested in a table, formatting elements (`<strong>`, `<b>`...) left open across their
//! parent's end and re-opened by the tree builder, block elements inside the inactive line
//! or the `<h1>`; and a damaged `<thead>` cannot spill into the body, as the header is not
//! read at all.

use html5gum::emitters::callback::{CallbackEmitter, CallbackEvent};
use html5gum::{Emitter, ForwardingEmitter, Span, Tokenizer};
use memchr::memmem;
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::ops::Range;

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
    let mut found = Distinct::default();
    for pos in memmem::find_iter(page.as_bytes(), prefix.as_bytes()) {
        found.push_id(&page[pos + prefix.len()..], suffix, max_len);
    }
    found.values
}

/// [`ids_between`] for several prefixes that start alike, `shared + prefixes[i]`, in one scan
/// of the page instead of one per prefix (a scan of a whole page costs about a fifth as much
/// as tokenizing one of its tables). The result for each prefix is exactly what
/// `ids_between` returns.
pub fn ids_between_each<const N: usize>(page: &str, shared: &str, prefixes: [&str; N], suffix: &str, max_len: usize) -> [Vec<String>; N] {
    let mut found: [Distinct; N] = std::array::from_fn(|_| Distinct::default());
    // Where each prefix's last match ended: like `find_iter`, matches of one prefix do not
    // overlap, while occurrences of `shared` may.
    let mut next_free = [0; N];
    let finder = memmem::Finder::new(shared.as_bytes());
    let mut from = 0;
    while let Some(pos) = finder.find(&page.as_bytes()[from..]) {
        let at = from + pos;
        from = at + 1;
        let rest = &page[at + shared.len()..];
        for (i, prefix) in prefixes.iter().enumerate() {
            if at >= next_free[i] && rest.starts_with(prefix) {
                next_free[i] = at + shared.len() + prefix.len();
                found[i].push_id(&rest[prefix.len()..], suffix, max_len);
            }
        }
    }
    found.map(|f| f.values)
}

/// Distinct values in order of first appearance. The set makes each addition O(1): a
/// hostile page can hold a million distinct ids, and a search of the list per id would be
/// quadratic (minutes of CPU for one page).
#[derive(Default)]
struct Distinct {
    values: Vec<String>,
    seen: HashSet<String>,
}

impl Distinct {
    /// Adds the VALUE that `rest` starts with, if it is `VALUE<suffix>` and new.
    fn push_id(&mut self, rest: &str, suffix: &str, max_len: usize) {
        let len = rest.bytes().take(max_len + 1).take_while(u8::is_ascii_alphanumeric).count();
        if len == 0 || len > max_len || !rest[len..].starts_with(suffix) {
            return;
        }
        let value = &rest[..len];
        if !self.seen.contains(value) {
            self.seen.insert(value.to_string());
            self.values.push(value.to_string());
        }
    }
}

/// A start tag's attributes. The first occurrence of a name wins, as in the HTML spec. Names
/// and values share one buffer that is reused from tag to tag, so reading a tag allocates
/// nothing once the buffer has grown.
#[derive(Debug, Default)]
struct Attrs {
    buf: String,
    /// (name, value) ranges into `buf`.
    spans: Vec<(Range<usize>, Range<usize>)>,
}

impl Attrs {
    fn clear(&mut self) {
        self.buf.clear();
        self.spans.clear();
    }

    /// Starts attribute `name`; returns false, keeping nothing, if the tag has it already.
    fn add(&mut self, name: &str) -> bool {
        if self.get(name).is_some() {
            return false;
        }
        let start = self.buf.len();
        self.buf.push_str(name);
        let end = self.buf.len();
        self.spans.push((start..end, end..end));
        true
    }

    /// Appends to the value of the attribute added last (its value follows its name in `buf`).
    fn push_value(&mut self, value: &str) {
        self.buf.push_str(value);
        if let Some((_, v)) = self.spans.last_mut() {
            v.end = self.buf.len();
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.spans.iter().find(|(n, _)| &self.buf[n.clone()] == name).map(|(_, v)| &self.buf[v.clone()])
    }
}

/// What the readers below see of the markup: start tags with their attributes, end tags and
/// text, with entities decoded and names lower-cased by the tokenizer. Comments and doctypes
/// are dropped, as they hold no cell content.
enum Token<'t> {
    Start { name: &'t str, attrs: &'t Attrs },
    End { name: &'t str },
    Text(&'t str),
}

/// Runs the HTML tokenizer over `fragment`, handing each token to `sink`.
fn tokenize(fragment: &str, mut sink: impl FnMut(Token<'_>)) {
    let mut tag = String::new();
    let mut attrs = Attrs::default();
    let mut in_start_tag = false;
    let mut keep_value = false;
    let mut emitter = CallbackEmitter::new(|event: CallbackEvent<'_>, _: Span<()>| -> Option<Infallible> {
        match event {
            CallbackEvent::OpenStartTag { name } => {
                tag.clear();
                tag.push_str(&utf8(name));
                attrs.clear();
                in_start_tag = true;
            }
            // Attribute events also come for end tags (invalid markup); those are ignored.
            CallbackEvent::AttributeName { name } if in_start_tag => keep_value = attrs.add(&utf8(name)),
            CallbackEvent::AttributeValue { value } if in_start_tag && keep_value => attrs.push_value(&utf8(value)),
            CallbackEvent::CloseStartTag { .. } => {
                in_start_tag = false;
                sink(Token::Start { name: &tag, attrs: &attrs });
            }
            CallbackEvent::EndTag { name } => sink(Token::End { name: &utf8(name) }),
            CallbackEvent::String { value } => sink(Token::Text(&utf8(value))),
            _ => {}
        }
        None
    });
    // Switch to raw-text states after `<script>`, `<style>`, `<title>`, `<textarea>`... as
    // a tree builder would, so markup-like text inside them is not read as tags.
    emitter.naively_switch_states(true);
    // Reading from a `&str` cannot fail.
    let Ok(()) = Tokenizer::new_with_emitter(fragment, Quiet(emitter)).finish();
}

/// Bytes the tokenizer lends, as text. It was given a `&str` and decodes character
/// references to UTF-8, so this borrows; `from_utf8` is checked first because it is much
/// faster than `from_utf8_lossy` on the short, valid strings that make up a table.
fn utf8(bytes: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// An emitter with the tokenizer's parse-error checks switched off. The readers here ignore
/// parse errors, and checking every input byte for control characters and non-characters
/// (only done when the emitter asks for errors) took a fifth of the tokenizer's time.
struct Quiet<E>(E);

impl<E: Emitter> ForwardingEmitter for Quiet<E> {
    type Token = E::Token;
    fn inner(&mut self) -> &mut impl Emitter<Token = Self::Token> {
        &mut self.0
    }
    fn should_emit_errors(&mut self) -> bool {
        false
    }
}

/// Appends `text` to `out` with whitespace collapsed: runs of whitespace (`&nbsp;`
/// included) become one space, and none is kept at either end. Spaces are added lazily
/// (`pending_space`) so that text arriving in pieces, e.g. split by a `<a>`, collapses the
/// same as if it were one string. NUL characters are dropped, as an HTML tree builder does
/// with NULs in body text.
fn push_collapsed(out: &mut String, pending_space: &mut bool, text: &str) {
    for c in text.chars() {
        if c.is_whitespace() {
            *pending_space = !out.is_empty();
        } else if c != '\0' {
            if std::mem::take(pending_space) {
                out.push(' ');
            }
            out.push(c);
        }
    }
}

/// One cell of a stats table row, borrowed from its [`Row`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell<'r> {
    /// The `data-stat` attribute naming the column.
    pub stat: &'r str,
    /// The cell's text, whitespace collapsed.
    pub text: &'r str,
    /// The site's sort key attribute (`csk`), which holds ids on schedule rows.
    pub csk: Option<&'r str>,
    /// `href` of the first link inside the cell.
    pub href: Option<&'r str>,
}

/// Where a cell's parts sit in its row's buffer.
#[derive(Debug, Clone)]
struct CellSpans {
    stat: Range<usize>,
    text: Range<usize>,
    csk: Option<Range<usize>>,
    href: Option<Range<usize>>,
}

/// One parsed row of a stats table: its cells by `data-stat`. Cells without a `data-stat`
/// attribute are left out.
#[derive(Debug, Default, Clone)]
pub struct Row {
    /// All cell texts and attribute values back to back: one allocation per row, not
    /// several per cell.
    buf: String,
    /// Cells in column order.
    cells: Vec<CellSpans>,
    /// `data-append-csv` of the row header cell: the player id.
    pub player_id: Option<String>,
    /// The row is a repeated header (`class="thead"`), e.g. "Reserves".
    pub is_header: bool,
    /// The row sits in `<tfoot>` (Team Totals).
    pub in_footer: bool,
}

impl Row {
    /// The cells in column order.
    pub fn cells(&self) -> impl Iterator<Item = Cell<'_>> {
        self.cells.iter().map(|c| Cell {
            stat: &self.buf[c.stat.clone()],
            text: &self.buf[c.text.clone()],
            csk: c.csk.clone().map(|r| &self.buf[r]),
            href: c.href.clone().map(|r| &self.buf[r]),
        })
    }
    pub fn is_empty(&self) -> bool {
        self.cells.is_empty()
    }
    /// The first cell in column `stat`.
    pub fn cell(&self, stat: &str) -> Option<Cell<'_>> {
        self.cells().find(|c| c.stat == stat)
    }
    /// The text of the cell in column `stat`.
    pub fn get(&self, stat: &str) -> Option<&str> {
        self.cell(stat).map(|c| c.text)
    }

    /// Appends `value` to the buffer, returning where it went.
    fn push(&mut self, value: &str) -> Range<usize> {
        let start = self.buf.len();
        self.buf.push_str(value);
        start..self.buf.len()
    }
}

/// Parses a table slice into its rows (header rows of `<thead>` skipped).
pub fn table_rows(table: &str) -> Vec<Row> {
    // `<thead>` rows are skipped anyway, so tokenizing starts at the body: about a fifth of a
    // box-score table is its header. Not when a comment comes first, which could hide a
    // `<tbody` that is not a tag.
    let body = match memmem::find(table.as_bytes(), b"<tbody") {
        Some(at) if memmem::find(&table.as_bytes()[..at], b"<!--").is_none() => &table[at..],
        _ => table,
    };
    let mut reader = TableReader::default();
    tokenize(body, |token| reader.token(token));
    reader.finish()
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Section {
    /// `<tbody>`, or rows straight in `<table>` (which get an implied `<tbody>`).
    #[default]
    Body,
    Head,
    Foot,
}

impl Section {
    /// The element that holds the section's rows.
    fn tag(self) -> &'static str {
        match self {
            Section::Body => "tbody",
            Section::Head => "thead",
            Section::Foot => "tfoot",
        }
    }
}

/// The state of [`table_rows`] between tokens.
#[derive(Default)]
struct TableReader {
    rows: Vec<Row>,
    section: Section,
    /// The open row, and whether it is in `<thead>` (to be dropped when it closes).
    row: Option<(Row, bool)>,
    cell: Option<OpenCell>,
    /// The open cell's text so far, whitespace collapsed.
    text: String,
    pending_space: bool,
}

/// A `<td>` or `<th>` whose end has not been seen yet.
struct OpenCell {
    is_th: bool,
    /// Where its `data-stat` and `csk` went in the row; None for a cell without `data-stat`,
    /// which is read past but not kept.
    kept: Option<(Range<usize>, Option<Range<usize>>)>,
    /// The first `<a>` inside the cell has been seen, and its `href` taken.
    link_seen: bool,
    href: Option<Range<usize>>,
}

impl TableReader {
    fn token(&mut self, token: Token<'_>) {
        match token {
            Token::Start { name, attrs } => match name {
                "td" | "th" => self.open_cell(name == "th", attrs),
                "tr" => {
                    self.close_row();
                    self.open_row(attrs);
                }
                "thead" | "tbody" | "tfoot" => {
                    self.close_row();
                    self.section = match name {
                        "thead" => Section::Head,
                        "tfoot" => Section::Foot,
                        _ => Section::Body,
                    };
                }
                // These end the open section too (what follows is a new one).
                "caption" | "colgroup" | "col" => {
                    self.close_row();
                    self.section = Section::Body;
                }
                "a" => {
                    if let (Some(cell), Some((row, _))) = (&mut self.cell, &mut self.row)
                        && cell.kept.is_some()
                        && !std::mem::replace(&mut cell.link_seen, true)
                    {
                        cell.href = attrs.get("href").map(|href| row.push(href));
                    }
                }
                _ => {}
            },
            Token::End { name } => match name {
                // An end tag that does not match the open cell is ignored, as in a tree builder.
                "td" | "th" if self.cell.as_ref().is_some_and(|c| c.is_th == (name == "th")) => self.close_cell(),
                "tr" | "table" => self.close_row(),
                // Only the open section's end tag ends it; another is ignored.
                "thead" | "tbody" | "tfoot" if name == self.section.tag() => {
                    self.close_row();
                    self.section = Section::Body;
                }
                _ => {}
            },
            Token::Text(text) => {
                if self.cell.as_ref().is_some_and(|c| c.kept.is_some()) {
                    push_collapsed(&mut self.text, &mut self.pending_space, text);
                }
            }
        }
    }

    fn open_row(&mut self, attrs: &Attrs) {
        let row = Row {
            is_header: attrs.get("class").is_some_and(|c| c.split_ascii_whitespace().any(|c| c == "thead")),
            in_footer: self.section == Section::Foot,
            ..Row::default()
        };
        self.row = Some((row, self.section == Section::Head));
    }

    fn open_cell(&mut self, is_th: bool, attrs: &Attrs) {
        self.close_cell();
        // A cell outside any `<tr>` gets an implied row.
        let (row, _) = self.row.get_or_insert_with(|| (Row { in_footer: self.section == Section::Foot, ..Row::default() }, self.section == Section::Head));
        let kept = attrs.get("data-stat").map(|stat| {
            if row.cells.is_empty() {
                row.player_id = attrs.get("data-append-csv").map(str::to_string);
            }
            (row.push(stat), attrs.get("csk").map(|csk| row.push(csk)))
        });
        self.cell = Some(OpenCell { is_th, kept, link_seen: false, href: None });
    }

    fn close_cell(&mut self) {
        let Some(cell) = self.cell.take() else { return };
        if let (Some((stat, csk)), Some((row, _))) = (cell.kept, &mut self.row) {
            let text = row.push(&self.text);
            row.cells.push(CellSpans { stat, text, csk, href: cell.href });
        }
        self.text.clear();
        self.pending_space = false;
    }

    fn close_row(&mut self) {
        self.close_cell();
        if let Some((row, in_head)) = self.row.take()
            && !in_head
        {
            self.rows.push(row);
        }
    }

    fn finish(mut self) -> Vec<Row> {
        self.close_row();
        self.rows
    }
}

/// The whitespace-collapsed text of an element, as the readers here produce it (`&nbsp;`
/// is whitespace).
pub fn normalize_space(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    push_collapsed(&mut out, &mut false, s);
    out
}

/// The text of the first `<tag>...</tag>` element in the page (e.g. the `<h1>`).
pub fn first_element_text(page: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let start = memmem::find(page.as_bytes(), open.as_bytes())?;
    let end = memmem::find(&page.as_bytes()[start..], close.as_bytes())? + start + close.len();
    // None until the element opens, then its text; `done` once it has closed.
    let mut text: Option<String> = None;
    let (mut pending_space, mut done) = (false, false);
    tokenize(page.get(start..end)?, |token| match token {
        _ if done => {}
        Token::Start { name, .. } if name == tag && text.is_none() => text = Some(String::new()),
        Token::End { name } if name == tag && text.is_some() => done = true,
        Token::Text(t) => {
            if let Some(out) = &mut text {
                push_collapsed(out, &mut pending_space, t);
            }
        }
        _ => {}
    });
    text
}

/// Parsed links and labels of an inline fragment, in document order: `<strong>` texts
/// and `<a href>` links with their text. Used for the "Inactive:" line.
#[derive(Debug, PartialEq, Eq)]
pub enum Inline {
    Strong(String),
    Link { href: String, text: String },
    Text(String),
}

/// Elements that never have content or an end tag.
const VOID_ELEMENTS: [&str; 13] = ["area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"];

/// The [`Inline`] items of `fragment`. Without a DOM, the open elements are tracked on a
/// stack: an end tag closes up to its element, void elements never open.
///
/// Linear in the fragment whatever its markup, as a hostile page can hold a million
/// unclosed or unmatched tags: the text of a strong/link item is the range of one buffer of
/// all text that was read while it was open (not a copy appended to every open item), an
/// end tag of an element that is not open is dismissed by a count (not a search of the
/// stack), a search that does run pops every element it passes, and an item's text is
/// read up to [`MAX_INLINE_TEXT`] bytes.
pub fn inline_items(fragment: &str) -> Vec<Inline> {
    let mut open = OpenElements::default();
    // All text read, and the items with their range of it (end None while open).
    let mut text_buf = String::new();
    let mut items: Vec<(Inline, usize, Option<usize>)> = Vec::new();
    tokenize(fragment, |token| match token {
        Token::Start { name, attrs } => {
            // A link never contains another: a new `<a>` closes the open one, as the tree
            // builder's adoption agency does.
            if name == "a" {
                open.close("a", |i| items[i].2 = Some(text_buf.len()));
            }
            let item = match name {
                "strong" => Some(Inline::Strong(String::new())),
                "a" => {
                    let href = attrs.get("href").unwrap_or_default().to_string();
                    Some(Inline::Link { href, text: String::new() })
                }
                _ => None,
            };
            let index = item.map(|item| {
                items.push((item, text_buf.len(), None));
                items.len() - 1
            });
            if !VOID_ELEMENTS.contains(&name) {
                open.push(name, index);
            }
        }
        // Close up to the matching element; an end tag nothing matches is ignored.
        Token::End { name } => open.close(name, |i| items[i].2 = Some(text_buf.len())),
        Token::Text(text) => {
            // Text counts towards every open strong/link around it...
            text_buf.push_str(text);
            // ...and is an item of its own when not directly inside one ("None").
            if open.innermost_item().is_none() {
                let t = normalize_space(text);
                let t = t.trim_matches(|c: char| c == ',' || c.is_whitespace());
                if !t.is_empty() {
                    items.push((Inline::Text(t.to_string()), 0, Some(0)));
                }
            }
        }
    });
    items
        .into_iter()
        .map(|(item, start, end)| {
            // Labels and names are short; the cap keeps an item left open to the end of a
            // hostile fragment from being read once per such item.
            let mut end = end.unwrap_or(text_buf.len()).min(start + MAX_INLINE_TEXT);
            while !text_buf.is_char_boundary(end) {
                end -= 1;
            }
            let raw = &text_buf[start..end];
            match item {
                Inline::Strong(_) => Inline::Strong(normalize_space(raw)),
                Inline::Link { href, .. } => Inline::Link { href, text: normalize_space(raw) },
                text => text,
            }
        })
        .collect()
}

/// Most bytes of text read for one strong/link item of [`inline_items`].
const MAX_INLINE_TEXT: usize = 1024;

/// The open elements of [`inline_items`], innermost last, each with the index of the item
/// it produced (`<strong>`/`<a>`), and how many of each name are open.
#[derive(Default)]
struct OpenElements {
    stack: Vec<(String, Option<usize>)>,
    count: HashMap<String, usize>,
}

impl OpenElements {
    fn push(&mut self, name: &str, item: Option<usize>) {
        *self.count.entry(name.to_string()).or_default() += 1;
        self.stack.push((name.to_string(), item));
    }

    /// Closes the innermost open `name` and everything inside it, handing each closed
    /// item to `ended`; nothing when no `name` is open.
    fn close(&mut self, name: &str, mut ended: impl FnMut(usize)) {
        if self.count.get(name).is_none_or(|n| *n == 0) {
            return;
        }
        let Some(at) = self.stack.iter().rposition(|(n, _)| n == name) else { return };
        for (closed, item) in self.stack.drain(at..) {
            if let Some(n) = self.count.get_mut(&closed) {
                *n -= 1;
            }
            if let Some(i) = item {
                ended(i);
            }
        }
    }

    /// The item of the innermost open element, if it produced one.
    fn innermost_item(&self) -> Option<usize> {
        self.stack.last().and_then(|(_, item)| *item)
    }
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
        assert_eq!(rows[0].cell("player").unwrap().href, Some("/players/p/p1.html"));

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
    fn follows_the_tree_builders_rules_for_cells_and_rows() {
        // No end tags for cells and rows, a cell outside any row, a cell without
        // `data-stat`, entities in attributes and text, a duplicate attribute (the first
        // wins), a comment and markup inside a cell, a NUL, end tags that match no open cell
        // or section.
        let rows = table_rows(
            "<table><thead><tr><th data-stat=\"x\">head</th></thead>\
             <tr class=\"a  thead\"><th data-stat=\"player\" csk=\"A&amp;B\" csk=\"no\">Re<!-- c -->serves\
             <td>ignored<td data-stat=\"pts\"> 1&#32;<b>2</b>\t\u{0}3 </th> 4\
             <tr><td data-stat=\"v\" csk=\"\"><span><a>x</a><a href=\"/y\">y</a></span>\
             <tbody><td data-stat=\"w\">z</tfoot>y</td><tfoot><tr><td data-stat=\"t\">T</table>",
        );
        assert_eq!(rows.len(), 4);
        assert!(rows[0].is_header && !rows[0].in_footer);
        let cells: Vec<Cell<'_>> = rows[0].cells().collect();
        assert_eq!(
            cells,
            vec![Cell { stat: "player", text: "Reserves", csk: Some("A&B"), href: None }, Cell { stat: "pts", text: "1 2 3 4", csk: None, href: None },]
        );
        assert_eq!(rows[1].cell("v"), Some(Cell { stat: "v", text: "xy", csk: Some(""), href: None }));
        assert!(!rows[1].is_header && rows[1].player_id.is_none());
        assert_eq!(rows[2].get("w"), Some("zy"));
        assert!(rows[3].in_footer && rows[3].get("t") == Some("T"));
    }

    #[test]
    fn reads_rows_from_the_body_on() {
        // Header rows are skipped even when the slice is cut at `<tbody`, and not cut when
        // a comment comes first.
        let t = "<table><thead><!-- <tbody> --><tr><th data-stat=\"h\">H</th></tr></thead>\
                 <tbody><tr><td data-stat=\"b\">B</td></tr></tbody></table>";
        let rows = table_rows(t);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].get("b"), Some("B"));
        assert_eq!(rows[0].get("h"), None);
    }

    #[test]
    fn collects_team_codes_from_ids() {
        assert_eq!(ids_between(PAGE, "id=\"box-", "-game-basic\"", 3), vec!["AAA", "BBB"]);
        let links = "/b/p/1.html /b/q/2.html /b/p/1.html /b/p/b/p/3.html /b/x/4.html /b/q/toolong.html";
        let each = ids_between_each(links, "/b/", ["p/", "q/", "p/b/"], ".html", 4);
        for (prefix, ids) in ["/b/p/", "/b/q/", "/b/p/b/"].iter().zip(each) {
            assert_eq!(ids, ids_between(links, prefix, ".html", 4), "{prefix}");
        }
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
    fn an_unclosed_link_ends_at_the_next() {
        let items = inline_items("<strong>A</strong><a href=\"/1\">B <a href=\"/2\">C</a> D");
        assert_eq!(
            items,
            vec![
                Inline::Strong("A".into()),
                Inline::Link { href: "/1".into(), text: "B".into() },
                Inline::Link { href: "/2".into(), text: "C".into() },
                Inline::Text("D".into()),
            ]
        );
    }

    #[test]
    fn first_h1() {
        assert_eq!(first_element_text("<p>x</p><h1>Game &amp; more</h1>", "h1").as_deref(), Some("Game & more"));
        assert_eq!(first_element_text("<p>x</p>", "h1"), None);
        assert_eq!(first_element_text("<h1 class=\"t\">  A <span>b</span>\n c </h1><h1>d</h1>", "h1").as_deref(), Some("A b c"));
        assert_eq!(first_element_text("<h1></h1>", "h1").as_deref(), Some(""));
    }
}
