//! Operations endpoints: liveness, readiness (PostgreSQL, and Redis when configured), and
//! Prometheus metrics; plus the middleware that counts and times every request.

use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::state::AppState;

/// The process is up.
pub async fn healthz() -> impl IntoResponse {
    axum::Json(json!({ "status": "ok" }))
}

/// The process can serve: its PostgreSQL (and Redis, when configured) answer within a second.
pub async fn readyz(State(state): State<AppState>) -> Response {
    let timeout = Duration::from_secs(1);
    let postgres = matches!(tokio::time::timeout(timeout, sqlx::query("SELECT 1").execute(&state.db)).await, Ok(Ok(_)));
    let redis = match state.redis.clone() {
        None => None,
        Some(mut conn) => Some(matches!(
            tokio::time::timeout(timeout, redis::cmd("PING").query_async::<String>(&mut conn)).await,
            Ok(Ok(_))
        )),
    };
    let ready = postgres && redis.unwrap_or(true);
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": if ready { "ready" } else { "unavailable" },
        "postgres": if postgres { "ok" } else { "down" },
        "redis": match redis { None => "not configured", Some(true) => "ok", Some(false) => "down" },
    });
    (status, axum::Json(body)).into_response()
}

/// Prometheus text exposition.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}

/// Counts requests and records their latency by route template and status.
pub async fn track(req: Request, next: Next) -> Response {
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let started = Instant::now();
    let response = next.run(req).await;
    let labels = [("method", method), ("route", route), ("status", response.status().as_u16().to_string())];
    metrics::counter!("switchboard_http_requests_total", &labels).increment(1);
    metrics::histogram!("switchboard_http_request_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}
