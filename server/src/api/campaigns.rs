//! Campaigns: list and read (with live counters) for members who view campaigns; create, change,
//! delete and the lifecycle (start, pause, resume, cancel) for those who manage them, each
//! audited, status changes published on `campaign:<id>` after commit; and the dry-run preview.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_sender::campaigns::{
    self, Action, Audience, Campaign, CampaignSpec, Status, Step, Steps, TransitionError,
};
use switchboard_sender::plan::preview::{self, PageRequest, Preview};
use switchboard_sender::stats::{self, Counters};
use switchboard_sender::{FieldError, WorkspaceId, leads};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::guard::Member;
use crate::auth::roles::Permission;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query, nullable};
use crate::state::AppState;

/// A campaign as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignView {
    pub id: Uuid,
    pub name: String,
    /// `draft`, `scheduled`, `running`, `paused`, `completed` or `canceled`.
    #[schema(value_type = String)]
    pub status: Status,
    pub crusade_id: Option<Uuid>,
    /// `[{after_days, templates: [..]}]`.
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<Step>,
    /// `{tags?, states?, area_codes?, vertical?}`.
    #[schema(value_type = Object)]
    pub audience: Audience,
    pub number_pool: Vec<Uuid>,
    pub vertical: Option<String>,
    pub retext_recipient_days: i32,
    pub retext_pair_days: i32,
    pub opt_out_language: String,
    pub started_at: Option<DateTime<Utc>>,
    pub materialized_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Live counters (single reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub counters: Option<Counters>,
    /// Materialized rows not yet final (single reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued: Option<i64>,
}

impl From<Campaign> for CampaignView {
    fn from(c: Campaign) -> Self {
        Self {
            id: c.id,
            name: c.name,
            status: c.status,
            crusade_id: c.crusade_id,
            steps: c.steps.0,
            audience: c.audience.0,
            number_pool: c.number_pool,
            vertical: c.vertical,
            retext_recipient_days: c.retext_recipient_days,
            retext_pair_days: c.retext_pair_days,
            opt_out_language: c.opt_out_language,
            started_at: c.started_at,
            materialized_at: c.materialized_at,
            finished_at: c.finished_at,
            created_at: c.created_at,
            updated_at: c.updated_at,
            counters: None,
            queued: None,
        }
    }
}

/// What the audit log keeps of a campaign.
fn audited(c: &Campaign) -> serde_json::Value {
    json!({"name": c.name, "status": c.status, "crusade_id": c.crusade_id, "steps": c.steps.0,
        "audience": c.audience.0, "number_pool": c.number_pool, "vertical": c.vertical,
        "retext_recipient_days": c.retext_recipient_days, "retext_pair_days": c.retext_pair_days,
        "opt_out_language": c.opt_out_language})
}

/// A lifecycle refusal as the API answers it.
pub fn refused(e: TransitionError) -> ApiError {
    match e {
        TransitionError::NotFound => ApiError::NotFound,
        TransitionError::Refused(f) => {
            let code = if f.field == "crusade_id" { "driven_by_crusade" } else { "invalid_transition" };
            ApiError::ConflictOn { code, field: f.field.to_owned(), message: f.message }
        }
        TransitionError::Db(e) => e.into(),
    }
}

/// Publishes a campaign's new status on its topic.
pub fn publish_status(state: &AppState, ws: WorkspaceId, id: Uuid, status: Status) {
    state.bus().publish(ws, &format!("campaign:{id}"), "status", json!({"campaign_id": id, "status": status}));
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CampaignQuery {
    pub status: Option<String>,
    pub crusade_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CampaignList {
    pub items: Vec<CampaignView>,
}

/// The workspace's campaigns, newest first.
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/campaigns", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), CampaignQuery),
    responses((status = 200, body = CampaignList), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    Query(q): Query<CampaignQuery>,
) -> ApiResult<Json<CampaignList>> {
    member.require(&state, Permission::ViewCampaigns, "campaign.list", "campaign", None).await?;
    let status = q.status.map(|s| s.parse().map_err(|m| FieldError::new("status", m))).transpose()?;
    let crusade =
        q.crusade_id.map(|c| c.parse().map_err(|_| FieldError::new("crusade_id", "Not a crusade id."))).transpose()?;
    let mut conn = state.db.acquire().await?;
    let rows = campaigns::list(&mut conn, member.workspace_id, status, crusade).await?;
    Ok(Json(CampaignList { items: rows.into_iter().map(CampaignView::from).collect() }))
}

/// A new campaign (every field but `name` and `steps` optional).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCampaign {
    pub name: String,
    #[schema(value_type = Vec<Object>)]
    pub steps: Vec<Step>,
    #[schema(value_type = Option<Object>)]
    pub audience: Option<Audience>,
    pub number_pool: Option<Vec<Uuid>>,
    /// Default 30.
    pub retext_recipient_days: Option<i64>,
    /// Default 90.
    pub retext_pair_days: Option<i64>,
    /// Appended to a first message; default "Reply STOP to opt out.".
    pub opt_out_language: Option<String>,
    pub crusade_id: Option<Uuid>,
    pub vertical: Option<String>,
}

fn spec_of(req: NewCampaign) -> Result<CampaignSpec, ApiError> {
    Ok(CampaignSpec {
        name: campaigns::parse_name(&req.name)?,
        steps: Steps::parse(req.steps)?,
        audience: req.audience.unwrap_or_default().parse()?,
        number_pool: req.number_pool.unwrap_or_default(),
        retext_recipient_days: campaigns::parse_days("retext_recipient_days", req.retext_recipient_days.unwrap_or(30))?,
        retext_pair_days: campaigns::parse_days("retext_pair_days", req.retext_pair_days.unwrap_or(90))?,
        opt_out_language: match req.opt_out_language {
            Some(l) => campaigns::parse_opt_out_language(&l)?,
            None => "Reply STOP to opt out.".to_owned(),
        },
        crusade_id: req.crusade_id,
        vertical: req.vertical.as_deref().map(|v| leads::parse_vertical("vertical", v)).transpose()?,
    })
}

/// Create a draft campaign (owner, admin, manager).
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/campaigns", tag = "campaigns",
    params(("workspace_id" = Uuid, Path)), request_body = NewCampaign,
    responses((status = 201, body = CampaignView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    Json(req): Json<NewCampaign>,
) -> ApiResult<(StatusCode, Json<CampaignView>)> {
    member.require(&state, Permission::ManageCampaigns, "campaign.created", "campaign", None).await?;
    let spec = spec_of(req)?;
    let mut tx = state.db.begin().await?;
    let campaign = campaigns::save(&mut tx, member.workspace_id, Uuid::now_v7(), &spec, true).await?;
    let entry = Entry::ok("campaign.created", "campaign", campaign.id).change(None, Some(audited(&campaign)));
    audit::record(&mut *tx, &member, entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(campaign.into())))
}

#[derive(Debug, Deserialize)]
pub struct CampaignPath {
    #[allow(dead_code)]
    workspace_id: Uuid,
    campaign_id: Uuid,
}

/// One campaign with its live counters.
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/campaigns/{campaign_id}", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), ("campaign_id" = Uuid, Path)),
    responses((status = 200, body = CampaignView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    member: Member,
    Path(CampaignPath { campaign_id, .. }): Path<CampaignPath>,
) -> ApiResult<Json<CampaignView>> {
    member
        .require(&state, Permission::ViewCampaigns, "campaign.read", "campaign", Some(campaign_id.to_string()))
        .await?;
    let mut conn = state.db.acquire().await?;
    let campaign = campaigns::get(&mut conn, member.workspace_id, campaign_id).await?.ok_or(ApiError::NotFound)?;
    let counters = stats::counters(&mut conn, member.workspace_id, &[campaign_id]).await?.remove(&campaign_id);
    let mut view = CampaignView::from(campaign);
    view.queued = counters.as_ref().map(|c| c.queued);
    view.counters = counters;
    Ok(Json(view))
}

/// A partial change; omitted fields stay, `null` clears `crusade_id` or `vertical`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CampaignUpdate {
    pub name: Option<String>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub steps: Option<Vec<Step>>,
    #[schema(value_type = Option<Object>)]
    pub audience: Option<Audience>,
    pub number_pool: Option<Vec<Uuid>>,
    pub retext_recipient_days: Option<i64>,
    pub retext_pair_days: Option<i64>,
    pub opt_out_language: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub crusade_id: Option<Option<Uuid>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub vertical: Option<Option<String>>,
}

fn apply(spec: &mut CampaignSpec, req: CampaignUpdate, status: Status) -> Result<(), ApiError> {
    if let Some(crusade) = req.crusade_id
        && crusade != spec.crusade_id
    {
        if status != Status::Draft {
            let message = format!("A {status} campaign cannot join or leave a crusade; only a draft can.");
            return Err(ApiError::ConflictOn { code: "invalid_transition", field: "status".into(), message });
        }
        spec.crusade_id = crusade;
    }
    if let Some(name) = req.name {
        spec.name = campaigns::parse_name(&name)?;
    }
    if let Some(steps) = req.steps {
        spec.steps = Steps::parse(steps)?;
    }
    if let Some(audience) = req.audience {
        spec.audience = audience.parse()?;
    }
    spec.number_pool = req.number_pool.unwrap_or(std::mem::take(&mut spec.number_pool));
    if let Some(days) = req.retext_recipient_days {
        spec.retext_recipient_days = campaigns::parse_days("retext_recipient_days", days)?;
    }
    if let Some(days) = req.retext_pair_days {
        spec.retext_pair_days = campaigns::parse_days("retext_pair_days", days)?;
    }
    if let Some(language) = req.opt_out_language {
        spec.opt_out_language = campaigns::parse_opt_out_language(&language)?;
    }
    if let Some(vertical) = req.vertical {
        spec.vertical = vertical.as_deref().map(|v| leads::parse_vertical("vertical", v)).transpose()?;
    }
    Ok(())
}

/// Change a campaign's content (draft, scheduled or paused; owner, admin, manager).
#[utoipa::path(patch, path = "/api/workspaces/{workspace_id}/campaigns/{campaign_id}", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), ("campaign_id" = Uuid, Path)), request_body = CampaignUpdate,
    responses((status = 200, body = CampaignView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(CampaignPath { campaign_id, .. }): Path<CampaignPath>,
    Json(req): Json<CampaignUpdate>,
) -> ApiResult<Json<CampaignView>> {
    let id = Some(campaign_id.to_string());
    member.require(&state, Permission::ManageCampaigns, "campaign.updated", "campaign", id).await?;
    let mut tx = state.db.begin().await?;
    let before = campaigns::lock(&mut tx, member.workspace_id, campaign_id).await?.ok_or(ApiError::NotFound)?;
    if !before.status.editable() {
        let message = format!("A {} campaign cannot change; pause it first.", before.status);
        return Err(ApiError::ConflictOn { code: "invalid_transition", field: "status".into(), message });
    }
    let mut spec = CampaignSpec::of(&before)?;
    apply(&mut spec, req, before.status)?;
    let after = campaigns::save(&mut tx, member.workspace_id, campaign_id, &spec, false).await?;
    let entry =
        Entry::ok("campaign.updated", "campaign", campaign_id).change(Some(audited(&before)), Some(audited(&after)));
    audit::record(&mut *tx, &member, entry).await?;
    tx.commit().await?;
    Ok(Json(after.into()))
}

/// Delete a campaign (draft, completed or canceled; owner, admin, manager).
#[utoipa::path(delete, path = "/api/workspaces/{workspace_id}/campaigns/{campaign_id}", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), ("campaign_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    member: Member,
    Path(CampaignPath { campaign_id, .. }): Path<CampaignPath>,
) -> ApiResult<StatusCode> {
    let id = Some(campaign_id.to_string());
    member.require(&state, Permission::ManageCampaigns, "campaign.deleted", "campaign", id).await?;
    let mut tx = state.db.begin().await?;
    let campaign = campaigns::lock(&mut tx, member.workspace_id, campaign_id).await?.ok_or(ApiError::NotFound)?;
    if !campaign.status.deletable() {
        let message = format!("A {} campaign cannot be deleted; cancel it first.", campaign.status);
        return Err(ApiError::ConflictOn { code: "invalid_transition", field: "status".into(), message });
    }
    campaigns::delete(&mut tx, member.workspace_id, campaign_id).await?;
    let entry = Entry::ok("campaign.deleted", "campaign", campaign_id).change(Some(audited(&campaign)), None);
    audit::record(&mut *tx, &member, entry).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn move_campaign(state: AppState, member: Member, id: Uuid, action: Action) -> ApiResult<Json<CampaignView>> {
    let verb = format!("campaign.{}", past(action));
    member.require(&state, Permission::ManageCampaigns, &verb, "campaign", Some(id.to_string())).await?;
    let mut tx = state.db.begin().await?;
    let (before, after) =
        campaigns::transition(&mut tx, member.workspace_id, id, action, Utc::now()).await.map_err(refused)?;
    let entry = Entry::ok(&verb, "campaign", id)
        .change(Some(json!({"status": before.status})), Some(json!({"status": after.status})));
    audit::record(&mut *tx, &member, entry).await?;
    tx.commit().await?;
    publish_status(&state, member.workspace_id, id, after.status);
    Ok(Json(after.into()))
}

/// The audit verb of an action.
pub fn past(action: Action) -> &'static str {
    match action {
        Action::Start => "started",
        Action::Pause => "paused",
        Action::Resume => "resumed",
        Action::Cancel => "canceled",
    }
}

/// Start a draft campaign: materializes its audience into the outbox (409 `crusade_id` when a
/// crusade drives it, 409 `status` when not a draft).
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/campaigns/{campaign_id}/start", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), ("campaign_id" = Uuid, Path)),
    responses((status = 200, body = CampaignView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    member: Member,
    Path(p): Path<CampaignPath>,
) -> ApiResult<Json<CampaignView>> {
    move_campaign(state, member, p.campaign_id, Action::Start).await
}

/// Pause a running campaign (its queued rows wait).
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/campaigns/{campaign_id}/pause", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), ("campaign_id" = Uuid, Path)),
    responses((status = 200, body = CampaignView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn pause(
    State(state): State<AppState>,
    member: Member,
    Path(p): Path<CampaignPath>,
) -> ApiResult<Json<CampaignView>> {
    move_campaign(state, member, p.campaign_id, Action::Pause).await
}

/// Resume a paused campaign (leads added to its audience meanwhile are materialized).
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/campaigns/{campaign_id}/resume", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), ("campaign_id" = Uuid, Path)),
    responses((status = 200, body = CampaignView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn resume(
    State(state): State<AppState>,
    member: Member,
    Path(p): Path<CampaignPath>,
) -> ApiResult<Json<CampaignView>> {
    move_campaign(state, member, p.campaign_id, Action::Resume).await
}

/// Cancel a scheduled, running or paused campaign: its queued rows become `canceled`.
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/campaigns/{campaign_id}/cancel", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), ("campaign_id" = Uuid, Path)),
    responses((status = 200, body = CampaignView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    member: Member,
    Path(p): Path<CampaignPath>,
) -> ApiResult<Json<CampaignView>> {
    move_campaign(state, member, p.campaign_id, Action::Cancel).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PreviewQuery {
    /// The previous page's `next_cursor` (a lead id).
    pub cursor: Option<String>,
    /// Items per page, 1–500, default 50.
    pub limit: Option<usize>,
    /// Only items with this verdict (`send` or a reason).
    pub verdict: Option<String>,
}

fn page_of(q: PreviewQuery) -> Result<PageRequest, FieldError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(FieldError::new("limit", "Use a limit between 1 and 500."));
    }
    if q.verdict.as_deref().is_some_and(|v| !preview::is_verdict(v)) {
        return Err(FieldError::new("verdict", format!("Use one of {}.", preview::VERDICTS.join(", "))));
    }
    let after = q.cursor.map(|c| c.parse().map_err(|_| FieldError::new("cursor", "Not a cursor."))).transpose()?;
    Ok(PageRequest { after, limit, verdict: q.verdict })
}

/// The dry run: what would happen to each audience lead if the campaign started now.
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/campaigns/{campaign_id}/preview", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), ("campaign_id" = Uuid, Path), PreviewQuery),
    responses((status = 200, body = Object), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn preview(
    State(state): State<AppState>,
    member: Member,
    Path(CampaignPath { campaign_id, .. }): Path<CampaignPath>,
    Query(q): Query<PreviewQuery>,
) -> ApiResult<Json<Preview>> {
    let id = Some(campaign_id.to_string());
    member.require(&state, Permission::ViewCampaigns, "campaign.preview", "campaign", id).await?;
    let page = page_of(q)?;
    let mut conn = state.db.acquire().await?;
    let campaign = campaigns::get(&mut conn, member.workspace_id, campaign_id).await?.ok_or(ApiError::NotFound)?;
    drop(conn);
    Ok(Json(preview::preview(&state.db, member.workspace_id, &campaign, Utc::now(), &page).await?))
}
