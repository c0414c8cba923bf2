//! Calibrated intervals through `Predict`: p10/p90 and P(over) come from the manifest's
//! uncertainty table for the request's own prior-10-minutes bucket and game-day state, so
//! a low-minutes and a high-minutes player get intervals of different widths, and a
//! request with the stored game-day information ignored gets the state-C interval. A
//! manifest written before the table (no `uncertainty` key) still serves, with its one
//! pooled distribution.

use crate::util::*;
use nba_api::proto::predict::{ExplainResponse, PredictRequest};
use nba_registry::{GameDayState, Manifest, Registry, Uncertainty};

/// Scored-looking rows of a late-season date: (player, team, opponent, is_home, min_avg_10).
async fn players_of(date: &str) -> Vec<(String, String, String, bool, f32)> {
    #[derive(Debug, clickhouse::Row, serde::Deserialize)]
    struct R {
        player_id: String,
        team: String,
        opponent: String,
        is_home: u8,
        features: Vec<f32>,
    }
    let minutes = nba_features::contract::index_of(nba_registry::uncertainty::MINUTES_FEATURE).unwrap();
    let store = season_store().await;
    let rows: Vec<R> = store
        .client()
        .query("SELECT player_id, team, opponent, is_home, features FROM player_features FINAL WHERE game_date = toDate(?) ORDER BY game_id, player_id")
        .bind(date)
        .fetch_all()
        .await
        .unwrap();
    rows.into_iter().map(|r| (r.player_id, r.team, r.opponent, r.is_home == 1, r.features[minutes])).collect()
}

/// The served answer and vector of one request.
async fn explain(server: &TestServer, req: PredictRequest) -> ExplainResponse {
    server.client().await.explain(req).await.unwrap().into_inner()
}

/// What the manifest says the answer's p10, p90 and P(over) are, from its served vector.
fn expected(m: &Manifest, ex: &ExplainResponse, line: f64) -> (f64, f64, Option<f64>) {
    let f: Vec<f32> = ex.features.iter().map(|c| c.value).collect();
    let pred = ex.prediction.as_ref().unwrap().predicted_points;
    ((pred + m.percentile(&f, 10)).max(0.0), (pred + m.percentile(&f, 90)).max(0.0), m.p_over(&f, pred, line))
}

/// The p90 - p10 width of bucket `b` of `state` in the table (None when it fell back).
fn width(u: &Uncertainty, state: GameDayState, b: usize) -> Option<f64> {
    let q = &u.states.iter().find(|s| s.state == state)?.buckets[b].quantiles;
    (q.len() == 99).then(|| q[89] - q[9])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intervals_follow_the_players_bucket_and_the_game_day_state() {
    let server = TestServer::season(&[]).await;
    let t = trained().await;
    let m = Registry::new(&t.root).manifest(&t.first).unwrap();
    let u = m.uncertainty.as_ref().expect("the trainer writes the uncertainty table");
    let a = GameDayState::ListsAndLineupsKnown;

    // The lowest and the highest bucket of state A that have their own percentiles.
    let own: Vec<usize> = (0..u.edges.len() + 1).filter(|&b| width(u, a, b).is_some()).collect();
    let (low, high) = (*own.first().unwrap(), *own.last().unwrap());
    assert!(width(u, a, high).unwrap() > width(u, a, low).unwrap() + 1.0, "more minutes, more spread: {:?}", own);
    let date = "2024-03-20";
    let players = players_of(date).await;
    let in_bucket = |b: usize| players.iter().find(|p| Uncertainty::bucket_of_value(&u.edges, f64::from(p.4)) == b).unwrap().clone();

    let mut widths = vec![];
    for b in [low, high] {
        let (player, team, opponent, home, _) = in_bucket(b);
        let mut req = request(&player, date, &opponent, home);
        req.team = Some(team);
        req.line = Some(12.5);
        let ex = explain(&server, req.clone()).await;
        let r = ex.prediction.clone().unwrap();
        let f: Vec<f32> = ex.features.iter().map(|c| c.value).collect();
        assert_eq!(GameDayState::of(&f), a, "a stored game: lists and lineups known");
        assert_eq!(u.bucket_of(&f), b);
        let (p10, p90, p_over) = expected(&m, &ex, 12.5);
        assert!((r.p10 - p10).abs() < 1e-9 && (r.p90 - p90).abs() < 1e-9, "{player}: served {} {}, table {p10} {p90}", r.p10, r.p90);
        assert_eq!(r.p_over, p_over);
        // Away from the 0 clamp the served width is the bucket's.
        if r.p10 > 0.0 {
            assert!((r.p90 - r.p10 - width(u, a, b).unwrap()).abs() < 1e-9);
        }
        widths.push(r.p90 - r.p10);

        // The same request with the stored game-day information ignored: state C's table.
        req.ignore_stored = true;
        let ex = explain(&server, req).await;
        let f: Vec<f32> = ex.features.iter().map(|c| c.value).collect();
        assert_eq!(GameDayState::of(&f), GameDayState::NothingKnown);
        let (p10, p90, p_over) = expected(&m, &ex, 12.5);
        let r = ex.prediction.unwrap();
        assert!((r.p10 - p10).abs() < 1e-9 && (r.p90 - p90).abs() < 1e-9, "{player} in state C");
        assert_eq!(r.p_over, p_over);
    }
    assert!(widths[1] > widths[0] + 1.0, "low-minutes width {}, high-minutes width {}", widths[0], widths[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_without_the_table_serves_its_pooled_percentiles() {
    let (_dir, reg) = registry_copy().await;
    let t = trained().await;
    // The first version again, as a manifest written before the table existed.
    let mut m = reg.manifest(&t.first).unwrap();
    let old = format!("{}-old", t.first);
    m.version = old.clone();
    reg.write_version(&m, &reg.model_bytes(&t.first).unwrap()).unwrap();
    let path = reg.version_dir(&old).join(nba_registry::MANIFEST_FILE);
    let mut json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let obj = json.as_object_mut().unwrap();
    assert!(obj.remove("uncertainty").is_some() && obj.remove("calibration").is_some());
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    reg.promote(&old).unwrap();
    let loaded = reg.manifest(&old).unwrap();
    assert!(loaded.uncertainty.is_none() && loaded.residual_quantiles.len() == 99);

    let store = season_store().await;
    let server = TestServer::start(config(reg.root(), store.url(), store.database(), &[])).await;
    server.wait_ready().await;
    let q = &loaded.residual_quantiles;
    let date = "2024-03-20";
    for (player, team, opponent, home, _) in players_of(date).await.into_iter().filter(|p| !p.4.is_nan()).step_by(7).take(6) {
        let mut req = request(&player, date, &opponent, home);
        req.team = Some(team);
        req.line = Some(9.5);
        let ex = explain(&server, req).await;
        let r = ex.prediction.clone().unwrap();
        assert_eq!(r.model_version, old);
        let (p10, p90, p_over) = expected(&loaded, &ex, 9.5);
        assert!((r.p10 - p10).abs() < 1e-9 && (r.p90 - p90).abs() < 1e-9, "{player}");
        assert!((r.p90 - (r.predicted_points + q[89]).max(0.0)).abs() < 1e-9, "the pooled p90 for everyone");
        assert_eq!(r.p_over, p_over);
        assert_eq!(r.p_over, nba_registry::uncertainty::p_over(q, r.predicted_points, 9.5));
        assert!(r.p_over.is_some());
    }
}
