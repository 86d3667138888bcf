//! The CLI's verbs besides `serve`: seeding the demo workspace and managing users.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use serde::Deserialize;
use sqlx::PgPool;
use switchboard_sender::{UserId, WorkspaceId};

use crate::auth::password;
use crate::auth::recovery::{self, Purpose};
use crate::auth::roles::Role;
use crate::config::Config;

/// The demo workspace's data, compiled in from `seeds/demo.json`.
const DEMO: &str = include_str!("../../seeds/demo.json");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Demo {
    password: String,
    workspaces: Vec<DemoWorkspace>,
    users: Vec<DemoUser>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoWorkspace {
    slug: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoUser {
    email: String,
    name: String,
    #[serde(default)]
    super_admin: bool,
    memberships: BTreeMap<String, Role>,
}

/// Creates the demo workspaces and users. Idempotent: existing rows are brought back to the
/// seed's state (roles, names), passwords are only set for users that have none.
pub async fn seed_demo(db: &PgPool) -> anyhow::Result<()> {
    let demo: Demo = serde_json::from_str(DEMO).context("seeds/demo.json is invalid")?;
    let hash = password::hash(demo.password.clone()).await?;
    let mut tx = db.begin().await?;
    let mut ids = BTreeMap::new();
    for ws in &demo.workspaces {
        let id: WorkspaceId = sqlx::query_scalar(
            "INSERT INTO workspaces (id, slug, name) VALUES ($1, $2, $3) \
             ON CONFLICT (slug) DO UPDATE SET name = EXCLUDED.name RETURNING id",
        )
        .bind(WorkspaceId::new())
        .bind(&ws.slug)
        .bind(&ws.name)
        .fetch_one(&mut *tx)
        .await?;
        ids.insert(ws.slug.clone(), id);
    }
    for user in &demo.users {
        let user_id: UserId = sqlx::query_scalar(
            "INSERT INTO users (id, email, name, password_hash, is_super_admin) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (email) DO UPDATE SET name = EXCLUDED.name, is_super_admin = EXCLUDED.is_super_admin, \
             password_hash = COALESCE(users.password_hash, EXCLUDED.password_hash) RETURNING id",
        )
        .bind(UserId::new())
        .bind(&user.email)
        .bind(&user.name)
        .bind(&hash)
        .bind(user.super_admin)
        .fetch_one(&mut *tx)
        .await?;
        for (slug, role) in &user.memberships {
            let ws =
                ids.get(slug).with_context(|| format!("seed user {} names unknown workspace {slug}", user.email))?;
            sqlx::query(
                "INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1, $2, $3) \
                 ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = EXCLUDED.role",
            )
            .bind(ws)
            .bind(user_id)
            .bind(role)
            .execute(&mut *tx)
            .await?;
        }
    }
    tx.commit().await?;
    println!("demo workspace ready: sign in as owner@demo.test (any seeded user) with password {}", demo.password);
    Ok(())
}

/// `switchboard user create`: a user with a password, optionally a member of a workspace.
pub async fn create_user(
    db: &PgPool,
    email: &str,
    name: &str,
    password_plain: &str,
    super_admin: bool,
    membership: Option<(&str, Role)>,
) -> anyhow::Result<UserId> {
    let email = email.trim().to_lowercase();
    if !email.contains('@') {
        bail!("--email must be an email address");
    }
    if let Err(crate::error::ApiError::Validation { message, .. }) = password::validate_new(password_plain) {
        bail!("password: {message}");
    }
    let hash = password::hash(password_plain.to_owned()).await?;
    let mut tx = db.begin().await?;
    let id: UserId = sqlx::query_scalar(
        "INSERT INTO users (id, email, name, password_hash, is_super_admin) VALUES ($1,$2,$3,$4,$5) RETURNING id",
    )
    .bind(UserId::new())
    .bind(&email)
    .bind(name)
    .bind(hash)
    .bind(super_admin)
    .fetch_one(&mut *tx)
    .await
    .map_err(|e| match e {
        sqlx::Error::Database(d) if d.is_unique_violation() => anyhow::anyhow!("a user with email {email} exists"),
        other => other.into(),
    })?;
    if let Some((slug, role)) = membership {
        let ws: Option<WorkspaceId> =
            sqlx::query_scalar("SELECT id FROM workspaces WHERE slug = $1").bind(slug).fetch_optional(&mut *tx).await?;
        let ws = ws.with_context(|| format!("no workspace with slug {slug}"))?;
        sqlx::query("INSERT INTO memberships (workspace_id, user_id, role) VALUES ($1,$2,$3)")
            .bind(ws)
            .bind(id)
            .bind(role)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// `switchboard user reset-password`: prints a one-time recovery link for the user.
pub async fn recovery_link(db: &PgPool, config: &Config, email: &str) -> anyhow::Result<String> {
    let email = email.trim().to_lowercase();
    let id: Option<UserId> =
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(&email).fetch_optional(db).await?;
    let id = id.with_context(|| format!("no user with email {email}"))?;
    Ok(recovery::issue(db, config, id, Purpose::Recovery).await?)
}
