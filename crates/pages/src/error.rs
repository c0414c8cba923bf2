//! Why a page could not be parsed. Every variant says what is wrong and where, so the
//! loader can record it in the ledger and set the page aside.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PageError {
    #[error("the file is empty")]
    Empty,
    #[error("not valid UTF-8 (first bad byte at offset {offset})")]
    NotUtf8 { offset: usize },
    #[error("not an HTML page (no <html> or <table> element found)")]
    NotHtml,
    #[error("file name {0:?} is neither a box-score page (scores/YYYYMMDD0TTT.html) nor a schedule page (standings/NBA_YYYY_games-month.html)")]
    UnknownPageName(String),
    #[error("game id {0:?} is not YYYYMMDD0 + a three-letter team code with a real date")]
    BadGameId(String),
    #[error("page is for game {found}, but the file is named for {expected}")]
    WrongGame { expected: String, found: String },
    #[error("missing table {0:?} (truncated page, or not a box score)")]
    MissingTable(String),
    #[error("expected the tables of 2 teams, found {} (truncated page, or not a box score)", few(.found))]
    TeamCount { found: Vec<String> },
    #[error("home team {home} (from the game id) has no box-score table; tables found for {found:?}")]
    HomeTeamMissing { home: String, found: Vec<String> },
    #[error("table {table:?}: {row}: column {column:?} holds {value:?}, not a {expected}")]
    BadCell { table: String, row: String, column: String, value: String, expected: &'static str },
    #[error("table {table:?}: row {index} has no player id (data-append-csv)")]
    MissingPlayerId { table: String, index: usize },
    #[error("table {table:?} has no Team Totals row")]
    MissingTotals { table: String },
    #[error("table {table:?}: player {player_id} is listed twice")]
    DuplicatePlayer { table: String, player_id: String },
    #[error("line score has no row for team {0}")]
    MissingLineScore(String),
    #[error("page has no <h1> title")]
    MissingTitle,
    #[error("{team} {row}: {what} (impossible in a real game: a corrupt or forged page)")]
    Impossible { team: String, row: String, what: String },
    #[error("game {game_id} is dated {date}, after today ({today}): no box score can exist yet")]
    FutureGame { game_id: String, date: chrono::NaiveDate, today: chrono::NaiveDate },
    #[error("schedule row {index}: {what}")]
    BadScheduleRow { index: usize, what: String },
}

/// A list in a message, cut after a few: a hostile page can name thousands of teams, and
/// the message goes to the ledger and the summary.
fn few(items: &[String]) -> String {
    const SHOWN: usize = 4;
    match items.len() {
        n if n <= SHOWN => format!("{items:?}"),
        n => format!("{:?} and {} more", &items[..SHOWN], n - SHOWN),
    }
}
