//! Opt-outs of a workspace (docs/engine.md "Compliance"): the list with phone-prefix search and
//! the needs-review queue, a manual opt-out, one opt-out with its consent history, marking a
//! plain-language revocation reviewed, and lifting an opt-out (owners and admins). Every change
//! is audited, goes through `record_opt_out` / `record_opt_in` (so `consent_events` has it) and,
//! after commit, publishes `consent.changed` on the `inbox` topic for the engine's in-memory
//! opt-out set and the consoles. The CSV import lives in `opt_out_import.rs`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_sender::compliance::opt_outs::{self, ConsentEvent, OptOut, OptOutFilter};
use switchboard_sender::compliance::suppression::{self, ConsentContext, OptOutSource};
use switchboard_sender::{E164, FieldError, WorkspaceId};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::guard::Member;
use crate::auth::roles::Permission;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

/// An opt-out as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OptOutView {
    pub phone: String,
    pub opted_out_at: DateTime<Utc>,
    /// `keyword`, `phrase`, `carrier`, `manual` or `import`.
    pub source: String,
    /// Our number they wrote to (keyword, phrase) or that got 21610 (carrier).
    pub via_number: Option<String>,
    /// A plain-language revocation a person should look at.
    pub needs_review: bool,
    pub note: Option<String>,
}

impl From<OptOut> for OptOutView {
    fn from(o: OptOut) -> Self {
        Self {
            phone: o.phone,
            opted_out_at: o.opted_out_at,
            source: o.source,
            via_number: o.via_number,
            needs_review: o.needs_review,
            note: o.note,
        }
    }
}

/// What the audit log keeps of an opt-out.
pub fn audited(o: &OptOut) -> serde_json::Value {
    serde_json::json!({
        "phone": o.phone, "source": o.source, "via_number": o.via_number, "needs_review": o.needs_review, "note": o.note,
    })
}

/// Tells the engine's opt-out set and the consoles (call after commit).
pub fn publish_consent(state: &AppState, workspace: WorkspaceId, phone: &E164, opted_out: bool) {
    let payload = serde_json::json!({ "phone": phone, "opted_out": opted_out });
    state.bus().publish(workspace, "inbox", "consent.changed", payload);
}

/// A page size: 1–500, default 100.
pub fn page_limit(limit: Option<i64>) -> Result<i64, FieldError> {
    let limit = limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(FieldError::new("limit", "Use a limit between 1 and 500."));
    }
    Ok(limit)
}

/// A phone from the path or a body.
pub fn parse_phone(field: &'static str, raw: &str) -> Result<E164, FieldError> {
    E164::parse(raw).map_err(|e| FieldError::new(field, format!("{raw:?} is {e}.")))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OptOutQuery {
    /// The number's first digits with the country code, e.g. `1415` or `+1415`.
    pub q: Option<String>,
    /// Only opt-outs that do (true) or do not (false) await review.
    pub needs_review: Option<bool>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–500, default 100.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OptOutPage {
    pub items: Vec<OptOutView>,
    /// Pass as `cursor` for the next page; null at the end.
    pub next_cursor: Option<String>,
}

/// The workspace's opt-outs, ordered by phone.
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/opt-outs", tag = "compliance",
    params(("workspace_id" = Uuid, Path), OptOutQuery),
    responses((status = 200, body = OptOutPage), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    Query(query): Query<OptOutQuery>,
) -> ApiResult<Json<OptOutPage>> {
    member.require(&state, Permission::ViewCompliance, "opt_out.list", "opt_out", None).await?;
    let filter = OptOutFilter {
        prefix: opt_outs::parse_prefix(query.q.as_deref().unwrap_or_default())?,
        needs_review: query.needs_review,
        after: query.cursor.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()),
        limit: page_limit(query.limit)?,
    };
    let mut conn = state.db.acquire().await?;
    let rows = opt_outs::list(&mut conn, member.workspace_id, &filter).await?;
    let next_cursor = (rows.len() as i64 == filter.limit).then(|| rows.last().map(|o| o.phone.clone())).flatten();
    Ok(Json(OptOutPage { items: rows.into_iter().map(OptOutView::from).collect(), next_cursor }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOptOut {
    /// Any common form; stored as E.164 (numbers without a country code are read as +1).
    pub phone: String,
    pub note: Option<String>,
}

/// Opt a phone out by hand (owner, admin, manager). 201 when it was not opted out, 200 with the
/// standing opt-out when it already was.
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/opt-outs", tag = "compliance",
    params(("workspace_id" = Uuid, Path)), request_body = NewOptOut,
    responses((status = 201, body = OptOutView), (status = 200, body = OptOutView), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    Json(req): Json<NewOptOut>,
) -> ApiResult<(StatusCode, Json<OptOutView>)> {
    member.require(&state, Permission::ManageCompliance, "opt_out.created", "opt_out", None).await?;
    let phone = parse_phone("phone", &req.phone)?;
    let note = opt_outs::parse_note(req.note.as_deref())?;
    let ctx = ConsentContext { actor: Some(member.user_id()), note, ..Default::default() };
    let mut tx = state.db.begin().await?;
    let created = suppression::record_opt_out(&mut tx, member.workspace_id, &phone, OptOutSource::Manual, &ctx).await?;
    let opt_out = opt_outs::get(&mut tx, member.workspace_id, &phone).await?.ok_or(ApiError::NotFound)?;
    if created {
        let entry = Entry::ok("opt_out.created", "opt_out", &phone).change(None, Some(audited(&opt_out)));
        audit::record(&mut *tx, &member, entry).await?;
    }
    tx.commit().await?;
    if created {
        publish_consent(&state, member.workspace_id, &phone, true);
    }
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(opt_out.into())))
}

#[derive(Debug, Deserialize)]
pub struct PhonePath {
    #[allow(dead_code)]
    workspace_id: Uuid,
    phone: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentEventView {
    pub id: i64,
    /// `opt_out` or `opt_in`.
    pub kind: String,
    pub source: String,
    pub via_number: Option<String>,
    pub message_sid: Option<String>,
    /// The person who made the change, for manual ones.
    pub actor_id: Option<Uuid>,
    pub at: DateTime<Utc>,
}

impl From<ConsentEvent> for ConsentEventView {
    fn from(e: ConsentEvent) -> Self {
        Self {
            id: e.id,
            kind: e.kind,
            source: e.source,
            via_number: e.via_number,
            message_sid: e.message_sid,
            actor_id: e.actor_id.map(|a| a.0),
            at: e.at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OptOutDetail {
    pub phone: String,
    /// The standing opt-out; null when the phone opted back in.
    pub opt_out: Option<OptOutView>,
    /// Every opt-out and opt-in, oldest first.
    pub history: Vec<ConsentEventView>,
}

/// One phone's opt-out and consent history (404 when it never had either).
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/opt-outs/{phone}", tag = "compliance",
    params(("workspace_id" = Uuid, Path), ("phone" = String, Path, description = "E.164, e.g. +14155550100")),
    responses((status = 200, body = OptOutDetail), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    member: Member,
    Path(PhonePath { phone, .. }): Path<PhonePath>,
) -> ApiResult<Json<OptOutDetail>> {
    member.require(&state, Permission::ViewCompliance, "opt_out.read", "opt_out", Some(phone.clone())).await?;
    let phone = parse_phone("phone", &phone)?;
    let mut conn = state.db.acquire().await?;
    let opt_out = opt_outs::get(&mut conn, member.workspace_id, &phone).await?;
    let history = opt_outs::history(&mut conn, member.workspace_id, &phone).await?;
    if opt_out.is_none() && history.is_empty() {
        return Err(ApiError::NotFound);
    }
    Ok(Json(OptOutDetail {
        phone: phone.to_string(),
        opt_out: opt_out.map(OptOutView::from),
        history: history.into_iter().map(ConsentEventView::from).collect(),
    }))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Review {
    /// Replaces the stored note when given.
    pub note: Option<String>,
}

/// Mark an opt-out reviewed (owner, admin, manager): a person read the revocation. The phone
/// stays opted out; lifting it is `DELETE`.
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/opt-outs/{phone}/review", tag = "compliance",
    params(("workspace_id" = Uuid, Path), ("phone" = String, Path)), request_body = Review,
    responses((status = 200, body = OptOutView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn review(
    State(state): State<AppState>,
    member: Member,
    Path(PhonePath { phone, .. }): Path<PhonePath>,
    Json(req): Json<Review>,
) -> ApiResult<Json<OptOutView>> {
    member.require(&state, Permission::ManageCompliance, "opt_out.reviewed", "opt_out", Some(phone.clone())).await?;
    let phone = parse_phone("phone", &phone)?;
    let note = opt_outs::parse_note(req.note.as_deref())?;
    let mut tx = state.db.begin().await?;
    let (before, after) = opt_outs::mark_reviewed(&mut tx, member.workspace_id, &phone, note.as_deref())
        .await?
        .ok_or(ApiError::NotFound)?;
    let entry = Entry::ok("opt_out.reviewed", "opt_out", &phone).change(Some(audited(&before)), Some(audited(&after)));
    audit::record(&mut *tx, &member, entry).await?;
    tx.commit().await?;
    Ok(Json(after.into()))
}

/// Lift an opt-out: the phone opts back in (owner, admin; audited, kept in the consent history).
#[utoipa::path(delete, path = "/api/workspaces/{workspace_id}/opt-outs/{phone}", tag = "compliance",
    params(("workspace_id" = Uuid, Path), ("phone" = String, Path)),
    responses((status = 204), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    member: Member,
    Path(PhonePath { phone, .. }): Path<PhonePath>,
) -> ApiResult<StatusCode> {
    member.require(&state, Permission::LiftSuppression, "opt_out.removed", "opt_out", Some(phone.clone())).await?;
    let phone = parse_phone("phone", &phone)?;
    let mut tx = state.db.begin().await?;
    let before = opt_outs::get(&mut tx, member.workspace_id, &phone).await?.ok_or(ApiError::NotFound)?;
    let ctx = ConsentContext { actor: Some(member.user_id()), ..Default::default() };
    suppression::record_opt_in(&mut tx, member.workspace_id, &phone, "manual", &ctx).await?;
    let entry = Entry::ok("opt_out.removed", "opt_out", &phone).change(Some(audited(&before)), None);
    audit::record(&mut *tx, &member, entry).await?;
    tx.commit().await?;
    publish_consent(&state, member.workspace_id, &phone, false);
    Ok(StatusCode::NO_CONTENT)
}
