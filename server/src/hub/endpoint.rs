//! HTTP faces of the hub: the `/ws` upgrade, which authenticates the caller (session cookie
//! with a matching Origin, `Authorization: Bearer <API token>`, or `?token=` for clients that
//! cannot set headers), and `POST /api/workspaces/{workspace_id}/hub/publish`, through which an
//! admin's API token publishes record events (integrations, load tests).

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use switchboard_sender::WorkspaceId;

use super::connection;
use super::topics::Topic;
use crate::auth::guard::{AuthMethod, Member, Principal, RequestMeta};
use crate::auth::roles::Permission;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::state::AppState;

/// Read buffer per connection. Frames from clients are small; the buffer grows for a large
/// one (up to the frame limit) — this keeps an idle connection at a few KiB.
const READ_BUFFER: usize = 1024;
/// Writes are gathered up to this size before a syscall.
const WRITE_BUFFER: usize = 8 * 1024;

/// `GET /ws`: authenticate, then hand the socket to its connection task.
pub async fn upgrade(
    State(state): State<AppState>,
    meta: RequestMeta,
    uri: Uri,
    headers: HeaderMap,
    principal: Result<Principal, ApiError>,
    ws: WebSocketUpgrade,
) -> Response {
    let token = uri.query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "token").map(|(_, v)| v.into_owned())
    });
    let principal = match token {
        Some(token) => Principal::from_token(&state, &token, meta).await,
        None => principal,
    };
    let principal = match principal {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    if matches!(principal.auth, AuthMethod::Session { .. }) && !same_origin(&state, &headers) {
        // A cookie rides along with any page's request: only our own console may use it here.
        return ApiError::Forbidden.into_response();
    }
    let max_frame = state.hub.config.max_frame;
    ws.read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        .max_frame_size(max_frame)
        .max_message_size(max_frame)
        .on_upgrade(move |socket| connection::run(socket, state, principal))
}

fn same_origin(state: &AppState, headers: &HeaderMap) -> bool {
    let ours = state.config.public_url.origin().ascii_serialization();
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()).is_some_and(|origin| origin == ours)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    pub topic: String,
    pub kind: String,
    #[serde(default)]
    pub data: Value,
    /// Publish this many copies (1 ..= 10,000) in one request, for load tests.
    #[serde(default)]
    pub count: Option<u32>,
}

/// `POST /api/workspaces/{workspace_id}/hub/publish`: owners and admins publish events.
pub async fn publish(
    State(state): State<AppState>,
    member: Member,
    Path(workspace_id): Path<WorkspaceId>,
    Json(req): Json<PublishRequest>,
) -> ApiResult<Response> {
    member.require(&state, Permission::PublishEvents, "hub.publish", "topic", Some(req.topic.clone())).await?;
    let topic = Topic::parse(&req.topic).map_err(|_| ApiError::Validation {
        field: "topic".into(),
        message: "No such topic kind or a malformed id.".into(),
    })?;
    if req.kind.is_empty() || req.kind.len() > 64 {
        return Err(ApiError::Validation { field: "kind".into(), message: "kind must be 1 to 64 characters.".into() });
    }
    let count = req.count.unwrap_or(1).clamp(1, 10_000);
    for _ in 0..count {
        state.hub.publish_event(workspace_id, &topic.name, &req.kind, &req.data);
    }
    Ok((StatusCode::ACCEPTED, axum::Json(json!({ "published": count }))).into_response())
}
