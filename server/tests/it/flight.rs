//! Arrow Flight: both exchange schemas, slates, discovery, request-time lists and lineups
//! and the sources each answer names, bad input and each error's status code, and pyarrow.

use crate::util::*;
use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::types::Int8Type;
use arrow_array::{Array, ArrayRef, BooleanArray, DictionaryArray, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_flight::encode::FlightDataEncoderBuilder;
use arrow_flight::{FlightClient, FlightDescriptor, Ticket};
use arrow_schema::{DataType, Field, Schema};
use futures::{StreamExt, TryStreamExt};
use nba_api::proto::predict::{PlayerList, PredictRequest};
use nba_server::flight::SOURCE_COLUMNS;
use nba_store::Store;
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

/// Each row's four sources (availability, opponent's availability, lineup, opponent's
/// lineup), read from their dictionary-encoded columns.
fn source_rows(b: &RecordBatch) -> Vec<[Option<&str>; 4]> {
    let cols = SOURCE_COLUMNS.map(|name| col::<DictionaryArray<Int8Type>>(b, name));
    let values = cols.map(|c| c.values().as_any().downcast_ref::<StringArray>().unwrap());
    (0..b.num_rows()).map(|k| std::array::from_fn(|i| cols[i].key(k).map(|key| values[i].value(key)))).collect()
}

/// Each row's `model_version`, checking that the batch sends the version once (a
/// dictionary of one value, a key per row).
fn model_versions(b: &RecordBatch) -> Vec<&str> {
    let c = col::<DictionaryArray<Int8Type>>(b, "model_version");
    let values = c.values().as_any().downcast_ref::<StringArray>().unwrap();
    assert_eq!(values.len(), 1, "one model answers a batch: its version once");
    (0..b.num_rows()).map(|k| values.value(c.key(k).expect("every row has a version"))).collect()
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
    assert_eq!(model_versions(b), vec![t.first.as_str(); n]);
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
    // Every team of the day is in the slate, and a row equals Predict without lists (a
    // stored day: the official ones, which every row names as its sources).
    let teams: std::collections::BTreeSet<&str> = (0..b.num_rows()).map(|k| col::<StringArray>(b, "team").value(k)).collect();
    assert_eq!(teams.len() as u64, games * 2);
    assert_eq!(source_rows(b), vec![[Some("official"); 4]; b.num_rows()]);
    for k in [0, b.num_rows() / 2, b.num_rows() - 1] {
        let mut req =
            request(col::<StringArray>(b, "player_id").value(k), date, col::<StringArray>(b, "opponent").value(k), col::<BooleanArray>(b, "is_home").value(k));
        req.team = Some(col::<StringArray>(b, "team").value(k).to_string());
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
    // The advertised schemas: the optional request-time columns, and the answer's sources
    // with the type the answers really carry.
    let requests = flight.get_schema(FlightDescriptor::new_path(vec!["requests".into()])).await.unwrap();
    for name in ["team_inactive", "opponent_inactive", "team_starters", "opponent_starters"] {
        let f = requests.field_with_name(name).unwrap();
        assert!(f.is_nullable() && matches!(f.data_type(), DataType::List(item) if item.data_type() == &DataType::Utf8), "{f:?}");
    }
    assert_eq!(requests.field_with_name("ignore_stored").unwrap().data_type(), &DataType::Boolean);
    let answers = info.try_decode_schema().unwrap();
    for name in SOURCE_COLUMNS {
        assert_eq!(answers.field_with_name(name).unwrap().data_type(), b.schema().field_with_name(name).unwrap().data_type(), "{name}");
    }
    assert!(answers.field_with_name("injury_report_time").unwrap().is_nullable());
    // No games that day, a bad ticket.
    let e = flight.do_get(Ticket::new("slate/2024-07-04")).await.map(|_| ()).unwrap_err();
    assert!(matches!(e, arrow_flight::error::FlightError::Tonic(ref s) if s.code() == Code::NotFound), "{e:?}");
    let e = flight.do_get(Ticket::new("tomorrow")).await.map(|_| ()).unwrap_err();
    assert!(matches!(e, arrow_flight::error::FlightError::Tonic(ref s) if s.code() == Code::InvalidArgument), "{e:?}");
    server.stop().await.unwrap();
}

/// A `["requests"]` row with every optional column: the request it stands for.
fn full_requests_batch(reqs: &[PredictRequest]) -> RecordBatch {
    let strings = |f: &dyn Fn(&PredictRequest) -> Option<&str>| Arc::new(StringArray::from(reqs.iter().map(f).collect::<Vec<_>>())) as ArrayRef;
    let list = |f: &dyn Fn(&PredictRequest) -> Option<&PlayerList>| {
        let mut b = ListBuilder::new(StringBuilder::new());
        for r in reqs {
            b.append_option(f(r).map(|l| l.player_ids.iter().map(|id| Some(id.as_str())).collect::<Vec<_>>()));
        }
        Arc::new(b.finish()) as ArrayRef
    };
    let cols: Vec<ArrayRef> = vec![
        strings(&|r| Some(&r.player_id)),
        strings(&|r| Some(&r.game_date)),
        strings(&|r| Some(&r.opponent)),
        Arc::new(BooleanArray::from(reqs.iter().map(|r| r.is_home).collect::<Vec<_>>())),
        strings(&|r| r.team.as_deref()),
        list(&|r| r.team_inactive.as_ref()),
        list(&|r| r.opponent_inactive.as_ref()),
        list(&|r| r.team_starters.as_ref()),
        list(&|r| r.opponent_starters.as_ref()),
        Arc::new(BooleanArray::from(reqs.iter().map(|r| Some(r.ignore_stored)).collect::<Vec<_>>())),
    ];
    let fields: Vec<Field> = cols
        .iter()
        .zip([
            "player_id",
            "game_date",
            "opponent",
            "is_home",
            "team",
            "team_inactive",
            "opponent_inactive",
            "team_starters",
            "opponent_starters",
            "ignore_stored",
        ])
        .map(|(c, name)| Field::new(name, c.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

#[derive(Debug, clickhouse::Row, serde::Deserialize)]
struct Player {
    player_id: String,
}

/// The box score's starters of `team` on `date`.
async fn starters(store: &Store, date: &str, team: &str) -> Vec<String> {
    let sql = "SELECT player_id FROM player_game_summary FINAL WHERE game_date = toDate(?) AND team = ? AND starter = 1 ORDER BY player_id";
    let ps: Vec<Player> = store.client().query(sql).bind(date).bind(team).fetch_all().await.unwrap();
    ps.into_iter().map(|p| p.player_id).collect()
}

/// The slate of `date`: one batch (a day's few hundred rows are far below the encoder's
/// 2 MiB split).
async fn slate(flight: &mut FlightClient, date: &str) -> RecordBatch {
    let batches: Vec<RecordBatch> = flight.do_get(Ticket::new(format!("slate/{date}"))).await.unwrap().try_collect().await.unwrap();
    one(batches)
}

fn one(mut batches: Vec<RecordBatch>) -> RecordBatch {
    assert_eq!(batches.len(), 1, "one batch expected");
    batches.remove(0)
}

/// The slate's request for row `k` (no lists: the slate gives none).
fn slate_request(b: &RecordBatch, k: usize) -> PredictRequest {
    PredictRequest {
        team: Some(col::<StringArray>(b, "team").value(k).to_string()),
        ..request(
            col::<StringArray>(b, "player_id").value(k),
            col::<StringArray>(b, "game_date").value(k),
            col::<StringArray>(b, "opponent").value(k),
            col::<BooleanArray>(b, "is_home").value(k),
        )
    }
}

/// The sample up to 2023-10-29: the 27th is stored (official lists and starters), the 30th
/// only scheduled. Request rows give lists and lineups, leave them out, or give them
/// empty, and each answer names its sources as `Predict` does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_rows_give_or_leave_lists_and_lineups_and_answers_name_their_sources() {
    let store = sample_database("flight_game_day", chrono::NaiveDate::from_ymd_opt(2023, 10, 29)).await;
    let server = TestServer::on(&store, &["--prediction-log", "false"]).await;
    let mut flight = FlightClient::new(channel(&server.grpc).await);
    let mut grpc = server.client().await;
    let past = slate(&mut flight, "2023-10-27").await;
    let future = slate(&mut flight, "2023-10-30").await;
    let (p, f) = (slate_request(&past, 0), slate_request(&future, 0));
    let team = p.team.clone().unwrap();
    let five = starters(&store, "2023-10-27", &team).await;
    assert_eq!(five.len(), 5, "{team}");
    let ids = |v: &[&str]| Some(PlayerList { player_ids: v.iter().map(|s| s.to_string()).collect() });
    let given = |v: &[String]| Some(PlayerList { player_ids: v.to_vec() });
    let cases: Vec<(PredictRequest, [&str; 4])> = vec![
        // Nothing given: a stored game's official lists and starters, a future game unknown.
        (p.clone(), ["official"; 4]),
        (f.clone(), ["unknown"; 4]),
        // Given lists win over the stored ones; a lineup left out stays official.
        (
            PredictRequest { team_inactive: ids(&[]), opponent_inactive: ids(&["jamesle01"]), team_starters: given(&five), ..p.clone() },
            ["request", "request", "request", "official"],
        ),
        // Empty lists are known (nobody out), not unknown; lineups not given stay unknown.
        (PredictRequest { team_inactive: ids(&[]), opponent_inactive: ids(&[]), ..f.clone() }, ["request", "request", "unknown", "unknown"]),
        (PredictRequest { team_starters: given(&five), ..f.clone() }, ["unknown", "unknown", "request", "unknown"]),
        // ignore_stored: the stored game as if nothing were known yet.
        (PredictRequest { ignore_stored: true, ..p.clone() }, ["unknown"; 4]),
        (PredictRequest { ignore_stored: true, opponent_starters: given(&five[..0]), ..p.clone() }, ["unknown", "unknown", "unknown", "request"]),
    ];
    let reqs: Vec<PredictRequest> = cases.iter().map(|(r, _)| r.clone()).collect();
    let out = exchange(&mut flight, "requests", vec![full_requests_batch(&reqs)]).await.unwrap();
    let b = one(out);
    assert_eq!(b.num_rows(), cases.len());
    let sources = source_rows(&b);
    let version = model_versions(&b)[0].to_string();
    assert!(model_versions(&b).iter().all(|v| *v == version) && !version.is_empty());
    let (pred, err, time) = (col::<Float64Array>(&b, "predicted_points"), col::<StringArray>(&b, "error"), col::<StringArray>(&b, "injury_report_time"));
    let mut distinct = std::collections::BTreeSet::new();
    for (k, (req, want)) in cases.iter().enumerate() {
        assert!(err.is_null(k), "row {k}: {}", err.value(k));
        assert_eq!(sources[k], want.map(Some), "row {k}: {req:?}");
        assert!(time.is_null(k), "row {k}: no injury report here");
        // The row is the request it stands for: the same answer as Predict.
        let single = grpc.predict(req.clone()).await.unwrap().into_inner();
        assert_eq!(pred.value(k), single.predicted_points, "row {k}");
        assert_eq!(flight_source_names(&single), want.map(Some), "row {k}: Predict names the same sources");
        distinct.insert(pred.value(k).to_bits());
    }
    assert!(distinct.len() >= 4, "what is given changes the answer: {distinct:?}");
    server.stop().await.unwrap();
}

/// The sources of a `PredictResponse`, spelled as the Flight columns spell them.
fn flight_source_names(r: &nba_api::proto::predict::PredictResponse) -> [Option<&'static str>; 4] {
    [r.availability_source, r.opponent_availability_source, r.lineup_source, r.opponent_lineup_source].map(nba_server::flight::source_name)
}

/// A slate goes through the same resolution as Predict: a stored day is official; a day
/// only scheduled is unknown until an injury report is loaded for one of its teams.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slate_says_official_unknown_or_injury_report_row_by_row() {
    use chrono::TimeZone;
    let store = sample_database("flight_slate_sources", chrono::NaiveDate::from_ymd_opt(2023, 10, 29)).await;
    let server = TestServer::on(&store, &["--prediction-log", "false"]).await;
    let mut flight = FlightClient::new(channel(&server.grpc).await);
    let mut grpc = server.client().await;

    let stored = slate(&mut flight, "2023-10-29").await;
    assert!(stored.num_rows() > 50, "{}", stored.num_rows());
    assert_eq!(source_rows(&stored), vec![[Some("official"); 4]; stored.num_rows()]);

    let date = "2023-10-30";
    let before = slate(&mut flight, date).await;
    assert!(before.num_rows() > 50, "{}", before.num_rows());
    assert_eq!(source_rows(&before), vec![[Some("unknown"); 4]; before.num_rows()]);
    assert_eq!(col::<StringArray>(&before, "injury_report_time").null_count(), before.num_rows());

    // A report for the first row's team: its best-known player Out.
    let first = slate_request(&before, 0);
    let team = first.team.clone().unwrap();
    let filed = chrono::Utc.with_ymd_and_hms(2023, 10, 30, 18, 0, 0).unwrap();
    let out = first.player_id.clone();
    let report = nba_store::rows::InjuryReportRow {
        report_time: filed,
        game_date: chrono::NaiveDate::from_ymd_opt(2023, 10, 30).unwrap(),
        team: team.clone(),
        player_id: out.clone(),
        player_name: out.clone(),
        status: "Out".into(),
        reason: String::new(),
        source_file: "flight-tests".into(),
        version: 1,
    };
    store.insert(&[report]).await.unwrap();
    let (code, body) = server.reload().await;
    assert_eq!((code, &body["features_refresh"]["result"]), (200, &serde_json::json!("reloaded")), "{body}");

    let after = slate(&mut flight, date).await;
    assert_eq!(after.num_rows(), before.num_rows());
    let (teams, opponents) = (col::<StringArray>(&after, "team"), col::<StringArray>(&after, "opponent"));
    let time = col::<StringArray>(&after, "injury_report_time");
    let mut reported = 0;
    for (k, sources) in source_rows(&after).into_iter().enumerate() {
        let (ours, theirs) = (teams.value(k) == team, opponents.value(k) == team);
        let availability = |reported: bool| Some(if reported { "injury_report" } else { "unknown" });
        assert_eq!(
            sources,
            [availability(ours), availability(theirs), Some("unknown"), Some("unknown")],
            "row {k}: {} of {}",
            col::<StringArray>(&after, "player_id").value(k),
            teams.value(k)
        );
        if ours || theirs {
            reported += 1;
            assert_eq!(chrono::DateTime::parse_from_rfc3339(time.value(k)).unwrap(), filed, "row {k}");
        } else {
            assert!(time.is_null(k), "row {k}");
        }
        // Each row is Predict without lists.
        if k % 25 == 0 {
            let single = grpc.predict(slate_request(&after, k)).await.unwrap().into_inner();
            assert_eq!(col::<Float64Array>(&after, "predicted_points").value(k), single.predicted_points, "row {k}");
            assert_eq!(flight_source_names(&single), sources, "row {k}");
        }
    }
    assert!(reported >= 20, "both teams of the reported game: {reported} rows");
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
    // A list column that is not a list; a row whose lineup is not one (its own error).
    let keys = requests_batch(&[(Some("jamesle01"), "2024-03-05", "BOS", true, None)]);
    let mut fields: Vec<Field> = keys.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("team_starters", DataType::Utf8, true));
    let mut cols = keys.columns().to_vec();
    cols.push(Arc::new(StringArray::from(vec!["jamesle01,davisan02"])));
    let flat = RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap();
    let e = status(exchange(&mut flight, "requests", vec![flat]).await.unwrap_err());
    assert_eq!((e.code(), e.message()), (Code::InvalidArgument, "column \"team_starters\" of type Utf8 is not a list (a list of player ids is expected)"));
    let six: Vec<String> = ["a01", "b01", "c01", "d01", "e01", "f01"].map(String::from).to_vec();
    let req = PredictRequest { team_starters: Some(PlayerList { player_ids: six }), ..request("jamesle01", "2024-03-05", "BOS", true) };
    let out = one(exchange(&mut flight, "requests", vec![full_requests_batch(&[req])]).await.unwrap());
    let err = col::<StringArray>(&out, "error").value(0);
    assert!(err.starts_with("INVALID_ARGUMENT: team_starters: 6 players"), "{err}");
    assert_eq!(source_rows(&out), vec![[None; 4]], "an unanswered row has no sources");
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

/// A client nobody here wrote: pyarrow.flight, in a venv the test creates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_fetches_a_slate_and_exchanges_a_batch() {
    let Some(py) = nba_testkit::pyarrow_python() else {
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
        let single = grpc.predict(req).await.unwrap().into_inner();
        assert!((row["predicted_points"].as_f64().unwrap() - single.predicted_points).abs() < 1e-9);
        assert_eq!(row["availability_source"], "official", "{row}");
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

/// Runs `server/tests/flight_write_then_read.py` (pyarrow writes `rows` feature rows in
/// 100,000-row batches, then reads): its JSON line, or a panic if it has not finished
/// within two minutes (the exchange hung).
async fn write_everything_then_read(py: &std::path::Path, server: &TestServer, rows: usize) -> serde_json::Value {
    write_everything_then_read_with(py, server, rows, &[]).await
}

/// As [`write_everything_then_read`], with the script's extra arguments (`small-window`).
async fn write_everything_then_read_with(py: &std::path::Path, server: &TestServer, rows: usize, extra: &[&str]) -> serde_json::Value {
    exchange_script(py, server, "flight_write_then_read.py", rows, extra).await
}

/// Runs a pyarrow exchange script of `server/tests` (`script ADDR ROWS 100000 EXTRA..`,
/// 100,000-row batches): its JSON line, or a panic if it has not finished within two
/// minutes (the exchange hung) or failed.
async fn exchange_script(py: &std::path::Path, server: &TestServer, script: &str, rows: usize, extra: &[&str]) -> serde_json::Value {
    let script = nba_testkit::workspace_root().join("server/tests").join(script);
    let addr = server.grpc.replace("http://", "grpc://");
    let run = tokio::process::Command::new(py).arg(&script).arg(&addr).arg(rows.to_string()).arg("100000").args(extra).kill_on_drop(true).output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), run).await.expect("the exchange hung: no answer within 120 s").unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A client that writes a million rows before reading one answer gets every answer: the
/// server keeps reading while the answers wait for the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_writing_everything_before_reading_gets_every_answer() {
    let Some(py) = nba_testkit::pyarrow_python() else {
        eprintln!("SKIPPED pyarrow_writing_everything_before_reading_gets_every_answer: python3 is not installed");
        return;
    };
    let server = TestServer::season(&["--prediction-log", "false"]).await;
    let v = write_everything_then_read(&py, &server, 1_000_000).await;
    assert_eq!(v["rows"], 1_000_000, "{v}");
    assert!(v["first"].as_array().unwrap().iter().all(|p| p.as_f64().is_some_and(f64::is_finite)), "{v}");
    server.stop().await.unwrap();
}

/// The other pattern on a million rows: pyarrow reads answers while a thread of it writes
/// (`server/tests/flight_concurrent.py`), and gets every answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_reading_while_writing_gets_every_answer() {
    let Some(py) = nba_testkit::pyarrow_python() else {
        eprintln!("SKIPPED pyarrow_reading_while_writing_gets_every_answer: python3 is not installed");
        return;
    };
    let server = TestServer::season(&["--prediction-log", "false"]).await;
    let v = exchange_script(&py, &server, "flight_concurrent.py", 1_000_000, &[]).await;
    assert_eq!(v["rows"], 1_000_000, "{v}");
    assert!(v["first"].as_array().unwrap().iter().all(|p| p.as_f64().is_some_and(f64::is_finite)), "{v}");
    server.stop().await.unwrap();
}

/// Past `--max-flight-answer-backlog-bytes` of unread answers the exchange ends with
/// RESOURCE_EXHAUSTED, which the client sees after its writes finish: never a hang.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyarrow_writing_everything_past_the_answer_backlog_gets_resource_exhausted() {
    let Some(py) = nba_testkit::pyarrow_python() else {
        eprintln!("SKIPPED pyarrow_writing_everything_past_the_answer_backlog_gets_resource_exhausted: python3 is not installed");
        return;
    };
    let server = TestServer::season(&["--prediction-log", "false", "--max-flight-answer-backlog-bytes", "2000000"]).await;
    // A client whose gRPC window does not grow: what it has not read stays unread on the
    // server (a window grown to many MB could take every answer into the client's buffers
    // on an idle machine, and the backlog would never fill).
    let v = write_everything_then_read_with(&py, &server, 1_000_000, &["small-window"]).await;
    let message = v["message"].as_str().unwrap_or_else(|| panic!("expected an error: {v}"));
    assert!(message.contains("resource exhausted") || message.contains("RESOURCE_EXHAUSTED"), "{v}");
    assert!(message.contains("read answers while writing"), "{v}");
    // The server is fine afterwards: a client that reads gets its answers.
    let v = write_everything_then_read(&py, &server, 50_000).await;
    assert_eq!(v["rows"], 50_000, "{v}");
    server.stop().await.unwrap();
}

/// `n` rows of the `["features"]` input: `row_id` from `first` on (a key the server hands
/// back), then the contract's features, taken from `rows` in turn.
fn features_batch(rows: &[Row], first: i64, n: usize) -> RecordBatch {
    let names = nba_features::feature_names();
    let mut fields = vec![Field::new("row_id", DataType::Int64, false)];
    let mut cols: Vec<ArrayRef> = vec![Arc::new(Int64Array::from((first..first + n as i64).collect::<Vec<_>>()))];
    for (j, name) in names.iter().enumerate() {
        fields.push(Field::new(name, DataType::Float32, true));
        let v: Vec<Option<f32>> = (0..n).map(|i| rows[i % rows.len()].features[j]).map(|x| (!x.is_nan()).then_some(x)).collect();
        cols.push(Arc::new(Float32Array::from(v)));
    }
    RecordBatch::try_new(Arc::new(Schema::new(fields)), cols).unwrap()
}

/// The messages of a `["features"]` exchange sending `batches`.
fn features_input(
    batches: impl futures::Stream<Item = RecordBatch> + Send + 'static,
) -> impl futures::Stream<Item = Result<arrow_flight::FlightData, arrow_flight::error::FlightError>> + Send + 'static {
    FlightDataEncoderBuilder::new().with_flight_descriptor(Some(FlightDescriptor::new_path(vec!["features".into()]))).build(batches.map(Ok))
}

/// Exchanges ended for making no progress so far, by the server's metrics (one process:
/// every server of this test run counts in them).
async fn stalled_exchanges(server: &TestServer, kind: &str) -> u64 {
    let m = server.metrics().await;
    let prefix = format!("nba_flight_stalled_total{{kind=\"{kind}\"}} ");
    m.lines().filter_map(|l| l.strip_prefix(&prefix)).map(|v| v.trim().parse::<f64>().unwrap() as u64).sum()
}

/// A client that sends two batches, then neither writes nor reads: with
/// `--flight-stall-secs 1` the server ends the exchange about a second later (not at
/// once, not never), and the client, when it reads at last, gets DEADLINE_EXCEEDED after
/// whatever answers its transport had already taken. A client that opens an exchange and
/// never sends its first message is cut off too; the server goes on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exchange_that_makes_no_progress_ends_with_deadline_exceeded() {
    let server = TestServer::season(&["--prediction-log", "false", "--flight-stall-secs", "1"]).await;
    let rows = rows("2024-03-05").await;
    let mut flight = FlightClient::new(channel(&server.grpc).await);
    let before = stalled_exchanges(&server, "features").await;

    let batches = futures::stream::iter([features_batch(&rows, 0, 1000), features_batch(&rows, 1000, 1000)]);
    let input = features_input(batches).chain(futures::stream::pending());
    let opened = std::time::Instant::now();
    let mut answers = flight.do_exchange(input).await.unwrap();
    // Not reading: wait for the server to count the stall (generous bound: a loaded machine).
    while stalled_exchanges(&server, "features").await == before {
        assert!(opened.elapsed() < std::time::Duration::from_secs(30), "no stall counted 30 s after the client stopped");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(opened.elapsed() >= std::time::Duration::from_secs(1), "cut off after {:?}, before the limit", opened.elapsed());

    let mut answered = 0;
    let e = loop {
        match answers.next().await {
            Some(Ok(b)) => answered += b.num_rows(),
            Some(Err(e)) => break e,
            None => panic!("the exchange ended without an error after {answered} rows"),
        }
    };
    let arrow_flight::error::FlightError::Tonic(status) = e else { panic!("{e:?}") };
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().starts_with("no input and no answer read for 1 s (--flight-stall-secs)"), "{}", status.message());
    assert!(answered <= 2000, "{answered}");

    // An exchange whose first message never comes.
    let opening = stalled_exchanges(&server, "opening").await;
    let never = futures::stream::pending::<Result<arrow_flight::FlightData, arrow_flight::error::FlightError>>();
    let e = tokio::time::timeout(std::time::Duration::from_secs(30), flight.do_exchange(never)).await.expect("not cut off").map(|_| ()).unwrap_err();
    let arrow_flight::error::FlightError::Tonic(status) = e else { panic!("{e:?}") };
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    assert!(status.message().contains("the first message never came"), "{}", status.message());
    assert!(stalled_exchanges(&server, "opening").await > opening);

    // The server goes on: an exchange that reads gets its answers.
    let out: Vec<RecordBatch> =
        flight.do_exchange(features_input(futures::stream::iter([features_batch(&rows, 0, 500)]))).await.unwrap().try_collect().await.unwrap();
    assert_eq!(out.iter().map(|b| b.num_rows()).sum::<usize>(), 500);
    server.stop().await.unwrap();
}

/// A slow client is never cut off while it makes progress, with `--flight-stall-secs 2`:
/// it writes a batch every 0.5 s for 2.5 s without reading (input is progress), then six
/// more at once, then reads an answer every 0.5 s for 6 s (taking answers is progress: its
/// HTTP/2 window of 64 KiB keeps most of them on the server, which hands each on only as
/// the client reads, so the last are handed on long after the last input), and gets every
/// answer in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_that_keeps_making_progress_is_never_cut_off() {
    let stall = std::time::Duration::from_secs(2);
    let server = TestServer::season(&["--prediction-log", "false", "--flight-stall-secs", "2"]).await;
    let rows = rows("2024-03-05").await;
    let endpoint = tonic::transport::Endpoint::from_shared(server.grpc.clone()).unwrap();
    let small_window = endpoint.initial_stream_window_size(Some(65_535)).initial_connection_window_size(Some(65_535));
    let mut flight = FlightClient::new(small_window.connect().await.unwrap());
    // 5,000 rows: one message each way (arrow-rs splits messages at 2 MiB), an answer
    // (about 65 KB) as big as the client's window.
    let (paced, batches, per_batch) = (6usize, 12usize, 5_000usize);

    let (written_tx, written) = tokio::sync::oneshot::channel::<()>();
    let input = futures::stream::unfold((0usize, Some(written_tx)), move |(i, mut done)| {
        let batch = (i < batches).then(|| features_batch(&rows, (i * per_batch) as i64, per_batch));
        async move {
            let Some(batch) = batch else {
                let _ = done.take().map(|tx| tx.send(()));
                return None;
            };
            if i > 0 && i < paced {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            Some((batch, (i + 1, done)))
        }
    });
    let started = std::time::Instant::now();
    let mut answers = flight.do_exchange(features_input(input)).await.unwrap();
    written.await.unwrap();
    let writing = started.elapsed();
    assert!(writing > stall, "the writes took {writing:?}, not longer than the limit: the test shows nothing");

    let reading = std::time::Instant::now();
    let mut ids = vec![];
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        match answers.next().await {
            Some(Ok(b)) => ids.extend_from_slice(col::<Int64Array>(&b, "row_id").values()),
            Some(Err(e)) => panic!("cut off after {} rows ({:?} writing, {:?} reading): {e:?}", ids.len(), writing, reading.elapsed()),
            None => break,
        }
    }
    assert!(reading.elapsed() > stall, "the reads took {:?}, not longer than the limit", reading.elapsed());
    assert_eq!(ids, (0..(batches * per_batch) as i64).collect::<Vec<_>>(), "every answer, in order");
    server.stop().await.unwrap();
}
