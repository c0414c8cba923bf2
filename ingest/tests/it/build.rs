//! `nba-ingest build` on real data: completeness, incremental = full, train/serve parity
//! (the server's way of building history gives bit-identical vectors) and leakage.

use crate::util::*;
use nba_features::{History, N_FEATURES};
use nba_ingest::build::{self, BuildOptions, RawRows};
use nba_store::Store;
use nba_store::rows::{PlayerFeaturesRow, PlayerGameSummaryRow, TeamGameSummaryRow};
use std::collections::HashMap;

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

async fn stored_features(store: &Store) -> Vec<PlayerFeaturesRow> {
    store.select("read features", "SELECT ?fields FROM player_features FINAL ORDER BY game_date, game_id, player_id").await.unwrap()
}

/// Loads season 2024 and builds it; shared by the tests below through a OnceCell so the
/// season is loaded once per test run.
pub async fn season_store() -> &'static Store {
    static STORE: tokio::sync::OnceCell<Store> = tokio::sync::OnceCell::const_new();
    let loaded = STORE
        .get_or_init(|| async {
            let store = fresh_store("build_season").await;
            let s = nba_ingest::load::load(Some(&store), &opts(&[&nba_testkit::season_archive(2024)])).await.unwrap();
            assert!(s.rejected.is_empty());
            let b = build::build(&store, &BuildOptions::default()).await.unwrap();
            assert_eq!(b.mode, "full");
            store
        })
        .await;
    // Each test has its own runtime: a pool opened in an earlier test's runtime is dead
    // (leaked: a few KB per test, so the `&'static` callers keep working).
    Box::leak(Box::new(loaded.new_pool()))
}

#[tokio::test]
async fn every_player_game_gets_summaries_and_features() {
    let store = season_store().await;
    let players = scalar(store, "SELECT count() FROM player_boxscores").await;
    assert_eq!(scalar(store, "SELECT count() FROM player_features").await, players);
    assert_eq!(scalar(store, "SELECT count() FROM player_game_summary").await, players);
    assert_eq!(scalar(store, "SELECT count() FROM team_game_summary").await, scalar(store, "SELECT count() FROM team_boxscores").await);
    let width = scalar(store, "SELECT toUInt64(max(length(features))) FROM player_features").await;
    assert_eq!(width, N_FEATURES as u64);
    assert_eq!(scalar(store, "SELECT toUInt64(min(length(features))) FROM player_features").await, width);
    // Features exist for played games with an earlier played game (>= 99% required).
    let with_history = scalar(store, "SELECT count() FROM player_features_wide WHERE status = 'Played' AND games_played_total > 0").await;
    let filled = scalar(store, "SELECT count() FROM player_features_wide WHERE status = 'Played' AND games_played_total > 0 AND NOT isNaN(pts_avg_10)").await;
    assert!(with_history > 15_000 && filled == with_history, "{filled} of {with_history}");
    // The contract is recorded on every row.
    let hashes: Vec<String> = store.client().query("SELECT DISTINCT contract_hash FROM player_features").fetch_all().await.unwrap();
    assert_eq!(hashes, vec![nba_features::contract_hash()]);

    // Our usage rate agrees with the site's for played rows (rounding to 0.1 on the page).
    let played = scalar(store, "SELECT count() FROM player_game_summary WHERE minutes > 0").await;
    let agree = scalar(
        store,
        "SELECT count() FROM player_game_summary AS s ANY INNER JOIN \
         (SELECT game_id, player_id, team, usg_pct AS site FROM player_boxscores WHERE usg_pct IS NOT NULL) AS b \
         USING (game_id, player_id, team) WHERE minutes > 0 AND abs(s.usg_pct - b.site) <= 0.1",
    )
    .await;
    assert!(agree as f64 >= 0.99 * played as f64, "{agree} of {played} usage rates agree with the site");
    // A second build finds nothing to do.
    let again = build::build(store, &BuildOptions::default()).await.unwrap();
    assert!(again.range.is_none(), "{again}");
}

/// The server's path: history from the stored summary tables (Store::history) and the
/// context from the stored games; every sampled row must match bit for bit.
#[tokio::test]
async fn server_path_gives_bit_identical_vectors() {
    let store = season_store().await;
    let history = store.history().await.unwrap();
    let raw = RawRows::read(store).await.unwrap();
    let lists = raw.game_day();
    let stored: HashMap<(String, String), PlayerFeaturesRow> =
        stored_features(store).await.into_iter().map(|r| ((r.game_id.clone(), r.player_id.clone()), r)).collect();
    let mut checked = 0;
    for p in raw.players.iter().step_by(37) {
        let ctx = build::context_of(p, &lists);
        let v = nba_features::compute(&history, &p.player_id, &ctx);
        let row = &stored[&(p.game_id.clone(), p.player_id.clone())];
        assert_eq!(bits(&v), bits(&row.features), "{} {}", p.game_id, p.player_id);
        checked += 1;
    }
    assert!(checked > 500);
}

/// Leakage: (1) features of game G computed from only the rows dated before G equal the
/// stored ones; (2) changing every stat of G and of all later games changes nothing in
/// the features of G or of earlier games.
#[tokio::test]
async fn features_use_only_earlier_games() {
    let store = season_store().await;
    let raw = RawRows::read(store).await.unwrap();
    let lists = raw.game_day();
    let computed = build::compute_summaries(&raw, 1);
    let stored: HashMap<(String, String), Vec<f32>> = stored_features(store).await.into_iter().map(|r| ((r.game_id, r.player_id), r.features)).collect();
    let mut dates: Vec<_> = raw.teams.iter().map(|t| t.game_date).collect();
    dates.sort();
    dates.dedup();
    for cut in dates.iter().step_by(dates.len() / 8).skip(1) {
        let before = |d| d < *cut;
        let history_before = History::new(
            computed.players.iter().filter(|p| before(p.game_date)).map(PlayerGameSummaryRow::to_history),
            computed.teams.iter().filter(|t| before(t.game_date)).map(TeamGameSummaryRow::to_history),
        );
        // Everything on or after the cut day gets other numbers.
        let perturbed = History::new(
            computed.players.iter().map(|p| {
                let mut p = p.clone();
                if !before(p.game_date) {
                    p.pts += 17;
                    p.fga += 9;
                    p.minutes += 11.0;
                    p.usg_pct *= 1.7;
                    p.starter = 1 - p.starter;
                    p.status = "Played".into();
                }
                p.to_history()
            }),
            computed.teams.iter().map(|t| {
                let mut t = t.clone();
                if !before(t.game_date) {
                    t.pace += 13.0;
                    t.off_rtg -= 9.0;
                    t.def_rtg += 4.0;
                    t.opp_pts += 20;
                }
                t.to_history()
            }),
        );
        let mut on_cut = 0;
        for p in raw.players.iter().filter(|p| p.game_date <= *cut) {
            let ctx = build::context_of(p, &lists);
            let want = bits(&stored[&(p.game_id.clone(), p.player_id.clone())]);
            assert_eq!(bits(&nba_features::compute(&perturbed, &p.player_id, &ctx)), want, "{} {} changed with later games", p.game_id, p.player_id);
            if p.game_date == *cut {
                on_cut += 1;
                assert_eq!(bits(&nba_features::compute(&history_before, &p.player_id, &ctx)), want, "{} {} from earlier rows only", p.game_id, p.player_id);
            }
        }
        assert!(on_cut > 0);
    }
}

/// Loading more games and building incrementally gives exactly what a full build gives.
#[tokio::test]
async fn incremental_build_equals_full_build() {
    let store = fresh_store("build_incremental").await;
    nba_ingest::load::load(Some(&store), &opts(&[&nba_testkit::sample_archive()])).await.unwrap();
    let first = build::build(&store, &BuildOptions::default()).await.unwrap();
    assert_eq!(first.mode, "full");
    nba_ingest::load::load(Some(&store), &opts(&[&nba_testkit::season_archive(2024)])).await.unwrap();
    let second = build::build(&store, &BuildOptions::default()).await.unwrap();
    assert_eq!(second.mode, "incremental");
    // The sample's October games are unchanged, so the rebuild starts after them.
    let (from, _) = second.range.unwrap();
    assert_eq!(from, chrono::NaiveDate::from_ymd_opt(2023, 11, 1).unwrap(), "{second}");

    // Same raw data, rebuilt from scratch: identical vectors.
    let snapshot =
        |rows: Vec<PlayerFeaturesRow>| -> Vec<(String, String, Vec<u32>)> { rows.into_iter().map(|r| (r.game_id, r.player_id, bits(&r.features))).collect() };
    let incremental = snapshot(stored_features(&store).await);
    let full = build::build(&store, &BuildOptions { full: true, ..Default::default() }).await.unwrap();
    assert_eq!(full.mode, "full");
    let rebuilt = snapshot(stored_features(&store).await);
    assert_eq!(incremental.len(), rebuilt.len());
    assert!(incremental == rebuilt, "incremental and full builds differ");
    // Exactly one features row per player-game: the rewritten range replaced, not added.
    assert_eq!(scalar(&store, "SELECT count() FROM player_features").await, scalar(&store, "SELECT count() FROM player_boxscores").await);

    // After an upgrade that changes the feature contract, rows of the old contract are
    // stale: the next plain (nightly) build rebuilds everything although no raw row
    // changed, and no row of the old contract is left.
    let mut old = stored_features(&store).await.into_iter().next().unwrap();
    old.game_id = "200001010OLD".into();
    old.contract_hash = "contract-of-an-older-release".into();
    store.insert(&[old]).await.unwrap();
    let upgraded = build::build(&store, &BuildOptions::default()).await.unwrap();
    assert_eq!(upgraded.mode, "full", "{upgraded}");
    let current = nba_features::contract_hash();
    assert_eq!(scalar(&store, &format!("SELECT count() FROM player_features WHERE contract_hash != '{current}'")).await, 0);
    assert!(snapshot(stored_features(&store).await) == rebuilt, "the upgrade rebuild differs from a full build");
    // And once everything is current, a plain build has nothing to do.
    assert_eq!(build::build(&store, &BuildOptions::default()).await.unwrap().mode, "incremental");
}
