//! Sign-in and sessions: password login, sign-out (here and everywhere), the current session,
//! and account recovery by one-time link.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum_extra::extract::CookieJar;
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use switchboard_sender::{UserId, WorkspaceId};
use utoipa::ToSchema;

use crate::auth::guard::{AuthMethod, Principal, RequestMeta, UserSummary};
use crate::auth::mailer::Mail;
use crate::auth::recovery::{self, Purpose};
use crate::auth::roles::Role;
use crate::auth::{password, sessions};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct MembershipView {
    #[schema(value_type = Uuid)]
    pub workspace_id: WorkspaceId,
    pub slug: String,
    pub name: String,
    pub role: Role,
}

/// The signed-in user, the CSRF token to send as `X-CSRF-Token` on unsafe requests, and the
/// workspaces they belong to.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    pub user: UserSummary,
    pub csrf_token: String,
    pub memberships: Vec<MembershipView>,
}

pub async fn memberships_of(db: &PgPool, user_id: UserId) -> sqlx::Result<Vec<MembershipView>> {
    sqlx::query_as(
        "SELECT w.id AS workspace_id, w.slug, w.name, m.role FROM memberships m \
         JOIN workspaces w ON w.id = m.workspace_id WHERE m.user_id = $1 ORDER BY w.name",
    )
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Starts a session for `user` and answers with the cookie and the session view.
pub async fn sign_in(
    state: &AppState,
    jar: CookieJar,
    user: UserSummary,
    meta: &RequestMeta,
    headers: &HeaderMap,
) -> ApiResult<(CookieJar, Json<SessionView>)> {
    let user_agent = headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let session =
        sessions::create(&state.db, &state.config, user.id, meta.ip.map(|ip| ip.to_string()), user_agent).await?;
    let memberships = memberships_of(&state.db, user.id).await?;
    metrics::counter!("switchboard_sign_ins_total").increment(1);
    let jar = jar.add(sessions::cookie(&state.config, session.token));
    Ok((jar, Json(SessionView { user, csrf_token: session.csrf_token, memberships })))
}

pub fn normalize_email(raw: &str) -> Result<String, ApiError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
        && !email.contains(char::is_whitespace);
    if valid { Ok(email) } else { Err(ApiError::validation("email", "Enter a valid email address.")) }
}

async fn find_user(db: &PgPool, email: &str) -> sqlx::Result<Option<(UserSummary, Option<String>)>> {
    let row: Option<(UserId, String, String, bool, Option<String>)> =
        sqlx::query_as("SELECT id, email, name, is_super_admin, password_hash FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(db)
            .await?;
    Ok(row.map(|(id, email, name, is_super_admin, hash)| (UserSummary { id, email, name, is_super_admin }, hash)))
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn login(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    jar: CookieJar,
    Json(req): Json<LoginRequest>,
) -> ApiResult<(CookieJar, Json<SessionView>)> {
    let email = req.email.trim().to_lowercase();
    let ip = meta.ip.unwrap_or(std::net::IpAddr::from([0, 0, 0, 0]));
    let too_many = |wait: std::time::Duration| ApiError::RateLimited { retry_after_secs: wait.as_secs().max(1) };
    state.login_limiter.check(&email, ip).map_err(too_many)?;
    let found = find_user(&state.db, &email).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    let ok = password::verify(req.password, hash).await?;
    match user {
        Some(user) if ok => sign_in(&state, jar, user, &meta, &headers).await,
        _ => {
            metrics::counter!("switchboard_sign_in_failures_total").increment(1);
            tracing::info!(%ip, "failed sign-in");
            match state.login_limiter.record_failure(&email, ip) {
                Some(wait) => Err(too_many(wait)),
                None => Err(ApiError::InvalidCredentials),
            }
        }
    }
}

/// The current session (and a fresh look at the user's memberships).
#[utoipa::path(get, path = "/api/auth/session", tag = "auth",
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody)))]
pub async fn current_session(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<SessionView>> {
    let AuthMethod::Session { csrf_token, .. } = principal.auth else {
        return Err(ApiError::Unauthenticated);
    };
    let memberships = memberships_of(&state.db, principal.user.id).await?;
    Ok(Json(SessionView { user: principal.user, csrf_token, memberships }))
}

/// Sign out of this browser.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn logout(
    State(state): State<AppState>,
    principal: Principal,
    jar: CookieJar,
) -> ApiResult<(CookieJar, StatusCode)> {
    if let AuthMethod::Session { token_hash, .. } = &principal.auth {
        sessions::delete(&state.db, token_hash).await?;
    }
    Ok((jar.add(sessions::removal_cookie(&state.config)), StatusCode::NO_CONTENT))
}

/// Sign out of every browser this user is signed in on.
#[utoipa::path(post, path = "/api/auth/logout-all", tag = "auth", responses((status = 204)))]
pub async fn logout_all(
    State(state): State<AppState>,
    principal: Principal,
    jar: CookieJar,
) -> ApiResult<(CookieJar, StatusCode)> {
    sessions::delete_all_for(&state.db, principal.user.id).await?;
    Ok((jar.add(sessions::removal_cookie(&state.config)), StatusCode::NO_CONTENT))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoveryRequest {
    pub email: String,
}

/// Ask for a recovery link. Always 202, so the answer does not reveal who has an account.
#[utoipa::path(post, path = "/api/auth/recovery", tag = "auth", request_body = RecoveryRequest,
    responses((status = 202), (status = 400, body = ErrorBody)))]
pub async fn request_recovery(
    State(state): State<AppState>,
    Json(req): Json<RecoveryRequest>,
) -> ApiResult<StatusCode> {
    let email = normalize_email(&req.email)?;
    if let Some((user, _)) = find_user(&state.db, &email).await? {
        let link = recovery::issue(&state.db, &state.config, user.id, Purpose::Recovery).await?;
        state.mailer.send(Mail {
            to: user.email,
            subject: "Reset your Switchboard password".into(),
            body: format!("Open this link within an hour to choose a new password: {link}"),
        });
    }
    Ok(StatusCode::ACCEPTED)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompleteRecovery {
    pub token: String,
    pub password: String,
}

/// Use a recovery or invitation link: set the password, end other sessions, sign in.
#[utoipa::path(post, path = "/api/auth/recovery/complete", tag = "auth", request_body = CompleteRecovery,
    responses((status = 200, body = SessionView), (status = 400, body = ErrorBody)))]
pub async fn complete_recovery(
    State(state): State<AppState>,
    meta: RequestMeta,
    headers: HeaderMap,
    jar: CookieJar,
    Json(req): Json<CompleteRecovery>,
) -> ApiResult<(CookieJar, Json<SessionView>)> {
    password::validate_new(&req.password)?;
    let hash = password::hash(req.password).await?;
    let mut tx = state.db.begin().await?;
    let Some(user_id) = recovery::consume(&mut tx, &req.token).await? else {
        return Err(ApiError::validation("token", "This link is invalid, used or expired. Ask for a new one."));
    };
    sqlx::query("UPDATE users SET password_hash = $2, password_changed_at = now() WHERE id = $1")
        .bind(user_id)
        .bind(hash)
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
    tx.commit().await?;
    let user: UserSummary = sqlx::query_as("SELECT id, email, name, is_super_admin FROM users WHERE id = $1")
        .bind(user_id)
        .fetch_one(&state.db)
        .await?;
    sign_in(&state, jar, user, &meta, &headers).await
}
