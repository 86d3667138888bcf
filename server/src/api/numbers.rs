//! Phone numbers of a workspace: list (filters, keyset paging) and read for every member;
//! create, change and delete for owners and admins, each change audited with before and after.
//! The CSV import lives in `number_import.rs`.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use switchboard_sender::numbers::{
    self, Health, NumberFilter, NumberSpec, NumberStatus, PhoneNumber, WarmupSchedule, WarmupStep,
};
use switchboard_sender::{E164, FieldError, accounts};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::guard::Member;
use crate::auth::roles::Permission;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, Query, nullable};
use crate::state::AppState;

/// A number as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NumberView {
    pub id: Uuid,
    pub e164: String,
    pub account_id: Uuid,
    pub account_sid: String,
    pub sms: bool,
    pub mms: bool,
    /// Derived from the number (NANP numbers only).
    pub area_code: Option<String>,
    /// US state, territory or Canadian province: from the area code unless set by hand.
    pub state: Option<String>,
    pub campaign_10dlc: Option<String>,
    pub mps: f64,
    pub daily_cap: Option<i32>,
    /// Steps `{day, daily_cap}`; day 1 is `warmup_started_on`.
    #[schema(value_type = Option<Vec<Object>>)]
    pub warmup: Option<WarmupSchedule>,
    pub warmup_started_on: Option<NaiveDate>,
    /// The daily cap in force today (UTC): the lower of `daily_cap` and the warm-up step.
    pub effective_daily_cap: Option<i32>,
    /// `good`, `warning` or `blocked`.
    #[schema(value_type = String)]
    pub health: Health,
    /// `active` or `paused`.
    #[schema(value_type = String)]
    pub status: NumberStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<PhoneNumber> for NumberView {
    fn from(n: PhoneNumber) -> Self {
        Self {
            id: n.id,
            e164: n.e164,
            account_id: n.account_id,
            account_sid: n.account_sid,
            sms: n.sms,
            mms: n.mms,
            area_code: n.area_code,
            state: n.state,
            campaign_10dlc: n.campaign_10dlc,
            mps: n.mps,
            daily_cap: n.daily_cap,
            warmup: n.warmup.map(|w| w.0),
            warmup_started_on: n.warmup_started_on,
            effective_daily_cap: n.effective_daily_cap,
            health: n.health,
            status: n.status,
            created_at: n.created_at,
            updated_at: n.updated_at,
        }
    }
}

/// What the audit log keeps of a number.
pub fn audited(n: &PhoneNumber) -> serde_json::Value {
    serde_json::json!({
        "e164": n.e164, "account_sid": n.account_sid, "sms": n.sms, "mms": n.mms, "state": n.state,
        "campaign_10dlc": n.campaign_10dlc, "mps": n.mps, "daily_cap": n.daily_cap,
        "warmup": n.warmup.as_ref().map(|w| &w.0), "warmup_started_on": n.warmup_started_on,
        "health": n.health, "status": n.status,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct NumberQuery {
    /// Only numbers of this account (id).
    pub account_id: Option<String>,
    /// Three digits, e.g. `415`.
    pub area_code: Option<String>,
    /// Two letters, e.g. `CA`.
    pub state: Option<String>,
    /// `active` or `paused`.
    pub status: Option<String>,
    /// Numbers after this E.164 (the previous page's `next_after`).
    pub after: Option<String>,
    /// 1–500, default 100.
    pub limit: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NumberPage {
    pub numbers: Vec<NumberView>,
    /// Pass as `after` for the next page; null at the end.
    pub next_after: Option<String>,
}

fn filter_of(q: NumberQuery) -> Result<NumberFilter, FieldError> {
    let blank = |s: Option<String>| s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(FieldError::new("limit", "Use a limit between 1 and 500."));
    }
    let area_code = blank(q.area_code);
    if area_code.as_deref().is_some_and(|a| a.len() != 3 || !a.bytes().all(|b| b.is_ascii_digit())) {
        return Err(FieldError::new("area_code", "Use three digits, e.g. 415."));
    }
    let state = blank(q.state).map(|s| s.to_ascii_uppercase());
    if state.as_deref().is_some_and(|s| s.len() != 2 || !s.bytes().all(|b| b.is_ascii_alphabetic())) {
        return Err(FieldError::new("state", "Use a two-letter code, e.g. CA."));
    }
    Ok(NumberFilter {
        account_id: blank(q.account_id)
            .map(|a| a.parse().map_err(|_| FieldError::new("account_id", "Not an account id.")))
            .transpose()?,
        area_code,
        state,
        status: blank(q.status).map(|s| s.parse().map_err(|m| FieldError::new("status", m))).transpose()?,
        after: blank(q.after),
        limit,
    })
}

/// The workspace's numbers, ordered by E.164, filtered and paged.
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/numbers", tag = "carrier",
    params(("workspace_id" = Uuid, Path), NumberQuery),
    responses((status = 200, body = NumberPage), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    member: Member,
    Query(query): Query<NumberQuery>,
) -> ApiResult<Json<NumberPage>> {
    member.require(&state, Permission::ViewCarrier, "number.list", "number", None).await?;
    let filter = filter_of(query)?;
    let mut conn = state.db.acquire().await?;
    let rows = numbers::list(&mut conn, member.workspace_id, &filter).await?;
    let next_after = (rows.len() as i64 == filter.limit).then(|| rows.last().map(|n| n.e164.clone())).flatten();
    Ok(Json(NumberPage { numbers: rows.into_iter().map(NumberView::from).collect(), next_after }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNumber {
    /// Any common form; stored as E.164. Numbers without a country code are read as +1.
    pub e164: String,
    pub account_id: Uuid,
    pub sms: Option<bool>,
    pub mms: Option<bool>,
    /// Defaults to the area code's state.
    pub state: Option<String>,
    pub campaign_10dlc: Option<String>,
    /// Messages per second, default 1 (a long code).
    pub mps: Option<f64>,
    pub daily_cap: Option<i64>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub warmup: Option<Vec<WarmupStep>>,
    /// Day 1 of the warm-up; default today.
    pub warmup_started_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>)]
    pub status: Option<NumberStatus>,
    #[schema(value_type = Option<String>)]
    pub health: Option<Health>,
}

fn warmup(
    steps: Option<Vec<WarmupStep>>,
    started: Option<NaiveDate>,
) -> Result<Option<(WarmupSchedule, NaiveDate)>, FieldError> {
    match steps {
        None if started.is_some() => {
            Err(FieldError::new("warmup_started_on", "Give a warm-up schedule with its start."))
        }
        None => Ok(None),
        Some(steps) => Ok(Some((WarmupSchedule::parse(steps)?, started.unwrap_or_else(|| Utc::now().date_naive())))),
    }
}

fn mps(value: Option<f64>) -> Result<f64, FieldError> {
    Ok(accounts::parse_mps("mps", value)?.unwrap_or(1.0))
}

/// Add a number (owner, admin).
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/numbers", tag = "carrier",
    params(("workspace_id" = Uuid, Path)), request_body = NewNumber,
    responses((status = 201, body = NumberView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    Json(req): Json<NewNumber>,
) -> ApiResult<(StatusCode, Json<NumberView>)> {
    member.require(&state, Permission::ManageCarrier, "number.created", "number", None).await?;
    let e164 = E164::parse(&req.e164).map_err(|e| FieldError::new("e164", format!("{:?} is {e}.", req.e164)))?;
    let spec = NumberSpec {
        state: numbers::resolve_state(&e164, req.state.as_deref())?,
        e164,
        account_id: req.account_id,
        sms: req.sms.unwrap_or(true),
        mms: req.mms.unwrap_or(false),
        campaign_10dlc: numbers::parse_campaign(req.campaign_10dlc.as_deref())?,
        mps: mps(req.mps)?,
        daily_cap: accounts::parse_cap("daily_cap", req.daily_cap)?,
        warmup: warmup(req.warmup, req.warmup_started_on)?,
        health: req.health.unwrap_or(Health::Good),
        status: req.status.unwrap_or(NumberStatus::Active),
    };
    let mut tx = state.db.begin().await?;
    let number = numbers::insert(&mut tx, member.workspace_id, &spec).await?;
    audit::record(
        &mut *tx,
        &member,
        Entry::ok("number.created", "number", number.id).change(None, Some(audited(&number))),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(number.into())))
}

#[derive(Debug, Deserialize)]
pub struct NumberPath {
    #[allow(dead_code)]
    workspace_id: Uuid,
    number_id: Uuid,
}

/// One number.
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/numbers/{number_id}", tag = "carrier",
    params(("workspace_id" = Uuid, Path), ("number_id" = Uuid, Path)),
    responses((status = 200, body = NumberView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    member: Member,
    Path(NumberPath { number_id, .. }): Path<NumberPath>,
) -> ApiResult<Json<NumberView>> {
    member.require(&state, Permission::ViewCarrier, "number.read", "number", Some(number_id.to_string())).await?;
    let mut conn = state.db.acquire().await?;
    let number = numbers::get(&mut conn, member.workspace_id, number_id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(number.into()))
}

/// A partial change; omitted fields stay, `null` clears an optional one (a cleared `state`
/// is derived from the area code again).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NumberUpdate {
    pub account_id: Option<Uuid>,
    pub sms: Option<bool>,
    pub mms: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub state: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub campaign_10dlc: Option<Option<String>>,
    pub mps: Option<f64>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub daily_cap: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<Object>>)]
    pub warmup: Option<Option<Vec<WarmupStep>>>,
    pub warmup_started_on: Option<NaiveDate>,
    #[schema(value_type = Option<String>)]
    pub status: Option<NumberStatus>,
    #[schema(value_type = Option<String>)]
    pub health: Option<Health>,
}

fn apply(spec: &mut NumberSpec, req: NumberUpdate) -> Result<(), FieldError> {
    if let Some(id) = req.account_id {
        spec.account_id = id;
    }
    spec.sms = req.sms.unwrap_or(spec.sms);
    spec.mms = req.mms.unwrap_or(spec.mms);
    if let Some(state) = req.state {
        spec.state = numbers::resolve_state(&spec.e164, state.as_deref())?;
    }
    if let Some(campaign) = req.campaign_10dlc {
        spec.campaign_10dlc = numbers::parse_campaign(campaign.as_deref())?;
    }
    if req.mps.is_some() {
        spec.mps = mps(req.mps)?;
    }
    if let Some(cap) = req.daily_cap {
        spec.daily_cap = accounts::parse_cap("daily_cap", cap)?;
    }
    match (req.warmup, req.warmup_started_on) {
        (Some(steps), started) => spec.warmup = warmup(steps, started)?,
        (None, Some(started)) => match spec.warmup.as_mut() {
            Some((_, day)) => *day = started,
            None => return Err(FieldError::new("warmup_started_on", "The number has no warm-up schedule.")),
        },
        (None, None) => {}
    }
    spec.status = req.status.unwrap_or(spec.status);
    spec.health = req.health.unwrap_or(spec.health);
    Ok(())
}

/// Change a number (owner, admin).
#[utoipa::path(patch, path = "/api/workspaces/{workspace_id}/numbers/{number_id}", tag = "carrier",
    params(("workspace_id" = Uuid, Path), ("number_id" = Uuid, Path)), request_body = NumberUpdate,
    responses((status = 200, body = NumberView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(NumberPath { number_id, .. }): Path<NumberPath>,
    Json(req): Json<NumberUpdate>,
) -> ApiResult<Json<NumberView>> {
    member.require(&state, Permission::ManageCarrier, "number.updated", "number", Some(number_id.to_string())).await?;
    let mut tx = state.db.begin().await?;
    let before = numbers::lock(&mut tx, member.workspace_id, number_id).await?.ok_or(ApiError::NotFound)?;
    let mut spec = numbers::spec_of(&before)?;
    apply(&mut spec, req)?;
    let after = numbers::replace(&mut tx, member.workspace_id, number_id, &spec).await?;
    let entry = Entry::ok("number.updated", "number", number_id).change(Some(audited(&before)), Some(audited(&after)));
    audit::record(&mut *tx, &member, entry).await?;
    tx.commit().await?;
    Ok(Json(after.into()))
}

/// Delete a number (owner, admin).
#[utoipa::path(delete, path = "/api/workspaces/{workspace_id}/numbers/{number_id}", tag = "carrier",
    params(("workspace_id" = Uuid, Path), ("number_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    member: Member,
    Path(NumberPath { number_id, .. }): Path<NumberPath>,
) -> ApiResult<StatusCode> {
    member.require(&state, Permission::ManageCarrier, "number.deleted", "number", Some(number_id.to_string())).await?;
    let mut tx = state.db.begin().await?;
    let number = numbers::delete(&mut tx, member.workspace_id, number_id).await?.ok_or(ApiError::NotFound)?;
    audit::record(
        &mut *tx,
        &member,
        Entry::ok("number.deleted", "number", number_id).change(Some(audited(&number)), None),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
