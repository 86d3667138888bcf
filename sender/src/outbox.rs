//! The outbox claim: where the STOP fence holds (invariant 1).
//!
//! [`claim`] picks due rows with `FOR UPDATE SKIP LOCKED` (several workers and instances never
//! take the same row), and the same statement excludes every recipient who may not be texted:
//! opted out, on the DNC list, inside the pair or recipient cooldown. An opt-out that committed
//! before the claim statement began is therefore seen by it; nothing is claimed for that phone
//! afterwards. Claimed rows whose recipient opted out in between are re-checked right before
//! the call by the engine (in-memory set fed by the bus) and canceled.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::ids::WorkspaceId;

/// A row claimed for sending.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Claimed {
    pub workspace_id: WorkspaceId,
    pub id: i64,
    pub campaign_id: Uuid,
    pub step: i16,
    pub lead_id: Uuid,
    pub to_phone: String,
    pub from_number: String,
    pub account_id: Option<Uuid>,
    pub body: String,
    pub segments: i16,
    pub claimed_at: DateTime<Utc>,
}

/// Claims up to `limit` due rows for `worker`, skipping suppressed recipients and cooldowns.
/// `now` is passed in so tests can control the clock.
pub async fn claim(
    conn: &mut PgConnection,
    worker: &str,
    limit: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Claimed>> {
    sqlx::query_as(
        "WITH due AS ( \
           SELECT o.workspace_id, o.id FROM outbox o \
           JOIN campaigns c ON c.workspace_id = o.workspace_id AND c.id = o.campaign_id AND c.status = 'running' \
           WHERE o.state = 'queued' AND o.not_before <= $3 \
             AND NOT EXISTS (SELECT 1 FROM opt_outs x WHERE x.workspace_id = o.workspace_id AND x.phone = o.to_phone) \
             AND NOT EXISTS (SELECT 1 FROM dnc_entries d \
                             WHERE d.workspace_id = o.workspace_id AND d.lo <= o.to_key AND d.hi >= o.to_key) \
             AND NOT EXISTS (SELECT 1 FROM pair_history p \
                             WHERE p.workspace_id = o.workspace_id AND p.their_number = o.to_phone \
                               AND p.our_number = o.from_number \
                               AND p.last_sent_at > $3 - make_interval(days => c.retext_pair_days)) \
             AND NOT EXISTS (SELECT 1 FROM recipient_history r \
                             WHERE r.workspace_id = o.workspace_id AND r.their_number = o.to_phone \
                               AND r.last_sent_at > $3 - make_interval(days => c.retext_recipient_days)) \
           ORDER BY o.not_before \
           LIMIT $2 \
           FOR UPDATE OF o SKIP LOCKED) \
         UPDATE outbox o SET state = 'claimed', claimed_at = $3, claimed_by = $1, attempts = o.attempts + 1 \
         FROM due WHERE o.workspace_id = due.workspace_id AND o.id = due.id \
         RETURNING o.workspace_id, o.id, o.campaign_id, o.step, o.lead_id, o.to_phone, o.from_number, o.account_id, \
                   o.body, o.segments, o.claimed_at",
    )
    .bind(worker)
    .bind(limit)
    .bind(now)
    .fetch_all(conn)
    .await
}

/// Outbox rows a crashed worker left claimed: those without a send-log row were never called and
/// go back to the queue; those with a "calling" row may have reached Twilio and become `unknown`
/// (never resent: at-most-once beats a double text). Returns (requeued, unknown).
pub async fn recover_stale_claims(conn: &mut PgConnection, older_than: DateTime<Utc>) -> sqlx::Result<(u64, u64)> {
    let unknown = sqlx::query(
        "UPDATE outbox o SET state = 'unknown' WHERE o.state = 'claimed' AND o.claimed_at < $1 \
         AND EXISTS (SELECT 1 FROM send_log s WHERE s.workspace_id = o.workspace_id AND s.outbox_id = o.id)",
    )
    .bind(older_than)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    let requeued = sqlx::query(
        "UPDATE outbox SET state = 'queued', claimed_at = NULL, claimed_by = NULL \
         WHERE state = 'claimed' AND claimed_at < $1",
    )
    .bind(older_than)
    .execute(&mut *conn)
    .await?
    .rows_affected();
    Ok((requeued, unknown))
}
