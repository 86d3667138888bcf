//! API tokens for scripts and load tests: created by a member for one workspace, shown once,
//! stored hashed, revocable. A token acts as its user with the user's current role.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::{self, Entry};
use crate::auth::guard::Member;
use crate::auth::roles::Permission;
use crate::auth::secrets::{hash_secret, new_secret};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    /// The first characters of the token, to recognise it.
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedToken {
    pub id: Uuid,
    pub name: String,
    /// The secret: shown this once, never again. Send as `Authorization: Bearer <token>`.
    pub token: String,
}

/// The caller's API tokens in this workspace.
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/tokens", tag = "tokens",
    params(("workspace_id" = Uuid, Path)), responses((status = 200, body = [TokenView])))]
pub async fn list(State(state): State<AppState>, member: Member) -> ApiResult<Json<Vec<TokenView>>> {
    member.require(&state, Permission::ManageOwnTokens, "token.list", "token", None).await?;
    let rows = sqlx::query_as(
        "SELECT id, name, prefix, created_at, last_used_at, revoked_at FROM api_tokens \
         WHERE workspace_id = $1 AND user_id = $2 ORDER BY created_at DESC",
    )
    .bind(member.workspace_id)
    .bind(member.user_id())
    .fetch_all(&state.db)
    .await?;
    Ok(Json(rows))
}

/// Create an API token; the secret is in this response only.
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/tokens", tag = "tokens",
    params(("workspace_id" = Uuid, Path)), request_body = NewToken,
    responses((status = 201, body = CreatedToken), (status = 400, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    member: Member,
    Json(req): Json<NewToken>,
) -> ApiResult<(StatusCode, Json<CreatedToken>)> {
    member.require(&state, Permission::ManageOwnTokens, "token.created", "token", None).await?;
    let name = req.name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::validation("name", "Name the token (1–100 characters)."));
    }
    let id = Uuid::now_v7();
    let token = new_secret("sb_");
    let mut tx = state.db.begin().await?;
    sqlx::query(
        "INSERT INTO api_tokens (workspace_id, id, user_id, name, prefix, token_hash) VALUES ($1,$2,$3,$4,$5,$6)",
    )
    .bind(member.workspace_id)
    .bind(id)
    .bind(member.user_id())
    .bind(&name)
    .bind(&token[..10])
    .bind(hash_secret(&token))
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        &member,
        Entry::ok("token.created", "token", id).change(None, Some(serde_json::json!({ "name": name }))),
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(CreatedToken { id, name, token })))
}

#[derive(Debug, Deserialize)]
pub struct TokenPath {
    #[allow(dead_code)]
    workspace_id: Uuid,
    token_id: Uuid,
}

/// Revoke a token: one's own, or anyone's for owners and admins.
#[utoipa::path(delete, path = "/api/workspaces/{workspace_id}/tokens/{token_id}", tag = "tokens",
    params(("workspace_id" = Uuid, Path), ("token_id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    member: Member,
    Path(TokenPath { token_id, .. }): Path<TokenPath>,
) -> ApiResult<StatusCode> {
    let owner: Option<switchboard_sender::UserId> =
        sqlx::query_scalar("SELECT user_id FROM api_tokens WHERE workspace_id = $1 AND id = $2")
            .bind(member.workspace_id)
            .bind(token_id)
            .fetch_optional(&state.db)
            .await?;
    let owner = owner.ok_or(ApiError::NotFound)?;
    if owner != member.user_id() {
        member.require(&state, Permission::ManageMembers, "token.revoked", "token", Some(token_id.to_string())).await?;
    }
    let mut tx = state.db.begin().await?;
    sqlx::query("UPDATE api_tokens SET revoked_at = now() WHERE workspace_id = $1 AND id = $2 AND revoked_at IS NULL")
        .bind(member.workspace_id)
        .bind(token_id)
        .execute(&mut *tx)
        .await?;
    audit::record(&mut *tx, &member, Entry::ok("token.revoked", "token", token_id)).await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
