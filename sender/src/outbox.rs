//! The outbox claim: where the STOP fence holds (invariant 1).
//!
//! [`claim`] picks due rows with `FOR UPDATE SKIP LOCKED` (several workers and instances never
//! take the same row), and the same statement excludes every recipient who may not be texted:
//! opted out, on the DNC list, inside the pair or recipient cooldown. An opt-out that committed
//! before the claim statement began is therefore seen by it; nothing is claimed for that phone
//! afterwards. Claimed rows whose recipient opted out in between are re-checked right before
//! the call by the engine (in-memory set fed by PostgreSQL notifications) and canceled.
//!
//! A claimed row stays `queued`, with `claimed_at` and `claimed_by` set ([`claimed`]): the
//! claim rewrites the row without touching an index (migration 0018), and every statement that
//! moves queued rows (cancel, reroute, a reply's cancel of follow-ups) leaves claimed ones alone.
//! Each claim statement also records its round in `outbox_claims`, where crash recovery finds a
//! dead worker's rows.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::ids::WorkspaceId;
use crate::phone::E164;
use crate::send_log::Attempt;
use crate::stats;

/// A row claimed for sending.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Claimed {
    pub workspace_id: WorkspaceId,
    pub id: i64,
    pub campaign_id: Uuid,
    pub crusade_id: Option<Uuid>,
    pub step: i16,
    pub lead_id: Uuid,
    pub to_phone: String,
    pub from_number: String,
    pub account_id: Option<Uuid>,
    pub body: String,
    pub segments: i16,
    /// Calls made for this row, this one included.
    pub attempts: i32,
    pub claimed_at: DateTime<Utc>,
}

impl Claimed {
    /// The attempt that records this row's call from `account` at `at` (a new send-log row id),
    /// or None when a stored phone no longer parses (such a row can never be called).
    pub fn attempt(&self, account: Option<Uuid>, at: DateTime<Utc>) -> Option<Attempt> {
        Some(Attempt {
            id: Uuid::now_v7(),
            at,
            outbox_id: Some(self.id),
            campaign_id: Some(self.campaign_id),
            step: Some(self.step),
            to: E164::from_stored(&self.to_phone).ok()?,
            from: E164::from_stored(&self.from_number).ok()?,
            account_id: account,
            segments: self.segments,
        })
    }
}

/// Which due rows a claim may take: every sending number's, or one number's (the engine claims
/// per number, as many as its pacing budget allows).
#[derive(Clone, Copy, Debug)]
pub enum Scope<'a> {
    All,
    Number { workspace: WorkspaceId, from_number: &'a str },
}

/// What one claim statement did.
#[derive(Clone, Debug, Default)]
pub struct ClaimRound {
    /// Rows to send now.
    pub claimed: Vec<Claimed>,
    /// Rows the gate refused for good (`skipped` with their reason), by campaign and reason.
    pub skipped: Vec<(Uuid, String)>,
    /// Rows outside their window or over their state's daily limit, moved to their next opening.
    pub deferred: usize,
}

/// The claim statement. Every due row of a running campaign in `scope` is locked (`SKIP LOCKED`:
/// other workers and instances never take the same row) and judged by `judge_send` — the SQL
/// function the dry-run preview calls too (migration 0011; inlined into this statement) — in the
/// statement's snapshot, so an opt-out that committed before the statement began is seen (the
/// STOP fence). Claimed rows stay `queued` with their claim stamped on them ([`claimed`]) and
/// their round recorded in `outbox_claims`. Refused rows are skipped with their reason and counted; passing refusals (`outside_hours`, `daily_limit`) defer the row to
/// its next opening; the rest are claimed. A row already called once (a retry after a 429, say)
/// passed the retext cooldowns at its first claim and is judged like a follow-up: its own
/// attempt wrote the histories those cooldowns read, so checking them again would skip it.
///
/// The scope is spliced in as text, one statement per scope, rather than bound as
/// `($4 IS NULL OR from_number = $5)`: after five executions PostgreSQL plans a prepared
/// statement generically, and a generic plan cannot use `from_number` as an index condition —
/// every per-number claim then walked the whole workspace's queue (5–6 ms with 12k rows queued,
/// growing with the queue and its dead index entries), which cost a 3 MPS number 60% of its
/// capacity on 20-second runs (docs/benchmarks.md, "Pacing exactness").
///
/// The per-number claim (the engine's) runs on one generic plan per connection
/// ([`CLAIM_PLANNING`]; the all-numbers claim, for tests, is planned at each execution): a
/// custom plan for it took 2–3 ms to make — `judge_send` inlined, the claim's update, the
/// round's insert — against ~3 ms to run a 50-row claim, and PostgreSQL never settles on the
/// generic plan by itself (with `LIMIT $2` unknown, the generic plan's estimate is ten times the
/// custom ones'). That plan must hold whatever the tables held when it was made: the due rows
/// come off `outbox_number_due_idx` (the scope's columns, then `not_before`: the order asked
/// for; with scans and sorts priced out while it is made, nothing else gives that order — on an
/// analyzed four-row outbox the plan was a scan and a sort), the gate's probes are by key, and
/// the update finds its rows by the `ctid` the locking scan returned (a TID scan: a join on
/// `workspace_id, id` was planned, on an empty outbox, as a read of the workspace's rows
/// through another unique index; a row the scan locked is not moved before the update reads
/// it). `tests/outbox.rs`, `per_number_claims_keep_their_plan_as_the_queue_grows`.
macro_rules! claim_sql {
    ($scope:literal) => {
        concat!("WITH due AS ( \
   SELECT o.ctid AS row_ctid, o.workspace_id, o.id, o.campaign_id, v.verdict \
   FROM outbox o \
   JOIN campaigns c ON c.workspace_id = o.workspace_id AND c.id = o.campaign_id AND c.status = 'running' \
   CROSS JOIN LATERAL judge_send(o.workspace_id, o.to_phone, o.to_key, o.from_number, \
                       CASE WHEN o.attempts > 0 THEN greatest(o.step, 1)::smallint ELSE o.step END, \
                       o.time_zone, o.window_days, \
                       o.window_start, o.window_end, o.max_per_24h, c.retext_recipient_days, c.retext_pair_days, $3) v \
   WHERE o.state = 'queued' AND o.claimed_at IS NULL AND o.not_before <= $3 AND ", $scope, " \
   ORDER BY o.not_before \
   LIMIT $2 \
   FOR UPDATE OF o SKIP LOCKED), \
 judged AS ( \
   UPDATE outbox o SET \
     state = CASE WHEN due.verdict IS NULL OR due.verdict IN ('outside_hours', 'daily_limit') THEN 'queued' \
                  ELSE 'skipped' END, \
     skip_reason = CASE WHEN due.verdict IN ('outside_hours', 'daily_limit') THEN o.skip_reason ELSE due.verdict END, \
     not_before = CASE \
       WHEN due.verdict = 'outside_hours' THEN \
         coalesce(window_next_open($3, o.time_zone, o.window_days, o.window_start, o.window_end), $3 + interval '1 day') \
       WHEN due.verdict = 'daily_limit' THEN \
         coalesce((SELECT t + interval '24 hours' FROM pair_history p, unnest(p.recent_sends) t \
                   WHERE p.workspace_id = o.workspace_id AND p.their_key = o.to_key \
                     AND t > $3 - interval '24 hours' \
                   ORDER BY t DESC OFFSET greatest(o.max_per_24h - 1, 0) LIMIT 1), $3 + interval '1 hour') \
       ELSE o.not_before END, \
     claimed_at = CASE WHEN due.verdict IS NULL THEN $3 ELSE o.claimed_at END, \
     claimed_by = CASE WHEN due.verdict IS NULL THEN $1 ELSE o.claimed_by END, \
     attempts = CASE WHEN due.verdict IS NULL THEN o.attempts + 1 ELSE o.attempts END, \
     updated_at = $3 \
   FROM due WHERE o.ctid = due.row_ctid AND o.workspace_id = due.workspace_id AND o.id = due.id \
   RETURNING o.workspace_id, o.id, o.campaign_id, o.crusade_id, o.step, o.lead_id, o.to_phone, o.from_number, \
             o.account_id, o.body, o.segments, o.attempts, coalesce(o.claimed_at, $3) AS claimed_at, o.state, \
             o.skip_reason, due.verdict), \
 round AS ( \
   INSERT INTO outbox_claims (worker_id, claimed_at, workspace_id, ids) \
   SELECT $1, $3, workspace_id, array_agg(id) FROM judged WHERE verdict IS NULL GROUP BY workspace_id) \
 SELECT * FROM judged")
    };
}

/// Set for the per-number claim statement alone, in its transaction: its generic plan (made at
/// its first execution on a connection, and again after the tables' statistics change), made
/// with table scans and sorts priced out (see `claim_sql!`). [`CLAIM_PLANNING_DONE`] puts back
/// the session's settings for the rest of the transaction. One round trip each (simple
/// protocol); not through `pg_settings`, whose view builds every setting: 1.9 ms a call.
const CLAIM_PLANNING: &str = "SET LOCAL plan_cache_mode = force_generic_plan; \
    SET LOCAL enable_seqscan = off; SET LOCAL enable_sort = off";
const CLAIM_PLANNING_DONE: &str = "SET LOCAL plan_cache_mode TO DEFAULT; \
    SET LOCAL enable_seqscan TO DEFAULT; SET LOCAL enable_sort TO DEFAULT";

/// Claims due rows of every sending number.
const CLAIM_ALL: &str = claim_sql!("TRUE");
/// Claims due rows of one number (`outbox_number_due_idx`).
const CLAIM_NUMBER: &str = claim_sql!("o.workspace_id = $4 AND o.from_number = $5");

#[derive(sqlx::FromRow)]
struct Judged {
    #[sqlx(flatten)]
    row: Claimed,
    state: String,
    skip_reason: Option<String>,
    verdict: Option<String>,
}

/// Claims up to `limit` due rows in `scope` for `worker`; a per-number claim in the transaction
/// open on `conn` (its planner settings are local to it). `now` is passed in so tests can
/// control the clock.
pub async fn claim_round(
    conn: &mut PgConnection,
    worker: &str,
    scope: Scope<'_>,
    limit: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<ClaimRound> {
    let per_number = matches!(scope, Scope::Number { .. });
    if per_number {
        sqlx::raw_sql(CLAIM_PLANNING).execute(&mut *conn).await?;
    }
    let query = match scope {
        Scope::All => sqlx::query_as(CLAIM_ALL).bind(worker).bind(limit).bind(now),
        Scope::Number { workspace, from_number } => {
            sqlx::query_as(CLAIM_NUMBER).bind(worker).bind(limit).bind(now).bind(workspace).bind(from_number)
        }
    };
    let judged: Vec<Judged> = query.fetch_all(&mut *conn).await?;
    if per_number {
        sqlx::raw_sql(CLAIM_PLANNING_DONE).execute(&mut *conn).await?;
    }
    let mut round = ClaimRound::default();
    let mut counts: std::collections::BTreeMap<(WorkspaceId, Uuid, String), i64> = Default::default();
    for j in judged {
        match (j.verdict, j.state.as_str(), j.skip_reason) {
            (None, ..) => round.claimed.push(j.row),
            (Some(_), "skipped", Some(reason)) => {
                *counts.entry((j.row.workspace_id, j.row.campaign_id, stats::skipped(&reason))).or_default() += 1;
                round.skipped.push((j.row.campaign_id, reason));
            }
            _ => round.deferred += 1,
        }
    }
    for ((workspace, campaign, metric), n) in counts {
        stats::add(&mut *conn, workspace, campaign, &metric, n).await?;
    }
    Ok(round)
}

/// Claims up to `limit` due rows of any number: [`claim_round`] over [`Scope::All`], returning
/// only the claimed rows.
pub async fn claim(
    conn: &mut PgConnection,
    worker: &str,
    limit: i64,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<Claimed>> {
    Ok(claim_round(conn, worker, Scope::All, limit, now).await?.claimed)
}

/// Outbox row (`ws`, `id`, SQL expressions) found by its primary key, as a LATERAL subquery
/// yielding what a claim check reads: `state`, `claimed_at`, `claimed_by`. Statements that check
/// listed rows' claims probe through this and test [`claimed`] on its result, and an UPDATE that
/// follows compares the row with what the probe read (`o.state = p.state`), never with a
/// constant. Those statements are also planned at every execution (`persistent(false)`).
///
/// Both because a prepared statement keeps the generic plan it made in its first executions,
/// sized for the queue of that moment, and the engine's connections live for hours:
/// - `o.state = 'queued'` beside the key implies the predicate of the due-rows index
///   (`outbox_number_due_idx`, `WHERE state = 'queued'`), whose `workspace_id` is not its first
///   column: a plan made while that index held a handful of rows read the whole index per probe
///   once a campaign had queued 150k. A 1,000-row batch of results took ~0.9 s, and the pacing
///   benchmark's 75 MPS campaign, run after two small ones, used 9% of its capacity
///   (docs/benchmarks.md, "Pacing exactness"). `OFFSET 0` keeps the subquery whole (not merged
///   into the outer query, no condition pushed into it), so only the key is left to choose an
///   index by.
/// - A plan made while the whole table was small scans it per probe (tests/outbox.rs,
///   `claim_checks_probe_by_primary_key_after_the_queue_grows`: 120k rows read for four probes).
pub(crate) fn by_key(ws: &str, id: &str) -> String {
    format!(
        "SELECT o.state, o.claimed_at, o.claimed_by FROM outbox o \
         WHERE o.workspace_id = {ws} AND o.id = {id} OFFSET 0"
    )
}

/// The SQL condition, on a [`by_key`] probe `p`, that the row is claimed: still `queued` (a
/// claim leaves the state alone, so that it stays a HOT update: migration 0018) with a claim on
/// it.
pub(crate) fn claimed(p: &str) -> String {
    format!("{p}.state = 'queued' AND {p}.claimed_at IS NOT NULL")
}

/// How a claimed row ended, for [`record_ends`].
#[derive(Clone, Debug)]
pub struct RowEnd {
    pub workspace: WorkspaceId,
    pub id: i64,
    /// The row's new state: `queued` sends it back to the queue, due at `not_before`.
    pub state: &'static str,
    pub sid: Option<String>,
    pub error_code: Option<i32>,
    pub not_before: DateTime<Utc>,
    pub account: Option<Uuid>,
    /// The attempt's send-log row (None for a row never recorded) and its time.
    pub attempt: Option<Uuid>,
    pub attempted_at: DateTime<Utc>,
}

/// Applies `ends` to the rows `worker` still holds a claim on (by primary key, through
/// [`by_key`]); rows that moved on meanwhile (recovered by another instance) are left alone.
/// A row going back to the queue loses its claim. A sent row that already has a status heard
/// it from a status callback faster than this write (`inbound::advance_outbox`): its status
/// and error code are kept.
pub async fn record_ends(
    conn: &mut PgConnection,
    worker: &str,
    now: DateTime<Utc>,
    ends: &[RowEnd],
) -> sqlx::Result<u64> {
    if ends.is_empty() {
        return Ok(0);
    }
    let ws: Vec<WorkspaceId> = ends.iter().map(|e| e.workspace).collect();
    let ids: Vec<i64> = ends.iter().map(|e| e.id).collect();
    let states: Vec<&str> = ends.iter().map(|e| e.state).collect();
    let sids: Vec<Option<&str>> = ends.iter().map(|e| e.sid.as_deref()).collect();
    let codes: Vec<Option<i32>> = ends.iter().map(|e| e.error_code).collect();
    let not_before: Vec<DateTime<Utc>> = ends.iter().map(|e| e.not_before).collect();
    let accounts: Vec<Option<Uuid>> = ends.iter().map(|e| e.account).collect();
    let attempts: Vec<Option<Uuid>> = ends.iter().map(|e| e.attempt).collect();
    let attempted: Vec<DateTime<Utc>> = ends.iter().map(|e| e.attempted_at).collect();
    let done = sqlx::query(sqlx::AssertSqlSafe(format!(
        "WITH mine AS MATERIALIZED ( \
           SELECT r.*, p.state AS held_state, p.claimed_at AS held_at \
           FROM unnest($1::uuid[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::timestamptz[], \
             $7::uuid[], $10::uuid[], $11::timestamptz[]) AS r(ws, id, state, sid, code, not_before, account, attempt, at) \
           CROSS JOIN LATERAL ({probe}) p \
           WHERE {claimed} AND p.claimed_by = $9) \
         UPDATE outbox o SET state = r.state, sid = coalesce(r.sid, o.sid), \
           error_code = CASE WHEN r.state = 'sent' AND o.status IS NOT NULL THEN o.error_code ELSE r.code END, \
           account_id = coalesce(r.account, o.account_id), \
           attempt_id = coalesce(r.attempt, o.attempt_id), \
           attempted_at = CASE WHEN r.attempt IS NULL THEN o.attempted_at ELSE r.at END, \
           sent_at = CASE WHEN r.state = 'sent' THEN $8 ELSE o.sent_at END, \
           status = CASE WHEN r.state = 'sent' THEN coalesce(o.status, 'queued') ELSE o.status END, \
           not_before = CASE WHEN r.state = 'queued' THEN r.not_before ELSE o.not_before END, \
           claimed_at = CASE WHEN r.state = 'queued' THEN NULL ELSE o.claimed_at END, \
           updated_at = $8 \
         FROM mine r WHERE o.workspace_id = r.ws AND o.id = r.id \
           AND o.state = r.held_state AND o.claimed_at = r.held_at AND o.claimed_by = $9",
        probe = by_key("r.ws", "r.id"),
        claimed = claimed("p"),
    )))
    .persistent(false)
    .bind(&ws)
    .bind(&ids)
    .bind(&states)
    .bind(&sids)
    .bind(&codes)
    .bind(&not_before)
    .bind(&accounts)
    .bind(now)
    .bind(worker)
    .bind(&attempts)
    .bind(&attempted)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected())
}

/// Outbox rows left claimed by workers that stopped stamping `engine_instances` before
/// `dead_before` (crashed instances) become `unknown`, counted as such, and are never resent:
/// the engine records a row's attempt in the transaction that claims it, so every claimed row
/// may have reached Twilio, and at-most-once beats a double text. Returns how many.
///
/// The dead workers' rows are found through their claim rounds (`outbox_claims`, one row per
/// workspace per claim statement), by primary key; the rounds go with them.
pub async fn recover_stale_claims(conn: &mut PgConnection, dead_before: DateTime<Utc>) -> sqlx::Result<u64> {
    let unknown: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "WITH dead AS ( \
           DELETE FROM outbox_claims c WHERE c.claimed_at < $1 AND NOT EXISTS \
             (SELECT 1 FROM engine_instances e WHERE e.worker_id = c.worker_id AND e.seen_at >= $1) \
           RETURNING c.worker_id, c.claimed_at, c.workspace_id, c.ids), \
         held AS MATERIALIZED ( \
           SELECT d.workspace_id AS ws, i.id, p.state, p.claimed_at, p.claimed_by \
           FROM dead d CROSS JOIN LATERAL unnest(d.ids) AS i(id) CROSS JOIN LATERAL ({probe}) p \
           WHERE {claimed} AND p.claimed_by = d.worker_id AND p.claimed_at = d.claimed_at), \
         u AS ( \
           UPDATE outbox o SET state = 'unknown', updated_at = now() \
           FROM held h \
           WHERE o.workspace_id = h.ws AND o.id = h.id AND o.state = h.state \
             AND o.claimed_by = h.claimed_by AND o.claimed_at = h.claimed_at \
           RETURNING o.workspace_id, o.campaign_id), \
         counted AS ( \
           INSERT INTO campaign_stats (workspace_id, campaign_id, metric, shard, n) \
           SELECT workspace_id, campaign_id, 'unknown', 0, count(*) FROM u GROUP BY workspace_id, campaign_id \
           ON CONFLICT (workspace_id, campaign_id, metric, shard) DO UPDATE SET n = campaign_stats.n + EXCLUDED.n) \
         SELECT count(*) FROM u",
        probe = by_key("d.workspace_id", "i.id"),
        claimed = claimed("p"),
    )))
    .persistent(false)
    .bind(dead_before)
    .fetch_one(&mut *conn)
    .await?;
    Ok(unknown as u64)
}

/// Forgets claim rounds made before `before` whose rows have all moved on (answered, requeued
/// or recovered): nothing will ever be recovered through them. One primary-key probe per row of
/// a round, once; the leader calls this every few seconds for rounds a minute old. Returns how
/// many rounds went.
pub async fn forget_finished_claims(conn: &mut PgConnection, before: DateTime<Utc>) -> sqlx::Result<u64> {
    let forgotten = sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM outbox_claims c WHERE c.claimed_at < $1 AND NOT EXISTS \
           (SELECT 1 FROM unnest(c.ids) AS i(id) CROSS JOIN LATERAL ({probe}) p \
            WHERE {claimed} AND p.claimed_by = c.worker_id AND p.claimed_at = c.claimed_at)",
        probe = by_key("c.workspace_id", "i.id"),
        claimed = claimed("p"),
    )))
    .persistent(false)
    .bind(before)
    .execute(&mut *conn)
    .await?;
    Ok(forgotten.rows_affected())
}

/// Stamps `worker` alive (the engine calls this every second).
pub async fn heartbeat(conn: &mut PgConnection, worker: &str) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO engine_instances (worker_id) VALUES ($1) ON CONFLICT (worker_id) DO UPDATE SET seen_at = now()",
    )
    .bind(worker)
    .execute(conn)
    .await?;
    Ok(())
}
