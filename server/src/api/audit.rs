//! Reading the audit log, newest first, with filters and keyset paging.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::QueryBuilder;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::auth::guard::Member;
use crate::auth::roles::Permission;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Query};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditFilter {
    /// Actions starting with this text, e.g. `member.` or `member.role_changed`.
    pub action: Option<String>,
    pub target_type: Option<String>,
    /// `ok` or `denied`.
    pub outcome: Option<String>,
    pub actor_id: Option<Uuid>,
    /// Only entries older than this id (for the next page).
    pub before: Option<i64>,
    /// 1–200, default 50.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct AuditEntryView {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_email: Option<String>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub outcome: String,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPage {
    pub entries: Vec<AuditEntryView>,
    /// Pass as `before` for the next (older) page; null at the end.
    pub next_before: Option<i64>,
}

/// The workspace's audit log (owner and admin).
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/audit", tag = "audit",
    params(("workspace_id" = Uuid, Path), AuditFilter),
    responses((status = 200, body = AuditPage), (status = 403, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    Query(filter): Query<AuditFilter>,
) -> ApiResult<Json<AuditPage>> {
    member
        .require(&state, Permission::ViewAudit, "audit.read", "workspace", Some(member.workspace_id.to_string()))
        .await?;
    let limit = filter.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::validation("limit", "Use a limit between 1 and 200."));
    }
    if filter.outcome.as_deref().is_some_and(|o| o != "ok" && o != "denied") {
        return Err(ApiError::validation("outcome", "Use ok or denied."));
    }
    let mut q = QueryBuilder::new(
        "SELECT id, at, actor_id, actor_email, action, target_type, target_id, before, after, outcome, ip, request_id \
         FROM audit_log WHERE workspace_id = ",
    );
    q.push_bind(member.workspace_id);
    if let Some(action) = filter.action.as_deref().filter(|a| !a.is_empty()) {
        let escaped = action.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        q.push(" AND action LIKE ").push_bind(format!("{escaped}%"));
    }
    if let Some(target_type) = filter.target_type.as_deref().filter(|t| !t.is_empty()) {
        q.push(" AND target_type = ").push_bind(target_type.to_owned());
    }
    if let Some(outcome) = filter.outcome {
        q.push(" AND outcome = ").push_bind(outcome);
    }
    if let Some(actor) = filter.actor_id {
        q.push(" AND actor_id = ").push_bind(actor);
    }
    if let Some(before) = filter.before {
        q.push(" AND id < ").push_bind(before);
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(limit + 1);
    let mut entries: Vec<AuditEntryView> = q.build_query_as().fetch_all(&state.db).await?;
    let next_before = if entries.len() as i64 > limit {
        entries.truncate(limit as usize);
        entries.last().map(|e| e.id)
    } else {
        None
    };
    Ok(Json(AuditPage { entries, next_before }))
}
