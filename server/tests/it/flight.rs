//! Arrow Flight: both exchange schemas, slates, discovery, bad input and each error's
//! status code, and pyarrow.

use crate::util::*;
use arrow_array::{Array, ArrayRef, BooleanArray, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::{FlightClient, FlightDescriptor, Ticket};
use arrow_schema::{DataType, Field, Schema};
use futures::TryStreamExt;
use std::sync::Arc;
use tonic::Code;

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct Row {
    player_id: String,
    team: String,
    opponent: String,
    is_home: u8,
    features: Vec<f32>,
}

async fn rows(date: &str) -> Vec<Row> {
    let store = season_store().await;
    store
        .client()
        .query(
            "SELECT player_id, team, opponent, is_home, features FROM player_features FINAL WHERE game_date = toDate(?) \
             AND player_id IN (SELECT player_id FROM player_game_summary WHERE game_date < toDate(?)) ORDER BY game_id, player_id",
        )
        .bind(date)
        .bind(date)
        .fetch_all()
        .await
        .unwrap()
}

async fn exchange(client: &mut FlightClient, path: &str, batches: Vec<RecordBatch>) -> Result<Vec<RecordBatch>, arrow_flight::error::FlightError> {
    let input = FlightDataEncoderBuilder::new()
        .with_flight_descriptor(Some(FlightDescriptor::new_path(vec![path.into()])))
        .build(futures::stream::iter(batches.into_iter().map(Ok)));
    client.do_exchange(input).await?.try_collect().await
}

fn col<'a, T: 'static>(b: &'a RecordBatch, name: &str) -> &'a T {
    b.column_by_name(name).unwrap_or_else(|| panic!("no column {name}")).as_any().downcast_ref::<T>().unwrap()
}

/// (player_id, game_date, opponent, is_home, team) of one request row.
type Item<'a> = (Option<&'a str>, &'a str, &'a str, bool, Option<&'a str>);

fn requests_batch(items: &[Item<'_>]) -> RecordBatch {
    let schema = Schema::new(vec![
        Field::new("player_id", DataType::Utf8, true),
        Field::new("game_date", DataType::Utf8, false),
        Field::new("opponent", DataType::Utf8, false),
        Field::new("is_home", DataType::Boolean, false),
        Field::new("team", DataType::Utf8, true),
    ]);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(items.iter().map(|r| r.0).collect::<Vec<_>>())),
        Arc::new(StringArray::from(items.iter().map(|r| r.1).collect::<Vec<_>>())),
        Arc::new(StringArray::from(items.iter().map(|r| r.2).collect::<Vec<_>>())),
        Arc::new(BooleanArray::from(items.iter().map(|r| r.3).collect::<Vec<_>>())),
        Arc::new(StringArray::from(items.iter().map(|r| r.4).collect::<Vec<_>>())),
    ];
    RecordBatch::try_new(Arc::new(schema), cols).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exchanges_score_requests_and_raw_features_in_order() {
    let server = TestServer::season(&["--prediction-log", "false"]).await;
    let mut flight = FlightClient::new(channel(&server.grpc).await);
    let mut grpc = server.client().await;
    let date = "2024-03-05";
    let rows = rows(date).await;
    assert!(rows.len() > 100);

    // (a) requests: two batches; a null key and an unknown player are answered with errors.
    let mut items: Vec<Item<'_>> =
        rows.iter().take(40).map(|r| (Some(r.player_id.as_str()), date, r.opponent.as_str(), r.is_home == 1, Some(r.team.as_str()))).collect();
    items.insert(5, (None, date, "BOS", true, None));
    items.insert(9, (Some("nobodyxx01"), date, "BOS", true, None));
    let out = exchange(&mut flight, "requests", vec![requests_batch(&items[..20]), requests_batch(&items[20..])]).await.unwrap();
    assert_eq!(out.iter().map(|b| b.num_rows()).sum::<usize>(), items.len());
    let mut i = 0;
    for b in &out {
        let (pid, pred, err) = (col::<StringArray>(b, "player_id"), col::<Float64Array>(b, "predicted_points"), col::<StringArray>(b, "error"));
        for k in 0..b.num_rows() {
            let item = items[i];
            match item.0 {
                None => assert!(pred.is_null(k) && err.value(k).contains("null player_id"), "row {i}"),
                Some("nobodyxx01") => assert!(pred.is_null(k) && err.value(k).starts_with("NOT_FOUND"), "row {i}: {}", err.value(k)),
                Some(p) => {
                    assert_eq!(pid.value(k), p, "row order kept");
                    assert!(err.is_null(k), "row {i}: {}", err.value(k));
                    let mut req = request(p, date, item.2, item.3);
                    req.team = item.4.map(str::to_string);
                    let single = grpc.predict(req).await.unwrap().into_inner();
                    assert_eq!(pred.value(k), single.predicted_points, "row {i}: Flight equals Predict");
                }
            }
            i += 1;
        }
    }

    // (b) raw features with a key column passed through.
    let names = nba_features::feature_names();
    let n = 64;
    let mut fields = vec![Field::new("row_id", DataType::Int64, false)];
    let mut cols: Vec<ArrayRef> = vec![Arc::new(Int64Array::from((0..n as i64).collect::<Vec<_>>()))];
    for (j, name) in names.iter().enumerate() {
        fields.push(Field::new(name, DataType::Float32, true));
        cols.push(Arc::new(Float32Array::from(rows.iter().take(n).map(|r| (!r.features[j].is_nan()).then_some(r.features[j])).collect::<Vec<_>>())));
    }
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    let out = exchange(&mut flight, "features", vec![batch]).await.unwrap();
    let t = trained().await;
    let model = nba_model::onnx::OnnxModel::load(&nba_registry::Registry::new(&t.root).model_bytes(&t.first).unwrap(), nba_features::N_FEATURES).unwrap();
    let x: Vec<f32> = rows.iter().take(n).flat_map(|r| r.features.iter().copied()).collect();
    let expected = model.predict(&x).unwrap();
    let b = &out[0];
    assert_eq!(col::<Int64Array>(b, "row_id").values().to_vec(), (0..n as i64).collect::<Vec<_>>());
    for (a, e) in col::<Float32Array>(b, "predicted_points").values().iter().zip(&expected) {
        assert!((a - e).abs() < 1e-4, "{a} vs {e}");
    }
    assert_eq!(col::<StringArray>(b, "model_version").value(0), t.first);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slates_and_discovery() {
    let server = TestServer::season(&["--prediction-log", "false"]).await;
    let mut flight = FlightClient::new(channel(&server.grpc).await);
    let mut grpc = server.client().await;
    let date = "2024-03-05";
    let batches: Vec<RecordBatch> = flight.do_get(Ticket::new(format!("slate/{date}"))).await.unwrap().try_collect().await.unwrap();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let store = season_store().await;
    let games: u64 = store.client().query("SELECT count() FROM games FINAL WHERE game_date = toDate(?)").bind(date).fetch_one().await.unwrap();
    assert!(games >= 5 && rows as u64 >= games * 2 * 10, "{games} games, {rows} rows");
    let b = &batches[0];
    // Every team of the day is in the slate, and a row equals Predict without inactive lists.
    let teams: std::collections::BTreeSet<&str> = (0..b.num_rows()).map(|k| col::<StringArray>(b, "team").value(k)).collect();
    assert_eq!(teams.len() as u64, games * 2);
    for k in [0, b.num_rows() / 2, b.num_rows() - 1] {
        let mut req =
            request(col::<StringArray>(b, "player_id").value(k), date, col::<StringArray>(b, "opponent").value(k), col::<BooleanArray>(b, "is_home").value(k));
        req.team = Some(col::<StringArray>(b, "team").value(k).to_string());
        req.team_inactive = Some(Default::default());
        req.opponent_inactive = Some(Default::default());
        let single = grpc.predict(req).await.unwrap().into_inner();
        assert_eq!(col::<Float64Array>(b, "predicted_points").value(k), single.predicted_points);
    }
    // Discovery.
    let infos: Vec<_> = flight.list_flights("").await.unwrap().try_collect().await.unwrap();
    let paths: Vec<String> = infos.iter().filter_map(|i| i.flight_descriptor.as_ref()).map(|d| d.path.join("/")).collect();
    assert!(paths.contains(&"requests".to_string()) && paths.contains(&"features".to_string()));
    assert!(paths.contains(&format!("slate/{date}")), "{} paths", paths.len());
    let schema = flight.get_schema(FlightDescriptor::new_path(vec!["features".into()])).await.unwrap();
    assert_eq!(schema.fields().len(), nba_features::N_FEATURES);
    assert_eq!(schema.field(0).name(), &nba_features::feature_names()[0]);
    let info = flight.get_flight_info(FlightDescriptor::new_path(vec!["slate".into(), date.into()])).await.unwrap();
    assert_eq!(info.endpoint[0].ticket.as_ref().unwrap().ticket, format!("slate/{date}").as_bytes());
    // No games that day, a bad ticket.
    let e = flight.do_get(Ticket::new("slate/2024-07-04")).await.map(|_| ()).unwrap_err();
    assert!(matches!(e, arrow_flight::error::FlightError::Tonic(ref s) if s.code() == Code::NotFound), "{e:?}");
    let e = flight.do_get(Ticket::new("tomorrow")).await.map(|_| ()).unwrap_err();
    assert!(matches!(e, arrow_flight::error::FlightError::Tonic(ref s) if s.code() == Code::InvalidArgument), "{e:?}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_flight_input_gets_clear_errors() {
    let server = TestServer::season(&["--prediction-log", "false", "--max-flight-batch", "10"]).await;
    let mut flight = FlightClient::new(channel(&server.grpc).await);
    let status = |e: arrow_flight::error::FlightError| match e {
        arrow_flight::error::FlightError::Tonic(s) => *s,
        other => panic!("{other:?}"),
    };
    // A missing column.
    let only = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("player_id", DataType::Utf8, false)])),
        vec![Arc::new(StringArray::from(vec!["x"])) as ArrayRef],
    )
    .unwrap();
    let e = status(exchange(&mut flight, "requests", vec![only]).await.unwrap_err());
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("missing column \"game_date\""), "{}", e.message());
    // A mistyped feature column (text that is not a number).
    let names = nba_features::feature_names();
    let mut fields = vec![];
    let mut cols: Vec<ArrayRef> = vec![];
    for (j, name) in names.iter().enumerate() {
        if j == 3 {
            fields.push(Field::new(name, DataType::Utf8, false));
            cols.push(Arc::new(StringArray::from(vec!["abc"])));
        } else {
            fields.push(Field::new(name, DataType::Float32, false));
            cols.push(Arc::new(Float32Array::from(vec![1.0])));
        }
    }
    let e = status(exchange(&mut flight, "features", vec![RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()]).await.unwrap_err());
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains(&names[3]), "{}", e.message());
    // Over the batch limit: a resource the server bounds, not a malformed batch.
    let big = requests_batch(&vec![(Some("x"), "2024-03-05", "BOS", true, None); 11]);
    let e = status(exchange(&mut flight, "requests", vec![big]).await.unwrap_err());
    assert!(e.code() == Code::ResourceExhausted && e.message().contains("at most 10"), "{e:?}");
    // An unknown descriptor, for an exchange and for discovery.
    let e = status(exchange(&mut flight, "nope", vec![requests_batch(&[(Some("x"), "2024-03-05", "BOS", true, None)])]).await.unwrap_err());
    assert_eq!(e.code(), Code::InvalidArgument);
    assert!(e.message().contains("descriptor \"nope\""), "{}", e.message());
    let e = status(flight.get_schema(FlightDescriptor::new_path(vec!["nope".into()])).await.unwrap_err());
    assert_eq!(e.code(), Code::InvalidArgument);
    // A call this server does not offer.
    let e = status(flight.do_action(arrow_flight::Action::new("drop", "")).await.map(|_| ()).unwrap_err());
    assert_eq!(e.code(), Code::Unimplemented);
    // The call metrics carry each exchange's real status code (recorded when its stream
    // ends, just after the client has the error: poll).
    let counted = |m: &str, code: &str| m.contains(&format!("nba_grpc_requests_total{{method=\"FlightDoExchange\",code=\"{code}\"}}"));
    let mut m = String::new();
    for _ in 0..50 {
        m = server.metrics().await;
        if counted(&m, "RESOURCE_EXHAUSTED") && counted(&m, "INVALID_ARGUMENT") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(counted(&m, "RESOURCE_EXHAUSTED") && counted(&m, "INVALID_ARGUMENT"), "{m}");
    assert!(!counted(&m, "UNKNOWN"), "{m}");
    server.stop().await.unwrap();
}

/// UNAVAILABLE, end to end: a server with no model to serve, and one whose ClickHouse was
/// never reachable (no feature history). Raw feature rows need only the model.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flight_is_unavailable_without_a_model_or_a_feature_history() {
    let store = season_store().await;
    let t = trained().await;
    let status = |e: arrow_flight::error::FlightError| match e {
        arrow_flight::error::FlightError::Tonic(s) => *s,
        other => panic!("{other:?}"),
    };
    let one_request = || requests_batch(&[(Some("jamesle01"), "2024-03-05", "BOS", true, None)]);

    // Nothing promoted in the registry: the history loads, no model does.
    let empty = tempfile::tempdir().unwrap();
    let server = TestServer::start(config(empty.path(), store.url(), store.database(), &["--prediction-log", "false"])).await;
    wait_for(&server, "features_loaded_at").await;
    let mut flight = FlightClient::new(channel(&server.grpc).await);
    let e = status(flight.do_get(Ticket::new("slate/2024-03-05")).await.map(|_| ()).unwrap_err());
    assert!(e.code() == Code::Unavailable && e.message().contains("no model loaded"), "{e:?}");
    let e = status(exchange(&mut flight, "requests", vec![one_request()]).await.unwrap_err());
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    server.stop().await.unwrap();

    // ClickHouse never reachable: the model loads, the history does not.
    let dead = TestServer::start(config(&t.root, "http://127.0.0.1:9", store.database(), &["--prediction-log", "false"])).await;
    wait_for(&dead, "model_version").await;
    let mut flight = FlightClient::new(channel(&dead.grpc).await);
    let e = status(flight.do_get(Ticket::new("slate/2024-03-05")).await.map(|_| ()).unwrap_err());
    assert!(e.code() == Code::Unavailable && e.message().contains("feature history"), "{e:?}");
    // A request row cannot be answered (its error says why); the stream goes on.
    let out = exchange(&mut flight, "requests", vec![one_request()]).await.unwrap();
    let err = col::<StringArray>(&out[0], "error");
    assert!(err.value(0).starts_with("UNAVAILABLE: "), "{}", err.value(0));
    dead.stop().await.unwrap();
}

/// Polls `/ready` until its JSON has `field` set (the server is not ready: it lacks the other part).
async fn wait_for(server: &TestServer, field: &str) {
    for _ in 0..600 {
        if !server.ready_json().await.1[field].is_null() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("/ready never had {field}: {:?}", server.ready_json().await);
}

/// A Python with pyarrow (in a venv the tests create in the target folder, which CI may
/// reuse across runs, so pip runs once), or None without python3.
fn pyarrow_python() -> Option<std::path::PathBuf> {
    let python = which_python().ok()?;
    let target = std::env::var_os("CARGO_TARGET_DIR").map(std::path::PathBuf::from).unwrap_or_else(|| nba_testkit::workspace_root().join("target"));
    let venv = target.join("pyarrow-venv");
    let py = venv.join("bin/python");
    // Tests run in parallel: one at a time creates the venv and installs pyarrow.
    static SETUP: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one = SETUP.lock().unwrap_or_else(|e| e.into_inner());
    if !py.exists() {
        let ok = std::process::Command::new(&python).args(["-m", "venv"]).arg(&venv).status().unwrap().success();
        assert!(ok, "python3 -m venv failed");
    }
    let have = std::process::Command::new(&py).args(["-c", "import pyarrow.flight"]).status().unwrap().success();
    if !have {
        let ok = std::process::Command::new(&py).args(["-m", "pip", "install", "--quiet", "pyarrow"]).status().unwrap().success();
        assert!(ok, "pip install pyarrow failed");
    }
    Some(py)
}

/// A client nobody here wrote: pyarrow.flight, in a venv the test creates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_fetches_a_slate_and_exchanges_a_batch() {
    let Some(py) = pyarrow_python() else {
        eprintln!("SKIPPED pyarrow_fetches_a_slate_and_exchanges_a_batch: python3 is not installed");
        return;
    };
    let server = TestServer::season(&["--prediction-log", "false"]).await;
    let date = "2024-03-05";
    let script = nba_testkit::workspace_root().join("server/tests/flight_client.py");
    let addr = server.grpc.replace("http://", "grpc://");
    let out = tokio::process::Command::new(&py).arg(&script).arg(&addr).arg(date).output().await.unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut grpc = server.client().await;
    let slate = v["slate"].as_array().unwrap();
    assert!(slate.len() > 50, "{}", slate.len());
    for row in slate.iter().take(10) {
        let mut req = request(row["player_id"].as_str().unwrap(), date, row["opponent"].as_str().unwrap(), row["is_home"].as_bool().unwrap());
        req.team = Some(row["team"].as_str().unwrap().to_string());
        req.team_inactive = Some(Default::default());
        req.opponent_inactive = Some(Default::default());
        let single = grpc.predict(req).await.unwrap().into_inner();
        assert!((row["predicted_points"].as_f64().unwrap() - single.predicted_points).abs() < 1e-9);
    }
    for row in v["exchange"].as_array().unwrap() {
        let mut req = request(row["player_id"].as_str().unwrap(), date, row["opponent"].as_str().unwrap(), row["is_home"].as_bool().unwrap());
        req.team = Some(row["team"].as_str().unwrap().to_string());
        let single = grpc.predict(req).await.unwrap().into_inner();
        assert!((row["predicted_points"].as_f64().unwrap() - single.predicted_points).abs() < 1e-9);
    }
    assert_eq!(v["exchange"].as_array().unwrap().len(), 10);
    server.stop().await.unwrap();
}

fn which_python() -> Result<String, ()> {
    match std::process::Command::new("python3").arg("--version").output() {
        Ok(o) if o.status.success() => Ok("python3".into()),
        _ => Err(()),
    }
}

/// Runs `server/tests/flight_write_then_read.py` (pyarrow writes `rows` feature rows in
/// 100,000-row batches, then reads): its JSON line, or a panic if it has not finished
/// within two minutes (the exchange hung).
async fn write_everything_then_read(py: &std::path::Path, server: &TestServer, rows: usize) -> serde_json::Value {
    let script = nba_testkit::workspace_root().join("server/tests/flight_write_then_read.py");
    let addr = server.grpc.replace("http://", "grpc://");
    let run = tokio::process::Command::new(py).arg(&script).arg(&addr).arg(rows.to_string()).arg("100000").kill_on_drop(true).output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), run).await.expect("the exchange hung: no answer within 120 s").unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A client that writes a million rows before reading one answer gets every answer: the
/// server keeps reading while the answers wait for the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_writing_everything_before_reading_gets_every_answer() {
    let Some(py) = pyarrow_python() else {
        eprintln!("SKIPPED pyarrow_writing_everything_before_reading_gets_every_answer: python3 is not installed");
        return;
    };
    let server = TestServer::season(&["--prediction-log", "false"]).await;
    let v = write_everything_then_read(&py, &server, 1_000_000).await;
    assert_eq!(v["rows"], 1_000_000, "{v}");
    assert!(v["first"].as_array().unwrap().iter().all(|p| p.as_f64().is_some_and(f64::is_finite)), "{v}");
    server.stop().await.unwrap();
}

/// Past `--max-flight-answer-backlog-bytes` of unread answers the exchange ends with
/// RESOURCE_EXHAUSTED, which the client sees after its writes finish: never a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_writing_everything_past_the_answer_backlog_gets_resource_exhausted() {
    let Some(py) = pyarrow_python() else {
        eprintln!("SKIPPED pyarrow_writing_everything_past_the_answer_backlog_gets_resource_exhausted: python3 is not installed");
        return;
    };
    let server = TestServer::season(&["--prediction-log", "false", "--max-flight-answer-backlog-bytes", "2000000"]).await;
    let v = write_everything_then_read(&py, &server, 1_000_000).await;
    let message = v["message"].as_str().unwrap_or_else(|| panic!("expected an error: {v}"));
    assert!(message.contains("resource exhausted") || message.contains("RESOURCE_EXHAUSTED"), "{v}");
    assert!(message.contains("read answers while writing"), "{v}");
    // The server is fine afterwards: a client that reads gets its answers.
    let v = write_everything_then_read(&py, &server, 50_000).await;
    assert_eq!(v["rows"], 50_000, "{v}");
    server.stop().await.unwrap();
}
