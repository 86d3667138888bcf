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
use crate::field_error::FieldError;
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
    /// The campaign message it is about, from its URL; None for other messages (the inbox's).
    pub target: Option<CallbackTarget>,
}

/// The campaign message a status callback is about: its outbox row and the attempt (send-log
/// row) that created it. The engine puts it in each message's StatusCallback URL
/// ([`CallbackTarget::url`]), Twilio signs the whole URL and the webhook reads it back
/// ([`CallbackTarget::from_query`]), so a callback finds both rows by primary key: no index on
/// the sid is needed (migration 0023), and a callback that arrives before the engine has
/// recorded the answer finds its row all the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallbackTarget {
    pub outbox_id: i64,
    pub attempt_id: Uuid,
    /// The attempt's time, to the microsecond as PostgreSQL stores it (the send log's partition
    /// key).
    pub attempted_at: DateTime<Utc>,
}

impl CallbackTarget {
    /// `base` with this target as its query: `?o=<outbox id>&a=<attempt id>&t=<µs since 1970>`.
    pub fn url(&self, base: &url::Url) -> url::Url {
        let mut url = base.clone();
        url.set_query(Some(&format!(
            "o={}&a={}&t={}",
            self.outbox_id,
            self.attempt_id.simple(),
            self.attempted_at.timestamp_micros()
        )));
        url
    }

    /// The target in a callback URL's query: None when it names none (a message the engine did
    /// not send), an error naming the parameter when it names one badly.
    pub fn from_query(query: Option<&str>) -> Result<Option<Self>, FieldError> {
        let (mut o, mut a, mut t) = (None, None, None);
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            match &*name {
                "o" => o = Some(value),
                "a" => a = Some(value),
                "t" => t = Some(value),
                _ => {}
            }
        }
        if (&o, &a, &t) == (&None, &None, &None) {
            return Ok(None);
        }
        let missing = |name: &'static str| FieldError::new(name, format!("{name} is required with o, a and t"));
        let outbox_id = o.ok_or_else(|| missing("o"))?;
        let outbox_id = outbox_id.parse().map_err(|_| FieldError::new("o", "o must be an outbox row id"))?;
        let attempt_id = a.ok_or_else(|| missing("a"))?;
        let attempt_id = Uuid::try_parse(&attempt_id).map_err(|_| FieldError::new("a", "a must be an attempt id"))?;
        let micros: i64 =
            t.ok_or_else(|| missing("t"))?.parse().map_err(|_| FieldError::new("t", "t must be microseconds"))?;
        let attempted_at =
            DateTime::from_timestamp_micros(micros).ok_or_else(|| FieldError::new("t", "t is out of range"))?;
        Ok(Some(Self { outbox_id, attempt_id, attempted_at }))
    }
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
    let (campaign, conversation): (Vec<_>, Vec<_>) = new.into_iter().partition(|(_, c)| c.target.is_some());
    advance_messages(tx, &conversation).await?;
    advance_outbox(tx, &campaign).await?;
    Ok(fresh)
}

/// How long a status callback is kept. Twilio retries a callback for minutes; a week covers that
/// with room. A duplicate arriving after that is stored and applied again, harmlessly: a status
/// only moves forward and a final one counts once (`advance_outbox`).
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

/// Every status with its rank ([`status_rank`]), as the two arrays the status updates below
/// bind (a row's rank is `ranks[array_position(names, status)]`, 0 for none or one unknown):
/// they compare a row's current status to the callback's in the statement that moves it, so a
/// row is locked and moved (or left) in one step.
fn rank_table() -> (Vec<&'static str>, Vec<i32>) {
    <MessageStatus as strum::IntoEnumIterator>::iter().map(|s| (s.as_str(), i32::from(status_rank(s)))).unzip()
}

/// Conversation messages (replies and confirmations we sent: callbacks without a target) move
/// forward only.
async fn advance_messages(tx: &mut PgConnection, callbacks: &[(WorkspaceId, StatusCallback)]) -> sqlx::Result<()> {
    let best = furthest(callbacks);
    if best.is_empty() {
        return Ok(());
    }
    let (names, ranks) = rank_table();
    sqlx::query(
        "UPDATE messages m SET status = r.status, error_code = r.code, updated_at = now() \
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::int[]) AS r(ws, sid, status, code, rank) \
         WHERE m.workspace_id = r.ws AND m.sid = r.sid \
           AND r.rank > coalesce(($7::int[])[array_position($6::text[], m.status)], 0)",
    )
    .persistent(false)
    .bind(best.iter().map(|(w, _)| *w).collect::<Vec<_>>())
    .bind(best.iter().map(|(_, c)| c.sid.as_str()).collect::<Vec<_>>())
    .bind(best.iter().map(|(_, c)| c.status.as_str()).collect::<Vec<_>>())
    .bind(best.iter().map(|(_, c)| c.error_code).collect::<Vec<_>>())
    .bind(best.iter().map(|(_, c)| i32::from(status_rank(c.status))).collect::<Vec<_>>())
    .bind(&names)
    .bind(&ranks)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Campaign messages' callbacks, found by the outbox row and attempt their URL names
/// ([`CallbackTarget`]): the outbox row's status and its attempt's send-log row move forward only,
/// a final status counts once (delivered or undelivered), 30007 (carrier filtering) marks the
/// sending number's health and 30006 (landline) makes the recipient undeliverable.
///
/// One statement locks each outbox row and moves it when the callback is further along than
/// the row (a row it would not move is left unlocked); what it returns are the moves, from
/// which the send-log rows, the counters and the verdicts follow.
///
/// A callback may arrive before the engine has recorded the carrier's answer (the carrier can be
/// faster than our write): it finds the row claimed and moves its status all the same, and the
/// engine's record keeps it (`outbox::record_ends`, `send_log::record_results`). Both sides lock
/// the outbox rows first, in key order, then the send-log rows, so neither waits on the other in
/// a cycle.
async fn advance_outbox(tx: &mut PgConnection, callbacks: &[(WorkspaceId, StatusCallback)]) -> sqlx::Result<()> {
    let mut best: Vec<(WorkspaceId, CallbackTarget, &StatusCallback)> =
        furthest(callbacks).into_iter().filter_map(|(w, c)| Some((w, c.target?, c))).collect();
    if best.is_empty() {
        return Ok(());
    }
    // One callback per row, the furthest (two sids for one row would mean two messages created
    // for it), in key order: the rows are locked in this order (the row-by-row join below).
    best.sort_by_key(|(w, t, c)| (*w, t.outbox_id, std::cmp::Reverse(status_rank(c.status))));
    best.dedup_by_key(|(w, t, _)| (*w, t.outbox_id));
    let (names, ranks) = rank_table();
    type Moved = (WorkspaceId, i64, Uuid, String, String);
    let moved: Vec<Moved> = sqlx::query_as(
        "UPDATE outbox t SET status = r.status, error_code = coalesce(r.code, t.error_code), updated_at = now() \
         FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::int[], $5::int[]) AS r(ws, id, status, code, rank) \
         WHERE t.workspace_id = r.ws AND t.id = r.id \
           AND r.rank > coalesce(($7::int[])[array_position($6::text[], t.status)], 0) \
         RETURNING t.workspace_id, t.id, t.campaign_id, t.from_number, t.to_phone",
    )
    .persistent(false)
    .bind(best.iter().map(|(w, ..)| *w).collect::<Vec<_>>())
    .bind(best.iter().map(|(_, t, _)| t.outbox_id).collect::<Vec<_>>())
    .bind(best.iter().map(|(.., c)| c.status.as_str()).collect::<Vec<_>>())
    .bind(best.iter().map(|(.., c)| c.error_code).collect::<Vec<_>>())
    .bind(best.iter().map(|(.., c)| i32::from(status_rank(c.status))).collect::<Vec<_>>())
    .bind(&names)
    .bind(&ranks)
    .fetch_all(&mut *tx)
    .await?;
    if moved.is_empty() {
        return Ok(());
    }
    let by_row: std::collections::HashMap<(WorkspaceId, i64), (CallbackTarget, &StatusCallback)> =
        best.iter().map(|(w, t, c)| ((*w, t.outbox_id), (*t, *c))).collect();
    let mut moves: Vec<(WorkspaceId, CallbackTarget, &StatusCallback)> = Vec::with_capacity(moved.len());
    let mut counts: std::collections::BTreeMap<WorkspaceId, Vec<(Uuid, &str, i64)>> = Default::default();
    for (ws, id, campaign, from, to) in &moved {
        let Some((target, cb)) = by_row.get(&(*ws, *id)) else { continue };
        moves.push((*ws, *target, cb));
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
    // In key order, as the outbox rows were: the send-log rows are locked in that order too.
    moves.sort_by_key(|(w, t, _)| (*w, t.outbox_id));
    let ws: Vec<WorkspaceId> = moves.iter().map(|(w, ..)| *w).collect();
    let statuses: Vec<&str> = moves.iter().map(|(.., c)| c.status.as_str()).collect();
    let codes: Vec<Option<i32>> = moves.iter().map(|(.., c)| c.error_code).collect();
    // The attempt's send-log row, by primary key (migration 0017: no index on the log's sid, so
    // these updates stay on the row's page). Absent when its partition has been archived.
    sqlx::query(
        "UPDATE send_log t SET status = r.status, error_code = coalesce(r.code, t.error_code) \
         FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[], $5::int[]) AS r(ws, at, id, status, code) \
         WHERE t.workspace_id = r.ws AND t.attempted_at = r.at AND t.id = r.id",
    )
    .persistent(false)
    .bind(&ws)
    .bind(moves.iter().map(|(_, t, _)| t.attempted_at).collect::<Vec<_>>())
    .bind(moves.iter().map(|(_, t, _)| t.attempt_id).collect::<Vec<_>>())
    .bind(&statuses)
    .bind(&codes)
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

    #[test]
    fn a_callback_target_reads_back_from_its_url_to_the_microsecond() {
        let at = DateTime::parse_from_rfc3339("2026-12-01T16:20:15.123456789Z").unwrap().to_utc();
        let target = CallbackTarget { outbox_id: 42, attempt_id: Uuid::now_v7(), attempted_at: at };
        let base: url::Url = "https://sb.example.com/webhooks/twilio/ws/acct/status".parse().unwrap();
        let url = target.url(&base);
        assert_eq!(url.path(), base.path());
        let read = CallbackTarget::from_query(url.query()).unwrap().unwrap();
        assert_eq!((read.outbox_id, read.attempt_id), (42, target.attempt_id));
        // PostgreSQL keeps microseconds: the send log's key is the time so truncated.
        assert_eq!(read.attempted_at.timestamp_micros(), at.timestamp_micros());
        assert_eq!(read.attempted_at.timestamp_subsec_nanos(), 123_456_000);

        assert_eq!(CallbackTarget::from_query(None).unwrap(), None, "an inbox message's callback");
        assert_eq!(CallbackTarget::from_query(Some("campaign=7")).unwrap(), None, "other parameters are not ours");
        let field = |q: &str| CallbackTarget::from_query(Some(q)).unwrap_err().field;
        assert_eq!(field("o=42"), "a");
        assert_eq!(field("o=-x&a=0192f0c4a1b27c3d8e9f00112233aabb&t=1"), "o");
        assert_eq!(field("o=1&a=0192f0c4a1b27c3d8e9f00112233aabb&t=99999999999999999999"), "t");
    }
}
