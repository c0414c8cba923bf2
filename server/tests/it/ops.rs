//! Operations: hot reload under load, refused models, ClickHouse outages, graceful
//! shutdown, bearer tokens, size limits and the prediction log.

use crate::util::*;
use nba_api::proto::predict::PredictBatchRequest;
use nba_registry::{MANIFEST_FILE, MODEL_FILE};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tonic::Code;

async fn some_request() -> nba_api::proto::predict::PredictRequest {
    request_on("2024-03-05").await
}

/// The best scorer of `date` in the season, as a request.
async fn request_on(date: &str) -> nba_api::proto::predict::PredictRequest {
    #[derive(clickhouse::Row, serde::Deserialize)]
    struct G {
        player_id: String,
        d: String,
        opponent: String,
        is_home: u8,
    }
    let store = season_store().await;
    let g: G = store
        .client()
        .query("SELECT player_id, toString(game_date) AS d, opponent, is_home FROM player_game_summary FINAL WHERE status = 'Played' AND game_date = toDate(?) ORDER BY pts DESC LIMIT 1")
        .bind(date)
        .fetch_one()
        .await
        .unwrap();
    request(&g.player_id, &g.d, &g.opponent, g.is_home == 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hot_reload_under_concurrent_requests_fails_nothing() {
    let store = season_store().await;
    let t = trained().await;
    let (_dir, reg) = registry_copy().await;
    let server = TestServer::start(config(reg.root(), store.url(), store.database(), &[])).await;
    server.wait_ready().await;
    let req = some_request().await;
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let versions = Arc::new(std::sync::Mutex::new(std::collections::BTreeSet::new()));
    let mut workers = vec![];
    for _ in 0..8 {
        let (mut client, req, stop, ok, failed, versions) = (server.client().await, req.clone(), stop.clone(), ok.clone(), failed.clone(), versions.clone());
        workers.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                match client.predict(req.clone()).await {
                    Ok(r) => {
                        ok.fetch_add(1, Ordering::Relaxed);
                        versions.lock().unwrap().insert(r.into_inner().model_version);
                    }
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    // Promote 20 times, back and forth, while the workers run.
    for (i, v) in (0..20).map(|i| if i % 2 == 0 { &t.second } else { &t.first }).enumerate() {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        reg.promote(v).unwrap();
        let (code, body) = server.reload().await;
        assert_eq!(code, 200, "reload {i}: {body}");
        assert_eq!(body["model_reload"]["result"], "swapped", "{body}");
        assert_eq!(body["model_version"], v.as_str());
    }
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await.unwrap();
    }
    assert_eq!(failed.load(Ordering::Relaxed), 0, "requests failed during 20 reloads");
    assert!(ok.load(Ordering::Relaxed) > 100, "{}", ok.load(Ordering::Relaxed));
    assert_eq!(versions.lock().unwrap().len(), 2, "both versions answered");
    // A reload with an unchanged pointer changes nothing.
    let (_, body) = server.reload().await;
    assert_eq!(body["model_reload"]["result"], "unchanged");
    server.stop().await.unwrap();
}

/// A server that reuses answers (the default) gives, call after call and across model
/// swaps, exactly the answers of one that walks the trees on every call: a kept answer is
/// never served for another model than the one that made it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reused_answers_are_the_answers_a_new_walk_gives_across_model_swaps() {
    let store = season_store().await;
    let t = trained().await;
    let (_dir, reg) = registry_copy().await;
    let reusing = TestServer::start(config(reg.root(), store.url(), store.database(), &[])).await;
    let walking = TestServer::start(config(reg.root(), store.url(), store.database(), &["--reuse-answers", "false"])).await;
    reusing.wait_ready().await;
    walking.wait_ready().await;
    let reqs = [some_request().await, request_on("2024-02-08").await];
    let (mut a, mut b) = (reusing.client().await, walking.client().await);
    let mut by_version = std::collections::BTreeMap::new();
    for (i, v) in [&t.first, &t.second, &t.first].into_iter().enumerate() {
        if i > 0 {
            reg.promote(v).unwrap();
            for s in [&reusing, &walking] {
                let (code, body) = s.reload().await;
                assert_eq!((code, body["model_version"].as_str()), (200, Some(v.as_str())), "{body}");
            }
        }
        for req in &reqs {
            let walked = b.predict(req.clone()).await.unwrap().into_inner();
            assert_eq!(walked.model_version, *v);
            // The first call walks and keeps the answer, the next ones reuse it.
            for call in 0..3 {
                let got = a.predict(req.clone()).await.unwrap().into_inner();
                assert_eq!(got, walked, "model {v}, call {call}: reused answer differs from a new walk");
            }
            by_version.entry(v.clone()).or_insert_with(Vec::new).push(walked.predicted_points);
        }
    }
    // The two models answer differently, so a stale answer would have been seen above.
    assert_ne!(by_version[&t.first][..2], by_version[&t.second][..], "{by_version:?}");
    reusing.stop().await.unwrap();
    walking.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_or_mismatched_models_are_refused_and_the_old_one_keeps_serving() {
    let store = season_store().await;
    let t = trained().await;
    let (_dir, reg) = registry_copy().await;
    let server = TestServer::start(config(reg.root(), store.url(), store.database(), &[])).await;
    server.wait_ready().await;
    let req = some_request().await;
    let mut client = server.client().await;
    let before = client.predict(req.clone()).await.unwrap().into_inner();

    let clone_version = |name: &str| {
        let from = reg.version_dir(&t.second);
        let to = reg.version_dir(name);
        std::fs::create_dir_all(&to).unwrap();
        for f in [MODEL_FILE, MANIFEST_FILE] {
            std::fs::copy(from.join(f), to.join(f)).unwrap();
        }
        let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(to.join(MANIFEST_FILE)).unwrap()).unwrap();
        m["version"] = name.into();
        (to, m)
    };
    let write = |dir: &std::path::Path, m: &serde_json::Value| std::fs::write(dir.join(MANIFEST_FILE), serde_json::to_vec(m).unwrap()).unwrap();

    // 1. Corrupt bytes: the checksum no longer matches.
    let (dir, m) = clone_version("corrupt");
    write(&dir, &m);
    let mut bytes = std::fs::read(dir.join(MODEL_FILE)).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(dir.join(MODEL_FILE), &bytes).unwrap();
    // 2. Another feature contract.
    let (dir2, mut m2) = clone_version("other-contract");
    m2["contract_hash"] = "0000".into();
    write(&dir2, &m2);
    // 3. A model that does not score its canaries (as if the file were swapped).
    let (dir3, mut m3) = clone_version("bad-canary");
    m3["canaries"][0]["expected"] = 1000.0.into();
    write(&dir3, &m3);
    // 4. Not ONNX at all, with a matching checksum.
    let (dir4, mut m4) = clone_version("not-onnx");
    std::fs::write(dir4.join(MODEL_FILE), b"not a model").unwrap();
    m4["model_sha256"] = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b"not a model")).into();
    write(&dir4, &m4);

    for (name, why) in [("corrupt", "sha256"), ("other-contract", "contract"), ("bad-canary", "canary"), ("not-onnx", "model")] {
        reg.promote(name).unwrap();
        let (code, body) = server.reload().await;
        assert_eq!(code, 409, "{name}: {body}");
        assert_eq!(body["model_reload"]["result"], "refused");
        assert!(body["model_reload"]["error"].as_str().unwrap().contains(why), "{name}: {body}");
        assert_eq!(body["model_version"], t.first.as_str(), "{name}: the old model stays");
        let now = client.predict(req.clone()).await.unwrap().into_inner();
        assert_eq!(now, before, "{name}: answers unchanged");
    }
    let m = server.metrics().await;
    assert!(m.contains("nba_model_reloads_total{result=\"failure\",trigger=\"admin\"}"), "{m}");
    // A good version after the bad ones is taken.
    reg.promote(&t.second).unwrap();
    let (code, body) = server.reload().await;
    assert_eq!((code, body["model_version"].as_str()), (200, Some(t.second.as_str())), "{body}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_outage_serves_from_cache_and_reports_degraded() {
    let store = season_store().await;
    let t = trained().await;
    // Never reachable: nothing loads, every prediction is UNAVAILABLE, not ready.
    let dead = TestServer::start(config(&t.root, "http://127.0.0.1:9", store.database(), &["--prediction-log", "false"])).await;
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (code, body) = dead.ready_json().await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(body["clickhouse"], "unreachable");
    let req = some_request().await;
    let e = dead.client().await.predict(req.clone()).await.unwrap_err();
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
    dead.stop().await.unwrap();

    // Reachable, then cut: the cached history keeps answering; a player outside it is
    // UNAVAILABLE (he may be in data we cannot read), not NOT_FOUND.
    let proxy = Proxy::start(store.url()).await;
    let server = TestServer::start(config(&t.root, &proxy.url, store.database(), &["--prediction-log", "false"])).await;
    server.wait_ready().await;
    let mut client = server.client().await;
    let before = client.predict(req.clone()).await.unwrap().into_inner();
    assert_eq!(client.predict(request("nobodyxx01", &req.game_date, &req.opponent, true)).await.unwrap_err().code(), Code::NotFound);
    proxy.cut();
    // The next refresh (every second) fails.
    let mut degraded = false;
    for _ in 0..100 {
        let (code, body) = server.ready_json().await;
        if body["degraded"] == true {
            assert_eq!(code, 200, "degraded still serves: {body}");
            degraded = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(degraded, "readiness never reported degraded");
    assert_eq!(client.predict(req.clone()).await.unwrap().into_inner(), before);
    let mut other_day = req.clone();
    other_day.game_date = "2024-03-06".into();
    client.predict(other_day).await.unwrap();
    assert_eq!(client.predict(request("nobodyxx01", &req.game_date, &req.opponent, true)).await.unwrap_err().code(), Code::Unavailable);
    assert!(server.metrics().await.contains("nba_clickhouse_errors_total{operation=\"feature_refresh\"}"));
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_completes_in_flight_calls_then_refuses_new_ones() {
    // A second between NOT_SERVING and closing the listener, as load balancers need.
    let mut server = TestServer::season(&["--prediction-log", "false", "--shutdown-delay-secs", "1"]).await;
    let req = some_request().await;
    // A large batch of distinct requests (cache misses) is in flight when the signal comes.
    let reqs: Vec<_> = (0..4000)
        .map(|i| {
            let mut r = req.clone();
            r.game_date = format!("2024-{:02}-{:02}", 3 + (i / 28) % 2, 1 + i % 28);
            r.line = Some(10.0 + (i / 56) as f64);
            r
        })
        .collect();
    let mut client = server.client().await;
    let call = tokio::spawn(async move { client.predict_batch(PredictBatchRequest { requests: reqs }).await });
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel(&server.grpc).await);
    server.begin_stop();
    // Health flips to NOT_SERVING first, while the listener still accepts.
    let mut saw_not_serving = false;
    for _ in 0..100 {
        let r = health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await.unwrap();
        if r.get_ref().status == tonic_health::pb::health_check_response::ServingStatus::NotServing as i32 {
            saw_not_serving = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    assert!(saw_not_serving, "health never reported NOT_SERVING during the shutdown delay");
    let (code, body) = server.ready_json().await;
    assert_eq!((code, &body["shutting_down"]), (503, &serde_json::Value::Bool(true)));
    let out = call.await.unwrap().expect("the in-flight batch completes").into_inner();
    assert_eq!(out.results.len(), 4000);
    let grpc = server.grpc.clone();
    server.stop().await.expect("run returns Ok after draining");
    // The listener is closed: new connections fail.
    assert!(nba_api::proto::predict::prediction_service_client::PredictionServiceClient::connect(grpc).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_token_batch_and_size_limits() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "a-long-enough-test-token\n").unwrap();
    let server = TestServer::season(&["--auth-token-file", token_file.to_str().unwrap(), "--max-batch", "3", "--max-request-bytes", "2048"]).await;
    let req = some_request().await;
    let mut client = server.client().await;
    assert_eq!(client.predict(req.clone()).await.unwrap_err().code(), Code::Unauthenticated);
    fn with<T>(token: &str, r: T) -> tonic::Request<T> {
        let mut r = tonic::Request::new(r);
        r.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
        r
    }
    assert_eq!(client.predict(with("wrong-token-of-some-length", req.clone())).await.unwrap_err().code(), Code::Unauthenticated);
    client.predict(with("a-long-enough-test-token", req.clone())).await.unwrap();
    // Health stays open for probes.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel(&server.grpc).await);
    health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await.unwrap();
    // Too many items, too many bytes.
    let e = client.predict_batch(with("a-long-enough-test-token", PredictBatchRequest { requests: vec![req.clone(); 4] })).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let mut big = req.clone();
    big.team_inactive = Some(nba_api::proto::predict::PlayerList { player_ids: vec!["x".repeat(30); 100] });
    let e = client.predict(with("a-long-enough-test-token", big)).await.unwrap_err();
    assert!(matches!(e.code(), Code::OutOfRange | Code::ResourceExhausted), "{e:?}");
    // The admin reload needs the token too.
    let r = reqwest::Client::new().post(format!("{}/admin/reload", server.admin)).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_prediction_is_logged_to_clickhouse() {
    let store = season_store().await;
    let server = TestServer::season(&[]).await;
    let mut client = server.client().await;
    // A day no other test asks about, so the grade below sees only this test's answers.
    let mut req = request_on("2024-03-12").await;
    let marker_line = 17.25;
    req.line = Some(marker_line);
    let r = client.predict(req.clone()).await.unwrap().into_inner();
    // The same question three times by batch: one row, asked 3 times (repeats collapse
    // within the log's window).
    client.predict_batch(PredictBatchRequest { requests: vec![req.clone(), req.clone()] }).await.unwrap();
    client.predict_batch(PredictBatchRequest { requests: vec![req.clone()] }).await.unwrap();
    // Shutdown flushes the log.
    server.stop().await.unwrap();
    #[derive(Debug, clickhouse::Row, serde::Deserialize)]
    struct L {
        method: String,
        model_version: String,
        predicted_pts: f32,
        call: String,
        n: u32,
        source: String,
        asked: u32,
    }
    let rows: Vec<L> = store
        .client()
        .query("SELECT method, model_version, predicted_pts, call, toUInt32(length(features)) AS n, source, asked FROM predictions WHERE player_id = ? AND line = ? ORDER BY method")
        .bind(&req.player_id)
        .bind(marker_line)
        .fetch_all()
        .await
        .unwrap();
    assert_eq!(rows.iter().map(|l| (l.method.as_str(), l.asked)).collect::<Vec<_>>(), [("Predict", 1), ("PredictBatch", 3)], "{rows:?}");
    for l in &rows {
        assert_eq!((l.model_version.as_str(), l.source.as_str()), (r.model_version.as_str(), "request"));
        assert!((l.predicted_pts as f64 - r.predicted_points).abs() < 1e-4);
        assert_eq!(l.n as usize, nba_features::N_FEATURES);
        assert!(["OVER", "UNDER", "PASS"].contains(&l.call.as_str()));
    }
    // Grading reads the latest answer per player and question: one graded prediction,
    // with the answer given, however often it was asked.
    let date: chrono::NaiveDate = req.game_date.parse().unwrap();
    let grades = nba_ingest::grade::grade(store, date, date).await.unwrap();
    let mine: Vec<_> = grades.graded.iter().filter(|g| g.player_id == req.player_id && g.model_version == r.model_version && g.source == "request").collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0].predicted, r.predicted_points as f32);
    assert_eq!(mine[0].line, Some(marker_line as f32));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overload_beyond_the_concurrency_limit_is_shed_not_queued() {
    let server = TestServer::season(&["--prediction-log", "false", "--max-concurrency", "1"]).await;
    let req = some_request().await;
    let ch = channel(&server.grpc).await;
    // Large batches of distinct dates (cache misses) keep the one slot busy.
    let batch: Vec<_> = (0..2000)
        .map(|i| {
            let mut r = req.clone();
            r.game_date = format!("2024-{:02}-{:02}", 1 + (i / 28) % 3, 1 + i % 28);
            r.line = Some(i as f64 / 10.0);
            r
        })
        .collect();
    let mut calls = vec![];
    for _ in 0..8 {
        let mut c = nba_api::proto::predict::prediction_service_client::PredictionServiceClient::new(ch.clone());
        let b = batch.clone();
        calls.push(tokio::spawn(async move { c.predict_batch(PredictBatchRequest { requests: b }).await.map(|_| ()) }));
    }
    let mut codes = vec![];
    for c in calls {
        codes.push(c.await.unwrap().err().map(|s| s.code()));
    }
    let shed = codes.iter().filter(|c| **c == Some(Code::ResourceExhausted)).count();
    let ok = codes.iter().filter(|c| c.is_none()).count();
    assert!(ok >= 1 && shed >= 1 && ok + shed == codes.len(), "{codes:?}");
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_serves_with_a_certificate_and_refuses_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost"])
        // A leaf certificate (rustls refuses a CA certificate as a server's own).
        .args([
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "extendedKeyUsage=serverAuth",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian package openssl) makes the test certificate");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let server = TestServer::season(&["--prediction-log", "false", "--tls-cert", cert.to_str().unwrap(), "--tls-key", key.to_str().unwrap()]).await;
    let port = server.grpc.rsplit(':').next().unwrap().to_string();
    let tls = tonic::transport::ClientTlsConfig::new()
        .ca_certificate(tonic::transport::Certificate::from_pem(std::fs::read(&cert).unwrap()))
        .domain_name("localhost");
    let ch = tonic::transport::Endpoint::from_shared(format!("https://127.0.0.1:{port}")).unwrap().tls_config(tls).unwrap().connect().await.unwrap();
    let mut client = nba_api::proto::predict::prediction_service_client::PredictionServiceClient::new(ch);
    client.predict(some_request().await).await.unwrap();
    // A plaintext client gets no answer.
    let plain = tonic::transport::Endpoint::from_shared(server.grpc.clone()).unwrap().connect().await;
    if let Ok(ch) = plain {
        let mut c = nba_api::proto::predict::prediction_service_client::PredictionServiceClient::new(ch);
        assert!(c.predict(some_request().await).await.is_err());
    }
    server.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_logs_or_error_messages() {
    use tokio::io::AsyncBufReadExt;
    let store = season_store().await;
    let t = trained().await;
    let (password, token) = ("pw-SECRET-31337-xyz", "token-SECRET-4242-abcdef");
    let dir = tempfile::tempdir().unwrap();
    let pw_file = dir.path().join("pw");
    std::fs::write(&pw_file, password).unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_nba-server"))
        .args(["serve", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--feature-refresh-secs", "1", "--log-format", "json"])
        .arg("--registry")
        .arg(&t.root)
        .args(["--clickhouse-url", store.url(), "--database", store.database(), "--clickhouse-user", "default"])
        .arg("--clickhouse-password-file")
        .arg(&pw_file)
        .env("NBA_AUTH_TOKEN", token)
        .env("RUST_LOG", "debug")
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut log = String::new();
    let mut grpc = None;
    while grpc.is_none() {
        let line = lines.next_line().await.unwrap().expect("server exited before its start line");
        if line.contains("nba-server starting") {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            grpc = v["fields"]["grpc"].as_str().map(|s| format!("http://{s}"));
        }
        log.push_str(&line);
        log.push('\n');
    }
    // The wrong password keeps ClickHouse out; calls with and without tokens fail.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let mut client = nba_api::proto::predict::prediction_service_client::PredictionServiceClient::new(channel(&grpc.unwrap()).await);
    let mut messages = vec![];
    for auth in [None, Some("Bearer wrong-token-of-length"), Some(&*format!("Bearer {token}"))] {
        let mut r = tonic::Request::new(some_request().await);
        if let Some(a) = auth {
            r.metadata_mut().insert("authorization", a.parse().unwrap());
        }
        let e = client.predict(r).await.unwrap_err();
        messages.push(format!("{e:?}"));
    }
    assert_eq!(messages.len(), 3);
    assert!(messages[2].contains("Unavailable"), "{}", messages[2]);
    let pid = child.id().unwrap() as i32;
    std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    while let Ok(Some(line)) = lines.next_line().await {
        log.push_str(&line);
        log.push('\n');
    }
    assert!(child.wait().await.unwrap().success());
    assert!(log.contains("feature refresh failed"), "the failure itself is logged:\n{log}");
    for secret in [password, token] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
        assert!(!messages.iter().any(|m| m.contains(secret)), "{secret} in an error message");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_cpus_awake_serves_predict_and_still_checks_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "a-long-enough-test-token\n").unwrap();
    let server = TestServer::season(&[
        "--prediction-log",
        "false",
        "--keep-cpus-awake",
        "2",
        "--keep-awake-window-us",
        "2000",
        "--auth-token-file",
        token_file.to_str().unwrap(),
    ])
    .await;
    let req = some_request().await;
    let mut client = server.client().await;
    // The interceptor that notes calls for the keep-awake threads still runs the bearer check.
    assert_eq!(client.predict(req.clone()).await.unwrap_err().code(), Code::Unauthenticated);
    let with = |r| {
        let mut r = tonic::Request::new(r);
        r.metadata_mut().insert("authorization", "Bearer a-long-enough-test-token".parse().unwrap());
        r
    };
    let first = client.predict(with(req.clone())).await.unwrap().into_inner();
    assert!(first.predicted_points > 0.0 && first.predicted_points < 80.0, "{first:?}");
    // Calls farther apart than the window (the threads sleep in between) and back to back.
    for i in 0..10 {
        if i % 2 == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let r = client.predict(with(req.clone())).await.unwrap().into_inner();
        assert_eq!(r.predicted_points, first.predicted_points);
    }
    // The threads were woken from sleep by those calls (the counter is updated by them,
    // asynchronously: poll).
    let mut wakeups = 0.0;
    for _ in 0..300 {
        let m = server.metrics().await;
        wakeups = m.lines().find_map(|l| l.strip_prefix("nba_keep_awake_wakeups_total ")).and_then(|v| v.trim().parse().ok()).unwrap_or(0.0);
        if wakeups > 0.0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(wakeups > 0.0, "nba_keep_awake_wakeups_total never rose");
    // Shutdown stops and joins the threads and still returns Ok.
    server.stop().await.unwrap();
}
