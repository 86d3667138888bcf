//! Leads of a workspace: list (filters, keyset paging) for members who view campaigns; create,
//! bulk upsert by phone (≤ 10,000, every refused item answered with index and field) and delete
//! for those who manage them, each audited.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_sender::FieldError;
use switchboard_sender::leads::{self, BULK_MAX, BulkOutcome, Lead, LeadFilter, RawLead};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::guard::Member;
use crate::auth::roles::Permission;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query};
use crate::state::AppState;

/// The bulk endpoint's own body limit (10,000 leads with attributes), above the server-wide one.
pub const BULK_BODY_LIMIT: usize = 16 * 1024 * 1024;

/// A lead as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadView {
    pub id: Uuid,
    pub phone: String,
    pub first_name: String,
    pub last_name: String,
    pub state: Option<String>,
    /// The lead's own IANA zone, if given (else the sender derives it from the area code).
    pub time_zone: Option<String>,
    pub tags: Vec<String>,
    pub vertical: Option<String>,
    /// `mobile`, `landline`, `voip` or `unknown`.
    pub line_type: String,
    #[schema(value_type = Object)]
    pub attributes: serde_json::Value,
    pub created_at: DateTime<Utc>,
}

impl From<Lead> for LeadView {
    fn from(l: Lead) -> Self {
        Self {
            id: l.id,
            phone: l.phone,
            first_name: l.first_name,
            last_name: l.last_name,
            state: l.state,
            time_zone: l.time_zone,
            tags: l.tags,
            vertical: l.vertical,
            line_type: l.line_type.to_string(),
            attributes: l.attributes.0,
            created_at: l.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct LeadQuery {
    /// Part of the phone or name.
    pub q: Option<String>,
    /// Leads with this tag.
    pub tag: Option<String>,
    /// Two letters, e.g. `FL`.
    pub state: Option<String>,
    /// The previous page's `next_cursor`.
    pub cursor: Option<String>,
    /// 1–500, default 100.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LeadPage {
    pub items: Vec<LeadView>,
    /// Pass as `cursor` for the next page; null at the end.
    pub next_cursor: Option<Uuid>,
}

fn filter_of(q: LeadQuery) -> Result<LeadFilter, FieldError> {
    let blank = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(FieldError::new("limit", "Use a limit between 1 and 500."));
    }
    Ok(LeadFilter {
        q: blank(q.q),
        tag: blank(q.tag).map(|t| leads::parse_tag("tag", &t)).transpose()?,
        state: blank(q.state).map(|s| leads::parse_state("state", &s)).transpose()?,
        after: blank(q.cursor)
            .map(|c| c.parse().map_err(|_| FieldError::new("cursor", "Not a cursor.")))
            .transpose()?,
        limit,
    })
}

/// The workspace's leads in creation order, filtered and paged.
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/leads", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), LeadQuery),
    responses((status = 200, body = LeadPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    Query(query): Query<LeadQuery>,
) -> ApiResult<Json<LeadPage>> {
    member.require(&state, Permission::ViewCampaigns, "lead.list", "lead", None).await?;
    let filter = filter_of(query)?;
    let mut conn = state.db.acquire().await?;
    let rows = leads::list(&mut conn, member.workspace_id, &filter).await?;
    let next_cursor = (rows.len() as i64 == filter.limit).then(|| rows.last().map(|l| l.id)).flatten();
    Ok(Json(LeadPage { items: rows.into_iter().map(LeadView::from).collect(), next_cursor }))
}

/// A lead to add. `phone` in any common form (stored as E.164).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLeadBody {
    pub phone: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub state: Option<String>,
    /// IANA zone, e.g. `America/Chicago`.
    pub time_zone: Option<String>,
    pub tags: Option<Vec<String>>,
    pub vertical: Option<String>,
    pub line_type: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
}

impl From<NewLeadBody> for RawLead {
    fn from(b: NewLeadBody) -> Self {
        RawLead {
            phone: b.phone,
            first_name: b.first_name,
            last_name: b.last_name,
            state: b.state,
            time_zone: b.time_zone,
            tags: b.tags,
            vertical: b.vertical,
            line_type: b.line_type,
            attributes: b.attributes,
        }
    }
}

fn audited(l: &Lead) -> serde_json::Value {
    serde_json::json!({"phone": l.phone, "first_name": l.first_name, "last_name": l.last_name, "state": l.state,
        "time_zone": l.time_zone, "tags": l.tags, "vertical": l.vertical, "line_type": l.line_type})
}

/// Add a lead (owner, admin, manager).
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/leads", tag = "campaigns",
    params(("workspace_id" = Uuid, Path)), request_body = NewLeadBody,
    responses((status = 201, body = LeadView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    Json(req): Json<NewLeadBody>,
) -> ApiResult<(StatusCode, Json<LeadView>)> {
    member.require(&state, Permission::ManageCampaigns, "lead.created", "lead", None).await?;
    let lead = RawLead::from(req).parse()?;
    let mut tx = state.db.begin().await?;
    let lead = leads::insert(&mut tx, member.workspace_id, &lead).await?;
    audit::record(&mut *tx, &member, Entry::ok("lead.created", "lead", lead.id).change(None, Some(audited(&lead))))
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(lead.into())))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkBody {
    /// Up to 10,000 leads; a phone the workspace has updates that lead.
    #[schema(value_type = Vec<Object>)]
    pub leads: Vec<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkError {
    pub index: usize,
    /// The item's field at fault, e.g. `leads[3].phone`.
    pub field: String,
    pub message: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResult {
    pub created: u64,
    pub updated: u64,
    pub errors: Vec<BulkError>,
}

/// Each item read on its own, so one malformed item is an error at its index, not a 400.
fn read_items(items: Vec<serde_json::Value>) -> (Vec<RawLead>, Vec<usize>, Vec<BulkError>) {
    let (mut raw, mut indexes, mut errors) = (Vec::new(), Vec::new(), Vec::new());
    for (index, item) in items.into_iter().enumerate() {
        match serde_json::from_value::<RawLead>(item) {
            Ok(lead) => {
                raw.push(lead);
                indexes.push(index);
            }
            Err(e) => errors.push(BulkError { index, field: format!("leads[{index}]"), message: e.to_string() }),
        }
    }
    (raw, indexes, errors)
}

/// Upsert leads by phone (owner, admin, manager): every refused item is answered.
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/leads/bulk", tag = "campaigns",
    params(("workspace_id" = Uuid, Path)), request_body = BulkBody,
    responses((status = 200, body = BulkResult), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn bulk(
    State(state): State<AppState>,
    member: Member,
    Json(req): Json<BulkBody>,
) -> ApiResult<Json<BulkResult>> {
    member.require(&state, Permission::ManageCampaigns, "lead.bulk_upserted", "lead", None).await?;
    if req.leads.len() > BULK_MAX {
        return Err(ApiError::validation("leads", format!("Send at most {BULK_MAX} leads per request.")));
    }
    let (raw, indexes, mut errors) = read_items(req.leads);
    let mut tx = state.db.begin().await?;
    let BulkOutcome { created, updated, errors: refused } =
        leads::bulk_upsert(&mut tx, member.workspace_id, raw).await?;
    errors.extend(refused.into_iter().map(|e| {
        let index = indexes[e.index];
        let field = e.field.replacen(&format!("leads[{}]", e.index), &format!("leads[{index}]"), 1);
        BulkError { index, field, message: e.message }
    }));
    errors.sort_by_key(|e| e.index);
    let summary = serde_json::json!({"created": created, "updated": updated, "errors": errors.len()});
    audit::record(&mut *tx, &member, Entry::ok("lead.bulk_upserted", "lead", "bulk").change(None, Some(summary)))
        .await?;
    tx.commit().await?;
    Ok(Json(BulkResult { created, updated, errors }))
}

#[derive(Debug, Deserialize)]
pub struct LeadPath {
    #[allow(dead_code)]
    workspace_id: Uuid,
    lead_id: Uuid,
}

/// Delete a lead (owner, admin, manager).
#[utoipa::path(delete, path = "/api/workspaces/{workspace_id}/leads/{lead_id}", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), ("lead_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    member: Member,
    Path(LeadPath { lead_id, .. }): Path<LeadPath>,
) -> ApiResult<StatusCode> {
    member.require(&state, Permission::ManageCampaigns, "lead.deleted", "lead", Some(lead_id.to_string())).await?;
    let mut tx = state.db.begin().await?;
    let lead = leads::delete(&mut tx, member.workspace_id, lead_id).await?.ok_or(ApiError::NotFound)?;
    audit::record(&mut *tx, &member, Entry::ok("lead.deleted", "lead", lead_id).change(Some(audited(&lead)), None))
        .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
