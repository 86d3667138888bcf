//! Crusades: list and read (with their campaigns and summed counters) for members who view
//! campaigns; create, change, delete and the lifecycle for those who manage them. A lifecycle
//! move acts on every campaign of the crusade in one transaction, is audited, and publishes the
//! status on `crusade:<id>` and each moved campaign's topic after commit.

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_sender::FieldError;
use switchboard_sender::campaigns::{self, Action, Status};
use switchboard_sender::crusades::{self, Crusade, CrusadeSpec};
use switchboard_sender::stats::Counters;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::campaigns::{CampaignView, past, publish_status, refused};
use crate::audit::{self, Entry};
use crate::auth::guard::Member;
use crate::auth::roles::Permission;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, nullable};
use crate::state::AppState;

/// A crusade as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CrusadeView {
    pub id: Uuid,
    pub name: String,
    #[schema(value_type = String)]
    pub status: Status,
    /// Allowed weekdays in the recipient's time zone, e.g. `["mon", "tue"]`.
    pub days: Vec<&'static str>,
    /// `HH:MM`, recipient-local, clipped to the legal window per recipient.
    pub start_time: String,
    pub end_time: String,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub throttle_per_minute: Option<i32>,
    pub jitter_seconds: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Its campaigns (single reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaigns: Option<Vec<CampaignView>>,
    /// Summed counters of its campaigns (single reads only).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub counters: Option<Counters>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queued: Option<i64>,
}

impl From<Crusade> for CrusadeView {
    fn from(c: Crusade) -> Self {
        Self {
            id: c.id,
            name: c.name,
            status: c.status,
            days: crusades::day_names(c.days),
            start_time: c.start_time.format("%H:%M").to_string(),
            end_time: c.end_time.format("%H:%M").to_string(),
            start_date: c.start_date,
            end_date: c.end_date,
            throttle_per_minute: c.throttle_per_minute,
            jitter_seconds: c.jitter_seconds,
            created_at: c.created_at,
            updated_at: c.updated_at,
            campaigns: None,
            counters: None,
            queued: None,
        }
    }
}

fn audited(c: &Crusade) -> serde_json::Value {
    json!({"name": c.name, "status": c.status, "days": crusades::day_names(c.days), "start_time": c.start_time,
        "end_time": c.end_time, "start_date": c.start_date, "end_date": c.end_date,
        "throttle_per_minute": c.throttle_per_minute, "jitter_seconds": c.jitter_seconds})
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CrusadeList {
    pub items: Vec<CrusadeView>,
}

/// The workspace's crusades, newest first.
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/crusades", tag = "campaigns",
    params(("workspace_id" = Uuid, Path)),
    responses((status = 200, body = CrusadeList), (status = 404, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, member: Member) -> ApiResult<Json<CrusadeList>> {
    member.require(&state, Permission::ViewCampaigns, "crusade.list", "crusade", None).await?;
    let mut conn = state.db.acquire().await?;
    let rows = crusades::list(&mut conn, member.workspace_id).await?;
    Ok(Json(CrusadeList { items: rows.into_iter().map(CrusadeView::from).collect() }))
}

/// A new crusade. Defaults: every day, 08:00–21:00, no dates, no throttle, no jitter.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCrusade {
    pub name: String,
    pub days: Option<Vec<String>>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub throttle_per_minute: Option<i64>,
    pub jitter_seconds: Option<i64>,
}

fn clamp_i32(field: &'static str, v: i64) -> Result<i32, FieldError> {
    i32::try_from(v).map_err(|_| FieldError::new(field, "Out of range."))
}

fn spec_of(req: NewCrusade) -> Result<CrusadeSpec, FieldError> {
    CrusadeSpec {
        name: req.name,
        days: req.days.as_deref().map(crusades::parse_days).transpose()?.unwrap_or(127),
        start_time: crusades::parse_time("start_time", req.start_time.as_deref().unwrap_or("08:00"))?,
        end_time: crusades::parse_time("end_time", req.end_time.as_deref().unwrap_or("21:00"))?,
        start_date: req.start_date,
        end_date: req.end_date,
        throttle_per_minute: req.throttle_per_minute.map(|t| clamp_i32("throttle_per_minute", t)).transpose()?,
        jitter_seconds: clamp_i32("jitter_seconds", req.jitter_seconds.unwrap_or(0))?,
    }
    .check()
}

/// Create a draft crusade (owner, admin, manager).
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/crusades", tag = "campaigns",
    params(("workspace_id" = Uuid, Path)), request_body = NewCrusade,
    responses((status = 201, body = CrusadeView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    Json(req): Json<NewCrusade>,
) -> ApiResult<(StatusCode, Json<CrusadeView>)> {
    member.require(&state, Permission::ManageCampaigns, "crusade.created", "crusade", None).await?;
    let spec = spec_of(req)?;
    let mut tx = state.db.begin().await?;
    let crusade = crusades::save(&mut tx, member.workspace_id, Uuid::now_v7(), &spec, true).await?;
    let entry = Entry::ok("crusade.created", "crusade", crusade.id).change(None, Some(audited(&crusade)));
    audit::record(&mut *tx, &member, entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(crusade.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CrusadePath {
    #[allow(dead_code)]
    workspace_id: Uuid,
    crusade_id: Uuid,
}

/// One crusade with its campaigns and their summed counters.
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/crusades/{crusade_id}", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), ("crusade_id" = Uuid, Path)),
    responses((status = 200, body = CrusadeView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    member: Member,
    Path(CrusadePath { crusade_id, .. }): Path<CrusadePath>,
) -> ApiResult<Json<CrusadeView>> {
    member.require(&state, Permission::ViewCampaigns, "crusade.read", "crusade", Some(crusade_id.to_string())).await?;
    let ws = member.workspace_id;
    let mut conn = state.db.acquire().await?;
    let crusade = crusades::get(&mut conn, ws, crusade_id).await?.ok_or(ApiError::NotFound)?;
    let members = campaigns::list(&mut conn, ws, None, Some(crusade_id)).await?;
    let ids: Vec<Uuid> = members.iter().map(|c| c.id).collect();
    let (total, mut each): (Counters, BTreeMap<Uuid, Counters>) = crusades::counters(&mut conn, ws, &ids).await?;
    let mut view = CrusadeView::from(crusade);
    view.campaigns = Some(
        members
            .into_iter()
            .map(|c| {
                let counters = each.remove(&c.id);
                let mut v = CampaignView::from(c);
                v.queued = counters.as_ref().map(|c| c.queued);
                v.counters = counters;
                v
            })
            .collect(),
    );
    view.queued = Some(total.queued);
    view.counters = Some(total);
    Ok(Json(view))
}

/// A partial change; omitted fields stay, `null` clears a date or the throttle.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CrusadeUpdate {
    pub name: Option<String>,
    pub days: Option<Vec<String>>,
    pub start_time: Option<String>,
    pub end_time: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub start_date: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    pub end_date: Option<Option<NaiveDate>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub throttle_per_minute: Option<Option<i64>>,
    pub jitter_seconds: Option<i64>,
}

fn apply(mut spec: CrusadeSpec, req: CrusadeUpdate) -> Result<CrusadeSpec, FieldError> {
    spec.name = req.name.unwrap_or(spec.name);
    if let Some(days) = req.days {
        spec.days = crusades::parse_days(&days)?;
    }
    if let Some(t) = req.start_time {
        spec.start_time = crusades::parse_time("start_time", &t)?;
    }
    if let Some(t) = req.end_time {
        spec.end_time = crusades::parse_time("end_time", &t)?;
    }
    spec.start_date = req.start_date.unwrap_or(spec.start_date);
    spec.end_date = req.end_date.unwrap_or(spec.end_date);
    if let Some(t) = req.throttle_per_minute {
        spec.throttle_per_minute = t.map(|t| clamp_i32("throttle_per_minute", t)).transpose()?;
    }
    if let Some(j) = req.jitter_seconds {
        spec.jitter_seconds = clamp_i32("jitter_seconds", j)?;
    }
    spec.check()
}

fn conflict(message: String) -> ApiError {
    ApiError::ConflictOn { code: "invalid_transition", field: "status".into(), message }
}

/// Change a crusade's schedule (draft, scheduled or paused; owner, admin, manager). Rows already
/// materialized keep the window they were planned with.
#[utoipa::path(patch, path = "/api/workspaces/{workspace_id}/crusades/{crusade_id}", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), ("crusade_id" = Uuid, Path)), request_body = CrusadeUpdate,
    responses((status = 200, body = CrusadeView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(CrusadePath { crusade_id, .. }): Path<CrusadePath>,
    Json(req): Json<CrusadeUpdate>,
) -> ApiResult<Json<CrusadeView>> {
    let id = Some(crusade_id.to_string());
    member.require(&state, Permission::ManageCampaigns, "crusade.updated", "crusade", id).await?;
    let mut tx = state.db.begin().await?;
    let before = crusades::lock(&mut tx, member.workspace_id, crusade_id).await?.ok_or(ApiError::NotFound)?;
    if !before.status.editable() {
        return Err(conflict(format!("A {} crusade cannot change; pause it first.", before.status)));
    }
    let spec = apply(CrusadeSpec::of(&before), req)?;
    let after = crusades::save(&mut tx, member.workspace_id, crusade_id, &spec, false).await?;
    let entry =
        Entry::ok("crusade.updated", "crusade", crusade_id).change(Some(audited(&before)), Some(audited(&after)));
    audit::record(&mut *tx, &member, entry).await?;
    tx.commit().await?;
    Ok(Json(after.into()))
}

/// Delete a crusade (draft, completed or canceled); its campaigns stay, without a crusade.
#[utoipa::path(delete, path = "/api/workspaces/{workspace_id}/crusades/{crusade_id}", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), ("crusade_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    member: Member,
    Path(CrusadePath { crusade_id, .. }): Path<CrusadePath>,
) -> ApiResult<StatusCode> {
    let id = Some(crusade_id.to_string());
    member.require(&state, Permission::ManageCampaigns, "crusade.deleted", "crusade", id).await?;
    let mut tx = state.db.begin().await?;
    let crusade = crusades::lock(&mut tx, member.workspace_id, crusade_id).await?.ok_or(ApiError::NotFound)?;
    if !crusade.status.deletable() {
        return Err(conflict(format!("A {} crusade cannot be deleted; cancel it first.", crusade.status)));
    }
    crusades::delete(&mut tx, member.workspace_id, crusade_id).await?;
    let entry = Entry::ok("crusade.deleted", "crusade", crusade_id).change(Some(audited(&crusade)), None);
    audit::record(&mut *tx, &member, entry).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn move_crusade(state: AppState, member: Member, id: Uuid, action: Action) -> ApiResult<Json<CrusadeView>> {
    let verb = format!("crusade.{}", past(action));
    member.require(&state, Permission::ManageCampaigns, &verb, "crusade", Some(id.to_string())).await?;
    let ws = member.workspace_id;
    let mut tx = state.db.begin().await?;
    let moved = crusades::transition(&mut tx, ws, id, action, Utc::now()).await.map_err(refused)?;
    let campaigns: BTreeMap<String, Status> = moved.campaigns.iter().map(|(c, s)| (c.to_string(), *s)).collect();
    let entry = Entry::ok(&verb, "crusade", id).change(
        Some(json!({"status": moved.before.status})),
        Some(json!({"status": moved.after.status, "campaigns": campaigns})),
    );
    audit::record(&mut *tx, &member, entry).await?;
    tx.commit().await?;
    let status = moved.after.status;
    state.bus().publish(ws, &format!("crusade:{id}"), "status", json!({"crusade_id": id, "status": status}));
    for (campaign, status) in &moved.campaigns {
        publish_status(&state, ws, *campaign, *status);
    }
    Ok(Json(moved.after.into()))
}

/// Start a draft crusade and its draft campaigns: `scheduled` while the start date is ahead,
/// else `running` (campaigns materialized).
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/crusades/{crusade_id}/start", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), ("crusade_id" = Uuid, Path)),
    responses((status = 200, body = CrusadeView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn start(
    State(state): State<AppState>,
    member: Member,
    Path(p): Path<CrusadePath>,
) -> ApiResult<Json<CrusadeView>> {
    move_crusade(state, member, p.crusade_id, Action::Start).await
}

/// Pause a running crusade and its running campaigns.
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/crusades/{crusade_id}/pause", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), ("crusade_id" = Uuid, Path)),
    responses((status = 200, body = CrusadeView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn pause(
    State(state): State<AppState>,
    member: Member,
    Path(p): Path<CrusadePath>,
) -> ApiResult<Json<CrusadeView>> {
    move_crusade(state, member, p.crusade_id, Action::Pause).await
}

/// Resume a paused crusade and its paused campaigns.
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/crusades/{crusade_id}/resume", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), ("crusade_id" = Uuid, Path)),
    responses((status = 200, body = CrusadeView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn resume(
    State(state): State<AppState>,
    member: Member,
    Path(p): Path<CrusadePath>,
) -> ApiResult<Json<CrusadeView>> {
    move_crusade(state, member, p.crusade_id, Action::Resume).await
}

/// Cancel a crusade and its scheduled, running and paused campaigns (queued rows canceled).
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/crusades/{crusade_id}/cancel", tag = "campaigns",
    params(("workspace_id" = Uuid, Path), ("crusade_id" = Uuid, Path)),
    responses((status = 200, body = CrusadeView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    member: Member,
    Path(p): Path<CrusadePath>,
) -> ApiResult<Json<CrusadeView>> {
    move_crusade(state, member, p.crusade_id, Action::Cancel).await
}
