//! Crusades: campaigns sharing one schedule (allowed weekdays and local hours, start and end
//! dates), a throttle across them and jitter. Starting, pausing, resuming and canceling a crusade
//! does so for every campaign in it, in the caller's transaction. A crusade whose start date is
//! ahead starts as `scheduled`; [`activate_due`] (called by the engine's leader every few
//! seconds) flips it and its campaigns to `running` once the date is reached.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::Serialize;
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use crate::campaigns::{self, Action, Status, TransitionError, not_allowed};
use crate::field_error::FieldError;
use crate::windows::LocalWindow;
use crate::{WorkspaceId, stats};

/// Weekday names in bit order (bit 0 = Monday), as the API writes them.
pub const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// `["mon", "wed"]` → the bit set of `crusades.days`; each name once, at least one.
pub fn parse_days(names: &[String]) -> Result<i16, FieldError> {
    let mut bits = 0i16;
    for name in names {
        let lower = name.trim().to_ascii_lowercase();
        let i = DAY_NAMES.iter().position(|d| *d == lower).ok_or_else(|| {
            FieldError::new("days", format!("{name:?} is not one of mon, tue, wed, thu, fri, sat, sun."))
        })?;
        bits |= 1 << i;
    }
    if bits == 0 {
        return Err(FieldError::new("days", "Allow at least one day."));
    }
    Ok(bits)
}

/// The bit set of days as names, Monday first.
pub fn day_names(bits: i16) -> Vec<&'static str> {
    DAY_NAMES.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, d)| *d).collect()
}

/// A local time `HH:MM` (or `HH:MM:SS`).
pub fn parse_time(field: &'static str, raw: &str) -> Result<NaiveTime, FieldError> {
    NaiveTime::parse_from_str(raw.trim(), "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(raw.trim(), "%H:%M:%S"))
        .map_err(|_| FieldError::new(field, format!("{raw:?} is not a time like 08:00.")))
}

/// A crusade as stored.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Crusade {
    pub id: Uuid,
    pub name: String,
    pub status: Status,
    pub days: i16,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub throttle_per_minute: Option<i32>,
    pub jitter_seconds: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Crusade {
    /// The crusade's window (before the legal window clips it per recipient).
    pub fn window(&self) -> LocalWindow {
        LocalWindow { days: (self.days & 0x7f) as u8, start: self.start_time, end: self.end_time }
    }

    /// Whether a start at `now` waits for the start date (UTC calendar day).
    pub fn starts_later(&self, now: DateTime<Utc>) -> bool {
        self.start_date.is_some_and(|d| d > now.date_naive())
    }
}

/// Everything people set on a crusade, parsed and checked together.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrusadeSpec {
    pub name: String,
    pub days: i16,
    pub start_time: NaiveTime,
    pub end_time: NaiveTime,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
    pub throttle_per_minute: Option<i32>,
    pub jitter_seconds: i32,
}

impl CrusadeSpec {
    pub fn of(c: &Crusade) -> Self {
        Self {
            name: c.name.clone(),
            days: c.days,
            start_time: c.start_time,
            end_time: c.end_time,
            start_date: c.start_date,
            end_date: c.end_date,
            throttle_per_minute: c.throttle_per_minute,
            jitter_seconds: c.jitter_seconds,
        }
    }

    /// The rules that span fields: the window is not empty, dates in order, bounds.
    pub fn check(self) -> Result<Self, FieldError> {
        if self.start_time >= self.end_time {
            return Err(FieldError::new("end_time", "End after the start time."));
        }
        if let (Some(start), Some(end)) = (self.start_date, self.end_date)
            && end < start
        {
            return Err(FieldError::new("end_date", "End on or after the start date."));
        }
        if self.throttle_per_minute.is_some_and(|t| !(1..=1_000_000).contains(&t)) {
            return Err(FieldError::new("throttle_per_minute", "Use 1–1,000,000 messages a minute, or null."));
        }
        if !(0..=3600).contains(&self.jitter_seconds) {
            return Err(FieldError::new("jitter_seconds", "Use 0–3600 seconds."));
        }
        let name = campaigns::parse_name(&self.name)?;
        Ok(Self { name, ..self })
    }
}

const COLUMNS: &str = "id, name, status, days, start_time, end_time, start_date, end_date, throttle_per_minute, \
    jitter_seconds, created_at, updated_at";

pub async fn list(conn: &mut PgConnection, ws: WorkspaceId) -> sqlx::Result<Vec<Crusade>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM crusades WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1000"
    )))
    .bind(ws)
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, ws: WorkspaceId, id: Uuid) -> sqlx::Result<Option<Crusade>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM crusades WHERE workspace_id = $1 AND id = $2")))
        .bind(ws)
        .bind(id)
        .fetch_optional(conn)
        .await
}

pub async fn lock(conn: &mut PgConnection, ws: WorkspaceId, id: Uuid) -> sqlx::Result<Option<Crusade>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM crusades WHERE workspace_id = $1 AND id = $2 FOR UPDATE"
    )))
    .bind(ws)
    .bind(id)
    .fetch_optional(conn)
    .await
}

/// Writes `spec` as crusade `id` (insert when `new`, else replace).
pub async fn save(
    conn: &mut PgConnection,
    ws: WorkspaceId,
    id: Uuid,
    spec: &CrusadeSpec,
    new: bool,
) -> sqlx::Result<Crusade> {
    let sql = if new {
        "INSERT INTO crusades (workspace_id, id, name, days, start_time, end_time, start_date, end_date, \
         throttle_per_minute, jitter_seconds) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)"
    } else {
        "UPDATE crusades SET name = $3, days = $4, start_time = $5, end_time = $6, start_date = $7, end_date = $8, \
         throttle_per_minute = $9, jitter_seconds = $10, updated_at = now() WHERE workspace_id = $1 AND id = $2"
    };
    sqlx::query(sql)
        .bind(ws)
        .bind(id)
        .bind(&spec.name)
        .bind(spec.days)
        .bind(spec.start_time)
        .bind(spec.end_time)
        .bind(spec.start_date)
        .bind(spec.end_date)
        .bind(spec.throttle_per_minute)
        .bind(spec.jitter_seconds)
        .execute(&mut *conn)
        .await?;
    get(conn, ws, id).await?.ok_or(sqlx::Error::RowNotFound)
}

/// Deletes a crusade (draft, completed or canceled); its campaigns stay, without a crusade.
pub async fn delete(conn: &mut PgConnection, ws: WorkspaceId, id: Uuid) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM crusades WHERE workspace_id = $1 AND id = $2").bind(ws).bind(id).execute(conn).await?;
    Ok(())
}

/// The ids and statuses of a crusade's campaigns, locked, oldest first.
pub async fn campaigns_of(conn: &mut PgConnection, ws: WorkspaceId, id: Uuid) -> sqlx::Result<Vec<(Uuid, Status)>> {
    sqlx::query_as(
        "SELECT id, status FROM campaigns WHERE workspace_id = $1 AND crusade_id = $2 \
         ORDER BY created_at, id FOR UPDATE",
    )
    .bind(ws)
    .bind(id)
    .fetch_all(conn)
    .await
}

async fn set_status(
    conn: &mut PgConnection,
    ws: WorkspaceId,
    id: Uuid,
    status: Status,
    now: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE crusades SET status = $3, updated_at = $4 WHERE workspace_id = $1 AND id = $2")
        .bind(ws)
        .bind(id)
        .bind(status)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// A status change of a crusade: before, after, and each campaign that moved (id, new status).
#[derive(Clone, Debug)]
pub struct Moved {
    pub before: Crusade,
    pub after: Crusade,
    pub campaigns: Vec<(Uuid, Status)>,
}

/// Applies `action` to the crusade and, the same way, to each of its campaigns in a status the
/// action applies to (others stay as they are), in the caller's transaction. Starting
/// materializes every campaign that starts running.
pub async fn transition(
    conn: &mut PgConnection,
    ws: WorkspaceId,
    id: Uuid,
    action: Action,
    now: DateTime<Utc>,
) -> Result<Moved, TransitionError> {
    let before = lock(conn, ws, id).await?.ok_or(TransitionError::NotFound)?;
    let later = before.starts_later(now);
    let next = action.apply(before.status, later).ok_or(TransitionError::Refused(not_allowed(
        "crusade",
        action,
        before.status,
    )))?;
    set_status(conn, ws, id, next, now).await?;
    let mut moved = Vec::new();
    for (campaign, status) in campaigns_of(conn, ws, id).await? {
        if let Some(to) = action.apply(status, later) {
            campaigns::set_status(conn, ws, campaign, to, now).await?;
            moved.push((campaign, to));
        }
    }
    let after = get(conn, ws, id).await?.ok_or(TransitionError::NotFound)?;
    Ok(Moved { before, after, campaigns: moved })
}

/// Flips every scheduled crusade whose start date has come (UTC day of `now`) to running, with
/// its scheduled campaigns (materializing them), one crusade per transaction. Several leaders
/// calling at once never flip the same crusade twice (`SKIP LOCKED`). Returns what it flipped.
pub async fn activate_due(conn: &mut PgConnection, now: DateTime<Utc>) -> sqlx::Result<Vec<(WorkspaceId, Uuid)>> {
    let mut flipped = Vec::new();
    loop {
        let mut tx = conn.begin().await?;
        let due: Option<(WorkspaceId, Uuid)> = sqlx::query_as(
            "SELECT workspace_id, id FROM crusades WHERE status = 'scheduled' \
             AND (start_date IS NULL OR start_date <= $1) ORDER BY start_date LIMIT 1 FOR UPDATE SKIP LOCKED",
        )
        .bind(now.date_naive())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((ws, id)) = due else { break };
        set_status(&mut tx, ws, id, Status::Running, now).await?;
        for (campaign, status) in campaigns_of(&mut tx, ws, id).await? {
            if status == Status::Scheduled {
                campaigns::set_status(&mut tx, ws, campaign, Status::Running, now).await?;
            }
        }
        tx.commit().await?;
        flipped.push((ws, id));
    }
    Ok(flipped)
}

/// The summed counters of a crusade's campaigns, with each campaign's.
/// Crusades past their end date are over: the crusade and every campaign in it that had not
/// ended become `completed`, and rows still queued are canceled (counted as `canceled`). The
/// end date is a calendar day in the recipients' time zones, so it ends when that day is over
/// everywhere in the US — midnight at the end of `end_date` in Hawaii.
pub async fn end_due(conn: &mut PgConnection, now: DateTime<Utc>) -> sqlx::Result<Vec<(WorkspaceId, Uuid)>> {
    let mut ended = Vec::new();
    loop {
        let mut tx = conn.begin().await?;
        let due: Option<(WorkspaceId, Uuid)> = sqlx::query_as(
            "SELECT workspace_id, id FROM crusades \
             WHERE status IN ('scheduled', 'running', 'paused') AND end_date IS NOT NULL \
               AND ((end_date + 1)::timestamp AT TIME ZONE 'Pacific/Honolulu') <= $1 \
             ORDER BY end_date LIMIT 1 FOR UPDATE SKIP LOCKED",
        )
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((ws, id)) = due else { break };
        set_status(&mut tx, ws, id, Status::Completed, now).await?;
        for (campaign, status) in campaigns_of(&mut tx, ws, id).await? {
            if !matches!(status, Status::Completed | Status::Canceled) {
                campaigns::set_status(&mut tx, ws, campaign, Status::Completed, now).await?;
                campaigns::cancel_queued(&mut tx, ws, campaign).await?;
            }
        }
        tx.commit().await?;
        ended.push((ws, id));
    }
    Ok(ended)
}

pub async fn counters(
    conn: &mut PgConnection,
    ws: WorkspaceId,
    campaigns: &[Uuid],
) -> sqlx::Result<(stats::Counters, std::collections::BTreeMap<Uuid, stats::Counters>)> {
    let each = stats::counters(conn, ws, campaigns).await?;
    let mut total = stats::Counters::default();
    for c in each.values() {
        total.merge(c);
    }
    Ok((total, each))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_round_trip_and_refuse_unknown_names() {
        let bits = parse_days(&["mon".into(), "Fri".into(), "sun".into()]).unwrap();
        assert_eq!(bits, 0b100_0001 | 0b1_0000);
        assert_eq!(day_names(bits), ["mon", "fri", "sun"]);
        assert_eq!(parse_days(&[]).unwrap_err().field, "days");
        assert_eq!(parse_days(&["funday".into()]).unwrap_err().field, "days");
    }

    #[test]
    fn spec_rules_span_fields() {
        let t = |s| parse_time("start_time", s).unwrap();
        let spec = CrusadeSpec {
            name: "Spring".into(),
            days: 127,
            start_time: t("09:00"),
            end_time: t("17:30"),
            start_date: None,
            end_date: None,
            throttle_per_minute: Some(60),
            jitter_seconds: 30,
        };
        assert!(spec.clone().check().is_ok());
        let inverted = CrusadeSpec { end_time: t("08:00"), ..spec.clone() };
        assert_eq!(inverted.check().unwrap_err().field, "end_time");
        let dates =
            CrusadeSpec { start_date: "2026-05-02".parse().ok(), end_date: "2026-05-01".parse().ok(), ..spec.clone() };
        assert_eq!(dates.check().unwrap_err().field, "end_date");
        assert_eq!(parse_time("start_time", "25:00").unwrap_err().field, "start_time");
    }
}
