//! Inbound processing: an inbound message or a status callback, already authenticated by the
//! webhook, stored exactly once (invariant 5) in one transaction.
//!
//! For an inbound message, consent comes first: STOP-style keywords and plain-language
//! revocations opt the phone out workspace-wide, START opts it back in, HELP gets the help text;
//! the answer says which one confirmation to send back from the same number (never marketing).
//! Every message, keyword or not, lands on its conversation. A retried webhook finds its
//! MessageSid stored and changes nothing.

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
    let intent = classify_reply(&msg.body);
    let preview: String = msg.body.chars().take(140).collect();
    let conversation_id: Uuid = sqlx::query_scalar(
        "INSERT INTO conversations (workspace_id, id, our_number, their_number, account_id, last_preview) \
         VALUES ($1, $2, $3, $4, $5, $6) \
         ON CONFLICT (workspace_id, our_number, their_number) DO UPDATE SET account_id = EXCLUDED.account_id \
         RETURNING id",
    )
    .bind(workspace)
    .bind(Uuid::now_v7())
    .bind(msg.to.as_str())
    .bind(msg.from.as_str())
    .bind(msg.account_id)
    .bind(&preview)
    .fetch_one(&mut *tx)
    .await?;
    let media =
        json!(msg.media.iter().map(|(url, kind)| json!({"url": url, "content_type": kind})).collect::<Vec<_>>());
    let message_id: Option<Uuid> = sqlx::query_scalar(
        "INSERT INTO messages (workspace_id, id, conversation_id, direction, sid, body, num_media, media, intent, status) \
         VALUES ($1, $2, $3, 'inbound', $4, $5, $6, $7, $8, 'received') \
         ON CONFLICT (workspace_id, sid) WHERE sid IS NOT NULL DO NOTHING RETURNING id",
    )
    .bind(workspace)
    .bind(Uuid::now_v7())
    .bind(conversation_id)
    .bind(&msg.sid)
    .bind(&msg.body)
    .bind(msg.media.len() as i32)
    .bind(media)
    .bind(intent_name(intent))
    .fetch_optional(&mut *tx)
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
    let stored = sqlx::query(
        "INSERT INTO status_callbacks (workspace_id, sid, status, error_code, raw_dlr_done) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT DO NOTHING",
    )
    .bind(workspace)
    .bind(&cb.sid)
    .bind(cb.status.as_str())
    .bind(cb.error_code)
    .bind(&cb.raw_dlr_done)
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !stored {
        return Ok(false);
    }
    let current: Option<String> =
        sqlx::query_scalar("SELECT status FROM messages WHERE workspace_id = $1 AND sid = $2 FOR UPDATE")
            .bind(workspace)
            .bind(&cb.sid)
            .fetch_optional(&mut *tx)
            .await?;
    let moves_forward =
        current.as_deref().and_then(MessageStatus::parse).is_some_and(|old| status_rank(cb.status) > status_rank(old));
    if moves_forward {
        sqlx::query(
            "UPDATE messages SET status = $3, error_code = $4, updated_at = now() WHERE workspace_id = $1 AND sid = $2",
        )
        .bind(workspace)
        .bind(&cb.sid)
        .bind(cb.status.as_str())
        .bind(cb.error_code)
        .execute(&mut *tx)
        .await?;
    }
    advance_outbox(tx, workspace, cb).await?;
    Ok(true)
}

/// A campaign message's callback: the outbox row's status and the send log move forward only,
/// a final status counts once (delivered or undelivered), and 30007 (carrier filtering) marks
/// the sending number's health; 30006 (landline) makes the recipient undeliverable.
async fn advance_outbox(tx: &mut PgConnection, workspace: WorkspaceId, cb: &StatusCallback) -> sqlx::Result<()> {
    // The engine records a sid moments after Twilio may already call back about it; both sides
    // take this lock, so whichever commits second sees the other (see `apply_early_callbacks`).
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))").bind(&cb.sid).execute(&mut *tx).await?;
    let row: Option<(Uuid, Option<String>, String, String)> = sqlx::query_as(
        "SELECT campaign_id, status, from_number, to_phone FROM outbox WHERE workspace_id = $1 AND sid = $2 FOR UPDATE",
    )
    .bind(workspace)
    .bind(&cb.sid)
    .fetch_optional(&mut *tx)
    .await?;
    let Some((campaign, current, from, to)) = row else { return Ok(()) };
    let old_rank = current.as_deref().and_then(MessageStatus::parse).map_or(0, status_rank);
    if status_rank(cb.status) <= old_rank {
        return Ok(());
    }
    sqlx::query("UPDATE outbox SET status = $3, error_code = coalesce($4, error_code), updated_at = now() WHERE workspace_id = $1 AND sid = $2")
        .bind(workspace)
        .bind(&cb.sid)
        .bind(cb.status.as_str())
        .bind(cb.error_code)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "UPDATE send_log SET status = $3, error_code = coalesce($4, error_code) WHERE workspace_id = $1 AND sid = $2",
    )
    .bind(workspace)
    .bind(&cb.sid)
    .bind(cb.status.as_str())
    .bind(cb.error_code)
    .execute(&mut *tx)
    .await?;
    let counted = match cb.status {
        MessageStatus::Delivered => Some(stats::metric::DELIVERED),
        MessageStatus::Undelivered | MessageStatus::Failed => Some(stats::metric::UNDELIVERED),
        _ => None,
    };
    if let Some(metric) = counted {
        stats::add(tx, workspace, campaign, metric, 1).await?;
    }
    match cb.error_code {
        Some(30007) => {
            sqlx::query("UPDATE phone_numbers SET health = 'warning', updated_at = now() WHERE workspace_id = $1 AND e164 = $2 AND health = 'good'")
                .bind(workspace)
                .bind(&from)
                .execute(&mut *tx)
                .await?;
        }
        Some(30006) => {
            sqlx::query(
                "INSERT INTO undeliverable_numbers (workspace_id, phone, reason, error_code) VALUES ($1, $2, 'landline', 30006) \
                 ON CONFLICT (workspace_id, phone) DO NOTHING",
            )
            .bind(workspace)
            .bind(&to)
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
        "SELECT sid, status, error_code FROM status_callbacks WHERE workspace_id = $1 AND sid = ANY($2) ORDER BY received_at",
    )
    .bind(workspace)
    .bind(sids)
    .fetch_all(&mut *tx)
    .await?;
    for (sid, status, error_code) in early {
        if let Some(status) = MessageStatus::parse(&status) {
            advance_outbox(tx, workspace, &StatusCallback { sid, status, error_code, raw_dlr_done: None }).await?;
        }
    }
    Ok(())
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
