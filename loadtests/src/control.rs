//! The simulator's own endpoints under `/sim/` (no auth, no faults): the record of accepted
//! creates, counters, replies, runtime behaviour changes, reset, and injecting an inbound message.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::config::BehaviourUpdate;
use crate::lifecycle;
use crate::server::{apply_update, record_of};
use crate::state::SimState;

pub async fn record(State(state): State<Arc<SimState>>) -> Response {
    Json(record_of(&state)).into_response()
}

pub async fn stats(State(state): State<Arc<SimState>>) -> Response {
    Json(state.stats()).into_response()
}

/// A webhook receiver that does nothing but read the request and answer 200: the baseline a
/// webhook benchmark compares ours with (what posting a callback costs on its own). Point a
/// server's PUBLIC_URL at a simulator and the callbacks another simulator posts land here.
pub async fn sink(State(state): State<Arc<SimState>>, _body: axum::body::Bytes) -> StatusCode {
    state.counters.webhooks_sunk.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    StatusCode::OK
}

pub async fn replies(State(state): State<Arc<SimState>>) -> Response {
    Json(state.replies()).into_response()
}

pub async fn reset(State(state): State<Arc<SimState>>) -> StatusCode {
    state.reset();
    StatusCode::NO_CONTENT
}

pub async fn get_config(State(state): State<Arc<SimState>>) -> Response {
    Json(&*state.behaviour()).into_response()
}

pub async fn set_config(State(state): State<Arc<SimState>>, body: axum::body::Bytes) -> Response {
    let update: BehaviourUpdate = match serde_json::from_slice(&body) {
        Ok(u) => u,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": e.to_string() }))).into_response();
        }
    };
    match apply_update(&state, update) {
        Ok(behaviour) => Json(behaviour).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": e.to_string() }))).into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundRequest {
    /// The recipient who texts.
    pub from: String,
    /// Our number, which must belong to a configured account.
    pub to: String,
    pub body: String,
}

/// A recipient texts one of our numbers: STOP/START apply, then the signed webhook is posted.
pub async fn inbound(State(state): State<Arc<SimState>>, body: axum::body::Bytes) -> Response {
    let request: InboundRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": e.to_string() }))).into_response();
        }
    };
    let Some(account) = state.accounts.values().find(|a| a.numbers.contains_key(&request.to)) else {
        let error = format!("{} is not a number of any simulated account", request.to);
        return (StatusCode::BAD_REQUEST, Json(serde_json::json!({ "error": error }))).into_response();
    };
    let entry = lifecycle::receive(&state, account, &request.from, &request.to, &request.body).await;
    Json(entry).into_response()
}
