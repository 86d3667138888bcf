//! Passkey registration (for a signed-in user) and passkey sign-in.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum_extra::extract::CookieJar;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use switchboard_sender::UserId;
use utoipa::ToSchema;
use uuid::Uuid;
use webauthn_rs::Webauthn;
use webauthn_rs::prelude::{
    PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential,
};

use super::auth::{SessionView, normalize_email, sign_in};
use crate::auth::guard::{Principal, RequestMeta, UserSummary};
use crate::auth::passkeys::{Ceremony, passkeys_of, save_ceremony, take_ceremony};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct PasskeyView {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Options for `navigator.credentials.create()` / `.get()` and the id to finish with.
#[derive(Debug, Serialize, ToSchema)]
pub struct CeremonyStart {
    pub ceremony_id: Uuid,
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterStart {
    #[serde(default)]
    pub name: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CeremonyFinish<C> {
    pub ceremony_id: Uuid,
    #[schema(value_type = Object)]
    pub credential: C,
}

/// The relying party, or 409 when passkeys are off on this server.
fn relying_party(state: &AppState) -> ApiResult<&Webauthn> {
    state.webauthn.as_deref().ok_or(ApiError::Conflict {
        code: "passkeys_unavailable",
        message: "Passkeys need PUBLIC_URL to use a domain name; ask the operator.".into(),
    })
}

fn webauthn_refused(e: impl std::fmt::Display) -> ApiError {
    ApiError::BadRequest {
        code: "passkey_refused",
        message: format!("The passkey was not accepted: {e}"),
        field: Some("credential".into()),
    }
}

/// Begin registering a passkey for the signed-in user.
#[utoipa::path(post, path = "/api/auth/passkeys/register/start", tag = "passkeys", request_body = RegisterStart,
    responses((status = 200, body = CeremonyStart), (status = 401, body = ErrorBody)))]
pub async fn register_start(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<RegisterStart>,
) -> ApiResult<Json<CeremonyStart>> {
    let name = req.name.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty()).unwrap_or_else(|| "Passkey".into());
    if name.chars().count() > 100 {
        return Err(ApiError::validation("name", "Use at most 100 characters."));
    }
    let user = &principal.user;
    let existing = passkeys_of(&state.db, user.id).await?;
    let exclude = existing.iter().map(|(_, pk)| pk.cred_id().clone()).collect();
    let (options, registration) = relying_party(&state)?
        .start_passkey_registration(user.id.0, &user.email, display_name(user), Some(exclude))
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("webauthn: {e}")))?;
    let ceremony_id = save_ceremony(
        &state.db,
        user.id,
        Ceremony::Register,
        serde_json::to_value(&registration).map_err(anyhow::Error::from)?,
        Some(&name),
    )
    .await?;
    Ok(Json(CeremonyStart { ceremony_id, options: serde_json::to_value(options).map_err(anyhow::Error::from)? }))
}

fn display_name(user: &UserSummary) -> &str {
    if user.name.is_empty() { &user.email } else { &user.name }
}

/// Finish registering: verify the authenticator's answer and store the passkey.
#[utoipa::path(post, path = "/api/auth/passkeys/register/finish", tag = "passkeys",
    request_body = CeremonyFinish<Object>,
    responses((status = 201, body = PasskeyView), (status = 400, body = ErrorBody)))]
pub async fn register_finish(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<CeremonyFinish<RegisterPublicKeyCredential>>,
) -> ApiResult<(StatusCode, Json<PasskeyView>)> {
    let Some((user_id, saved, name)) = take_ceremony(&state.db, req.ceremony_id, Ceremony::Register).await? else {
        return Err(ApiError::validation("ceremony_id", "Unknown or expired ceremony; start again."));
    };
    if user_id != principal.user.id {
        return Err(ApiError::validation("ceremony_id", "Unknown or expired ceremony; start again."));
    }
    let registration: PasskeyRegistration = serde_json::from_value(saved).map_err(anyhow::Error::from)?;
    let passkey =
        relying_party(&state)?.finish_passkey_registration(&req.credential, &registration).map_err(webauthn_refused)?;
    let view: PasskeyView = sqlx::query_as(
        "INSERT INTO passkeys (id, user_id, credential_id, name, passkey) VALUES ($1,$2,$3,$4,$5) \
         RETURNING id, name, created_at, last_used_at",
    )
    .bind(Uuid::now_v7())
    .bind(user_id)
    .bind(AsRef::<[u8]>::as_ref(passkey.cred_id()).to_vec())
    .bind(name.unwrap_or_else(|| "Passkey".into()))
    .bind(serde_json::to_value(&passkey).map_err(anyhow::Error::from)?)
    .fetch_one(&state.db)
    .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The signed-in user's passkeys.
#[utoipa::path(get, path = "/api/auth/passkeys", tag = "passkeys", responses((status = 200, body = [PasskeyView])))]
pub async fn list(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<Vec<PasskeyView>>> {
    let rows = sqlx::query_as(
        "SELECT id, name, created_at, last_used_at FROM passkeys WHERE user_id = $1 ORDER BY created_at",
    )
    .bind(principal.user.id)
    .fetch_all(&state.db)
    .await?;
    Ok(Json(rows))
}

/// Remove one of the signed-in user's passkeys.
#[utoipa::path(delete, path = "/api/auth/passkeys/{id}", tag = "passkeys",
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<Uuid>,
) -> ApiResult<StatusCode> {
    let gone = sqlx::query("DELETE FROM passkeys WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(principal.user.id)
        .execute(&state.db)
        .await?;
    if gone.rows_affected() == 0 {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginStart {
    pub email: String,
}

/// Begin signing in with a passkey of the account named by `email`.
#[utoipa::path(post, path = "/api/auth/passkeys/login/start", tag = "passkeys", request_body = LoginStart,
    responses((status = 200, body = CeremonyStart), (status = 400, body = ErrorBody)))]
pub async fn login_start(State(state): State<AppState>, Json(req): Json<LoginStart>) -> ApiResult<Json<CeremonyStart>> {
    let email = normalize_email(&req.email)?;
    let user_id: Option<UserId> =
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(&email).fetch_optional(&state.db).await?;
    let no_passkey = || ApiError::validation("email", "No passkey is registered for this account.");
    let user_id = user_id.ok_or_else(no_passkey)?;
    let passkeys: Vec<_> = passkeys_of(&state.db, user_id).await?.into_iter().map(|(_, pk)| pk).collect();
    if passkeys.is_empty() {
        return Err(no_passkey());
    }
    let (options, authentication) = relying_party(&state)?
        .start_passkey_authentication(&passkeys)
        .map_err(|e| ApiError::Internal(anyhow::anyhow!("webauthn: {e}")))?;
    let ceremony_id = save_ceremony(
        &state.db,
        user_id,
        Ceremony::Authenticate,
        serde_json::to_value(&authentication).map_err(anyhow::Error::from)?,
        None,
    )
    .await?;
    Ok(Json(CeremonyStart { ceremony_id, options: serde_json::to_value(options).map_err(anyhow::Error::from)? }))
}

/// Finish signing in with a passkey; answers like a password sign-in.
#[utoipa::path(post, path = "/api/auth/passkeys/login/finish", tag = "passkeys",
    request_body = CeremonyFinish<Object>,
    responses((status = 200, body = SessionView), (status = 400, body = ErrorBody)))]
pub async fn login_finish(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    jar: CookieJar,
    Json(req): Json<CeremonyFinish<PublicKeyCredential>>,
) -> ApiResult<(CookieJar, Json<SessionView>)> {
    let Some((user_id, saved, _)) = take_ceremony(&state.db, req.ceremony_id, Ceremony::Authenticate).await? else {
        return Err(ApiError::validation("ceremony_id", "Unknown or expired ceremony; start again."));
    };
    let authentication: PasskeyAuthentication = serde_json::from_value(saved).map_err(anyhow::Error::from)?;
    let result = relying_party(&state)?
        .finish_passkey_authentication(&req.credential, &authentication)
        .map_err(webauthn_refused)?;
    // Keep the stored credential's counter and backup state current.
    for (id, mut passkey) in passkeys_of(&state.db, user_id).await? {
        if passkey.cred_id() == result.cred_id() {
            passkey.update_credential(&result);
            sqlx::query("UPDATE passkeys SET passkey = $2, last_used_at = now() WHERE id = $1")
                .bind(id)
                .bind(serde_json::to_value(&passkey).map_err(anyhow::Error::from)?)
                .execute(&state.db)
                .await?;
        }
    }
    let user: UserSummary = sqlx::query_as("SELECT id, email, name, is_super_admin FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&state.db)
        .await?;
    sign_in(&state, jar, user, &meta, &headers).await
}
