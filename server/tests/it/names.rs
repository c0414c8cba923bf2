//! `ResolvePlayer` over gRPC on the sample's real players: every name of
//! `tests/fixtures/names/names.csv` (spelled as injury reports and books spell them)
//! comes back first with its team at the date asked; each bad field is INVALID_ARGUMENT
//! naming it; no registry yet is UNAVAILABLE.

use crate::util::*;
use nba_api::proto::predict::prediction_service_client::PredictionServiceClient;
use nba_api::proto::predict::{ResolvePlayerRequest, ResolvePlayerResponse};
use tonic::Code;
use tonic::transport::Channel;

/// One row of the fixture.
#[derive(Debug)]
struct Expected {
    name: String,
    team: Option<String>,
    date: Option<String>,
    player_id: String,
    player_team: String,
}

/// The fields of one CSV line: commas split, double quotes enclose a field that holds
/// commas ("Doncic, Luka"); the fixture has no quote inside a field.
fn fields(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            c => out.last_mut().unwrap().push(c),
        }
    }
    assert!(!quoted, "unbalanced quotes in {line:?}");
    out
}

fn fixture() -> Vec<Expected> {
    let path = nba_testkit::workspace_root().join("tests/fixtures/names/names.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    assert_eq!(lines.next(), Some("name,team,date,expected_player_id,expected_team"), "{}", path.display());
    let given = |s: &str| (!s.is_empty()).then(|| s.to_string());
    lines
        .map(|l| match fields(l).as_slice() {
            [name, team, date, id, team_then] => {
                Expected { name: name.clone(), team: given(team), date: given(date), player_id: id.clone(), player_team: team_then.clone() }
            }
            other => panic!("{l:?}: 5 fields expected, got {other:?}"),
        })
        .collect()
}

fn ask(name: &str, team: Option<&str>, date: Option<&str>, limit: u32) -> ResolvePlayerRequest {
    ResolvePlayerRequest { name: name.into(), team: team.map(Into::into), date: date.map(Into::into), limit }
}

/// A server on the sample (every game of 2023-10-24 to 2023-10-31 and four earlier games)
/// without a model: ResolvePlayer needs only the history snapshot, so the test waits for
/// that, not for readiness.
async fn sample_server() -> TestServer {
    let store = sample_store().await;
    let no_models = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(no_models.path(), store.url(), store.database(), &["--prediction-log", "false"])).await;
    for _ in 0..600 {
        if !server.ready_json().await.1["features_loaded_at"].is_null() {
            return server;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("the feature history never loaded: {:?}", server.ready_json().await);
}

async fn resolve(client: &mut PredictionServiceClient<Channel>, r: ResolvePlayerRequest) -> Result<ResolvePlayerResponse, tonic::Status> {
    client.resolve_player(r).await.map(tonic::Response::into_inner)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fixture_name_resolves_first_to_its_player_and_team() {
    let server = sample_server().await;
    let mut client = server.client().await;
    let rows = fixture();
    assert!(rows.len() >= 30, "{} rows", rows.len());
    let mut wrong = vec![];
    for row in &rows {
        let answer = resolve(&mut client, ask(&row.name, row.team.as_deref(), row.date.as_deref(), 0)).await.unwrap();
        assert!(answer.candidates.len() <= 5, "{row:?}: default limit 5");
        assert!(answer.candidates.windows(2).all(|w| w[0].score >= w[1].score), "{row:?}: best first: {answer:?}");
        match answer.candidates.first() {
            Some(c) if c.player_id == row.player_id && c.team == row.player_team => {
                assert!(c.score > 0.0 && c.score <= 1.0, "{row:?}: {c:?}");
                assert!(!c.name.is_empty());
            }
            first => wrong.push(format!("{} ({:?}, {:?}): want {} of {}, got {first:?}", row.name, row.team, row.date, row.player_id, row.player_team)),
        }
    }
    assert!(wrong.is_empty(), "{} of {} names resolved wrong:\n{}", wrong.len(), rows.len(), wrong.join("\n"));

    // An id is accepted as is, with the best score; the name is basketball-reference's.
    let answer = resolve(&mut client, ask("doncilu01", None, None, 0)).await.unwrap();
    let first = &answer.candidates[0];
    assert_eq!((first.player_id.as_str(), first.name.as_str(), first.team.as_str(), first.score), ("doncilu01", "Luka Dončić", "DAL", 1.0));
    // Twins on different teams, no team given: both come back, neither above the other.
    let answer = resolve(&mut client, ask("A. Thompson", None, Some("2023-10-25"), 0)).await.unwrap();
    let twins: Vec<(&str, f64)> =
        answer.candidates.iter().filter(|c| c.player_id == "thompam01" || c.player_id == "thompau01").map(|c| (c.player_id.as_str(), c.score)).collect();
    assert_eq!(twins.len(), 2, "{answer:?}");
    assert_eq!(twins[0].1, twins[1].1, "{answer:?}");
    // The limit (a close name, Jalen Wilson, comes second), and a name nobody has: no
    // candidates, not an error.
    let all = resolve(&mut client, ask("Jalen Williams", Some("OKC"), None, 0)).await.unwrap();
    assert!(all.candidates.len() >= 2, "{all:?}");
    let one = resolve(&mut client, ask("Jalen Williams", Some("OKC"), None, 1)).await.unwrap();
    assert_eq!(one.candidates, all.candidates[..1], "limit 1");
    let answer = resolve(&mut client, ask("Zxqv Wrtpl", None, None, 50)).await.unwrap();
    assert!(answer.candidates.is_empty(), "{answer:?}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_resolve_requests_name_their_field_and_no_registry_is_unavailable() {
    let server = sample_server().await;
    let mut client = server.client().await;
    let cases = [
        (ask("", None, None, 0), "name: empty"),
        (ask("   ", Some("BKN"), None, 0), "name: empty"),
        (ask(&"x".repeat(500), None, None, 0), "name: 500 characters; at most 100"),
        (ask("Nic Claxton", Some("Brooklyn Dodgers"), None, 0), "team: unknown team \"Brooklyn Dodgers\""),
        (ask("Nic Claxton", Some("BKN"), Some("2023-13-01"), 0), "date: \"2023-13-01\" is not a date (YYYY-MM-DD)"),
        (ask("Nic Claxton", None, Some("10/27/2023"), 0), "date: \"10/27/2023\""),
        (ask("Nic Claxton", None, None, 51), "limit: 51; at most 50"),
    ];
    for (request, message) in cases {
        let e = resolve(&mut client, request.clone()).await.unwrap_err();
        assert_eq!(e.code(), Code::InvalidArgument, "{request:?}: {e:?}");
        assert!(e.message().starts_with(message), "{request:?}: {:?}", e.message());
    }
    server.stop().await.unwrap();

    // ClickHouse never reachable: no snapshot, so no registry to ask.
    let store = sample_store().await;
    let no_models = tempfile::tempdir().unwrap();
    let dead = TestServer::start(config(no_models.path(), "http://127.0.0.1:9", store.database(), &["--prediction-log", "false"])).await;
    let mut client = PredictionServiceClient::new(channel(&dead.grpc).await);
    let e = resolve(&mut client, ask("Nic Claxton", None, None, 0)).await.unwrap_err();
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    assert!(e.message().contains("registry is not loaded"), "{}", e.message());
    // A bad field is still the client's error, whatever the server's state.
    let e = resolve(&mut client, ask("", None, None, 0)).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    dead.stop().await.unwrap();
}
