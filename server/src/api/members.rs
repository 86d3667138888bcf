//! Members of a workspace: list, add or invite, change role, remove. Changes need
//! owner/admin; anything touching the owner role needs an owner; the last owner stays.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::AssertSqlSafe;
use switchboard_sender::{UserId, WorkspaceId};
use utoipa::ToSchema;
use uuid::Uuid;

use super::auth::normalize_email;
use crate::audit::{self, Entry};
use crate::auth::guard::Member;
use crate::auth::mailer::Mail;
use crate::auth::recovery::{self, Purpose};
use crate::auth::roles::{Permission, Role};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::extract::{Json, Path};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct MemberView {
    #[schema(value_type = Uuid)]
    pub user_id: UserId,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub joined_at: DateTime<Utc>,
}

const SELECT_MEMBER: &str = "SELECT u.id AS user_id, u.email, u.name, m.role, m.created_at AS joined_at \
    FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.workspace_id = $1";

/// Members of the workspace.
#[utoipa::path(get, path = "/api/workspaces/{workspace_id}/members", tag = "members",
    params(("workspace_id" = Uuid, Path)),
    responses((status = 200, body = [MemberView]), (status = 404, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, member: Member) -> ApiResult<Json<Vec<MemberView>>> {
    member.require(&state, Permission::ViewWorkspace, "member.list", "workspace", None).await?;
    let rows = sqlx::query_as(AssertSqlSafe(format!("{SELECT_MEMBER} ORDER BY m.role, u.email")))
        .bind(member.workspace_id)
        .fetch_all(&state.db)
        .await?;
    Ok(Json(rows))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMember {
    pub email: String,
    #[serde(default)]
    pub name: Option<String>,
    pub role: Role,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddedMember {
    pub member: MemberView,
    /// For a person without an account: the one-time link that lets them set a password.
    /// Shown once (and mailed); null when they already had an account.
    pub invite_url: Option<String>,
}

/// Add a person to the workspace, inviting them when they have no account yet.
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/members", tag = "members",
    params(("workspace_id" = Uuid, Path)), request_body = AddMember,
    responses((status = 201, body = AddedMember), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add(
    State(state): State<AppState>,
    member: Member,
    Json(req): Json<AddMember>,
) -> ApiResult<(StatusCode, Json<AddedMember>)> {
    member.require(&state, Permission::ManageMembers, "member.added", "user", Some(req.email.clone())).await?;
    if req.role == Role::Owner {
        member.require(&state, Permission::ManageOwners, "member.added", "user", Some(req.email.clone())).await?;
    }
    let email = normalize_email(&req.email)?;
    let name = req.name.unwrap_or_default().trim().to_owned();
    if name.chars().count() > 200 {
        return Err(ApiError::validation("name", "Use at most 200 characters."));
    }
    let mut tx = state.db.begin().await?;
    let existing: Option<UserId> =
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(&email).fetch_optional(&mut *tx).await?;
    let (user_id, is_new) = match existing {
        Some(id) => (id, false),
        None => {
            let id = UserId::new();
            sqlx::query("INSERT INTO users (id, email, name) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(&email)
                .bind(&name)
                .execute(&mut *tx)
                .await?;
            (id, true)
        }
    };
    let inserted =
        sqlx::query("INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(member.workspace_id)
            .bind(user_id)
            .bind(req.role)
            .execute(&mut *tx)
            .await?;
    if inserted.rows_affected() == 0 {
        return Err(ApiError::Conflict { code: "already_member", message: format!("{email} is already a member.") });
    }
    let entry = Entry::ok("member.added", "user", user_id)
        .change(None, Some(json!({ "email": email, "role": req.role, "invited": is_new })));
    audit::record(&mut *tx, &member, entry).await?;
    tx.commit().await?;

    let invite_url = if is_new {
        let link = recovery::issue(&state.db, &state.config, user_id, Purpose::Invite).await?;
        state.mailer.send(Mail {
            to: email.clone(),
            subject: "You are invited to Switchboard".into(),
            body: format!(
                "{} added you to a workspace. Choose your password here: {link}",
                member.principal.user.email
            ),
        });
        Some(link)
    } else {
        None
    };
    let view = fetch_member(&state, member.workspace_id, user_id).await?.ok_or(ApiError::NotFound)?;
    Ok((StatusCode::CREATED, Json(AddedMember { member: view, invite_url })))
}

async fn fetch_member(
    state: &AppState,
    workspace_id: WorkspaceId,
    user_id: UserId,
) -> sqlx::Result<Option<MemberView>> {
    sqlx::query_as(AssertSqlSafe(format!("{SELECT_MEMBER} AND m.user_id = $2")))
        .bind(workspace_id)
        .bind(user_id)
        .fetch_optional(&state.db)
        .await
}

#[derive(Debug, Deserialize)]
pub struct MemberPath {
    #[allow(dead_code)]
    workspace_id: Uuid,
    user_id: UserId,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeRole {
    pub role: Role,
}

/// Locks the workspace's memberships and returns the target's current role, or 404.
async fn lock_role(tx: &mut sqlx::PgConnection, workspace_id: WorkspaceId, user_id: UserId) -> ApiResult<Role> {
    let roles: Vec<(UserId, Role)> =
        sqlx::query_as("SELECT user_id, role FROM memberships WHERE workspace_id = $1 FOR UPDATE")
            .bind(workspace_id)
            .fetch_all(&mut *tx)
            .await?;
    roles.iter().find(|(id, _)| *id == user_id).map(|(_, r)| *r).ok_or(ApiError::NotFound)
}

async fn owner_count(tx: &mut sqlx::PgConnection, workspace_id: WorkspaceId) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT count(*) FROM memberships WHERE workspace_id = $1 AND role = 'owner'")
        .bind(workspace_id)
        .fetch_one(tx)
        .await
}

fn last_owner() -> ApiError {
    ApiError::Conflict { code: "last_owner", message: "A workspace keeps at least one owner.".into() }
}

/// Change a member's role (audited).
#[utoipa::path(patch, path = "/api/workspaces/{workspace_id}/members/{user_id}", tag = "members",
    params(("workspace_id" = Uuid, Path), ("user_id" = Uuid, Path)), request_body = ChangeRole,
    responses((status = 200, body = MemberView), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, body = ErrorBody)))]
pub async fn change_role(
    State(state): State<AppState>,
    member: Member,
    Path(MemberPath { user_id, .. }): Path<MemberPath>,
    Json(req): Json<ChangeRole>,
) -> ApiResult<Json<MemberView>> {
    let target = Some(user_id.to_string());
    member.require(&state, Permission::ManageMembers, "member.role_changed", "user", target.clone()).await?;
    let mut tx = state.db.begin().await?;
    let old = lock_role(&mut tx, member.workspace_id, user_id).await?;
    if old == Role::Owner || req.role == Role::Owner {
        member.require(&state, Permission::ManageOwners, "member.role_changed", "user", target).await?;
    }
    if old == Role::Owner && req.role != Role::Owner && owner_count(&mut tx, member.workspace_id).await? <= 1 {
        return Err(last_owner());
    }
    if old != req.role {
        sqlx::query("UPDATE memberships SET role = $3 WHERE workspace_id = $1 AND user_id = $2")
            .bind(member.workspace_id)
            .bind(user_id)
            .bind(req.role)
            .execute(&mut *tx)
            .await?;
        let entry = Entry::ok("member.role_changed", "user", user_id)
            .change(Some(json!({ "role": old })), Some(json!({ "role": req.role })));
        audit::record(&mut *tx, &member, entry).await?;
    }
    tx.commit().await?;
    let view = fetch_member(&state, member.workspace_id, user_id).await?.ok_or(ApiError::NotFound)?;
    Ok(Json(view))
}

/// Remove a member from the workspace (audited). Their account stays.
#[utoipa::path(delete, path = "/api/workspaces/{workspace_id}/members/{user_id}", tag = "members",
    params(("workspace_id" = Uuid, Path), ("user_id" = Uuid, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove(
    State(state): State<AppState>,
    member: Member,
    Path(MemberPath { user_id, .. }): Path<MemberPath>,
) -> ApiResult<StatusCode> {
    let target = Some(user_id.to_string());
    member.require(&state, Permission::ManageMembers, "member.removed", "user", target.clone()).await?;
    let mut tx = state.db.begin().await?;
    let old = lock_role(&mut tx, member.workspace_id, user_id).await?;
    if old == Role::Owner {
        member.require(&state, Permission::ManageOwners, "member.removed", "user", target).await?;
        if owner_count(&mut tx, member.workspace_id).await? <= 1 {
            return Err(last_owner());
        }
    }
    sqlx::query("DELETE FROM memberships WHERE workspace_id = $1 AND user_id = $2")
        .bind(member.workspace_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE api_tokens SET revoked_at = now() WHERE workspace_id = $1 AND user_id = $2 AND revoked_at IS NULL",
    )
    .bind(member.workspace_id)
    .bind(user_id)
    .execute(&mut *tx)
    .await?;
    audit::record(
        &mut *tx,
        &member,
        Entry::ok("member.removed", "user", user_id).change(Some(json!({ "role": old })), None),
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}
