//! The audit log: who did what to which record, before and after, from where. Rows are only ever
//! inserted (the database refuses UPDATE, DELETE and TRUNCATE; see migrations/0001).

use serde_json::Value;
use sqlx::PgExecutor;
use switchboard_sender::WorkspaceId;

use crate::auth::guard::Member;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Denied,
}

/// One auditable act. `action` is `noun.verb`, e.g. `member.role_changed`.
#[derive(Debug)]
pub struct Entry<'a> {
    pub action: &'a str,
    pub target_type: &'a str,
    pub target_id: Option<String>,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub outcome: Outcome,
}

impl<'a> Entry<'a> {
    pub fn ok(action: &'a str, target_type: &'a str, target_id: impl ToString) -> Self {
        Self {
            action,
            target_type,
            target_id: Some(target_id.to_string()),
            before: None,
            after: None,
            outcome: Outcome::Ok,
        }
    }

    pub fn change(mut self, before: Option<Value>, after: Option<Value>) -> Self {
        self.before = before;
        self.after = after;
        self
    }
}

/// Writes `entry` as done by `actor` in the actor's workspace.
pub async fn record(db: impl PgExecutor<'_>, actor: &Member, entry: Entry<'_>) -> sqlx::Result<()> {
    let p = &actor.principal;
    insert(
        db,
        actor.workspace_id,
        Some((p.user.id.0, p.user.email.as_str())),
        p.meta.ip.map(|ip| ip.to_string()),
        p.meta.request_id.clone(),
        entry,
    )
    .await
}

/// Writes an entry with an explicit actor (or none, for the system and the CLI).
pub async fn insert(
    db: impl PgExecutor<'_>,
    workspace_id: WorkspaceId,
    actor: Option<(uuid::Uuid, &str)>,
    ip: Option<String>,
    request_id: Option<String>,
    entry: Entry<'_>,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (workspace_id, actor_id, actor_email, action, target_type, target_id, \
         before, after, outcome, ip, request_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)",
    )
    .bind(workspace_id)
    .bind(actor.map(|a| a.0))
    .bind(actor.map(|a| a.1))
    .bind(entry.action)
    .bind(entry.target_type)
    .bind(entry.target_id)
    .bind(entry.before)
    .bind(entry.after)
    .bind(match entry.outcome {
        Outcome::Ok => "ok",
        Outcome::Denied => "denied",
    })
    .bind(ip)
    .bind(request_id)
    .execute(db)
    .await?;
    Ok(())
}
