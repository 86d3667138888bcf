//! The partitioned send log and the pair history cooldowns read (a recipient's history is its
//! pair rows: migration 0020).
//!
//! - Partitions: one per UTC day, created ahead by [`ensure_partitions`] (idempotent, serialized
//!   across instances by an advisory lock); [`detach_before`] detaches old days and
//!   [`archive_partition`] writes one gzip-compressed CSV per day and drops it.
//! - Writes: [`record_attempts`] inserts a batch of "calling" rows before the carrier calls
//!   (invariant 2: a crash leaves them "calling", read as unknown, never resent) and advances the
//!   pair history in the same transaction, one round trip per table;
//!   [`record_results`] applies the carrier's answers in one UPDATE. [`record_attempt`] is a
//!   batch of one.
//! - Reads: [`cooldown`] answers "may we text this pair now?" with one range scan of the
//!   recipient's pair rows (invariant 4), never a scan of the log.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use futures_util::TryStreamExt;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::ids::WorkspaceId;
use crate::phone::E164;

/// `send_log_YYYYMMDD`.
pub fn partition_name(day: NaiveDate) -> String {
    format!("send_log_{}", day.format("%Y%m%d"))
}

/// Room left on each send-log page for its rows' later versions: the call's answer and the
/// status callbacks rewrite a row in place (a HOT update, no index touched) while its page has
/// room (migration 0017).
const SEND_LOG_FILLFACTOR: u8 = 70;

/// Creates the partitions for `first` and the `days - 1` days after it, where missing.
/// Returns the names it created.
pub async fn ensure_partitions(conn: &mut PgConnection, first: NaiveDate, days: u32) -> sqlx::Result<Vec<String>> {
    let mut tx = sqlx::Connection::begin(conn).await?;
    // One instance at a time: two CREATEs of the same partition would otherwise race.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('send_log partitions'))").execute(&mut *tx).await?;
    let mut created = Vec::new();
    for offset in 0..i64::from(days) {
        let day = first + Duration::days(offset);
        let name = partition_name(day);
        let exists: bool =
            sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL").bind(&name).fetch_one(&mut *tx).await?;
        if exists {
            continue;
        }
        // Names and bounds come from a date, never from input.
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {name} PARTITION OF send_log \
             FOR VALUES FROM ('{day}T00:00:00Z') TO ('{next}T00:00:00Z') WITH (fillfactor = {SEND_LOG_FILLFACTOR})",
            next = day + Duration::days(1)
        );
        sqlx::query(sqlx::AssertSqlSafe(ddl)).execute(&mut *tx).await?;
        created.push(name);
    }
    tx.commit().await?;
    Ok(created)
}

/// Detaches every partition whose day is before `day`; returns their names (now plain tables).
pub async fn detach_before(conn: &mut PgConnection, day: NaiveDate) -> sqlx::Result<Vec<String>> {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
         WHERE i.inhparent = 'send_log'::regclass AND c.relname < $1 ORDER BY c.relname",
    )
    .bind(partition_name(day))
    .fetch_all(&mut *conn)
    .await?;
    for name in &names {
        sqlx::query(sqlx::AssertSqlSafe(format!("ALTER TABLE send_log DETACH PARTITION {name}")))
            .execute(&mut *conn)
            .await?;
    }
    Ok(names)
}

/// Writes a detached partition as gzip-compressed CSV (with a header) to `out`, then drops it.
/// Returns the number of rows archived. `table` must be a name [`detach_before`] returned.
pub async fn archive_partition(conn: &mut PgConnection, table: &str, out: impl Write) -> anyhow::Result<u64> {
    anyhow::ensure!(
        table.starts_with("send_log_") && table[9..].chars().all(|c| c.is_ascii_digit()),
        "not a send-log partition: {table}"
    );
    let rows: i64 =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}"))).fetch_one(&mut *conn).await?;
    let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
    {
        let mut stream = conn
            .copy_out_raw(&format!(
                "COPY (SELECT * FROM {table} ORDER BY attempted_at, id) TO STDOUT WITH (FORMAT csv, HEADER)"
            ))
            .await?;
        while let Some(chunk) = stream.try_next().await? {
            gz.write_all(&chunk)?;
        }
    }
    gz.finish()?.flush()?;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP TABLE {table}"))).execute(&mut *conn).await?;
    Ok(rows as u64)
}

/// One carrier call about to be made.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub outbox_id: Option<i64>,
    pub campaign_id: Option<Uuid>,
    pub step: Option<i16>,
    pub to: E164,
    pub from: E164,
    pub account_id: Option<Uuid>,
    pub segments: i16,
}

/// Writes the "calling" row and advances the pair history, in the caller's transaction, before
/// the carrier is called. A batch of one: see [`record_attempts`].
pub async fn record_attempt(tx: &mut PgConnection, workspace: WorkspaceId, a: &Attempt) -> sqlx::Result<()> {
    record_attempts(tx, &[(workspace, a.clone())]).await
}

/// Writes a batch of attempts (any workspaces) in the caller's transaction: the "calling"
/// send-log rows, then the pair history, one round trip per table (UNNEST over arrays). There is
/// no per-recipient table to write: a recipient's history is its pair rows (migration 0020). A
/// pair that appears several times in the batch is folded first — an upsert cannot touch one row
/// twice — and the folded keys go in sorted order, so concurrent batches lock shared history rows
/// in the same order (no deadlocks between writers).
pub async fn record_attempts(tx: &mut PgConnection, attempts: &[(WorkspaceId, Attempt)]) -> sqlx::Result<()> {
    if attempts.is_empty() {
        return Ok(());
    }
    insert_calling_rows(tx, attempts).await?;
    upsert_pair_history(tx, attempts).await
}

/// The send-log half of [`record_attempts`]: the "calling" rows alone, one INSERT over UNNEST
/// into the days' partitions. `record_attempts` is the only caller that must be used to send
/// (the pair history must move with the log); the write benchmark measures this half against a
/// binary COPY of the same rows.
pub async fn insert_calling_rows(tx: &mut PgConnection, attempts: &[(WorkspaceId, Attempt)]) -> sqlx::Result<()> {
    let n = attempts.len();
    let (mut ws, mut at, mut ids) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut outbox, mut campaigns, mut steps) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut to, mut from, mut accounts, mut segments) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for (w, a) in attempts {
        ws.push(w.0);
        at.push(a.at);
        ids.push(a.id);
        outbox.push(a.outbox_id);
        campaigns.push(a.campaign_id);
        steps.push(a.step);
        to.push(a.to.as_str());
        from.push(a.from.as_str());
        accounts.push(a.account_id);
        segments.push(a.segments);
    }
    sqlx::query(
        "INSERT INTO send_log (workspace_id, attempted_at, id, outbox_id, campaign_id, step, to_phone, from_number, \
         account_id, segments, state) \
         SELECT ws, at, id, outbox_id, campaign_id, step, to_phone, from_number, account_id, segments, 'calling' \
         FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::bigint[], $5::uuid[], $6::smallint[], \
                     $7::text[], $8::text[], $9::uuid[], $10::smallint[]) \
              AS a(ws, at, id, outbox_id, campaign_id, step, to_phone, from_number, account_id, segments)",
    )
    .bind(&ws)
    .bind(&at)
    .bind(&ids)
    .bind(&outbox)
    .bind(&campaigns)
    .bind(&steps)
    .bind(&to)
    .bind(&from)
    .bind(&accounts)
    .bind(&segments)
    .execute(tx)
    .await?;
    Ok(())
}

/// The three most recent send times, newest first.
type Recent = [Option<DateTime<Utc>>; 3];

fn keep_recent(recent: &mut Recent, at: DateTime<Utc>) {
    let mut carry = Some(at);
    for slot in recent.iter_mut() {
        if carry > *slot {
            std::mem::swap(slot, &mut carry);
        }
    }
}

/// One row per (workspace, their number, our number): the latest send, how many, and the three
/// most recent, merged with what the row already holds.
async fn upsert_pair_history(tx: &mut PgConnection, attempts: &[(WorkspaceId, Attempt)]) -> sqlx::Result<()> {
    let mut pairs: BTreeMap<(Uuid, &str, &str), (Recent, i32)> = BTreeMap::new();
    for (w, a) in attempts {
        let (recent, sends) = pairs.entry((w.0, a.to.as_str(), a.from.as_str())).or_default();
        keep_recent(recent, a.at);
        *sends += 1;
    }
    let n = pairs.len();
    let (mut ws, mut theirs, mut ours) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut t1, mut t2, mut t3) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let mut sends = Vec::with_capacity(n);
    for ((w, their, our), ([a, b, c], count)) in pairs {
        ws.push(w);
        theirs.push(their);
        ours.push(our);
        t1.push(a.expect("every pair has a send"));
        t2.push(b);
        t3.push(c);
        sends.push(count);
    }
    // A pair already there merges its three newest with the batch's (at most six, sorted; a
    // late batch may hold older sends than the row).
    sqlx::query(
        "INSERT INTO pair_history (workspace_id, their_number, our_number, last_sent_at, sends, recent_sends) \
         SELECT ws, their, our, t1, sends, array_remove(ARRAY[t1, t2, t3], NULL) \
         FROM unnest($1::uuid[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[], \
                     $7::int[]) AS p(ws, their, our, t1, t2, t3, sends) \
         ON CONFLICT (workspace_id, their_key, our_number) DO UPDATE SET \
           last_sent_at = GREATEST(pair_history.last_sent_at, EXCLUDED.last_sent_at), \
           sends = pair_history.sends + EXCLUDED.sends, \
           recent_sends = (SELECT array_agg(t ORDER BY t DESC) FROM (SELECT t FROM unnest(pair_history.recent_sends \
                           || EXCLUDED.recent_sends) t ORDER BY t DESC LIMIT 3) last3)",
    )
    .bind(&ws)
    .bind(&theirs)
    .bind(&ours)
    .bind(&t1)
    .bind(&t2)
    .bind(&t3)
    .bind(&sends)
    .execute(tx)
    .await?;
    Ok(())
}

/// The carrier's answer to one attempt, applied to its send-log row.
#[derive(Clone, Debug)]
pub struct AttemptResult {
    pub workspace: WorkspaceId,
    pub attempted_at: DateTime<Utc>,
    pub id: Uuid,
    /// `accepted`, `failed` or `unknown` (the table's CHECK refuses anything else).
    pub state: &'static str,
    pub sid: Option<String>,
    pub status: Option<String>,
    pub error_code: Option<i32>,
}

/// Applies a batch of results to their send-log rows by primary key, in one UPDATE over UNNEST
/// arrays (the partition key is in the key, so each row is found in its day's partition). A
/// status or error code already on the row came from a status callback that beat the result
/// (`inbound::advance_outbox`) and is kept: it is the later news.
pub async fn record_results(conn: &mut PgConnection, results: &[AttemptResult]) -> sqlx::Result<()> {
    if results.is_empty() {
        return Ok(());
    }
    let ws: Vec<Uuid> = results.iter().map(|r| r.workspace.0).collect();
    let at: Vec<DateTime<Utc>> = results.iter().map(|r| r.attempted_at).collect();
    let ids: Vec<Uuid> = results.iter().map(|r| r.id).collect();
    let states: Vec<&str> = results.iter().map(|r| r.state).collect();
    let sids: Vec<Option<&str>> = results.iter().map(|r| r.sid.as_deref()).collect();
    let statuses: Vec<Option<&str>> = results.iter().map(|r| r.status.as_deref()).collect();
    let codes: Vec<Option<i32>> = results.iter().map(|r| r.error_code).collect();
    sqlx::query(
        "UPDATE send_log s SET state = r.state, sid = r.sid, status = coalesce(s.status, r.status), \
           error_code = coalesce(s.error_code, r.code) \
         FROM unnest($1::uuid[], $2::timestamptz[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::int[]) \
              AS r(ws, at, id, state, sid, status, code) \
         WHERE s.workspace_id = r.ws AND s.attempted_at = r.at AND s.id = r.id",
    )
    .persistent(false)
    .bind(&ws)
    .bind(&at)
    .bind(&ids)
    .bind(&states)
    .bind(&sids)
    .bind(&statuses)
    .bind(&codes)
    .execute(conn)
    .await?;
    Ok(())
}

/// Minimum gaps before texting again (PRODUCT.md retext policy; defaults 30 and 90 days), and
/// the per-24 h limit that applies in the recipient's state (3 in FL and OK).
#[derive(Clone, Copy, Debug)]
pub struct RetextPolicy {
    pub recipient_days: i64,
    pub pair_days: i64,
    pub max_per_24h: Option<usize>,
}

impl Default for RetextPolicy {
    fn default() -> Self {
        Self { recipient_days: 30, pair_days: 90, max_per_24h: None }
    }
}

impl RetextPolicy {
    /// The policy with the state's daily limit (Florida and Oklahoma: at most 3 per 24 h).
    pub fn for_state(self, state: Option<&str>) -> Self {
        match state {
            Some("FL" | "OK") => Self { max_per_24h: Some(3), ..self },
            _ => self,
        }
    }
}

/// Why a send must wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cooldown {
    Recipient { until: DateTime<Utc> },
    Pair { until: DateTime<Utc> },
    DailyLimit { until: DateTime<Utc> },
}

/// Whether `to` may be texted from `from` at `now` under `policy`: one range scan of the
/// recipient's pair rows (the pair's own row, and every pair for the recipient cooldown and the
/// 24-hour count).
pub async fn cooldown(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    to: &E164,
    from: &E164,
    policy: RetextPolicy,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Cooldown>> {
    let pairs: Vec<(String, DateTime<Utc>, Vec<DateTime<Utc>>)> = sqlx::query_as(
        "SELECT our_number, last_sent_at, recent_sends FROM pair_history WHERE workspace_id = $1 AND their_key = $2",
    )
    .bind(workspace)
    .bind(crate::phone::key_of(to.as_str()))
    .fetch_all(conn)
    .await?;
    let pair_last = pairs.iter().find(|(our, _, _)| our == from.as_str()).map(|(_, last, _)| *last);
    if let Some(last) = pair_last.filter(|t| *t + Duration::days(policy.pair_days) > now) {
        return Ok(Some(Cooldown::Pair { until: last + Duration::days(policy.pair_days) }));
    }
    let recipient_last = pairs.iter().map(|(_, last, _)| *last).max();
    if let Some(last) = recipient_last.filter(|t| *t + Duration::days(policy.recipient_days) > now) {
        return Ok(Some(Cooldown::Recipient { until: last + Duration::days(policy.recipient_days) }));
    }
    if let Some(max) = policy.max_per_24h {
        let mut in_window: Vec<DateTime<Utc>> = pairs
            .iter()
            .flat_map(|(_, _, recent)| recent)
            .copied()
            .filter(|t| *t + Duration::hours(24) > now)
            .collect();
        if in_window.len() >= max {
            // Newest first: once the max-th newest send is 24 hours old, fewer than max remain.
            in_window.sort_unstable_by(|a, b| b.cmp(a));
            let until = in_window.get(max.saturating_sub(1)).copied().unwrap_or(now) + Duration::hours(24);
            return Ok(Some(Cooldown::DailyLimit { until }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_recent_holds_the_three_newest_newest_first() {
        let t = |h: i64| DateTime::<Utc>::from_timestamp(h * 3600, 0).unwrap();
        let mut recent = Recent::default();
        for h in [5, 1, 9, 3, 7] {
            keep_recent(&mut recent, t(h));
        }
        assert_eq!(recent, [Some(t(9)), Some(t(7)), Some(t(5))]);
        let mut one = Recent::default();
        keep_recent(&mut one, t(2));
        assert_eq!(one, [Some(t(2)), None, None]);
    }
}
