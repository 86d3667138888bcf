//! Campaigns: typed steps (each template parsed), the audience (`audience.rs`), the number pool, the retext policy, and the lifecycle of
//! docs/engine.md. [`transition`] is the only way a campaign's status changes by hand; starting
//! materializes it (`plan::materialize`), canceling cancels its queued outbox rows.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

pub use crate::audience::Audience;
use crate::field_error::{FieldError, InputError, WriteError};
use crate::templates::Template;
use crate::{WorkspaceId, plan, stats, text_enum};

text_enum!(
    /// Where a campaign (or crusade) is in its life (docs/engine.md "Lifecycle").
    Status {
        Draft = "draft", Scheduled = "scheduled", Running = "running", Paused = "paused",
        Completed = "completed", Canceled = "canceled"
    }
);

impl Status {
    /// Content (steps, audience, pool, policy) may change only in these.
    pub fn editable(self) -> bool {
        matches!(self, Status::Draft | Status::Scheduled | Status::Paused)
    }

    /// Nothing more happens to a campaign in these; it may be deleted.
    pub fn deletable(self) -> bool {
        matches!(self, Status::Draft | Status::Completed | Status::Canceled)
    }
}

/// A status change asked for by a person (or the crusade driving the campaign).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Start,
    Pause,
    Resume,
    Cancel,
}

impl Action {
    pub fn verb(self) -> &'static str {
        match self {
            Action::Start => "start",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Cancel => "cancel",
        }
    }

    /// The status after `self` from `from`, or None when the lifecycle does not allow it.
    /// `scheduled` is where a start lands while a crusade's start date is ahead.
    pub fn apply(self, from: Status, scheduled: bool) -> Option<Status> {
        use Status::*;
        match (self, from) {
            (Action::Start, Draft) if scheduled => Some(Scheduled),
            (Action::Start, Draft) => Some(Running),
            (Action::Pause, Running) => Some(Paused),
            (Action::Resume, Paused) => Some(Running),
            (Action::Cancel, Scheduled | Running | Paused) => Some(Canceled),
            _ => None,
        }
    }
}

/// One step: step 0 goes at launch, step k `after_days` after step k−1 when no reply came.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub after_days: u32,
    pub templates: Vec<String>,
}

/// Steps that are valid by construction: at least one; step 0 after 0 days, later ones after
/// 1–365 days; each with 1–10 templates that parse and are at most 1,600 characters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Steps(Vec<Step>);

impl Steps {
    pub fn parse(steps: Vec<Step>) -> Result<Self, InputError> {
        if steps.is_empty() || steps.len() > 10 {
            return Err(InputError::new("steps", "Give 1–10 steps."));
        }
        for (i, step) in steps.iter().enumerate() {
            Self::check(i, step)?;
        }
        Ok(Self(steps))
    }

    fn check(i: usize, step: &Step) -> Result<(), InputError> {
        match (i, step.after_days) {
            (0, 0) => {}
            (0, _) => return Err(InputError::new("steps[0].after_days", "The first step goes at launch: 0.")),
            (_, 1..=365) => {}
            _ => {
                return Err(InputError::new(format!("steps[{i}].after_days"), "Use 1–365 days after the step before."));
            }
        }
        if step.templates.is_empty() || step.templates.len() > 10 {
            return Err(InputError::new(format!("steps[{i}].templates"), "Give 1–10 template variants."));
        }
        for (j, source) in step.templates.iter().enumerate() {
            let field = || format!("steps[{i}].templates[{j}]");
            if source.trim().is_empty() || source.chars().count() > 1600 {
                return Err(InputError::new(field(), "Write 1–1,600 characters."));
            }
            Template::parse(source).map_err(|e| InputError::new(field(), e.to_string()))?;
        }
        Ok(())
    }

    pub fn get(&self, step: usize) -> Option<&Step> {
        self.0.get(step)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A campaign as stored.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Campaign {
    pub id: Uuid,
    pub name: String,
    pub status: Status,
    pub crusade_id: Option<Uuid>,
    pub steps: Json<Vec<Step>>,
    pub audience: Json<Audience>,
    pub number_pool: Vec<Uuid>,
    pub vertical: Option<String>,
    pub retext_recipient_days: i32,
    pub retext_pair_days: i32,
    pub opt_out_language: String,
    pub started_at: Option<DateTime<Utc>>,
    pub materialized_at: Option<DateTime<Utc>>,
    pub finished_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Everything people set on a campaign, parsed.
#[derive(Clone, Debug)]
pub struct CampaignSpec {
    pub name: String,
    pub steps: Steps,
    pub audience: Audience,
    pub number_pool: Vec<Uuid>,
    pub retext_recipient_days: i32,
    pub retext_pair_days: i32,
    pub opt_out_language: String,
    pub crusade_id: Option<Uuid>,
    pub vertical: Option<String>,
}

/// A campaign name: 1–200 characters.
pub fn parse_name(raw: &str) -> Result<String, FieldError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(FieldError::new("name", "Give a name of 1–200 characters."));
    }
    Ok(name.to_owned())
}

/// Retext days: 0–3650 (0 turns the cooldown off).
pub fn parse_days(field: &'static str, days: i64) -> Result<i32, FieldError> {
    if !(0..=3650).contains(&days) {
        return Err(FieldError::new(field, "Use 0–3650 days."));
    }
    Ok(days as i32)
}

/// Opt-out language: at most 200 characters (empty: none appended).
pub fn parse_opt_out_language(raw: &str) -> Result<String, FieldError> {
    if raw.chars().count() > 200 {
        return Err(FieldError::new("opt_out_language", "Use at most 200 characters."));
    }
    Ok(raw.trim().to_owned())
}

impl CampaignSpec {
    /// The spec of a stored campaign (to apply a partial change on top).
    pub fn of(c: &Campaign) -> Result<Self, InputError> {
        Ok(Self {
            name: c.name.clone(),
            steps: Steps::parse(c.steps.0.clone())?,
            audience: c.audience.0.clone(),
            number_pool: c.number_pool.clone(),
            retext_recipient_days: c.retext_recipient_days,
            retext_pair_days: c.retext_pair_days,
            opt_out_language: c.opt_out_language.clone(),
            crusade_id: c.crusade_id,
            vertical: c.vertical.clone(),
        })
    }
}

const COLUMNS: &str = "id, name, status, crusade_id, steps, audience, number_pool, vertical, retext_recipient_days, \
    retext_pair_days, opt_out_language, started_at, materialized_at, finished_at, created_at, updated_at";

/// Campaigns of `ws`, newest first, optionally by status and crusade.
pub async fn list(
    conn: &mut PgConnection,
    ws: WorkspaceId,
    status: Option<Status>,
    crusade: Option<Uuid>,
) -> sqlx::Result<Vec<Campaign>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM campaigns WHERE workspace_id = $1 AND ($2::text IS NULL OR status = $2) \
         AND ($3::uuid IS NULL OR crusade_id = $3) ORDER BY created_at DESC, id DESC LIMIT 1000"
    )))
    .bind(ws)
    .bind(status)
    .bind(crusade)
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, ws: WorkspaceId, id: Uuid) -> sqlx::Result<Option<Campaign>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM campaigns WHERE workspace_id = $1 AND id = $2")))
        .bind(ws)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Locks a campaign for a read-modify-write and returns it.
pub async fn lock(conn: &mut PgConnection, ws: WorkspaceId, id: Uuid) -> sqlx::Result<Option<Campaign>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM campaigns WHERE workspace_id = $1 AND id = $2 FOR UPDATE"
    )))
    .bind(ws)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Pool ids that are not numbers of `ws` (the pool must name only the workspace's numbers).
async fn foreign_pool_ids(conn: &mut PgConnection, ws: WorkspaceId, pool: &[Uuid]) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar(
        "SELECT p FROM unnest($2::uuid[]) p \
         WHERE NOT EXISTS (SELECT 1 FROM phone_numbers n WHERE n.workspace_id = $1 AND n.id = p)",
    )
    .bind(ws)
    .bind(pool)
    .fetch_all(conn)
    .await
}

fn refused(e: sqlx::Error) -> WriteError {
    if let sqlx::Error::Database(db) = &e
        && db.constraint() == Some("campaigns_crusade_fkey")
    {
        return WriteError::Invalid(FieldError::new("crusade_id", "No such crusade in this workspace."));
    }
    WriteError::Db(e)
}

/// Writes `spec` as campaign `id` (insert when `new`, else replace its content).
pub async fn save(
    conn: &mut PgConnection,
    ws: WorkspaceId,
    id: Uuid,
    spec: &CampaignSpec,
    new: bool,
) -> Result<Campaign, WriteError> {
    if let Some(bad) = foreign_pool_ids(conn, ws, &spec.number_pool).await?.first() {
        return Err(WriteError::Invalid(FieldError::new(
            "number_pool",
            format!("{bad} is not a number of this workspace."),
        )));
    }
    let sql = if new {
        "INSERT INTO campaigns (workspace_id, id, name, steps, audience, number_pool, retext_recipient_days, \
         retext_pair_days, opt_out_language, crusade_id, vertical) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)"
    } else {
        "UPDATE campaigns SET name = $3, steps = $4, audience = $5, number_pool = $6, retext_recipient_days = $7, \
         retext_pair_days = $8, opt_out_language = $9, crusade_id = $10, vertical = $11, updated_at = now() \
         WHERE workspace_id = $1 AND id = $2"
    };
    sqlx::query(sql)
        .bind(ws)
        .bind(id)
        .bind(&spec.name)
        .bind(Json(&spec.steps))
        .bind(Json(&spec.audience))
        .bind(&spec.number_pool)
        .bind(spec.retext_recipient_days)
        .bind(spec.retext_pair_days)
        .bind(&spec.opt_out_language)
        .bind(spec.crusade_id)
        .bind(spec.vertical.as_deref())
        .execute(&mut *conn)
        .await
        .map_err(refused)?;
    Ok(get(conn, ws, id).await?.ok_or(sqlx::Error::RowNotFound)?)
}

pub async fn delete(conn: &mut PgConnection, ws: WorkspaceId, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM campaigns WHERE workspace_id = $1 AND id = $2").bind(ws).bind(id).execute(conn).await?;
    Ok(())
}

/// Why a status change was refused.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    #[error("no such campaign")]
    NotFound,
    /// The lifecycle does not allow it; names the field (`status`, `crusade_id`).
    #[error("{0}")]
    Refused(FieldError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// Sets `status` (and the timestamps that go with it) without any check: callers decided.
pub(crate) async fn set_status(
    conn: &mut PgConnection,
    ws: WorkspaceId,
    id: Uuid,
    status: Status,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE campaigns SET status = $3, updated_at = $4, \
           started_at = CASE WHEN $3 = 'running' THEN COALESCE(started_at, $4) ELSE started_at END, \
           finished_at = CASE WHEN $3 IN ('completed', 'canceled') THEN $4 ELSE finished_at END \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(ws)
    .bind(id)
    .bind(status)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    match status {
        Status::Running => {
            plan::materialize(conn, ws, id, now).await?;
        }
        Status::Canceled => {
            cancel_queued(conn, ws, id).await?;
        }
        _ => {}
    }
    Ok(())
}

/// The campaign's rows not yet claimed become `canceled`, counted in its `canceled` counter.
/// Claimed rows (`claimed_at` set) may be on their way to the carrier: the engine ends them.
pub(crate) async fn cancel_queued(conn: &mut PgConnection, ws: WorkspaceId, id: Uuid) -> sqlx::Result<u64> {
    let n = sqlx::query(
        "UPDATE outbox SET state = 'canceled', updated_at = now() \
         WHERE workspace_id = $1 AND campaign_id = $2 AND state = 'queued' AND claimed_at IS NULL",
    )
    .bind(ws)
    .bind(id)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    stats::add(conn, ws, id, stats::metric::CANCELED, n as i64).await?;
    Ok(n)
}

/// The refusal for `action` from `from`, naming `status`.
pub fn not_allowed(what: &str, action: Action, from: Status) -> FieldError {
    FieldError::new("status", format!("A {from} {what} cannot {}.", action.verb()))
}

/// Applies `action` to a campaign that is not driven by a crusade, in the caller's transaction.
/// Returns (before, after).
pub async fn transition(
    conn: &mut PgConnection,
    ws: WorkspaceId,
    id: Uuid,
    action: Action,
    now: DateTime<Utc>,
) -> Result<(Campaign, Campaign), TransitionError> {
    let before = lock(conn, ws, id).await?.ok_or(TransitionError::NotFound)?;
    if before.crusade_id.is_some() {
        let message = "This campaign is driven by its crusade: start, pause, resume or cancel the crusade.";
        return Err(TransitionError::Refused(FieldError::new("crusade_id", message)));
    }
    let next = action.apply(before.status, false).ok_or(TransitionError::Refused(not_allowed(
        "campaign",
        action,
        before.status,
    )))?;
    set_status(conn, ws, id, next, now).await?;
    let after = get(conn, ws, id).await?.ok_or(TransitionError::NotFound)?;
    Ok((before, after))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(after_days: u32, templates: &[&str]) -> Step {
        Step { after_days, templates: templates.iter().map(|t| t.to_string()).collect() }
    }

    #[test]
    fn steps_name_the_template_at_fault() {
        assert!(Steps::parse(vec![step(0, &["Hi {{first_name|there}}"]), step(3, &["Still there?"])]).is_ok());
        assert_eq!(Steps::parse(vec![]).unwrap_err().field, "steps");
        assert_eq!(Steps::parse(vec![step(1, &["x"])]).unwrap_err().field, "steps[0].after_days");
        assert_eq!(Steps::parse(vec![step(0, &["x"]), step(0, &["y"])]).unwrap_err().field, "steps[1].after_days");
        assert_eq!(Steps::parse(vec![step(0, &["Hi {{name"])]).unwrap_err().field, "steps[0].templates[0]");
        assert_eq!(Steps::parse(vec![step(0, &["ok", "{{ }}"])]).unwrap_err().field, "steps[0].templates[1]");
        assert_eq!(Steps::parse(vec![step(0, &[])]).unwrap_err().field, "steps[0].templates");
    }

    #[test]
    fn lifecycle_allows_only_the_documented_moves() {
        use Status::*;
        assert_eq!(Action::Start.apply(Draft, false), Some(Running));
        assert_eq!(Action::Start.apply(Draft, true), Some(Scheduled));
        assert_eq!(Action::Start.apply(Running, false), None);
        assert_eq!(Action::Pause.apply(Running, false), Some(Paused));
        assert_eq!(Action::Pause.apply(Draft, false), None);
        assert_eq!(Action::Resume.apply(Paused, false), Some(Running));
        assert_eq!(Action::Resume.apply(Running, false), None);
        assert_eq!(Action::Cancel.apply(Paused, false), Some(Canceled));
        assert_eq!(Action::Cancel.apply(Draft, false), None);
        assert_eq!(Action::Cancel.apply(Completed, false), None);
    }
}
