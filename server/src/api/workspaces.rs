//! Workspaces: the caller's list (for the switcher), and creation by a server super_admin.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use switchboard_sender::WorkspaceId;
use utoipa::ToSchema;

use super::auth::{MembershipView, memberships_of};
use crate::audit::{self, Entry};
use crate::auth::guard::{AuthMethod, Principal};
use crate::auth::roles::Role;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::Json;
use crate::state::AppState;

/// Workspaces the caller belongs to (an API token sees only its own workspace).
#[utoipa::path(get, path = "/api/workspaces", tag = "workspaces", responses((status = 200, body = [MembershipView])))]
pub async fn list(State(state): State<AppState>, principal: Principal) -> ApiResult<Json<Vec<MembershipView>>> {
    let mut all = memberships_of(&state.db, principal.user.id).await?;
    if let AuthMethod::ApiToken { workspace_id, .. } = principal.auth {
        all.retain(|m| m.workspace_id == workspace_id);
    }
    Ok(Json(all))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWorkspace {
    pub slug: String,
    pub name: String,
}

pub fn validate_slug(slug: &str) -> Result<(), ApiError> {
    let ok = (2..=63).contains(&slug.len())
        && slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !slug.starts_with('-');
    if ok { Ok(()) } else { Err(ApiError::validation("slug", "Use 2–63 lowercase letters, digits or dashes.")) }
}

/// Create a workspace (server super_admin only); the creator becomes its owner.
#[utoipa::path(post, path = "/api/workspaces", tag = "workspaces", request_body = NewWorkspace,
    responses((status = 201, body = MembershipView), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    principal: Principal,
    Json(req): Json<NewWorkspace>,
) -> ApiResult<(StatusCode, Json<MembershipView>)> {
    if !principal.user.is_super_admin {
        return Err(ApiError::Forbidden);
    }
    validate_slug(&req.slug)?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::validation("name", "Give the workspace a name of 1–200 characters."));
    }
    let id = WorkspaceId::new();
    let mut tx = state.db.begin().await?;
    let inserted =
        sqlx::query("INSERT INTO workspaces (id, slug, name) VALUES ($1, $2, $3) ON CONFLICT (slug) DO NOTHING")
            .bind(id)
            .bind(&req.slug)
            .bind(name)
            .execute(&mut *tx)
            .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::Conflict { code: "slug_taken", message: "That slug is already used.".into() });
    }
    sqlx::query("INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, 'owner')")
        .bind(id)
        .bind(principal.user.id)
        .execute(&mut *tx)
        .await?;
    let entry = Entry::ok("workspace.created", "workspace", id)
        .change(None, Some(serde_json::json!({ "slug": req.slug, "name": name })));
    audit::insert(
        &mut *tx,
        id,
        Some((principal.user.id.0, &principal.user.email)),
        principal.meta.ip.map(|ip| ip.to_string()),
        principal.meta.request_id.clone(),
        entry,
    )
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Json(MembershipView { workspace_id: id, slug: req.slug, name: name.to_owned(), role: Role::Owner }),
    ))
}
