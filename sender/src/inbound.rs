//! Inbound processing: an inbound message or a status callback, already authenticated by the
//! webhook, stored exactly once (invariant 5) in one transaction.
//!
//! For an inbound message, consent comes first: STOP-style keywords and plain-language
//! revocations opt the phone out workspace-wide, START opts it back in, HELP gets the help text;
//! the answer says which one confirmation to send back from the same number (never marketing).
//! Every message, keyword or not, lands on its conversation. A retried webhook finds its
//! MessageSid stored and changes nothing.
//!
//! The status-callback batches find their rows by key over UNNEST arrays and are planned at
//! every execution (`persistent(false)`): a prepared statement keeps the plan it made while the
//! tables were small, a scan per row once they have grown (see `outbox::by_key`).

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::compliance::keywords::{ReplyIntent, classify_reply};
use crate::compliance::suppression::{ConsentContext, OptOutSource, record_opt_in, record_opt_out};
use crate::ids::WorkspaceId;
use crate::phone::E164;
use crate::stats;
use crate::twilio::resource::MessageStatus;

/// An inbound SMS/MMS as Twilio posts it, parsed.
#[derive(Clone, Debug)]
pub struct InboundMessage {
    pub sid: String,
    pub from: E164,
    pub to: E164,
    pub body: String,
    pub media: Vec<(String, Option<String>)>,
    pub account_id: Uuid,
    /// When our webhook received it: a STOP's `opted_out_at`, from which every engine instance
    /// measures how long it took to hold the fence (`switchboard_engine_fence_seconds`).
    pub received_at: chrono::DateTime<chrono::Utc>,
}

/// What processing did, and the confirmation to send back, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InboundOutcome {
    /// This MessageSid was already stored: nothing changed.
    Duplicate,
    Stored {
        conversation_id: Uuid,
        message_id: Uuid,
        intent: ReplyIntent,
        reply: Option<&'static str>,
    },
}

pub const OPT_OUT_CONFIRMATION: &str =
    "You have been unsubscribed and will receive no more messages from us. Reply START to resubscribe.";
pub const OPT_IN_CONFIRMATION: &str = "You have been resubscribed. Reply STOP to unsubscribe.";
pub const HELP_REPLY: &str = "Reply STOP to unsubscribe, START to resubscribe. Msg & data rates may apply.";

fn intent_name(intent: ReplyIntent) -> &'static str {
    match intent {
        ReplyIntent::OptOut => "opt_out",
        ReplyIntent::OptOutByPhrase => "opt_out_phrase",
        ReplyIntent::OptIn => "opt_in",
        ReplyIntent::Help => "help",
        ReplyIntent::Message => "message",
    }
}

/// Stores `msg` and applies its consent meaning, inside the caller's transaction.
pub async fn receive_message(
    tx: &mut PgConnection,
    workspace: WorkspaceId,
    msg: &InboundMessage,
) -> sqlx::Result<InboundOutcome> {
    // Before anything else in the transaction: the engine may be queueing this recipient's next
    // campaign step right now, and must not miss this reply (see `engine::follow_up`).
    crate::engine::follow_up::lock_recipient(tx, workspace, msg.from.as_str()).await?;
    let intent = classify_reply(&msg.body);
    let preview: String = msg.body.chars().take(140).collect();
    let media =
        json!(msg.media.iter().map(|(url, kind)| json!({"url": url, "content_type": kind})).collect::<Vec<_>>());
    // The conversation and the message in one round trip (a STOP's transaction is on the fence's
    // path); a retried MessageSid inserts no message.
    let (conversation_id, message_id): (Uuid, Option<Uuid>) = sqlx::query_as(
        "WITH conv AS ( \
           INSERT INTO conversations (workspace_id, id, our_number, their_number, account_id, last_preview) \
           VALUES ($1, $2, $3, $4, $5, $6) \
           ON CONFLICT (workspace_id, our_number, their_number) DO UPDATE SET account_id = EXCLUDED.account_id \
           RETURNING id), \
         msg AS ( \
           INSERT INTO messages (workspace_id, id, conversation_id, direction, sid, body, num_media, media, intent, \
                                 status) \
           SELECT $1, $7, conv.id, 'inbound', $8, $9, $10, $11, $12, 'received' FROM conv \
           ON CONFLICT (workspace_id, sid) WHERE sid IS NOT NULL DO NOTHING RETURNING id) \
         SELECT conv.id, (SELECT id FROM msg) FROM conv",
    )
    .bind(workspace)
    .bind(Uuid::now_v7())
    .bind(msg.to.as_str())
    .bind(msg.from.as_str())
    .bind(msg.account_id)
    .bind(&preview)
    .bind(Uuid::now_v7())
    .bind(&msg.sid)
    .bind(&msg.body)
    .bind(msg.media.len() as i32)
    .bind(media)
    .bind(intent_name(intent))
    .fetch_one(&mut *tx)
    .await?;
    let Some(message_id) = message_id else { return Ok(InboundOutcome::Duplicate) };
    sqlx::query(
        "UPDATE conversations SET unread = unread + 1, last_message_at = now(), last_preview = $3 \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(workspace)
    .bind(conversation_id)
    .bind(&preview)
    .execute(&mut *tx)
    .await?;

    let ctx = ConsentContext {
        via_number: Some(msg.to.clone()),
        message_sid: Some(msg.sid.clone()),
        at: Some(msg.received_at),
        ..Default::default()
    };
    let reply = match intent {
        ReplyIntent::OptOut | ReplyIntent::OptOutByPhrase => {
            let source = if intent == ReplyIntent::OptOut { OptOutSource::Keyword } else { OptOutSource::Phrase };
            // One confirmation: only when this message changed the state.
            record_opt_out(tx, workspace, &msg.from, source, &ctx).await?.then_some(OPT_OUT_CONFIRMATION)
        }
        ReplyIntent::OptIn => {
            record_opt_in(tx, workspace, &msg.from, "keyword", &ctx).await?.then_some(OPT_IN_CONFIRMATION)
        }
        ReplyIntent::Help => Some(HELP_REPLY),
        ReplyIntent::Message => None,
    };
    crate::engine::follow_up::on_reply(tx, workspace, msg.from.as_str(), intent.is_opt_out()).await?;
    Ok(InboundOutcome::Stored { conversation_id, message_id, intent, reply })
}

/// A status callback, parsed.
#[derive(Clone, Debug)]
pub struct StatusCallback {
    pub sid: String,
    pub status: MessageStatus,
    pub error_code: Option<i32>,
    pub raw_dlr_done: Option<String>,
}

/// How far along a status is; a message never moves to a lower rank (a final status never
/// moves back, whatever order callbacks arrive in).
pub fn status_rank(status: MessageStatus) -> u8 {
    use MessageStatus::*;
    match status {
        Accepted | Scheduled | Queued => 0,
        Sending => 1,
        Sent | Receiving | Received => 2,
        PartiallyDelivered => 3,
        Delivered | Undelivered | Failed | Read | Canceled => 4,
    }
}

/// Stores a status callback once and advances the message's status if it moves forward.
/// Returns false for a duplicate.
pub async fn receive_status(tx: &mut PgConnection, workspace: WorkspaceId, cb: &StatusCallback) -> sqlx::Result<bool> {
    let fresh = receive_statuses(tx, &[(workspace, cb.clone())]).await?;
    Ok(fresh[0])
}

/// Stores a batch of status callbacks, each (workspace, sid, status) once, and advances the
/// messages they name, in the caller's transaction with a handful of statements whatever the
/// batch size (callbacks arrive two or three per message sent). Returns, per callback, whether
/// it was new; a duplicate (Twilio's retry) changes nothing.
pub async fn receive_statuses(
    tx: &mut PgConnection,
    batch: &[(WorkspaceId, StatusCallback)],
) -> sqlx::Result<Vec<bool>> {
    let stored: Vec<(WorkspaceId, String, String)> = sqlx::query_as(
        "INSERT INTO status_callbacks (workspace_id, sid, status, error_code, raw_dlr_done) \
         SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::text[]) \
         ON CONFLICT DO NOTHING RETURNING workspace_id, sid, status",
    )
    .bind(batch.iter().map(|(w, _)| *w).collect::<Vec<_>>())
    .bind(batch.iter().map(|(_, c)| c.sid.as_str()).collect::<Vec<_>>())
    .bind(batch.iter().map(|(_, c)| c.status.as_str()).collect::<Vec<_>>())
    .bind(batch.iter().map(|(_, c)| c.error_code).collect::<Vec<_>>())
    .bind(batch.iter().map(|(_, c)| c.raw_dlr_done.as_deref()).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?;
    // The same callback twice in one batch was stored once: only its first copy is new.
    let mut unclaimed: std::collections::HashSet<(WorkspaceId, String, String)> = stored.into_iter().collect();
    let fresh: Vec<bool> =
        batch.iter().map(|(w, c)| unclaimed.remove(&(*w, c.sid.clone(), c.status.as_str().to_owned()))).collect();
    let new: Vec<(WorkspaceId, StatusCallback)> =
        batch.iter().zip(&fresh).filter(|(_, f)| **f).map(|(item, _)| item.clone()).collect();
    advance_messages(tx, &new).await?;
    advance_outbox(tx, &new).await?;
    Ok(fresh)
}

/// How long a status callback is kept. Twilio retries a callback for minutes, and an early one
/// (its sid not yet recorded by the engine) waits seconds; a week covers both with room. A
/// duplicate arriving after that is stored and applied again, harmlessly: a status only moves
/// forward and a final one counts once (`advance_outbox`).
pub const STATUS_CALLBACK_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// Deletes up to `limit` status callbacks received before `before`, oldest first (migration
/// 0019's index); returns how many went. The engine's leader calls it every minute.
pub async fn prune_status_callbacks(conn: &mut PgConnection, before: DateTime<Utc>, limit: i64) -> sqlx::Result<u64> {
    let pruned = sqlx::query(
        "DELETE FROM status_callbacks WHERE ctid = ANY (ARRAY( \
           SELECT ctid FROM status_callbacks WHERE received_at < $1 ORDER BY received_at LIMIT $2))",
    )
    .bind(before)
    .bind(limit)
    .execute(conn)
    .await?;
    Ok(pruned.rows_affected())
}

/// Per (workspace, sid), the furthest status among `callbacks` (the first of equals).
fn furthest(callbacks: &[(WorkspaceId, StatusCallback)]) -> Vec<(WorkspaceId, &StatusCallback)> {
    let mut best: std::collections::BTreeMap<(WorkspaceId, &str), &StatusCallback> = Default::default();
    for (w, cb) in callbacks {
        best.entry((*w, cb.sid.as_str()))
            .and_modify(|b| {
                if status_rank(cb.status) > status_rank(b.status) {
                    *b = cb;
                }
            })
            .or_insert(cb);
    }
    best.into_iter().map(|((w, _), cb)| (w, cb)).collect()
}

/// Conversation messages (replies and confirmations we sent) move forward only.
async fn advance_messages(tx: &mut PgConnection, callbacks: &[(WorkspaceId, StatusCallback)]) -> sqlx::Result<()> {
    let best = furthest(callbacks);
    if best.is_empty() {
        return Ok(());
    }
    let current: Vec<(WorkspaceId, String, String)> = sqlx::query_as(
        "SELECT m.workspace_id, m.sid, m.status FROM unnest($1::uuid[], $2::text[]) AS r(ws, sid) \
         CROSS JOIN LATERAL (SELECT * FROM messages m WHERE m.workspace_id = r.ws AND m.sid = r.sid FOR UPDATE) m",
    )
    .persistent(false)
    .bind(best.iter().map(|(w, _)| *w).collect::<Vec<_>>())
    .bind(best.iter().map(|(_, c)| c.sid.as_str()).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?;
    let now: std::collections::HashMap<(WorkspaceId, &str), &str> =
        current.iter().map(|(w, sid, status)| ((*w, sid.as_str()), status.as_str())).collect();
    let moves: Vec<&(WorkspaceId, &StatusCallback)> = best
        .iter()
        .filter(|(w, cb)| {
            now.get(&(*w, cb.sid.as_str()))
                .and_then(|old| MessageStatus::parse(old))
                .is_some_and(|old| status_rank(cb.status) > status_rank(old))
        })
        .collect();
    if moves.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE messages m SET status = r.status, error_code = r.code, updated_at = now() \
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[]) AS r(ws, sid, status, code) \
         WHERE m.workspace_id = r.ws AND m.sid = r.sid",
    )
    .persistent(false)
    .bind(moves.iter().map(|(w, _)| *w).collect::<Vec<_>>())
    .bind(moves.iter().map(|(_, c)| c.sid.as_str()).collect::<Vec<_>>())
    .bind(moves.iter().map(|(_, c)| c.status.as_str()).collect::<Vec<_>>())
    .bind(moves.iter().map(|(_, c)| c.error_code).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Campaign messages' callbacks: the outbox row's status and the send log move forward only, a
/// final status counts once (delivered or undelivered), 30007 (carrier filtering) marks the
/// sending number's health and 30006 (landline) makes the recipient undeliverable.
async fn advance_outbox(tx: &mut PgConnection, callbacks: &[(WorkspaceId, StatusCallback)]) -> sqlx::Result<()> {
    let best = furthest(callbacks);
    if best.is_empty() {
        return Ok(());
    }
    // The engine records a sid moments after Twilio may already call back about it; both sides
    // take these locks, so whichever commits second sees the other (see `apply_early_callbacks`).
    lock_sids(tx, &best.iter().map(|(_, c)| c.sid.as_str()).collect::<Vec<_>>()).await?;
    type Row = (WorkspaceId, i64, String, Uuid, Option<String>, String, String, Option<DateTime<Utc>>, Option<Uuid>);
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT o.workspace_id, o.id, o.sid, o.campaign_id, o.status, o.from_number, o.to_phone, o.attempted_at, o.attempt_id \
         FROM unnest($1::uuid[], $2::text[]) AS r(ws, sid) \
         CROSS JOIN LATERAL (SELECT * FROM outbox o WHERE o.workspace_id = r.ws AND o.sid = r.sid FOR UPDATE) o",
    )
    .persistent(false)
    .bind(best.iter().map(|(w, _)| *w).collect::<Vec<_>>())
    .bind(best.iter().map(|(_, c)| c.sid.as_str()).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?;
    let by_sid: std::collections::HashMap<(WorkspaceId, &str), &StatusCallback> =
        best.iter().map(|(w, c)| ((*w, c.sid.as_str()), *c)).collect();
    // Found by sid once, above; moved by primary key.
    let mut moves: Vec<(WorkspaceId, i64, &StatusCallback)> = Vec::new();
    let mut logged: Vec<(WorkspaceId, DateTime<Utc>, Uuid, &StatusCallback)> = Vec::new();
    let mut counts: std::collections::BTreeMap<WorkspaceId, Vec<(Uuid, &str, i64)>> = Default::default();
    for (ws, id, sid, campaign, current, from, to, attempted_at, attempt) in &rows {
        let Some(cb) = by_sid.get(&(*ws, sid.as_str())) else { continue };
        let old_rank = current.as_deref().and_then(MessageStatus::parse).map_or(0, status_rank);
        if status_rank(cb.status) <= old_rank {
            continue;
        }
        moves.push((*ws, *id, cb));
        if let (Some(at), Some(id)) = (attempted_at, attempt) {
            logged.push((*ws, *at, *id, cb));
        }
        let counted = match cb.status {
            MessageStatus::Delivered => Some(stats::metric::DELIVERED),
            MessageStatus::Undelivered | MessageStatus::Failed => Some(stats::metric::UNDELIVERED),
            _ => None,
        };
        if let Some(metric) = counted {
            counts.entry(*ws).or_default().push((*campaign, metric, 1));
        }
        carrier_verdict(tx, *ws, cb.error_code, from, to).await?;
    }
    if moves.is_empty() {
        return Ok(());
    }
    let (ws, ids, statuses, codes) = (
        moves.iter().map(|(w, ..)| *w).collect::<Vec<_>>(),
        moves.iter().map(|(_, id, _)| *id).collect::<Vec<_>>(),
        moves.iter().map(|(.., c)| c.status.as_str()).collect::<Vec<_>>(),
        moves.iter().map(|(.., c)| c.error_code).collect::<Vec<_>>(),
    );
    sqlx::query(
        "UPDATE outbox t SET status = r.status, error_code = coalesce(r.code, t.error_code), updated_at = now() \
         FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::int[]) AS r(ws, id, status, code) \
         WHERE t.workspace_id = r.ws AND t.id = r.id",
    )
    .persistent(false)
    .bind(&ws)
    .bind(&ids)
    .bind(&statuses)
    .bind(&codes)
    .execute(&mut *tx)
    .await?;
    // The send-log row of the attempt the outbox row names, by primary key (migration 0017: no
    // index on the log's sid, so these updates stay on the row's page).
    sqlx::query(
        "UPDATE send_log t SET status = r.status, error_code = coalesce(r.code, t.error_code) \
         FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[], $5::int[]) AS r(ws, at, id, status, code) \
         WHERE t.workspace_id = r.ws AND t.attempted_at = r.at AND t.id = r.id",
    )
    .persistent(false)
    .bind(logged.iter().map(|(w, ..)| *w).collect::<Vec<_>>())
    .bind(logged.iter().map(|(_, at, ..)| *at).collect::<Vec<_>>())
    .bind(logged.iter().map(|(_, _, id, _)| *id).collect::<Vec<_>>())
    .bind(logged.iter().map(|(.., c)| c.status.as_str()).collect::<Vec<_>>())
    .bind(logged.iter().map(|(.., c)| c.error_code).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await?;
    for (workspace, adds) in &counts {
        stats::add_many(tx, *workspace, adds).await?;
    }
    Ok(())
}

/// What a callback's error code says about our number or their phone.
async fn carrier_verdict(
    tx: &mut PgConnection,
    workspace: WorkspaceId,
    code: Option<i32>,
    from: &str,
    to: &str,
) -> sqlx::Result<()> {
    match code {
        Some(30007) => {
            sqlx::query(
                "UPDATE phone_numbers SET health = 'warning', updated_at = now() \
                 WHERE workspace_id = $1 AND e164 = $2 AND health = 'good'",
            )
            .bind(workspace)
            .bind(from)
            .execute(&mut *tx)
            .await?;
        }
        Some(30006) => {
            sqlx::query(
                "INSERT INTO undeliverable_numbers (workspace_id, phone, reason, error_code) \
                 VALUES ($1, $2, 'landline', 30006) ON CONFLICT (workspace_id, phone) DO NOTHING",
            )
            .bind(workspace)
            .bind(to)
            .execute(&mut *tx)
            .await?;
        }
        _ => {}
    }
    Ok(())
}

/// Locks the sids the engine is about to record (the same per-sid lock callbacks take).
pub async fn lock_sids(tx: &mut PgConnection, sids: &[&str]) -> sqlx::Result<()> {
    if !sids.is_empty() {
        let mut sorted = sids.to_vec();
        sorted.sort_unstable();
        sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended(s, 0)) FROM unnest($1::text[]) AS s")
            .bind(&sorted)
            .execute(tx)
            .await?;
    }
    Ok(())
}

/// Applies status callbacks that arrived before the engine recorded their sid (the carrier can
/// be faster than our write). Call after [`lock_sids`] and the outbox update, in that transaction.
pub async fn apply_early_callbacks(tx: &mut PgConnection, workspace: WorkspaceId, sids: &[&str]) -> sqlx::Result<()> {
    if sids.is_empty() {
        return Ok(());
    }
    let early: Vec<(String, String, Option<i32>)> = sqlx::query_as(
        "SELECT c.sid, c.status, c.error_code FROM unnest($2::text[]) AS s(sid) \
         CROSS JOIN LATERAL (SELECT * FROM status_callbacks c WHERE c.workspace_id = $1 AND c.sid = s.sid) c \
         ORDER BY c.received_at",
    )
    .persistent(false)
    .bind(workspace)
    .bind(sids)
    .fetch_all(&mut *tx)
    .await?;
    let early: Vec<(WorkspaceId, StatusCallback)> = early
        .into_iter()
        .filter_map(|(sid, status, error_code)| {
            let status = MessageStatus::parse(&status)?;
            Some((workspace, StatusCallback { sid, status, error_code, raw_dlr_done: None }))
        })
        .collect();
    advance_outbox(tx, &early).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn final_statuses_outrank_everything_before_them() {
        use MessageStatus::*;
        assert!(status_rank(Delivered) > status_rank(Sent));
        assert!(status_rank(Sent) > status_rank(Queued));
        assert_eq!(status_rank(Delivered), status_rank(Undelivered), "one final never replaces another");
    }
}
