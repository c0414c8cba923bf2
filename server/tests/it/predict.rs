//! Answers: features equal the builder's rows bit for bit (a stored game: official lists
//! and lineups), predictions equal the model file's, every error code, batches, the V2 protocol, health, reflection and metrics.

use crate::util::*;
use nba_api::proto::inference::grpc_inference_service_client::GrpcInferenceServiceClient;
use nba_api::proto::inference::model_infer_request::InferInputTensor;
use nba_api::proto::inference::*;
use nba_api::proto::predict::{Call, GetModelRequest, InfoSource, PlayerList, PredictBatchRequest, predict_batch_item};
use nba_model::onnx::OnnxModel;
use nba_registry::Registry;
use tonic::Code;

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct FeatureRow {
    player_id: String,
    team: String,
    opponent: String,
    is_home: u8,
    features: Vec<f32>,
}

/// Rows of `date` for players with an earlier game (others have no history to serve).
async fn rows_of(date: &str) -> Vec<FeatureRow> {
    let store = season_store().await;
    let sql = "SELECT player_id, team, opponent, is_home, features FROM player_features FINAL \
               WHERE game_date = toDate(?) AND player_id IN (SELECT player_id FROM player_game_summary WHERE game_date < toDate(?)) \
               ORDER BY game_id, player_id";
    store.client().query(sql).bind(date).bind(date).fetch_all().await.unwrap()
}

fn model_of(root: &std::path::Path, version: &str) -> OnnxModel {
    OnnxModel::load(&Registry::new(root).model_bytes(version).unwrap(), nba_features::N_FEATURES).unwrap()
}

/// A well-known player: the one with the most played games, and his last game.
async fn regular() -> (String, String, String, String, bool) {
    #[derive(Debug, clickhouse::Row, serde::Deserialize)]
    struct G {
        player_id: String,
        game_date: String,
        team: String,
        opponent: String,
        is_home: u8,
    }
    let store = season_store().await;
    let g: G = store
        .client()
        .query(
            "SELECT player_id, toString(game_date) AS game_date, team, opponent, is_home FROM player_game_summary FINAL \
             WHERE player_id = (SELECT player_id FROM player_game_summary FINAL WHERE status = 'Played' GROUP BY player_id ORDER BY count() DESC, player_id LIMIT 1) \
             ORDER BY game_date DESC LIMIT 1",
        )
        .fetch_one()
        .await
        .unwrap();
    (g.player_id, g.game_date, g.team, g.opponent, g.is_home == 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn vectors_and_predictions_equal_the_builders_rows() {
    let server = TestServer::season(&[]).await;
    let mut client = server.client().await;
    let t = trained().await;
    let model = model_of(&t.root, &t.first);
    let mut checked = 0;
    for date in ["2023-11-20", "2024-01-15", "2024-03-05", "2024-03-20"] {
        let rows = rows_of(date).await;
        assert!(rows.len() > 50, "{date}: {} rows", rows.len());
        for row in rows {
            let mut req = request(&row.player_id, date, &row.opponent, row.is_home == 1);
            req.team = Some(row.team.clone());
            let ex = client.explain(req).await.unwrap_or_else(|s| panic!("{} {date}: {s:?}", row.player_id)).into_inner();
            let served: Vec<f32> = ex.features.iter().map(|f| f.value).collect();
            assert_eq!(served.len(), row.features.len());
            for (i, (a, b)) in served.iter().zip(&row.features).enumerate() {
                assert!(
                    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                    "{} {date} feature {} ({}): server {a}, builder {b}",
                    row.player_id,
                    i,
                    ex.features[i].name
                );
            }
            let p = ex.prediction.unwrap();
            let expected = model.predict(&row.features).unwrap()[0].max(0.0);
            assert!((p.predicted_points - expected as f64).abs() < 1e-4, "{} {date}: {} vs {expected}", row.player_id, p.predicted_points);
            assert_eq!(p.model_version, t.first);
            assert!(p.p10 <= p.predicted_points + 1e-9 && p.predicted_points <= p.p90, "{p:?}");
            checked += 1;
        }
    }
    assert!(checked > 300, "{checked}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predict_answers_known_players_and_each_error_has_its_code() {
    let server = TestServer::season(&[]).await;
    let mut client = server.client().await;
    let (player, date, team, opponent, home) = regular().await;

    // The team defaults to his latest team; a line adds edge, P(over) and a call.
    let mut req = request(&player, &date, &opponent, home);
    req.line = Some(0.5);
    let r = client.predict(req.clone()).await.unwrap().into_inner();
    assert_eq!(r.team, team);
    // A stored game: both teams' official lists and box-score starters.
    let official = InfoSource::Official as i32;
    assert_eq!([r.availability_source, r.opponent_availability_source, r.lineup_source, r.opponent_lineup_source], [official; 4]);
    assert!(r.predicted_points > 3.0 && r.predicted_points < 60.0, "{r:?}");
    assert!(r.games_before > 20, "{r:?}");
    assert!((r.edge.unwrap() - (r.predicted_points - 0.5)).abs() < 1e-9);
    assert!(r.p_over.unwrap() > 0.9, "{r:?}");
    assert_eq!(r.call, Call::Over as i32);
    req.line = Some(80.5);
    let r = client.predict(req.clone()).await.unwrap().into_inner();
    assert_eq!(r.call, Call::Under as i32, "{r:?}");

    // An inactive list changes the vector (his teammates' shares), so the answer moves.
    let explain = |req| {
        let mut c = client.clone();
        async move { c.explain(req).await.unwrap().into_inner() }
    };
    let base = explain(request(&player, &date, &opponent, home)).await;
    let mut with_out = request(&player, &date, &opponent, home);
    let teammates: Vec<String> = {
        #[derive(clickhouse::Row, serde::Deserialize)]
        struct P {
            player_id: String,
        }
        let store = season_store().await;
        let ps: Vec<P> = store
            .client()
            .query("SELECT player_id FROM player_game_summary FINAL WHERE team = ? AND game_date < toDate(?) AND player_id != ? AND status = 'Played' GROUP BY player_id ORDER BY sum(pts) DESC LIMIT 2")
            .bind(&team)
            .bind(&date)
            .bind(&player)
            .fetch_all()
            .await
            .unwrap();
        ps.into_iter().map(|p| p.player_id).collect()
    };
    with_out.team_inactive = Some(PlayerList { player_ids: teammates });
    let out = explain(with_out).await;
    let answer = out.prediction.as_ref().unwrap();
    assert_eq!((answer.availability_source(), answer.opponent_availability_source()), (InfoSource::Request, InfoSource::Official));
    let ix = nba_features::contract::index_of("team_out_pts_share").unwrap();
    assert!(out.features[ix].value > base.features[ix].value, "{} vs {}", out.features[ix].value, base.features[ix].value);

    let code = |req| {
        let mut c = client.clone();
        async move { c.predict(req).await.map(|_| ()).unwrap_err() }
    };
    let e = code(request(&player, "2024-13-01", &opponent, home)).await;
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().starts_with("game_date:"), "{}", e.message());
    let e = code(request(&player, &date, "XYZ", home)).await;
    assert_eq!((e.code(), e.message().starts_with("opponent:")), (Code::InvalidArgument, true), "{e:?}");
    let e = code(request("", &date, &opponent, home)).await;
    assert_eq!((e.code(), e.message().starts_with("player_id:")), (Code::InvalidArgument, true), "{e:?}");
    let mut nan = request(&player, &date, &opponent, home);
    nan.line = Some(f64::NAN);
    let e = code(nan).await;
    assert_eq!((e.code(), e.message().starts_with("line:")), (Code::InvalidArgument, true), "{e:?}");
    let mut bad_team = request(&player, &date, &opponent, home);
    bad_team.team = Some("ZZZ".into());
    assert_eq!(code(bad_team).await.code(), Code::InvalidArgument);
    assert_eq!(code(request(&player, &date, &team, home)).await.code(), Code::InvalidArgument, "a team cannot play itself");
    assert_eq!(code(request("nobodyxx01", &date, &opponent, home)).await.code(), Code::NotFound);
    assert_eq!(code(request(&player, "2023-09-01", &opponent, home)).await.code(), Code::NotFound, "no games before the season");

    // GetModel: the manifest's numbers.
    let m = client.get_model(GetModelRequest {}).await.unwrap().into_inner();
    let manifest = Registry::new(&trained().await.root).manifest(&m.version).unwrap();
    assert_eq!(m.version, trained().await.first);
    assert_eq!(m.feature_names, nba_features::feature_names());
    assert_eq!(m.test_model.unwrap().mae, manifest.metrics.scored.model.mae);
    assert_eq!(m.test_baselines.len(), 3);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_answer_each_item_on_its_own() {
    let server = TestServer::season(&[]).await;
    let mut client = server.client().await;
    let (player, date, _team, opponent, home) = regular().await;
    let single = client.predict(request(&player, &date, &opponent, home)).await.unwrap().into_inner();
    let mut with_line = request(&player, &date, &opponent, home);
    with_line.line = Some(20.5);
    let reqs = vec![
        request(&player, &date, &opponent, home),
        request(&player, "yesterday", &opponent, home),
        request("nobodyxx01", &date, &opponent, home),
        with_line,
    ];
    let out = client.predict_batch(PredictBatchRequest { requests: reqs }).await.unwrap().into_inner().results;
    assert_eq!(out.len(), 4);
    let pred = |i: usize| match out[i].result.clone().unwrap() {
        predict_batch_item::Result::Prediction(p) => p,
        predict_batch_item::Result::Error(e) => panic!("item {i}: {e:?}"),
    };
    let err = |i: usize| match out[i].result.clone().unwrap() {
        predict_batch_item::Result::Error(e) => e,
        predict_batch_item::Result::Prediction(p) => panic!("item {i}: {p:?}"),
    };
    assert_eq!(pred(0), single);
    assert_eq!(err(1).code, Code::InvalidArgument as i32);
    assert!(err(1).message.contains("game_date"));
    assert_eq!(err(2).code, Code::NotFound as i32);
    assert!(pred(3).p_over.is_some() && pred(3).call != Call::Unspecified as i32);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_inference_protocol_scores_raw_and_typed_tensors() {
    let server = TestServer::season(&[]).await;
    let mut v2 = GrpcInferenceServiceClient::connect(server.grpc.clone()).await.unwrap();
    let t = trained().await;
    assert!(v2.server_live(ServerLiveRequest {}).await.unwrap().into_inner().live);
    assert!(v2.server_ready(ServerReadyRequest {}).await.unwrap().into_inner().ready);
    assert!(v2.model_ready(ModelReadyRequest { name: "nba-points".into(), version: String::new() }).await.unwrap().into_inner().ready);
    let meta = v2.model_metadata(ModelMetadataRequest { name: "nba-points".into(), version: String::new() }).await.unwrap().into_inner();
    assert_eq!(meta.versions, vec![t.first.clone()]);
    assert_eq!(meta.inputs[0].shape, vec![-1, nba_features::N_FEATURES as i64]);
    assert_eq!(v2.model_metadata(ModelMetadataRequest { name: "other".into(), version: String::new() }).await.unwrap_err().code(), Code::NotFound);

    let rows = rows_of("2024-03-05").await;
    let n = 7;
    let x: Vec<f32> = rows.iter().take(n).flat_map(|r| r.features.iter().copied()).collect();
    let expected = model_of(&t.root, &t.first).predict(&x).unwrap();
    let tensor = |contents: Option<InferTensorContents>| InferInputTensor {
        name: "input".into(),
        datatype: "FP32".into(),
        shape: vec![n as i64, nba_features::N_FEATURES as i64],
        parameters: Default::default(),
        contents,
    };
    let typed = ModelInferRequest {
        model_name: "nba-points".into(),
        id: "typed".into(),
        inputs: vec![tensor(Some(InferTensorContents { fp32_contents: x.clone(), ..Default::default() }))],
        ..Default::default()
    };
    let r = v2.model_infer(typed.clone()).await.unwrap().into_inner();
    assert_eq!((r.id.as_str(), r.model_version.as_str()), ("typed", t.first.as_str()));
    assert_eq!(r.outputs[0].shape, vec![n as i64, 1]);
    let got = &r.outputs[0].contents.as_ref().unwrap().fp32_contents;
    for (a, b) in got.iter().zip(&expected) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
    let raw = ModelInferRequest {
        model_name: "nba-points".into(),
        inputs: vec![tensor(None)],
        raw_input_contents: vec![x.iter().flat_map(|v| v.to_le_bytes()).collect()],
        ..Default::default()
    };
    let r = v2.model_infer(raw).await.unwrap().into_inner();
    let got: Vec<f32> = r.raw_output_contents[0].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    assert_eq!(got.len(), n);
    for (a, b) in got.iter().zip(&expected) {
        assert!((a - b).abs() < 1e-4, "{a} vs {b}");
    }
    // Wrong shapes, types, sizes and versions are refused with the field named.
    let mut bad = typed.clone();
    bad.inputs[0].shape = vec![n as i64, 64];
    let e = v2.model_infer(bad).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("shape"), "{}", e.message());
    let mut bad = typed.clone();
    bad.inputs[0].datatype = "FP64".into();
    assert_eq!(v2.model_infer(bad).await.unwrap_err().code(), Code::InvalidArgument);
    let mut bad = typed.clone();
    bad.inputs[0].contents.as_mut().unwrap().fp32_contents.pop();
    assert_eq!(v2.model_infer(bad).await.unwrap_err().code(), Code::InvalidArgument);
    let mut bad = typed;
    bad.model_version = "not-this-one".into();
    assert_eq!(v2.model_infer(bad).await.unwrap_err().code(), Code::NotFound);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reflection_and_metrics_tell_the_truth() {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    let server = TestServer::season(&[]).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel(&server.grpc).await);
    for service in ["", "nba.predict.v1.PredictionService", "inference.GRPCInferenceService"] {
        let s = health.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner();
        assert_eq!(s.status, ServingStatus::Serving as i32, "{service:?}");
    }

    // Reflection lists every service.
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut refl = ServerReflectionClient::new(channel(&server.grpc).await);
    let req = ServerReflectionRequest { host: String::new(), message_request: Some(MessageRequest::ListServices(String::new())) };
    let mut stream = refl.server_reflection_info(tokio_stream::iter(vec![req])).await.unwrap().into_inner();
    let resp = stream.message().await.unwrap().unwrap();
    let Some(MessageResponse::ListServicesResponse(list)) = resp.message_response else { panic!("{resp:?}") };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for want in ["nba.predict.v1.PredictionService", "inference.GRPCInferenceService", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
    }

    // Metrics after real calls.
    let mut client = server.client().await;
    let (player, date, _team, opponent, home) = regular().await;
    client.predict(request(&player, &date, &opponent, home)).await.unwrap();
    client.predict(request(&player, &date, &opponent, home)).await.unwrap();
    let _ = client.predict(request(&player, "bad", &opponent, home)).await;
    let m = server.metrics().await;
    for want in [
        "nba_grpc_requests_total{method=\"Predict\",code=\"OK\"}",
        "nba_grpc_requests_total{method=\"Predict\",code=\"INVALID_ARGUMENT\"}",
        "nba_grpc_request_duration_seconds_bucket{method=\"Predict\",code=\"OK\",le=\"0.001\"}",
        &format!("nba_model_info{{version=\"{}\"}} 1", trained().await.first),
        "nba_feature_cache_requests_total{result=\"hit\"}",
        "nba_feature_cache_requests_total{result=\"miss\"}",
        "nba_predicted_points_bucket",
        "nba_model_reloads_total{result=\"success\",trigger=\"startup\"}",
        "nba_feature_store_healthy 1",
        "nba_ready 1",
    ] {
        assert!(m.contains(want), "/metrics lacks {want}:\n{m}");
    }
    let live = reqwest::get(format!("{}/live", server.admin)).await.unwrap();
    assert_eq!(live.status().as_u16(), 200);
    let (code, ready) = server.ready_json().await;
    assert_eq!(code, 200);
    assert_eq!(ready["model_version"], trained().await.first);
    assert_eq!(ready["degraded"], false);
    server.stop().await.unwrap();
}
