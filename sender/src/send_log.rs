//! The partitioned send log and the histories cooldowns read.
//!
//! - Partitions: one per UTC day, created ahead by [`ensure_partitions`] (idempotent, serialized
//!   across instances by an advisory lock); [`detach_before`] detaches old days and
//!   [`archive_partition`] writes one gzip-compressed CSV per day and drops it.
//! - Writes: [`record_attempt`] inserts the "calling" row before the carrier call (invariant 2:
//!   a crash leaves it "calling", read as unknown, never resent) and advances the pair and
//!   recipient histories in the same transaction.
//! - Reads: [`cooldown`] answers "may we text this pair now?" with two primary-key probes
//!   (invariant 4), never a scan of the log.

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
            "CREATE TABLE IF NOT EXISTS {name} PARTITION OF send_log FOR VALUES FROM ('{day}T00:00:00Z') TO ('{next}T00:00:00Z')",
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

/// Writes the "calling" row and advances the pair and recipient histories, in the caller's
/// transaction, before the carrier is called.
pub async fn record_attempt(tx: &mut PgConnection, workspace: WorkspaceId, a: &Attempt) -> sqlx::Result<()> {
    sqlx::query(
        "INSERT INTO send_log (workspace_id, attempted_at, id, outbox_id, campaign_id, step, to_phone, from_number, \
         account_id, segments, state) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,'calling')",
    )
    .bind(workspace)
    .bind(a.at)
    .bind(a.id)
    .bind(a.outbox_id)
    .bind(a.campaign_id)
    .bind(a.step)
    .bind(a.to.as_str())
    .bind(a.from.as_str())
    .bind(a.account_id)
    .bind(a.segments)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO pair_history (workspace_id, their_number, our_number, last_sent_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (workspace_id, their_number, our_number) \
         DO UPDATE SET last_sent_at = GREATEST(pair_history.last_sent_at, EXCLUDED.last_sent_at), sends = pair_history.sends + 1",
    )
    .bind(workspace)
    .bind(a.to.as_str())
    .bind(a.from.as_str())
    .bind(a.at)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO recipient_history (workspace_id, their_number, last_sent_at, recent_sends) VALUES ($1, $2, $3, ARRAY[$3]) \
         ON CONFLICT (workspace_id, their_number) DO UPDATE SET \
           last_sent_at = GREATEST(recipient_history.last_sent_at, EXCLUDED.last_sent_at), \
           recent_sends = (SELECT array_agg(t ORDER BY t DESC) FROM (SELECT t FROM unnest(recipient_history.recent_sends || EXCLUDED.recent_sends) t ORDER BY t DESC LIMIT 3) last3)",
    )
    .bind(workspace)
    .bind(a.to.as_str())
    .bind(a.at)
    .execute(&mut *tx)
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

/// Whether `to` may be texted from `from` at `now` under `policy`: two primary-key probes.
pub async fn cooldown(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    to: &E164,
    from: &E164,
    policy: RetextPolicy,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<Cooldown>> {
    type Histories = (Option<DateTime<Utc>>, Option<DateTime<Utc>>, Option<Vec<DateTime<Utc>>>);
    let (pair_last, recipient_last, recent): Histories =
        sqlx::query_as(
            "SELECT (SELECT last_sent_at FROM pair_history WHERE workspace_id = $1 AND their_number = $2 AND our_number = $3), \
                    r.last_sent_at, r.recent_sends \
             FROM (SELECT 1) one LEFT JOIN recipient_history r ON r.workspace_id = $1 AND r.their_number = $2",
        )
        .bind(workspace)
        .bind(to.as_str())
        .bind(from.as_str())
        .fetch_one(conn)
        .await?;
    if let Some(last) = pair_last.filter(|t| *t + Duration::days(policy.pair_days) > now) {
        return Ok(Some(Cooldown::Pair { until: last + Duration::days(policy.pair_days) }));
    }
    if let Some(last) = recipient_last.filter(|t| *t + Duration::days(policy.recipient_days) > now) {
        return Ok(Some(Cooldown::Recipient { until: last + Duration::days(policy.recipient_days) }));
    }
    if let (Some(max), Some(recent)) = (policy.max_per_24h, recent) {
        let in_window: Vec<_> = recent.iter().filter(|t| **t + Duration::hours(24) > now).collect();
        if in_window.len() >= max {
            let oldest = in_window.iter().min().copied().copied().unwrap_or(now);
            return Ok(Some(Cooldown::DailyLimit { until: oldest + Duration::hours(24) }));
        }
    }
    Ok(None)
}
