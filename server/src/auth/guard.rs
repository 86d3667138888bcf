//! The guard every handler goes through.
//!
//! - [`Principal`]: who is calling — a session cookie (with the CSRF header on unsafe methods)
//!   or an `Authorization: Bearer` API token. No credentials → 401.
//! - [`Member`]: a principal inside the workspace named by the `{workspace_id}` path segment.
//!   Not a member (or a token minted for another workspace) → 404, so one tenant cannot even
//!   learn another's ids exist (invariant 7). [`Member::require`] checks the role matrix and
//!   audits refusals.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum_extra::extract::CookieJar;
use switchboard_sender::{UserId, WorkspaceId};
use uuid::Uuid;

use super::roles::{Permission, Role};
use super::secrets::{constant_time_eq, hash_secret};
use super::sessions::COOKIE_NAME;
use crate::audit::{self, Entry, Outcome};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub const CSRF_HEADER: &str = "x-csrf-token";

#[derive(Clone, Debug, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct UserSummary {
    #[schema(value_type = Uuid)]
    pub id: UserId,
    pub email: String,
    pub name: String,
    pub is_super_admin: bool,
}

#[derive(Clone, Debug)]
pub enum AuthMethod {
    Session { token_hash: Vec<u8>, csrf_token: String },
    ApiToken { workspace_id: WorkspaceId, token_id: Uuid },
}

/// The caller's address as `client_ip` worked it out (peer address, or X-Forwarded-For behind
/// trusted proxies).
#[derive(Clone, Copy, Debug)]
pub struct ClientIp(pub IpAddr);

/// The client address for a request. With `hops` trusted proxies in front, the
/// client is the X-Forwarded-For entry `hops` places from the right; a header that is shorter
/// or malformed falls back to the peer address (never trusting what a client wrote itself).
pub fn client_ip(hops: usize, parts_headers: &axum::http::HeaderMap, peer: Option<IpAddr>) -> Option<IpAddr> {
    if hops == 0 {
        return peer;
    }
    let chain: Vec<&str> = parts_headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    chain.len().checked_sub(hops).and_then(|i| chain.get(i)).and_then(|s| s.parse().ok()).or(peer)
}

/// Where a request came from, for the audit log.
#[derive(Clone, Debug, Default)]
pub struct RequestMeta {
    pub ip: Option<IpAddr>,
    pub request_id: Option<String>,
}

impl RequestMeta {
    pub fn from_parts(parts: &Parts) -> Self {
        Self {
            ip: parts
                .extensions
                .get::<ClientIp>()
                .map(|c| c.0)
                .or_else(|| parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())),
            request_id: parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).map(str::to_owned),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestMeta {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

#[derive(Clone, Debug)]
pub struct Principal {
    pub user: UserSummary,
    pub auth: AuthMethod,
    pub meta: RequestMeta,
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let meta = RequestMeta::from_parts(parts);
        if let Some(token) = bearer_token(parts) {
            return from_api_token(state, token, meta).await;
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(cookie) = jar.get(COOKIE_NAME) else { return Err(ApiError::Unauthenticated) };
        let token_hash = hash_secret(cookie.value());
        let row: Option<(UserId, String, String, bool, String)> = sqlx::query_as(
            "SELECT u.id, u.email, u.name, u.is_super_admin, s.csrf_token FROM sessions s \
             JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.expires_at > now()",
        )
        .bind(&token_hash)
        .fetch_optional(&state.db)
        .await?;
        let Some((id, email, name, is_super_admin, csrf_token)) = row else {
            return Err(ApiError::Unauthenticated);
        };
        if !is_safe(&parts.method) {
            let sent = parts.headers.get(CSRF_HEADER).map(|v| v.as_bytes()).unwrap_or_default();
            if !constant_time_eq(sent, csrf_token.as_bytes()) {
                return Err(ApiError::CsrfFailed);
            }
        }
        Ok(Principal {
            user: UserSummary { id, email, name, is_super_admin },
            auth: AuthMethod::Session { token_hash, csrf_token },
            meta,
        })
    }
}

impl Principal {
    /// The workspace an API token was minted for; `None` for a session.
    pub fn token_workspace(&self) -> Option<WorkspaceId> {
        match self.auth {
            AuthMethod::ApiToken { workspace_id, .. } => Some(workspace_id),
            AuthMethod::Session { .. } => None,
        }
    }

    /// The principal of a raw API token (for `/ws?token=`, where clients cannot set headers).
    pub async fn from_token(state: &AppState, token: &str, meta: RequestMeta) -> ApiResult<Self> {
        from_api_token(state, token, meta).await
    }
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

async fn from_api_token(state: &AppState, token: &str, meta: RequestMeta) -> ApiResult<Principal> {
    type Row = (WorkspaceId, Uuid, UserId, String, String, bool, bool);
    let row: Option<Row> = sqlx::query_as(
        "SELECT t.workspace_id, t.id, u.id, u.email, u.name, u.is_super_admin, \
                (t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute') AS stale \
         FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
    )
    .bind(hash_secret(token))
    .fetch_optional(&state.db)
    .await?;
    let Some((workspace_id, token_id, id, email, name, is_super_admin, stale)) = row else {
        return Err(ApiError::Unauthenticated);
    };
    // `last_used_at` to the minute, written off the request path: a load test's token makes
    // one write a minute, not one per request.
    if stale {
        let db = state.db.clone();
        tokio::spawn(async move {
            let touched = sqlx::query("UPDATE api_tokens SET last_used_at = now() WHERE workspace_id = $1 AND id = $2")
                .bind(workspace_id)
                .bind(token_id)
                .execute(&db)
                .await;
            if let Err(e) = touched {
                tracing::warn!(error = %e, "could not record an API token's last use");
            }
        });
    }
    Ok(Principal {
        user: UserSummary { id, email, name, is_super_admin },
        auth: AuthMethod::ApiToken { workspace_id, token_id },
        meta,
    })
}

/// A principal acting inside one workspace with its role there.
#[derive(Clone, Debug)]
pub struct Member {
    pub principal: Principal,
    pub workspace_id: WorkspaceId,
    pub role: Role,
}

impl FromRequestParts<AppState> for Member {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        let principal = Principal::from_request_parts(parts, state).await?;
        let params = axum::extract::Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        let workspace_id: WorkspaceId =
            params.get("workspace_id").and_then(|raw| raw.parse().ok()).ok_or(ApiError::NotFound)?;
        Self::resolve(state, principal, workspace_id).await
    }
}

impl Member {
    /// The principal's membership in `workspace_id`, or 404.
    pub async fn resolve(state: &AppState, principal: Principal, workspace_id: WorkspaceId) -> ApiResult<Self> {
        let role = Self::role_of(state, principal.user.id, principal.token_workspace(), workspace_id).await?;
        Ok(Self { principal, workspace_id, role })
    }

    /// The role of `user_id` in `workspace_id`, or 404; a token minted for another workspace
    /// (`token_workspace`) is 404 too. For callers that keep only ids (hub connections).
    pub async fn role_of(
        state: &AppState,
        user_id: UserId,
        token_workspace: Option<WorkspaceId>,
        workspace_id: WorkspaceId,
    ) -> ApiResult<Role> {
        if token_workspace.is_some_and(|ws| ws != workspace_id) {
            return Err(ApiError::NotFound);
        }
        let role: Option<Role> =
            sqlx::query_scalar("SELECT role FROM memberships WHERE workspace_id = $1 AND user_id = $2")
                .bind(workspace_id)
                .bind(user_id)
                .fetch_optional(&state.db)
                .await?;
        role.ok_or(ApiError::NotFound)
    }

    pub fn user_id(&self) -> UserId {
        self.principal.user.id
    }

    /// Allows the act when the role permits it; otherwise audits the refused attempt
    /// (`action`, `target`) and returns 403.
    pub async fn require(
        &self,
        state: &AppState,
        permission: Permission,
        action: &str,
        target_type: &str,
        target_id: Option<String>,
    ) -> ApiResult<()> {
        if self.role.allows(permission) {
            return Ok(());
        }
        let entry = Entry {
            action,
            target_type,
            target_id,
            before: None,
            after: Some(serde_json::json!({ "role": self.role, "needed": format!("{permission:?}") })),
            outcome: Outcome::Denied,
        };
        audit::record(&state.db, self, entry).await?;
        tracing::warn!(user = %self.principal.user.id, workspace = %self.workspace_id, action, "permission denied");
        Err(ApiError::Forbidden)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_trusted_only_as_far_as_configured() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert("x-forwarded-for", "6.6.6.6, 203.0.113.7".parse().unwrap());
        let peer = Some("10.0.0.1".parse().unwrap());
        assert_eq!(client_ip(0, &headers, peer), peer, "no proxies: the peer");
        assert_eq!(client_ip(1, &headers, peer), Some("203.0.113.7".parse().unwrap()), "one proxy appended the client");
        assert_eq!(client_ip(2, &headers, peer), Some("6.6.6.6".parse().unwrap()));
        assert_eq!(client_ip(3, &headers, peer), peer, "a short chain falls back");
        assert_eq!(client_ip(1, &axum::http::HeaderMap::new(), peer), peer);
    }
}
