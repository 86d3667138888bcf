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

/// Creates the demo workspaces and users, then the demo leads, crusade and campaign. Idempotent: existing rows are brought back to the
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
    crate::demo_campaigns::seed(db).await?;
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

/// The simulator's demo account, to register in the demo workspace (`seed --demo --simulator`).
pub struct DemoCarrier {
    pub account_sid: String,
    pub auth_token: String,
    pub base_url: String,
    pub numbers: Vec<String>,
}

/// Registers `carrier` as an account of the demo workspace with its numbers (idempotent: an
/// existing account gets the current token and base URL; existing numbers stay). Returns the
/// account's inbound webhook URL, for the simulator's replies.
pub async fn seed_demo_carrier(db: &PgPool, config: &Config, carrier: &DemoCarrier) -> anyhow::Result<String> {
    use switchboard_sender::accounts::{self, AccountChange, AccountSid, AccountStatus, NewAccount};
    use switchboard_sender::numbers::{self, Health, NumberSpec, NumberStatus};
    use switchboard_sender::secretbox::Secret;

    let key = &config.secret_key.0;
    let mut tx = db.begin().await?;
    let ws: WorkspaceId = sqlx::query_scalar("SELECT id FROM workspaces WHERE slug = 'demo'")
        .fetch_optional(&mut *tx)
        .await?
        .context("run the demo seed first: no workspace 'demo'")?;
    let sid = AccountSid::parse(&carrier.account_sid).map_err(anyhow::Error::msg)?;
    let existing = accounts::ids_by_sid(&mut tx, ws).await?.get(sid.as_str()).copied();
    let account_id = match existing {
        Some(id) => {
            let change = AccountChange {
                auth_token: Some(Secret::new(carrier.auth_token.clone())),
                base_url: Some(carrier.base_url.clone()),
                status: Some(AccountStatus::Active),
                ..Default::default()
            };
            accounts::update(&mut tx, ws, key, id, &change).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
            id
        }
        None => {
            let new = NewAccount {
                name: "Simulator (demo)".into(),
                account_sid: sid,
                auth_token: Secret::new(carrier.auth_token.clone()),
                api_key: None,
                base_url: carrier.base_url.clone(),
                daily_cap: None,
                mps_cap: None,
                status: AccountStatus::Active,
            };
            accounts::insert(&mut tx, ws, key, &new).await.map_err(|e| anyhow::anyhow!("{e:?}"))?.id
        }
    };
    let have: Vec<String> = sqlx::query_scalar("SELECT e164 FROM phone_numbers WHERE workspace_id = $1")
        .bind(ws)
        .fetch_all(&mut *tx)
        .await?;
    for raw in carrier.numbers.iter().filter(|n| !have.contains(n)) {
        let spec = NumberSpec {
            e164: switchboard_sender::E164::parse(raw).with_context(|| format!("simulator number {raw}"))?,
            account_id,
            sms: true,
            mms: true,
            state: None,
            campaign_10dlc: None,
            mps: 1.0,
            daily_cap: None,
            warmup: None,
            health: Health::Good,
            status: NumberStatus::Active,
        };
        numbers::insert(&mut tx, ws, &spec).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    tx.commit().await?;
    let url = config.public_url.join(&format!("/webhooks/twilio/{ws}/{account_id}/inbound"))?;
    Ok(url.to_string())
}
