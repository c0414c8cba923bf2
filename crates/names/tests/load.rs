//! `PlayerRegistry::load` against a real ClickHouse holding the sample's box scores and
//! inactive lists, written the way the loader writes them (`GameRows::from_box_score`).

// The helpers below are test code too: a failure is a panic with the error.
#![allow(clippy::unwrap_used)]

use chrono::NaiveDate;
use nba_names::{PlayerRegistry, Resolution};
use nba_pages::{Page, PageKind, archive};
use nba_store::rows::GameRows;
use nba_store::{Store, StoreConfig};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

/// Every box score of the sample archive, as the rows the loader inserts.
fn sample_rows() -> GameRows {
    let inputs = archive::expand(&[nba_testkit::sample_archive()]);
    assert!(inputs.errors.is_empty(), "{:?}", inputs.errors);
    let mut all = GameRows::default();
    archive::read_all(&inputs, &Arc::new(AtomicU64::new(0)), |item| {
        let Some(kind @ PageKind::BoxScore(_)) = PageKind::of_path(&item.path) else {
            return true;
        };
        let bytes = item.content.unwrap_or_else(|e| panic!("{}: {e}", item.path));
        let Ok(Page::BoxScore(game)) = nba_pages::parse_page_undated(&kind, &bytes) else {
            panic!("{} does not parse as a box score", item.path);
        };
        let rows = GameRows::from_box_score(&game, 1);
        all.players.extend(rows.players);
        all.inactives.extend(rows.inactives);
        true
    });
    all
}

async fn store_with_sample() -> Store {
    let mut config = StoreConfig::new(nba_testkit::clickhouse_url(), nba_testkit::unique_database("names load"));
    config.attempts = 2;
    let store = Store::new(config).unwrap();
    store.recreate().await.unwrap();
    let rows = sample_rows();
    assert!(rows.players.len() > 1000 && !rows.inactives.is_empty(), "{} players, {} inactives", rows.players.len(), rows.inactives.len());
    store.insert(&rows.players).await.unwrap();
    store.insert(&rows.inactives).await.unwrap();
    // The same rows again (a page loaded twice before a merge): FINAL reads them once.
    store.insert(&rows.inactives).await.unwrap();
    store
}

fn date(s: &str) -> Option<NaiveDate> {
    Some(NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap())
}

fn resolved_id_and_team(registry: &PlayerRegistry, name: &str, team: Option<&str>, on: Option<NaiveDate>) -> (String, String) {
    match registry.resolve(name, team, on) {
        Resolution::Resolved(c) => (c.player_id, c.team),
        other => panic!("{name:?}: {other:?}"),
    }
}

#[tokio::test]
async fn load_reads_box_scores_and_inactive_lists() {
    let store = store_with_sample().await;
    let registry = PlayerRegistry::load(&store).await.unwrap();

    let players: u64 = store
        .client()
        .query("SELECT uniqExact(player_id) FROM (SELECT player_id FROM player_boxscores UNION ALL SELECT player_id FROM game_inactives) WHERE player_id != ''")
        .fetch_one()
        .await
        .unwrap();
    assert_eq!(registry.len() as u64, players);
    assert!(registry.len() > 500, "{}", registry.len());

    // Names as injury reports spell them.
    assert_eq!(resolved_id_and_team(&registry, "Nic Claxton", Some("BKN"), date("2023-10-27")), ("claxtni01".into(), "BRK".into()));
    assert_eq!(resolved_id_and_team(&registry, "Luka Doncic", None, None), ("doncilu01".into(), "DAL".into()));
    assert_eq!(resolved_id_and_team(&registry, "Jackson Jr., Jaren", Some("Memphis Grizzlies"), None), ("jacksja02".into(), "MEM".into()));
    assert_eq!(registry.name_of("doncilu01"), Some("Luka Dončić"));
    // Traded: Portland in the 2020 bubble, Toronto in October 2023.
    assert_eq!(resolved_id_and_team(&registry, "Gary Trent Jr.", None, date("2020-08-15")).1, "POR");
    assert_eq!(resolved_id_and_team(&registry, "Gary Trent Jr.", None, date("2023-10-27")).1, "TOR");
    // Only on inactive lists in the sample (injured all that week).
    assert_eq!(resolved_id_and_team(&registry, "Bojan Bogdanovic", Some("DET"), date("2023-10-30")), ("bogdabo02".into(), "DET".into()));
    assert_eq!(resolved_id_and_team(&registry, "Jaylin Williams", Some("OKC"), date("2023-10-30")), ("willija07".into(), "OKC".into()));
    // Jalen (played) and Jaylin (inactive) Williams of Oklahoma City: a true tie.
    let Resolution::Ambiguous(tied) = registry.resolve("J. Williams", Some("OKC"), date("2023-10-30")) else {
        panic!("J. Williams of OKC should be ambiguous");
    };
    let mut ids: Vec<&str> = tied.iter().map(|c| c.player_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["willija06", "willija07"]);
    assert_eq!(registry.resolve("Michael Jordan", Some("CHI"), None), Resolution::NotFound);

    store.drop_database().await.unwrap();
}

#[tokio::test]
async fn load_of_an_empty_database_is_an_empty_registry() {
    let mut config = StoreConfig::new(nba_testkit::clickhouse_url(), nba_testkit::unique_database("names load empty"));
    config.attempts = 2;
    let store = Store::new(config).unwrap();
    store.recreate().await.unwrap();
    let registry = PlayerRegistry::load(&store).await.unwrap();
    assert!(registry.is_empty());
    store.drop_database().await.unwrap();
}

#[tokio::test]
async fn load_without_the_tables_is_an_error_naming_the_server() {
    let mut config = StoreConfig::new(nba_testkit::clickhouse_url(), nba_testkit::unique_database("names load missing"));
    config.attempts = 1;
    let store = Store::new(config).unwrap();
    let err = PlayerRegistry::load(&store).await.unwrap_err();
    let message = err.with_causes();
    assert!(message.contains("read player sightings") && message.contains(nba_testkit::clickhouse_url()), "{message}");
}
