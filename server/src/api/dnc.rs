//! The internal DNC list of a workspace (docs/engine.md "Compliance"): list (newest first,
//! keyset paging), add one phone or a range `{from, to}`, remove an entry (owners and admins),
//! and the numbers the carrier refused for good (undeliverable). Every change is audited. The
//! CSV import lives in `opt_out_import.rs` beside the opt-out import.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_sender::compliance::dnc::{self, DncEntry, DncSpan, Undeliverable};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::opt_outs::page_limit;
use crate::audit::{self, Entry};
use crate::auth::guard::Member;
use crate::auth::roles::Permission;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

/// A DNC entry as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DncView {
    pub id: Uuid,
    /// The phone, for a single-phone entry; null for a range.
    pub phone: Option<String>,
    /// The first and last numbers covered (both the phone for a single one).
    pub from: String,
    pub to: String,
    /// How many numbers the entry covers.
    pub count: i64,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<Uuid>,
}

impl From<DncEntry> for DncView {
    fn from(e: DncEntry) -> Self {
        Self {
            id: e.id,
            phone: e.phone,
            from: e.from,
            to: e.to,
            count: e.count,
            reason: e.reason,
            created_at: e.created_at,
            created_by: e.created_by.map(|u| u.0),
        }
    }
}

/// What the audit log keeps of a DNC entry.
pub fn audited(e: &DncEntry) -> serde_json::Value {
    serde_json::json!({ "from": e.from, "to": e.to, "count": e.count, "reason": e.reason })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–500, default 100.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DncPage {
    pub items: Vec<DncView>,
    /// Pass as `cursor` for the next page; null at the end.
    pub next_cursor: Option<String>,
}

/// The workspace's DNC entries, newest first.
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/dnc", tag = "compliance",
    params(("workspace_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = DncPage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<DncPage>> {
    member.require(&state, Permission::ViewCompliance, "dnc.list", "dnc", None).await?;
    let limit = page_limit(query.limit)?;
    let before = match query.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => {
            Some(raw.parse::<Uuid>().map_err(|_| ApiError::validation("cursor", "Not a cursor from this list."))?)
        }
    };
    let mut conn = state.db.acquire().await?;
    let rows = dnc::list(&mut conn, member.workspace_id, before, limit).await?;
    let next_cursor = (rows.len() as i64 == limit).then(|| rows.last().map(|e| e.id.to_string())).flatten();
    Ok(Json(DncPage { items: rows.into_iter().map(DncView::from).collect(), next_cursor }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDnc {
    /// One phone (any common form; +1 when no country code) ...
    pub phone: Option<String>,
    /// ... or a range: its first and last numbers, same country and length, from ≤ to.
    pub from: Option<String>,
    pub to: Option<String>,
    pub reason: Option<String>,
}

/// Add a phone or a range to the DNC list (owner, admin, manager). 201 when new, 200 with the
/// existing entry when the same span is already listed.
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/dnc", tag = "compliance",
    params(("workspace_id" = Uuid, Path)), request_body = NewDnc,
    responses((status = 201, body = DncView), (status = 200, body = DncView), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    Json(req): Json<NewDnc>,
) -> ApiResult<(StatusCode, Json<DncView>)> {
    member.require(&state, Permission::ManageCompliance, "dnc.created", "dnc", None).await?;
    let span = DncSpan::parse(req.phone.as_deref(), req.from.as_deref(), req.to.as_deref())?;
    let reason = dnc::parse_reason(req.reason.as_deref())?;
    let mut tx = state.db.begin().await?;
    let (entry, created) = dnc::insert(&mut tx, member.workspace_id, &span, &reason, Some(member.user_id())).await?;
    if created {
        audit::record(&mut *tx, &member, Entry::ok("dnc.created", "dnc", entry.id).change(None, Some(audited(&entry))))
            .await?;
    }
    tx.commit().await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(entry.into())))
}

#[derive(Debug, Deserialize)]
pub struct DncPath {
    #[allow(dead_code)]
    workspace_id: Uuid,
    dnc_id: Uuid,
}

/// Remove a DNC entry (owner, admin; audited).
#[utoipa::path(delete, path = "/api/workspaces/{workspace_id}/dnc/{dnc_id}", tag = "compliance",
    params(("workspace_id" = Uuid, Path), ("dnc_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    member: Member,
    Path(DncPath { dnc_id, .. }): Path<DncPath>,
) -> ApiResult<StatusCode> {
    member.require(&state, Permission::LiftSuppression, "dnc.deleted", "dnc", Some(dnc_id.to_string())).await?;
    let mut tx = state.db.begin().await?;
    let entry = dnc::delete(&mut tx, member.workspace_id, dnc_id).await?.ok_or(ApiError::NotFound)?;
    audit::record(&mut *tx, &member, Entry::ok("dnc.deleted", "dnc", dnc_id).change(Some(audited(&entry)), None))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UndeliverableView {
    pub phone: String,
    /// `invalid` or `landline`.
    pub reason: String,
    /// The carrier's error (21211, 21614, 30006), when one said so.
    pub error_code: Option<i32>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UndeliverablePage {
    pub items: Vec<UndeliverableView>,
    /// Pass as `cursor` for the next page; null at the end.
    pub next_cursor: Option<String>,
}

/// Numbers never texted again because the carrier refused them for good, ordered by phone.
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/undeliverable", tag = "compliance",
    params(("workspace_id" = Uuid, Path), PageQuery),
    responses((status = 200, body = UndeliverablePage), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn undeliverable(
    State(state): State<AppState>,
    member: Member,
    Query(query): Query<PageQuery>,
) -> ApiResult<Json<UndeliverablePage>> {
    member.require(&state, Permission::ViewCompliance, "undeliverable.list", "undeliverable", None).await?;
    let limit = page_limit(query.limit)?;
    let after = query.cursor.as_deref().map(str::trim).filter(|c| !c.is_empty());
    let mut conn = state.db.acquire().await?;
    let rows: Vec<Undeliverable> = dnc::undeliverable(&mut conn, member.workspace_id, after, limit).await?;
    let next_cursor = (rows.len() as i64 == limit).then(|| rows.last().map(|u| u.phone.clone())).flatten();
    let items = rows
        .into_iter()
        .map(|u| UndeliverableView { phone: u.phone, reason: u.reason, error_code: u.error_code, at: u.at })
        .collect();
    Ok(Json(UndeliverablePage { items, next_cursor }))
}
