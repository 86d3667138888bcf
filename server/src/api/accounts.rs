//! Carrier (Twilio) accounts of a workspace: list and read for every member; create, change
//! (name, token rotation, API key, base URL, caps, status) and delete for owners and admins.
//! Secrets go in and never come out: views carry `auth_token_set` and the last four characters.
//! Every change is audited with before and after, which hold no secrets.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_sender::accounts::{
    self, AccountChange, AccountSid, AccountStatus, ApiKeySid, CarrierAccount, Deleted,
};
use switchboard_sender::{FieldError, WorkspaceId};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::guard::Member;
use crate::auth::roles::Permission;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path, nullable};
use crate::state::AppState;

/// An account as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountView {
    pub id: Uuid,
    pub name: String,
    pub account_sid: String,
    /// Always true: an account cannot exist without its token. The token itself is never shown.
    pub auth_token_set: bool,
    /// The token's last four characters, to recognise it.
    pub auth_token_last4: String,
    pub api_key_sid: Option<String>,
    pub api_key_secret_set: bool,
    pub base_url: String,
    pub daily_cap: Option<i32>,
    pub mps_cap: Option<f64>,
    /// `active`, `paused` or `failing`.
    #[schema(value_type = String)]
    pub status: AccountStatus,
    /// Numbers that belong to the account.
    pub number_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<CarrierAccount> for AccountView {
    fn from(a: CarrierAccount) -> Self {
        Self {
            id: a.id,
            name: a.name,
            account_sid: a.account_sid,
            auth_token_set: a.auth_token_set,
            auth_token_last4: a.auth_token_last4,
            api_key_sid: a.api_key_sid,
            api_key_secret_set: a.api_key_secret_set,
            base_url: a.base_url,
            daily_cap: a.daily_cap,
            mps_cap: a.mps_cap,
            status: a.status,
            number_count: a.number_count,
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// What the audit log keeps of an account: the view without timestamps and counts.
fn audited(a: &CarrierAccount) -> serde_json::Value {
    serde_json::json!({
        "name": a.name, "account_sid": a.account_sid, "auth_token_last4": a.auth_token_last4,
        "api_key_sid": a.api_key_sid, "base_url": a.base_url, "daily_cap": a.daily_cap,
        "mps_cap": a.mps_cap, "status": a.status,
    })
}

/// No `Debug`: it holds a plaintext token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAccount {
    pub name: String,
    /// `AC` + 32 hex digits.
    pub account_sid: String,
    /// Stored encrypted; never returned.
    pub auth_token: String,
    /// `SK` + 32 hex digits; with `api_key_secret`, used instead of the auth token for calls.
    pub api_key_sid: Option<String>,
    pub api_key_secret: Option<String>,
    /// Default `https://api.twilio.com`; point it at the simulator for tests.
    pub base_url: Option<String>,
    pub daily_cap: Option<i64>,
    pub mps_cap: Option<f64>,
    #[schema(value_type = Option<String>)]
    pub status: Option<AccountStatus>,
}

fn api_key(
    sid: Option<&str>,
    secret: Option<&str>,
) -> Result<Option<(ApiKeySid, switchboard_sender::secretbox::Secret)>, FieldError> {
    match (sid, secret) {
        (None, None) => Ok(None),
        (Some(sid), Some(secret)) => Ok(Some((
            ApiKeySid::parse(sid).map_err(|m| FieldError::new("api_key_sid", m))?,
            accounts::parse_secret("api_key_secret", secret)?,
        ))),
        (Some(_), None) => Err(FieldError::new("api_key_secret", "Give the API key's secret with its SID.")),
        (None, Some(_)) => Err(FieldError::new("api_key_sid", "Give the API key's SID with its secret.")),
    }
}

fn base_url(raw: &str) -> Result<String, FieldError> {
    accounts::parse_base_url(raw).map_err(|m| FieldError::new("base_url", m))
}

/// The workspace's carrier accounts.
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/accounts", tag = "carrier",
    params(("workspace_id" = Uuid, Path)),
    responses((status = 200, body = [AccountView]), (status = 404, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, member: Member) -> ApiResult<Json<Vec<AccountView>>> {
    member.require(&state, Permission::ViewCarrier, "account.list", "account", None).await?;
    let mut conn = state.db.acquire().await?;
    let rows = accounts::list(&mut conn, member.workspace_id).await?;
    Ok(Json(rows.into_iter().map(AccountView::from).collect()))
}

/// Add a carrier account (owner, admin).
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/accounts", tag = "carrier",
    params(("workspace_id" = Uuid, Path)), request_body = NewAccount,
    responses((status = 201, body = AccountView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    Json(req): Json<NewAccount>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    member.require(&state, Permission::ManageCarrier, "account.created", "account", None).await?;
    let new = accounts::NewAccount {
        name: accounts::parse_name(&req.name)?,
        account_sid: AccountSid::parse(&req.account_sid).map_err(|m| FieldError::new("account_sid", m))?,
        auth_token: accounts::parse_secret("auth_token", &req.auth_token)?,
        api_key: api_key(req.api_key_sid.as_deref(), req.api_key_secret.as_deref())?,
        base_url: base_url(req.base_url.as_deref().unwrap_or(accounts::DEFAULT_BASE_URL))?,
        daily_cap: accounts::parse_cap("daily_cap", req.daily_cap)?,
        mps_cap: accounts::parse_mps("mps_cap", req.mps_cap)?,
        status: req.status.unwrap_or(AccountStatus::Active),
    };
    let mut tx = state.db.begin().await?;
    let account = accounts::insert(&mut tx, member.workspace_id, &state.config.secret_key.0, &new).await?;
    let entry = Entry::ok("account.created", "account", account.id).change(None, Some(audited(&account)));
    audit::record(&mut *tx, &member, entry).await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(account.into())))
}

#[derive(Debug, Deserialize)]
pub struct AccountPath {
    #[allow(dead_code)]
    workspace_id: Uuid,
    account_id: Uuid,
}

async fn fetch(state: &AppState, workspace_id: WorkspaceId, id: Uuid) -> ApiResult<CarrierAccount> {
    let mut conn = state.db.acquire().await?;
    accounts::get(&mut conn, workspace_id, id).await?.ok_or(ApiError::NotFound)
}

/// One carrier account.
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/accounts/{account_id}", tag = "carrier",
    params(("workspace_id" = Uuid, Path), ("account_id" = Uuid, Path)),
    responses((status = 200, body = AccountView), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    member: Member,
    Path(AccountPath { account_id, .. }): Path<AccountPath>,
) -> ApiResult<Json<AccountView>> {
    member.require(&state, Permission::ViewCarrier, "account.read", "account", Some(account_id.to_string())).await?;
    Ok(Json(fetch(&state, member.workspace_id, account_id).await?.into()))
}

/// A partial change; omitted fields stay, `null` clears an optional one. No `Debug`: it may hold
/// a plaintext token.
#[derive(Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountUpdate {
    pub name: Option<String>,
    /// A new auth token (rotation). Stored encrypted; never returned.
    pub auth_token: Option<String>,
    /// A new API key (with `api_key_secret`), or null to remove the key.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub api_key_sid: Option<Option<String>>,
    pub api_key_secret: Option<String>,
    pub base_url: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i64>)]
    pub daily_cap: Option<Option<i64>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<f64>)]
    pub mps_cap: Option<Option<f64>>,
    #[schema(value_type = Option<String>)]
    pub status: Option<AccountStatus>,
}

fn parse_change(req: &AccountUpdate) -> Result<AccountChange, FieldError> {
    let api_key = match (&req.api_key_sid, &req.api_key_secret) {
        (None, None) => None,
        (Some(None), None) => Some(None),
        (Some(None), Some(_)) => return Err(FieldError::new("api_key_secret", "Leave it out when removing the key.")),
        (Some(Some(sid)), secret) => Some(api_key(Some(sid), secret.as_deref())?),
        (None, Some(secret)) => Some(api_key(None, Some(secret))?),
    };
    Ok(AccountChange {
        name: req.name.as_deref().map(accounts::parse_name).transpose()?,
        auth_token: req.auth_token.as_deref().map(|t| accounts::parse_secret("auth_token", t)).transpose()?,
        api_key,
        base_url: req.base_url.as_deref().map(base_url).transpose()?,
        daily_cap: req.daily_cap.map(|c| accounts::parse_cap("daily_cap", c)).transpose()?,
        mps_cap: req.mps_cap.map(|c| accounts::parse_mps("mps_cap", c)).transpose()?,
        status: req.status,
    })
}

/// Change an account (owner, admin): rename, rotate the token, set the API key, base URL,
/// caps or status.
#[utoipa::path(patch, path = "/api/workspaces/{workspace_id}/accounts/{account_id}", tag = "carrier",
    params(("workspace_id" = Uuid, Path), ("account_id" = Uuid, Path)), request_body = AccountUpdate,
    responses((status = 200, body = AccountView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    member: Member,
    Path(AccountPath { account_id, .. }): Path<AccountPath>,
    Json(req): Json<AccountUpdate>,
) -> ApiResult<Json<AccountView>> {
    let target = Some(account_id.to_string());
    member.require(&state, Permission::ManageCarrier, "account.updated", "account", target).await?;
    let change = parse_change(&req)?;
    let mut tx = state.db.begin().await?;
    let (before, after) =
        accounts::update(&mut tx, member.workspace_id, &state.config.secret_key.0, account_id, &change)
            .await?
            .ok_or(ApiError::NotFound)?;
    let mut after_json = audited(&after);
    if change.auth_token.is_some() {
        after_json["auth_token_rotated"] = true.into();
    }
    let entry = Entry::ok("account.updated", "account", account_id).change(Some(audited(&before)), Some(after_json));
    audit::record(&mut *tx, &member, entry).await?;
    tx.commit().await?;
    Ok(Json(after.into()))
}

/// Delete an account (owner, admin); refused with 409 while numbers belong to it.
#[utoipa::path(delete, path = "/api/workspaces/{workspace_id}/accounts/{account_id}", tag = "carrier",
    params(("workspace_id" = Uuid, Path), ("account_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    member: Member,
    Path(AccountPath { account_id, .. }): Path<AccountPath>,
) -> ApiResult<StatusCode> {
    let target = Some(account_id.to_string());
    member.require(&state, Permission::ManageCarrier, "account.deleted", "account", target).await?;
    let mut tx = state.db.begin().await?;
    match accounts::delete(&mut tx, member.workspace_id, account_id).await? {
        Deleted::NotFound => Err(ApiError::NotFound),
        Deleted::InUse(count) => Err(ApiError::Conflict {
            code: "account_in_use",
            message: format!("{count} number(s) still belong to this account; move or delete them first."),
        }),
        Deleted::Gone(account) => {
            let entry = Entry::ok("account.deleted", "account", account_id).change(Some(audited(&account)), None);
            audit::record(&mut *tx, &member, entry).await?;
            tx.commit().await?;
            Ok(StatusCode::NO_CONTENT)
        }
    }
}
