//! The admin HTTP port: `/metrics` (Prometheus), `/live` (the process answers), `/ready`
//! (model and features loaded and not shutting down; `degraded` when ClickHouse is
//! unreachable but the cached history still serves), `POST /admin/reload` (check the
//! registry and ClickHouse now). Kept off the gRPC port so probes and scrapes never
//! compete with predictions and can stay unauthenticated inside the cluster.

use crate::ServerState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use std::sync::Arc;

pub fn router(state: Arc<ServerState>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/live", get(|| async { "ok\n" }))
        .route("/ready", get(ready))
        .route("/admin/reload", post(reload))
        .with_state(state)
}

async fn metrics() -> impl IntoResponse {
    let handle = crate::telemetry::prometheus();
    handle.run_upkeep();
    ([("content-type", "text/plain; version=0.0.4")], handle.render())
}

fn status_json(s: &ServerState) -> serde_json::Value {
    let model = s.predictor.model_slot.get();
    let snap = s.predictor.feature_source.snapshot();
    let ready = s.is_ready();
    json!({
        "ready": ready,
        "degraded": ready && !s.predictor.feature_source.healthy(),
        "shutting_down": s.shutting_down.load(std::sync::atomic::Ordering::Relaxed),
        "model_version": model.as_ref().map(|m| m.version.clone()),
        "model_loaded_at": model.as_ref().map(|m| m.loaded_at.to_rfc3339()),
        "features_loaded_at": snap.as_ref().map(|s| s.loaded_at.to_rfc3339()),
        "features_last_game": snap.as_ref().and_then(|s| s.history.last_date()).map(|d| d.to_string()),
        "clickhouse": if s.predictor.feature_source.healthy() { "ok" } else { "unreachable" },
    })
}

async fn ready(State(s): State<Arc<ServerState>>) -> impl IntoResponse {
    let code = if s.is_ready() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (code, Json(status_json(&s)))
}

async fn reload(State(s): State<Arc<ServerState>>, headers: HeaderMap) -> impl IntoResponse {
    if let Some(token) = &s.auth_token
        && !crate::grpc::bearer_matches(headers.get("authorization").and_then(|v| v.to_str().ok()), token.as_bytes())
    {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "missing or wrong bearer token"})));
    }
    let model = s.predictor.model_slot.reload("admin").await;
    let features = s.predictor.feature_source.refresh().await;
    s.update_health().await;
    let mut body = status_json(&s);
    body["model_reload"] = match &model {
        Ok(crate::served_model::ReloadOutcome::Unchanged(v)) => {
            json!({"result": "unchanged", "version": v})
        }
        Ok(crate::served_model::ReloadOutcome::Swapped(from, to)) => {
            json!({"result": "swapped", "from": from, "to": to})
        }
        Err(e) => json!({"result": "refused", "error": e.to_string()}),
    };
    body["features_refresh"] = match &features {
        Ok(changed) => json!({"result": if *changed { "reloaded" } else { "unchanged" }}),
        Err(e) => json!({"result": "failed", "error": e.to_string()}),
    };
    let code = if model.is_ok() && features.is_ok() { StatusCode::OK } else { StatusCode::CONFLICT };
    (code, Json(body))
}
