//! Phone numbers a workspace sends from: E.164, owning account, capabilities, area code and
//! state (derived from the number), 10DLC campaign, pacing (MPS, daily cap, warm-up schedule),
//! health and status. Queries take the `WorkspaceId` first and filter by it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::field_error::{FieldError, WriteError};
use crate::{E164, WorkspaceId, area_codes, text_enum};

text_enum!(
    /// Whether the sender may use a number.
    NumberStatus { Active = "active", Paused = "paused" }
);
text_enum!(
    /// Deliverability as the engine sees it (carrier filtering marks a number `warning`, then
    /// `blocked`); people may reset it.
    Health { Good = "good", Warning = "warning", Blocked = "blocked" }
);

/// One step of a warm-up: from `day` on (day 1 is the start date), at most `daily_cap` a day.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WarmupStep {
    pub day: u32,
    pub daily_cap: u32,
}

/// A warm-up schedule: steps with strictly increasing days, the first on day 1. The last step
/// holds for good once reached (end with a cap at or above the number's daily cap to finish).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WarmupSchedule(Vec<WarmupStep>);

impl WarmupSchedule {
    pub fn parse(steps: Vec<WarmupStep>) -> Result<Self, FieldError> {
        let bad = |m: &str| Err(FieldError::new("warmup", m));
        if steps.is_empty() || steps.len() > 100 {
            return bad("Give 1–100 steps, or null for no warm-up.");
        }
        if steps[0].day != 1 {
            return bad("The first step is day 1 (the start date).");
        }
        if steps.windows(2).any(|w| w[1].day <= w[0].day) {
            return bad("Step days must increase.");
        }
        if steps.iter().any(|s| s.daily_cap == 0 || s.daily_cap > 10_000_000 || s.day > 3650) {
            return bad("Each step needs a daily_cap from 1 to 10,000,000 and a day up to 3650.");
        }
        Ok(Self(steps))
    }

    pub fn steps(&self) -> &[WarmupStep] {
        &self.0
    }

    /// The cap on `today` for a warm-up that started on `started_on`. Before the start date the
    /// first step applies.
    pub fn cap_on(&self, started_on: NaiveDate, today: NaiveDate) -> u32 {
        let day = (today - started_on).num_days() + 1;
        self.0.iter().rev().find(|s| i64::from(s.day) <= day).unwrap_or(&self.0[0]).daily_cap
    }
}

/// The daily cap in force on `today`: the number's own cap and the warm-up step, whichever is
/// lower; None when neither limits it.
pub fn effective_daily_cap(
    daily_cap: Option<i32>,
    warmup: Option<(&WarmupSchedule, NaiveDate)>,
    today: NaiveDate,
) -> Option<i32> {
    let step = warmup.map(|(w, started)| i32::try_from(w.cap_on(started, today)).unwrap_or(i32::MAX));
    match (daily_cap, step) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// The state for a number: derived from its area code; one given by hand must agree with it
/// (and, for numbers without a known area code, be a known US state or Canadian province).
pub fn resolve_state(number: &E164, given: Option<&str>) -> Result<Option<String>, FieldError> {
    let derived = area_codes::area_code(number).and_then(area_codes::state_of);
    let given = given.map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty());
    match (derived, given) {
        (d, None) => Ok(d.map(str::to_owned)),
        (Some(d), Some(g)) if d == g => Ok(Some(g)),
        (Some(d), Some(g)) => Err(FieldError::new(
            "state",
            format!("{g} does not match area code {} ({d}).", area_codes::area_code(number).unwrap_or("")),
        )),
        (None, Some(g)) if area_codes::is_known_state(&g) => Ok(Some(g)),
        (None, Some(g)) => Err(FieldError::new("state", format!("{g} is not a US state or Canadian province code."))),
    }
}

/// A 10DLC campaign id: 1–64 letters, digits, `-` or `_`; blank means none.
pub fn parse_campaign(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(raw) = raw.map(str::trim).filter(|s| !s.is_empty()) else { return Ok(None) };
    if raw.len() > 64 || !raw.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(FieldError::new("campaign_10dlc", "Use 1–64 letters, digits, - or _."));
    }
    Ok(Some(raw.to_owned()))
}

/// A number as shown to members.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct PhoneNumber {
    pub id: Uuid,
    pub e164: String,
    pub account_id: Uuid,
    pub account_sid: String,
    pub sms: bool,
    pub mms: bool,
    pub area_code: Option<String>,
    pub state: Option<String>,
    pub campaign_10dlc: Option<String>,
    pub mps: f64,
    pub daily_cap: Option<i32>,
    pub warmup: Option<Json<WarmupSchedule>>,
    pub warmup_started_on: Option<NaiveDate>,
    pub health: Health,
    pub status: NumberStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The cap in force today (UTC): `min(daily_cap, warm-up step)`.
    #[sqlx(skip)]
    pub effective_daily_cap: Option<i32>,
}

impl PhoneNumber {
    fn with_effective_cap(mut self, today: NaiveDate) -> Self {
        let warmup = self.warmup.as_ref().zip(self.warmup_started_on).map(|(w, d)| (&w.0, d));
        self.effective_daily_cap = effective_daily_cap(self.daily_cap, warmup, today);
        self
    }
}

const SELECT_NUMBER: &str = "SELECT n.id, n.e164, n.account_id, a.account_sid, n.sms, n.mms, n.area_code, n.state, \
    n.campaign_10dlc, n.mps::float8 AS mps, n.daily_cap, n.warmup, n.warmup_started_on, n.health, n.status, \
    n.created_at, n.updated_at FROM phone_numbers n \
    JOIN carrier_accounts a ON a.workspace_id = n.workspace_id AND a.id = n.account_id WHERE n.workspace_id = $1";

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

/// Everything a number row holds that people set, parsed.
#[derive(Clone, Debug)]
pub struct NumberSpec {
    pub e164: E164,
    pub account_id: Uuid,
    pub sms: bool,
    pub mms: bool,
    pub state: Option<String>,
    pub campaign_10dlc: Option<String>,
    pub mps: f64,
    pub daily_cap: Option<i32>,
    pub warmup: Option<(WarmupSchedule, NaiveDate)>,
    pub health: Health,
    pub status: NumberStatus,
}

/// Filters and a page of the number list, ordered by E.164.
#[derive(Clone, Debug, Default)]
pub struct NumberFilter {
    pub account_id: Option<Uuid>,
    pub area_code: Option<String>,
    pub state: Option<String>,
    pub status: Option<NumberStatus>,
    /// Keyset cursor: numbers after this E.164.
    pub after: Option<String>,
    pub limit: i64,
}

pub async fn list(
    conn: &mut PgConnection,
    workspace_id: WorkspaceId,
    f: &NumberFilter,
) -> sqlx::Result<Vec<PhoneNumber>> {
    let rows: Vec<PhoneNumber> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT_NUMBER} AND ($2::uuid IS NULL OR n.account_id = $2) AND ($3::text IS NULL OR n.area_code = $3) \
         AND ($4::text IS NULL OR n.state = $4) AND ($5::text IS NULL OR n.status = $5) \
         AND ($6::text IS NULL OR n.e164 > $6) ORDER BY n.e164 LIMIT $7"
    )))
    .bind(workspace_id)
    .bind(f.account_id)
    .bind(f.area_code.as_deref())
    .bind(f.state.as_deref())
    .bind(f.status)
    .bind(f.after.as_deref())
    .bind(f.limit)
    .fetch_all(conn)
    .await?;
    let today = today();
    Ok(rows.into_iter().map(|n| n.with_effective_cap(today)).collect())
}

pub async fn get(conn: &mut PgConnection, workspace_id: WorkspaceId, id: Uuid) -> sqlx::Result<Option<PhoneNumber>> {
    let row: Option<PhoneNumber> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_NUMBER} AND n.id = $2")))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|n| n.with_effective_cap(today())))
}

pub async fn get_by_e164(
    conn: &mut PgConnection,
    workspace_id: WorkspaceId,
    e164: &E164,
) -> sqlx::Result<Option<PhoneNumber>> {
    let row: Option<PhoneNumber> = sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_NUMBER} AND n.e164 = $2")))
        .bind(workspace_id)
        .bind(e164.as_str())
        .fetch_optional(conn)
        .await?;
    Ok(row.map(|n| n.with_effective_cap(today())))
}

fn refused(e: sqlx::Error) -> WriteError {
    if let sqlx::Error::Database(db) = &e {
        match db.constraint() {
            Some("phone_numbers_e164_key") => {
                return WriteError::Duplicate(FieldError::new("e164", "This workspace already has that number."));
            }
            Some("phone_numbers_account_fkey") => {
                return WriteError::Invalid(FieldError::new("account_id", "No such account in this workspace."));
            }
            _ => {}
        }
    }
    WriteError::Db(e)
}

const UPSERT: &str = "INSERT INTO phone_numbers (workspace_id, id, e164, account_id, sms, mms, area_code, state, \
    campaign_10dlc, mps, daily_cap, warmup, warmup_started_on, health, status) \
    VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,CAST($10::float8 AS numeric),$11,$12,$13,$14,$15)";

async fn write(
    conn: &mut PgConnection,
    workspace_id: WorkspaceId,
    id: Uuid,
    spec: &NumberSpec,
    sql: &str,
) -> Result<Uuid, WriteError> {
    let id: Uuid = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("{sql} RETURNING id")))
        .bind(workspace_id)
        .bind(id)
        .bind(spec.e164.as_str())
        .bind(spec.account_id)
        .bind(spec.sms)
        .bind(spec.mms)
        .bind(area_codes::area_code(&spec.e164))
        .bind(spec.state.as_deref())
        .bind(spec.campaign_10dlc.as_deref())
        .bind(spec.mps)
        .bind(spec.daily_cap)
        .bind(spec.warmup.as_ref().map(|(w, _)| Json(w)))
        .bind(spec.warmup.as_ref().map(|(_, d)| *d))
        .bind(spec.health)
        .bind(spec.status)
        .fetch_one(&mut *conn)
        .await
        .map_err(refused)?;
    Ok(id)
}

pub async fn insert(
    conn: &mut PgConnection,
    workspace_id: WorkspaceId,
    spec: &NumberSpec,
) -> Result<PhoneNumber, WriteError> {
    let id = write(conn, workspace_id, Uuid::now_v7(), spec, UPSERT).await?;
    Ok(get(conn, workspace_id, id).await?.ok_or(sqlx::Error::RowNotFound)?)
}

/// Replaces the settable fields of a number; `before` is its current state (locked by the caller
/// through [`lock`]).
pub async fn replace(
    conn: &mut PgConnection,
    workspace_id: WorkspaceId,
    id: Uuid,
    spec: &NumberSpec,
) -> Result<PhoneNumber, WriteError> {
    let sql = "UPDATE phone_numbers SET e164 = $3, account_id = $4, sms = $5, mms = $6, area_code = $7, state = $8, \
        campaign_10dlc = $9, mps = CAST($10::float8 AS numeric), daily_cap = $11, warmup = $12, \
        warmup_started_on = $13, health = $14, status = $15, updated_at = now() \
        WHERE workspace_id = $1 AND id = $2";
    write(conn, workspace_id, id, spec, sql).await?;
    Ok(get(conn, workspace_id, id).await?.ok_or(sqlx::Error::RowNotFound)?)
}

/// Locks a number for a read-modify-write and returns it, or None.
pub async fn lock(conn: &mut PgConnection, workspace_id: WorkspaceId, id: Uuid) -> sqlx::Result<Option<PhoneNumber>> {
    let locked: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM phone_numbers WHERE workspace_id = $1 AND id = $2 FOR UPDATE")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    match locked {
        Some(_) => get(conn, workspace_id, id).await,
        None => Ok(None),
    }
}

/// The spec a stored number was made from (for applying a partial change on top).
pub fn spec_of(n: &PhoneNumber) -> Result<NumberSpec, FieldError> {
    Ok(NumberSpec {
        e164: E164::parse(&n.e164).map_err(|e| FieldError::new("e164", e.to_string()))?,
        account_id: n.account_id,
        sms: n.sms,
        mms: n.mms,
        state: n.state.clone(),
        campaign_10dlc: n.campaign_10dlc.clone(),
        mps: n.mps,
        daily_cap: n.daily_cap,
        warmup: n.warmup.as_ref().zip(n.warmup_started_on).map(|(w, d)| (w.0.clone(), d)),
        health: n.health,
        status: n.status,
    })
}

pub async fn delete(conn: &mut PgConnection, workspace_id: WorkspaceId, id: Uuid) -> sqlx::Result<Option<PhoneNumber>> {
    let Some(number) = lock(conn, workspace_id, id).await? else { return Ok(None) };
    sqlx::query("DELETE FROM phone_numbers WHERE workspace_id = $1 AND id = $2")
        .bind(workspace_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(Some(number))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn schedule() -> WarmupSchedule {
        WarmupSchedule::parse(vec![
            WarmupStep { day: 1, daily_cap: 50 },
            WarmupStep { day: 4, daily_cap: 100 },
            WarmupStep { day: 8, daily_cap: 400 },
        ])
        .unwrap()
    }

    #[test]
    fn warmup_steps_by_days_since_the_start() {
        let w = schedule();
        let start = d("2026-03-01");
        assert_eq!(w.cap_on(start, d("2026-02-20")), 50, "before the start: first step");
        assert_eq!(w.cap_on(start, d("2026-03-01")), 50);
        assert_eq!(w.cap_on(start, d("2026-03-03")), 50);
        assert_eq!(w.cap_on(start, d("2026-03-04")), 100);
        assert_eq!(w.cap_on(start, d("2026-03-08")), 400);
        assert_eq!(w.cap_on(start, d("2027-01-01")), 400, "the last step holds");
    }

    #[test]
    fn effective_cap_is_the_lower_of_cap_and_step() {
        let w = schedule();
        let start = d("2026-03-01");
        assert_eq!(effective_daily_cap(Some(200), Some((&w, start)), d("2026-03-02")), Some(50));
        assert_eq!(effective_daily_cap(Some(200), Some((&w, start)), d("2026-03-20")), Some(200));
        assert_eq!(effective_daily_cap(None, Some((&w, start)), d("2026-03-05")), Some(100));
        assert_eq!(effective_daily_cap(Some(70), None, d("2026-03-05")), Some(70));
        assert_eq!(effective_daily_cap(None, None, d("2026-03-05")), None);
    }

    #[test]
    fn schedules_are_checked() {
        let step = |day, daily_cap| WarmupStep { day, daily_cap };
        assert!(WarmupSchedule::parse(vec![]).is_err());
        assert!(WarmupSchedule::parse(vec![step(2, 10)]).is_err());
        assert!(WarmupSchedule::parse(vec![step(1, 10), step(1, 20)]).is_err());
        assert!(WarmupSchedule::parse(vec![step(1, 0)]).is_err());
    }

    #[test]
    fn state_derives_from_the_area_code() {
        let sf = E164::parse("+14155552671").unwrap();
        assert_eq!(resolve_state(&sf, None).unwrap().as_deref(), Some("CA"));
        assert_eq!(resolve_state(&sf, Some("ca")).unwrap().as_deref(), Some("CA"));
        assert_eq!(resolve_state(&sf, Some("NY")).unwrap_err().field, "state");
        let london = E164::parse("+442079460958").unwrap();
        assert_eq!(resolve_state(&london, None).unwrap(), None);
        assert!(resolve_state(&london, Some("ZZ")).is_err());
    }
}
