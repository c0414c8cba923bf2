//! The read side of sportsbook prop lines: an index over `prop_lines` that answers "what
//! was a player's points line for his game on this date, as of this time", for one book or
//! as the consensus of every book. The server uses it when a request gives no line, the
//! slate stores what it used, and grading reads the closing line.
//!
//! A book's line at a time is its latest snapshot at or before that time. The consensus is
//! the median of the books' lines at that time (with an even number of books, the mean of
//! the two middle ones), with the median of each side's decimal price, and the time of the
//! newest snapshot it used. Only pre-game snapshots are stored (the loader rejects one
//! taken at or after tip-off), so the closing line is the consensus at tip-off.

use crate::rows::PropLineRow;
use crate::{Store, StoreError};
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::{BTreeMap, HashMap};

/// `line_source` of the median across books; any other non-empty source is a book's key.
pub const CONSENSUS: &str = "consensus";

/// A line as an answer uses it.
#[derive(Debug, Clone, PartialEq)]
pub struct MarketLine {
    /// [`CONSENSUS`] or the book's key.
    pub source: String,
    pub line: f32,
    /// The newest snapshot the line was taken from.
    pub time: DateTime<Utc>,
    /// Decimal odds of the two sides.
    pub over_price: f64,
    pub under_price: f64,
    /// How many books it was taken from (1 for a book's own line).
    pub books: u32,
}

/// One book's snapshot.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    line: f32,
    over_price: f64,
    under_price: f64,
}

/// A player's game: each book's snapshots by time, and the game's tip-off.
#[derive(Debug, Clone, Default)]
struct PlayerGame {
    books: BTreeMap<String, BTreeMap<DateTime<Utc>, Snapshot>>,
    tipoff: Option<DateTime<Utc>>,
}

/// Prop lines indexed by game date and player, then by book and snapshot time. Keyed by
/// date first so that a lookup (on every Predict without a line) borrows the player id.
#[derive(Debug, Clone, Default)]
pub struct PropLines {
    by_game: HashMap<NaiveDate, HashMap<String, PlayerGame>>,
}

impl PropLines {
    pub fn new(rows: impl IntoIterator<Item = PropLineRow>) -> Self {
        let mut by_game: HashMap<NaiveDate, HashMap<String, PlayerGame>> = HashMap::new();
        for r in rows {
            let game = by_game.entry(r.game_date).or_default().entry(r.player_id).or_default();
            game.tipoff = Some(game.tipoff.map_or(r.tipoff, |t| t.min(r.tipoff)));
            let snapshot = Snapshot { line: r.line, over_price: r.over_price, under_price: r.under_price };
            game.books.entry(r.book).or_default().insert(r.snapshot_time, snapshot);
        }
        PropLines { by_game }
    }

    /// Every stored line (`prop_lines FINAL`: a snapshot loaded twice counts once).
    pub async fn load(store: &Store) -> Result<Self, StoreError> {
        let rows: Vec<PropLineRow> = store.select("read prop_lines", "SELECT ?fields FROM prop_lines FINAL").await?;
        Ok(PropLines::new(rows))
    }

    /// The lines of games on `from..=to`.
    pub async fn load_dates(store: &Store, from: NaiveDate, to: NaiveDate) -> Result<Self, StoreError> {
        let sql = "SELECT ?fields FROM prop_lines FINAL WHERE game_date BETWEEN toDate(?) AND toDate(?)";
        let (f, t) = (from.to_string(), to.to_string());
        let rows: Vec<PropLineRow> = store.retry("read prop_lines", || store.client().query(sql).bind(&f).bind(&t).fetch_all()).await?;
        Ok(PropLines::new(rows))
    }

    /// Number of (game date, player) pairs with at least one line.
    pub fn len(&self) -> usize {
        self.by_game.values().map(HashMap::len).sum()
    }

    fn game(&self, date: NaiveDate, player: &str) -> Option<&PlayerGame> {
        self.by_game.get(&date)?.get(player)
    }

    pub fn is_empty(&self) -> bool {
        self.by_game.is_empty()
    }

    /// `book`'s latest line at or before `as_of`.
    pub fn book_at(&self, date: NaiveDate, player: &str, book: &str, as_of: DateTime<Utc>) -> Option<MarketLine> {
        let (time, s) = self.game(date, player)?.books.get(book)?.range(..=as_of).next_back()?;
        Some(MarketLine { source: book.to_string(), line: s.line, time: *time, over_price: s.over_price, under_price: s.under_price, books: 1 })
    }

    /// The median of every book's latest line at or before `as_of`.
    pub fn consensus_at(&self, date: NaiveDate, player: &str, as_of: DateTime<Utc>) -> Option<MarketLine> {
        let game = self.game(date, player)?;
        let latest: Vec<(&DateTime<Utc>, &Snapshot)> = game.books.values().filter_map(|s| s.range(..=as_of).next_back()).collect();
        let time = *latest.iter().map(|(t, _)| *t).max()?;
        let median_of = |f: fn(&Snapshot) -> f64| median(latest.iter().map(|(_, s)| f(s)).collect());
        Some(MarketLine {
            source: CONSENSUS.to_string(),
            line: median_of(|s| f64::from(s.line)) as f32,
            time,
            over_price: median_of(|s| s.over_price),
            under_price: median_of(|s| s.under_price),
            books: latest.len() as u32,
        })
    }

    /// The consensus when the first book posted its line.
    pub fn opening(&self, date: NaiveDate, player: &str) -> Option<MarketLine> {
        let game = self.game(date, player)?;
        let first = game.books.values().filter_map(|s| s.keys().next()).min()?;
        self.consensus_at(date, player, *first)
    }

    /// The consensus at tip-off: every stored snapshot is before it.
    pub fn closing(&self, date: NaiveDate, player: &str) -> Option<MarketLine> {
        let tipoff = self.game(date, player)?.tipoff?;
        self.consensus_at(date, player, tipoff)
    }
}

/// The median of a non-empty list (the mean of the two middle values for an even count).
fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn date() -> NaiveDate {
        NaiveDate::from_ymd_opt(2023, 10, 27).unwrap_or_default()
    }

    fn at(hour: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2023, 10, 27, hour, min, 0).single().unwrap_or_default()
    }

    fn row(time: DateTime<Utc>, book: &str, line: f32, over: f64, under: f64) -> PropLineRow {
        PropLineRow {
            snapshot_time: time,
            game_date: date(),
            game_id: "202310270MIA".into(),
            book: book.into(),
            player_id: "butleji01".into(),
            player_name: "Jimmy Butler".into(),
            team: "MIA".into(),
            line,
            over_price: over,
            under_price: under,
            tipoff: at(23, 30),
            source_file: "lines/test.csv".into(),
            version: 1,
        }
    }

    /// Three books on Butler: DraftKings opens 22.5 at 14:00 and moves to 23.5 at 20:00;
    /// FanDuel posts 23.5 at 15:00; BetMGM posts 21.5 at 16:00 and 22.5 at 22:00.
    fn lines() -> PropLines {
        PropLines::new([
            row(at(14, 0), "draftkings", 22.5, 1.909, 1.909),
            row(at(20, 0), "draftkings", 23.5, 1.87, 1.95),
            row(at(15, 0), "fanduel", 23.5, 1.83, 2.0),
            row(at(16, 0), "betmgm", 21.5, 1.91, 1.91),
            row(at(22, 0), "betmgm", 22.5, 2.0, 1.83),
        ])
    }

    #[test]
    fn a_book_line_is_its_latest_snapshot_at_or_before_the_time() {
        let l = lines();
        assert_eq!(l.book_at(date(), "butleji01", "draftkings", at(13, 59)), None, "not posted yet");
        let dk = l.book_at(date(), "butleji01", "draftkings", at(20, 0)).unwrap();
        assert_eq!((dk.line, dk.time, dk.over_price, dk.books), (23.5, at(20, 0), 1.87, 1));
        assert_eq!(l.book_at(date(), "butleji01", "draftkings", at(19, 59)).unwrap().line, 22.5);
        assert_eq!(l.book_at(date(), "butleji01", "caesars", at(23, 0)), None);
    }

    #[test]
    fn the_consensus_is_the_median_of_the_books_posted_by_then() {
        let l = lines();
        // 14:30: DraftKings alone.
        let c = l.consensus_at(date(), "butleji01", at(14, 30)).unwrap();
        assert_eq!((c.line, c.books, c.time, c.source.as_str()), (22.5, 1, at(14, 0), CONSENSUS));
        // 15:30: 22.5 and 23.5, an even count: their mean.
        assert_eq!(l.consensus_at(date(), "butleji01", at(15, 30)).unwrap().line, 23.0);
        // 16:30: 21.5, 22.5, 23.5 -> 22.5; over 1.91, 1.909, 1.83 -> 1.909; under 1.91,
        // 1.909, 2.0 -> 1.91.
        let c = l.consensus_at(date(), "butleji01", at(16, 30)).unwrap();
        assert_eq!((c.line, c.books, c.over_price, c.under_price, c.time), (22.5, 3, 1.909, 1.91, at(16, 0)));
        // 21:00: DraftKings moved to 23.5: 21.5, 23.5, 23.5 -> 23.5.
        assert_eq!(l.consensus_at(date(), "butleji01", at(21, 0)).unwrap().line, 23.5);
        assert_eq!(l.consensus_at(date(), "butleji01", at(13, 0)), None);
        assert_eq!(l.consensus_at(date(), "jamesle01", at(21, 0)), None);
    }

    #[test]
    fn opening_and_closing_lines() {
        let l = lines();
        let open = l.opening(date(), "butleji01").unwrap();
        assert_eq!((open.line, open.time), (22.5, at(14, 0)));
        // At tip-off (23:30): 22.5 (BetMGM moved), 23.5, 23.5 -> 23.5, newest 22:00.
        let close = l.closing(date(), "butleji01").unwrap();
        assert_eq!((close.line, close.time, close.books), (23.5, at(22, 0), 3));
        assert_eq!(l.len(), 1);
    }
}
