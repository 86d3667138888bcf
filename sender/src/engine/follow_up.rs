//! Multi-step campaigns, and replies stopping them. When step k of a campaign is accepted for a
//! recipient and the campaign has a step k+1, that step's outbox row is queued right away, due
//! `after_days` later, from the same number (sticky sender) and with the same window; the unique
//! (campaign, step, lead) key keeps it once per step. A reply stops the sequence: [`on_reply`]
//! cancels the recipient's queued follow-ups, and [`NextSteps`] queues none for a recipient who
//! wrote after the attempt it follows (the row is inserted `canceled` for `replied` and counted
//! as a canceled follow-up, exactly as [`on_reply`] would have left it).
//!
//! A reply and the result of the message it answers race: the recipient can answer before the
//! recorder has written the result (which queues the next step), and under READ COMMITTED each
//! transaction can miss the other's uncommitted write — the reply's cancel does not see the
//! follow-up being inserted, the recorder's check does not see the reply being stored — so both
//! would commit and the follow-up would go. Both sides therefore take a transaction-scoped
//! advisory lock on the recipient (`recipient_lock_key(workspace, phone)`, migration 0014) before
//! reading what the other writes: the inbound transaction first thing ([`lock_recipient`]), the
//! recorder at the start of its batch for the recipients of rows that have a next step
//! ([`NextSteps::prepare`]). Whichever takes the lock second reads after the other committed: a
//! stored reply is seen by the check, a queued follow-up is canceled by the reply. An advisory
//! lock rather than a row lock: no row about the recipient is written by both sides, and the
//! one both could lock, the recipient's history, is upserted by the attempt writer before every
//! call, which would then wait behind whole result batches. Rather than SERIALIZABLE: the recorder's batches
//! would fail and retry under load. Neither side holds a row lock when it asks for the lock
//! (the recorder takes its locks in key order, before anything else), so no deadlock can form
//! around it. Rows without a next step take no lock: a single-step campaign's results and
//! replies never wait on each other.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::classify::Disposition;
use super::recorder::Finished;
use crate::campaigns::{self, Campaign};
use crate::ids::WorkspaceId;
use crate::leads::Lead;
use crate::plan;
use crate::stats::{self, metric};

/// Takes the recipient's lock for the rest of the caller's transaction. The inbound path calls
/// it before anything else in its transaction (see the module's comment).
pub async fn lock_recipient(tx: &mut PgConnection, workspace: WorkspaceId, phone: &str) -> sqlx::Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(recipient_lock_key($1, $2))")
        .bind(workspace)
        .bind(phone)
        .execute(tx)
        .await?;
    Ok(())
}

/// A sent row whose campaign has a next step, with its lead.
#[derive(sqlx::FromRow)]
struct Due {
    workspace_id: WorkspaceId,
    outbox_id: i64,
    campaign_id: Uuid,
    step: i16,
    to_phone: String,
    attempted_at: DateTime<Utc>,
    #[sqlx(flatten)]
    lead: Lead,
}

/// The next steps a batch of results will queue, with their recipients locked and whether each
/// recipient has written since the attempt.
pub struct NextSteps {
    due: Vec<Due>,
    replied: HashSet<(WorkspaceId, i64)>,
}

impl NextSteps {
    /// Finds the accepted rows of `batch` whose campaign has a next step (one look at the
    /// batch's campaigns; nothing more when none has), locks their recipients and asks which of
    /// them have written since the attempt. Call first in the recorder's
    /// transaction, before it locks any row.
    pub async fn prepare(tx: &mut PgConnection, batch: &[Finished]) -> sqlx::Result<Self> {
        let sent: Vec<&Finished> = batch.iter().filter(|f| matches!(f.disposition, Disposition::Sent { .. })).collect();
        // Most campaigns have one step: ask their lengths once per batch, and read the rows
        // and leads only of those that have a next one.
        let campaigns: HashSet<(WorkspaceId, Uuid)> =
            sent.iter().map(|f| (f.row.workspace_id, f.row.campaign_id)).collect();
        let (campaign_ws, campaign_ids): (Vec<WorkspaceId>, Vec<Uuid>) = campaigns.into_iter().unzip();
        let lengths: HashMap<(WorkspaceId, Uuid), i32> = if campaign_ids.is_empty() {
            HashMap::new()
        } else {
            sqlx::query_as::<_, (WorkspaceId, Uuid, i32)>(
                "SELECT c.workspace_id, c.id, jsonb_array_length(c.steps) FROM campaigns c \
                 JOIN unnest($1::uuid[], $2::uuid[]) AS k(ws, id) ON c.workspace_id = k.ws AND c.id = k.id",
            )
            .bind(&campaign_ws)
            .bind(&campaign_ids)
            .fetch_all(&mut *tx)
            .await?
            .into_iter()
            .map(|(ws, id, steps)| ((ws, id), steps))
            .collect()
        };
        let mut ws = Vec::new();
        let mut ids = Vec::new();
        let mut attempted = Vec::new();
        for f in sent {
            let steps = lengths.get(&(f.row.workspace_id, f.row.campaign_id)).copied().unwrap_or(0);
            if i32::from(f.row.step) + 1 < steps {
                ws.push(f.row.workspace_id);
                ids.push(f.row.id);
                attempted.push(f.attempted_at);
            }
        }
        if ids.is_empty() {
            return Ok(Self { due: Vec::new(), replied: HashSet::new() });
        }
        // Only rows whose campaign has a next step (above). Every join is a primary-key probe
        // from the batch (LATERAL, with LIMIT 1 so the planner cannot flatten it): right after a
        // large materialization the statistics of `outbox` and `leads` are stale, and a planner
        // left free scanned all leads once per sent row.
        let due: Vec<Due> = sqlx::query_as(
            "SELECT o.workspace_id, o.id AS outbox_id, o.campaign_id, o.step, o.to_phone, s.at AS attempted_at, \
                    l.id, l.phone, l.first_name, l.last_name, l.state, l.time_zone, l.tags, l.vertical, l.line_type, \
                    l.attributes, l.created_at \
             FROM unnest($1::uuid[], $2::bigint[], $3::timestamptz[]) AS s(ws, id, at) \
             CROSS JOIN LATERAL (SELECT * FROM outbox o WHERE o.workspace_id = s.ws AND o.id = s.id LIMIT 1) o \
             CROSS JOIN LATERAL (SELECT * FROM leads l WHERE l.workspace_id = o.workspace_id AND l.id = o.lead_id LIMIT 1) l",
        )
        .persistent(false)
        .bind(&ws)
        .bind(&ids)
        .bind(&attempted)
        .fetch_all(&mut *tx)
        .await?;
        if due.is_empty() {
            return Ok(Self { due, replied: HashSet::new() });
        }
        let ws: Vec<WorkspaceId> = due.iter().map(|d| d.workspace_id).collect();
        let phones: Vec<&str> = due.iter().map(|d| d.to_phone.as_str()).collect();
        // In key order, so two recorders (two instances) never wait on each other in a cycle.
        sqlx::query(
            "SELECT pg_advisory_xact_lock(k) FROM ( \
               SELECT DISTINCT recipient_lock_key(ws, phone) AS k FROM unnest($1::uuid[], $2::text[]) AS r(ws, phone) \
               ORDER BY k) keys",
        )
        .bind(&ws)
        .bind(&phones)
        .execute(&mut *tx)
        .await?;
        // Locked: any reply stored before now has committed and is seen here. Per row, the
        // recipient's conversations (with any of our numbers), then the first inbound message at
        // or after the attempt: index probes only (0014's index, then the thread's).
        // `attempted_at` is the engine's clock and `created_at` the database's; they agree to
        // milliseconds on a host, while no reply comes back sooner than a carrier round trip.
        let replied: Vec<(WorkspaceId, i64)> = sqlx::query_as(
            "SELECT s.ws, s.id FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::timestamptz[]) AS s(ws, id, phone, at) \
             CROSS JOIN LATERAL ( \
               SELECT 1 FROM conversations c \
               CROSS JOIN LATERAL (SELECT 1 FROM messages m \
                                   WHERE m.workspace_id = c.workspace_id AND m.conversation_id = c.id \
                                     AND m.created_at >= s.at AND m.direction = 'inbound' LIMIT 1) m \
               WHERE c.workspace_id = s.ws AND c.their_number = s.phone LIMIT 1) replied",
        )
        .persistent(false)
        .bind(&ws)
        .bind(due.iter().map(|d| d.outbox_id).collect::<Vec<_>>())
        .bind(&phones)
        .bind(due.iter().map(|d| d.attempted_at).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await?;
        Ok(Self { due, replied: replied.into_iter().collect() })
    }

    /// Queues the next step of every row [`prepare`](Self::prepare) found, in the same
    /// transaction, after the rows' results: `queued`, or `canceled` for `replied`, or `skipped`
    /// when its template cannot render. The text is rendered by [`plan::render_step`], the same
    /// code that plans step 0 and the preview.
    pub async fn queue(self, tx: &mut PgConnection, now: DateTime<Utc>) -> sqlx::Result<()> {
        let mut campaigns: HashMap<(WorkspaceId, Uuid), Option<Campaign>> = HashMap::new();
        let mut counts: BTreeMap<WorkspaceId, Vec<(Uuid, String)>> = BTreeMap::new();
        for d in self.due {
            let key = (d.workspace_id, d.campaign_id);
            if let std::collections::hash_map::Entry::Vacant(slot) = campaigns.entry(key) {
                slot.insert(campaigns::get(tx, d.workspace_id, d.campaign_id).await?);
            }
            let Some(campaign) = campaigns.get(&key).and_then(Option::as_ref) else { continue };
            let step = d.step + 1;
            let Some(after_days) = campaign.steps.0.get(step as usize).map(|s| i64::from(s.after_days)) else {
                continue;
            };
            let replied = self.replied.contains(&(d.workspace_id, d.outbox_id));
            let (state, reason, body, segments) = match plan::render_step(campaign, step as usize, &d.lead) {
                Ok(r) if replied => ("canceled", Some("replied"), r.body, r.segments),
                Ok(r) => ("queued", None, r.body, r.segments),
                Err(skip) => ("skipped", Some(skip.as_str()), String::new(), 0),
            };
            let due_at = now + Duration::days(after_days.max(1));
            let inserted = sqlx::query_scalar::<_, Uuid>(
                "INSERT INTO outbox (workspace_id, campaign_id, crusade_id, step, lead_id, to_phone, to_key, from_number, \
                   account_id, body, segments, not_before, state, skip_reason, time_zone, window_days, window_start, \
                   window_end, max_per_24h) \
                 SELECT workspace_id, campaign_id, crusade_id, $3, lead_id, to_phone, to_key, from_number, account_id, \
                   $4, $5, $6, $7, $8, time_zone, window_days, window_start, window_end, max_per_24h \
                 FROM outbox WHERE workspace_id = $1 AND id = $2 \
                 ON CONFLICT (workspace_id, campaign_id, step, lead_id) DO NOTHING RETURNING campaign_id",
            )
            .bind(d.workspace_id)
            .bind(d.outbox_id)
            .bind(step)
            .bind(&body)
            .bind(segments)
            .bind(due_at)
            .bind(state)
            .bind(reason)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(campaign) = inserted else { continue };
            let adds = counts.entry(d.workspace_id).or_default();
            adds.push((campaign, metric::MATERIALIZED.to_owned()));
            match (state, reason) {
                ("canceled", _) => adds.push((campaign, metric::CANCELED.to_owned())),
                ("skipped", Some(reason)) => adds.push((campaign, stats::skipped(reason))),
                _ => {}
            }
        }
        for (workspace, adds) in &counts {
            let adds: Vec<(Uuid, &str, i64)> = adds.iter().map(|(c, m)| (*c, m.as_str(), 1)).collect();
            stats::add_many(tx, *workspace, &adds).await?;
        }
        Ok(())
    }
}

/// A recipient wrote back: their queued follow-ups are canceled, and the reply counts for the
/// campaign that texted them last (as an opt-out when it was one). Runs in the inbound
/// message's transaction, which holds [`lock_recipient`].
///
/// "Texted them last" is the most recent attempt to the phone that the carrier may have
/// received: its send-log row is committed before the carrier call, so it is there however fast
/// the reply comes, and a `failed` one (refused, or never called) is passed over. Each of the
/// recipient's pair rows keeps the times of its three most recent attempts, and each is found in
/// the send log by its primary key's prefix (workspace, attempted_at), in that day's partition
/// only: one range scan of the pair key and a few probes, never a scan of the log. A reply after
/// only failed recent attempts counts for no campaign.
pub async fn on_reply(tx: &mut PgConnection, workspace: WorkspaceId, phone: &str, opted_out: bool) -> sqlx::Result<()> {
    let canceled: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE outbox SET state = 'canceled', skip_reason = 'replied', updated_at = now() \
         WHERE workspace_id = $1 AND to_phone = $2 AND step > 0 AND state = 'queued' AND claimed_at IS NULL \
         RETURNING campaign_id",
    )
    // Planned with the queue as it is now (see `outbox::by_key`): a plan kept from a small
    // queue would read all of it for every reply.
    .persistent(false)
    .bind(workspace)
    .bind(phone)
    .fetch_all(&mut *tx)
    .await?;
    let mut adds: Vec<(Uuid, &str, i64)> = canceled.into_iter().map(|c| (c, metric::CANCELED, 1)).collect();
    let last: Option<Option<Uuid>> = sqlx::query_scalar(
        "SELECT s.campaign_id FROM pair_history p \
         CROSS JOIN LATERAL unnest(p.recent_sends) AS t(at) \
         CROSS JOIN LATERAL (SELECT s.campaign_id FROM send_log s \
                             WHERE s.workspace_id = p.workspace_id AND s.attempted_at = t.at \
                               AND s.to_phone = p.their_number AND s.from_number = p.our_number \
                               AND s.state <> 'failed' LIMIT 1) s \
         WHERE p.workspace_id = $1 AND p.their_key = $3 AND p.their_number = $2 \
         ORDER BY t.at DESC LIMIT 1",
    )
    .bind(workspace)
    .bind(phone)
    .bind(crate::phone::key_of(phone))
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(Some(campaign)) = last {
        adds.push((campaign, if opted_out { metric::OPT_OUTS } else { metric::REPLIES }, 1));
    }
    stats::add_many(tx, workspace, &adds).await
}
