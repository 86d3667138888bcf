//! Workspace-wide suppression: opt-outs (with their consent history) and the internal DNC list.
//!
//! Every function takes the `WorkspaceId` first and runs inside the caller's transaction, so an
//! opt-out commits together with whatever recorded it (an inbound message, a send-log result).
//! Once `record_opt_out` has committed, the claim statement can no longer pick the phone
//! (invariant 1).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::ids::{UserId, WorkspaceId};
use crate::phone::E164;

/// Why a phone is opted out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptOutSource {
    /// A STOP-style keyword.
    Keyword,
    /// A plain-language revocation ("stop texting me"); flagged for review.
    Phrase,
    /// Twilio refused a send with 21610.
    Carrier,
    /// Entered by a person.
    Manual,
    /// From an imported suppression list.
    Import,
}

impl OptOutSource {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Keyword => "keyword",
            Self::Phrase => "phrase",
            Self::Carrier => "carrier",
            Self::Manual => "manual",
            Self::Import => "import",
        }
    }
}

/// Where an opt-out or opt-in came from, for the consent history.
#[derive(Clone, Debug, Default)]
pub struct ConsentContext {
    pub via_number: Option<E164>,
    pub message_sid: Option<String>,
    pub actor: Option<UserId>,
    pub note: Option<String>,
    /// When the request carrying the change reached us (an inbound STOP: the moment our webhook
    /// received it); stored as `opted_out_at` and the event's `at`. `None`: the transaction's
    /// start.
    pub at: Option<DateTime<Utc>>,
}

/// Opts `phone` out of everything in the workspace. Returns true when it was not opted out
/// before (so callers send at most one confirmation).
pub async fn record_opt_out(
    tx: &mut PgConnection,
    workspace: WorkspaceId,
    phone: &E164,
    source: OptOutSource,
    ctx: &ConsentContext,
) -> sqlx::Result<bool> {
    // The opt-out and its history entry in one round trip (a STOP's transaction is on the
    // fence's path).
    let inserted: i64 = sqlx::query_scalar(
        "WITH o AS ( \
           INSERT INTO opt_outs (workspace_id, phone, source, via_number, message_sid, needs_review, note, opted_out_at) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, now())) ON CONFLICT (workspace_id, phone) DO NOTHING \
           RETURNING 1), \
         e AS ( \
           INSERT INTO consent_events (workspace_id, phone, kind, source, via_number, message_sid, actor_id, at) \
           VALUES ($1, $2, 'opt_out', $3, $4, $5, $9, COALESCE($8, now()))) \
         SELECT count(*) FROM o",
    )
    .bind(workspace)
    .bind(phone.as_str())
    .bind(source.as_str())
    .bind(ctx.via_number.as_ref().map(E164::as_str))
    .bind(&ctx.message_sid)
    .bind(source == OptOutSource::Phrase)
    .bind(&ctx.note)
    .bind(ctx.at)
    .bind(ctx.actor)
    .fetch_one(&mut *tx)
    .await?;
    Ok(inserted == 1)
}

/// Opts `phone` back in (START, YES, UNSTOP, or a person). Returns true when it was opted out.
pub async fn record_opt_in(
    tx: &mut PgConnection,
    workspace: WorkspaceId,
    phone: &E164,
    source: &str,
    ctx: &ConsentContext,
) -> sqlx::Result<bool> {
    let removed = sqlx::query("DELETE FROM opt_outs WHERE workspace_id = $1 AND phone = $2")
        .bind(workspace)
        .bind(phone.as_str())
        .execute(&mut *tx)
        .await?
        .rows_affected()
        == 1;
    insert_event(tx, workspace, phone, "opt_in", source, ctx).await?;
    Ok(removed)
}

async fn insert_event(
    tx: &mut PgConnection,
    workspace: WorkspaceId,
    phone: &E164,
    kind: &str,
    source: &str,
    ctx: &ConsentContext,
) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO consent_events (workspace_id, phone, kind, source, via_number, message_sid, actor_id, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, now()))",
    )
    .bind(workspace)
    .bind(phone.as_str())
    .bind(kind)
    .bind(source)
    .bind(ctx.via_number.as_ref().map(E164::as_str))
    .bind(&ctx.message_sid)
    .bind(ctx.actor)
    .bind(ctx.at)
    .execute(tx)
    .await?;
    Ok(())
}

/// The E.164 digits as an integer, for DNC range checks.
pub fn phone_key(phone: &E164) -> i64 {
    phone.as_str()[1..].parse().expect("E.164 digits fit in i64")
}

/// Why a phone may not be texted, if it may not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suppressed {
    OptedOut,
    Dnc,
}

/// One probe for both lists (the claim statement has the same two conditions inline).
pub async fn suppression_of(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    phone: &E164,
) -> sqlx::Result<Option<Suppressed>> {
    let (opted_out, dnc): (bool, bool) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM opt_outs WHERE workspace_id = $1 AND phone = $2), \
                EXISTS (SELECT 1 FROM dnc_entries WHERE workspace_id = $1 AND lo <= $3 AND hi >= $3)",
    )
    .bind(workspace)
    .bind(phone.as_str())
    .bind(phone_key(phone))
    .fetch_one(conn)
    .await?;
    Ok(if opted_out {
        Some(Suppressed::OptedOut)
    } else if dnc {
        Some(Suppressed::Dnc)
    } else {
        None
    })
}
