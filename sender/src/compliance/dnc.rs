//! The internal do-not-contact list — single phones and whole ranges a workspace never texts —
//! and the numbers the carrier told us are undeliverable. A DNC entry is stored as the E.164
//! digits read as integers (`lo..=hi`, one phone has lo = hi), so the claim's check is one range
//! probe (`send_verdict`, migration 0007).

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use super::suppression::phone_key;
use crate::field_error::FieldError;
use crate::ids::{UserId, WorkspaceId};
use crate::phone::E164;

/// What a DNC entry covers: one phone, or every number from `from` to `to` inclusive. A range
/// stays inside one country and one number length, so it never spills into another plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DncSpan {
    Phone(E164),
    Range { from: E164, to: E164 },
}

impl DncSpan {
    /// Parses `{phone}` or `{from, to}` as given; the field at fault is named.
    pub fn parse(phone: Option<&str>, from: Option<&str>, to: Option<&str>) -> Result<Self, FieldError> {
        let e164 = |field: &'static str, raw: &str| {
            E164::parse(raw).map_err(|e| FieldError::new(field, format!("{raw:?} is {e}.")))
        };
        match (blank(phone), blank(from), blank(to)) {
            (Some(p), None, None) => Ok(Self::Phone(e164("phone", p)?)),
            (Some(_), _, _) => Err(FieldError::new("phone", "Give a phone or a range (from, to), not both.")),
            (None, Some(f), Some(t)) => {
                let (from, to) = (e164("from", f)?, e164("to", t)?);
                if from.country_code() != to.country_code() || from.as_str().len() != to.as_str().len() {
                    return Err(FieldError::new("to", "A range stays in one country with numbers of one length."));
                }
                if phone_key(&from) > phone_key(&to) {
                    return Err(FieldError::new("to", "The range ends before it starts."));
                }
                Ok(if from == to { Self::Phone(from) } else { Self::Range { from, to } })
            }
            (None, None, Some(_)) => Err(FieldError::new("from", "A range needs its first number.")),
            (None, Some(_), None) => Err(FieldError::new("to", "A range needs its last number.")),
            (None, None, None) => Err(FieldError::new("phone", "Give a phone, or a range with from and to.")),
        }
    }

    pub fn keys(&self) -> (i64, i64) {
        match self {
            Self::Phone(p) => (phone_key(p), phone_key(p)),
            Self::Range { from, to } => (phone_key(from), phone_key(to)),
        }
    }
}

fn blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// One DNC entry.
#[derive(Clone, Debug, Serialize)]
pub struct DncEntry {
    pub id: Uuid,
    /// The phone, for a single-phone entry.
    pub phone: Option<String>,
    /// The first and last numbers covered (equal to `phone` for a single one).
    pub from: String,
    pub to: String,
    /// How many numbers the entry covers.
    pub count: i64,
    pub reason: String,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<UserId>,
}

type DncRow = (Uuid, i64, i64, String, DateTime<Utc>, Option<UserId>);

impl From<DncRow> for DncEntry {
    fn from((id, lo, hi, reason, created_at, created_by): DncRow) -> Self {
        let (from, to) = (format!("+{lo}"), format!("+{hi}"));
        Self {
            id,
            phone: (lo == hi).then(|| from.clone()),
            from,
            to,
            count: hi - lo + 1,
            reason,
            created_at,
            created_by,
        }
    }
}

const COLUMNS: &str = "id, lo, hi, reason, created_at, created_by";

/// A reason as people type it: trimmed, at most 500 characters.
pub fn parse_reason(raw: Option<&str>) -> Result<String, FieldError> {
    let reason = raw.unwrap_or_default().trim();
    if reason.chars().count() > 500 {
        return Err(FieldError::new("reason", "Keep the reason under 500 characters."));
    }
    Ok(reason.to_owned())
}

/// Adds an entry. Returns it and whether it is new (an identical span is not listed twice).
pub async fn insert(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    span: &DncSpan,
    reason: &str,
    actor: Option<UserId>,
) -> sqlx::Result<(DncEntry, bool)> {
    let (lo, hi) = span.keys();
    let existing: Option<DncRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM dnc_entries WHERE workspace_id = $1 AND lo = $2 AND hi = $3 LIMIT 1"
    )))
    .bind(workspace)
    .bind(lo)
    .bind(hi)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(row) = existing {
        return Ok((row.into(), false));
    }
    let row: DncRow = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "INSERT INTO dnc_entries (workspace_id, id, lo, hi, reason, created_by) VALUES ($1, $2, $3, $4, $5, $6) \
         RETURNING {COLUMNS}"
    )))
    .bind(workspace)
    .bind(Uuid::now_v7())
    .bind(lo)
    .bind(hi)
    .bind(reason)
    .bind(actor)
    .fetch_one(conn)
    .await?;
    Ok((row.into(), true))
}

/// A page of entries, newest first; `before` is the previous page's last id.
pub async fn list(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    before: Option<Uuid>,
    limit: i64,
) -> sqlx::Result<Vec<DncEntry>> {
    let rows: Vec<DncRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM dnc_entries WHERE workspace_id = $1 AND ($2::uuid IS NULL OR id < $2) \
         ORDER BY id DESC LIMIT $3"
    )))
    .bind(workspace)
    .bind(before)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(DncEntry::from).collect())
}

/// Removes an entry; returns it, or None when the workspace has no such entry.
pub async fn delete(conn: &mut PgConnection, workspace: WorkspaceId, id: Uuid) -> sqlx::Result<Option<DncEntry>> {
    let row: Option<DncRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "DELETE FROM dnc_entries WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}"
    )))
    .bind(workspace)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(DncEntry::from))
}

/// A number the carrier refused for good (invalid, or cannot take SMS).
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Undeliverable {
    pub phone: String,
    /// invalid or landline.
    pub reason: String,
    pub error_code: Option<i32>,
    pub at: DateTime<Utc>,
}

/// A page of undeliverable numbers ordered by phone; `after` is the previous page's last.
pub async fn undeliverable(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    after: Option<&str>,
    limit: i64,
) -> sqlx::Result<Vec<Undeliverable>> {
    sqlx::query_as(
        "SELECT phone, reason, error_code, at FROM undeliverable_numbers \
         WHERE workspace_id = $1 AND ($2::text IS NULL OR phone > $2) ORDER BY phone LIMIT $3",
    )
    .bind(workspace)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(r: Result<DncSpan, FieldError>) -> &'static str {
        r.unwrap_err().field
    }

    #[test]
    fn spans_parse_with_the_field_at_fault_named() {
        assert!(matches!(DncSpan::parse(Some("(415) 555-0100"), None, None), Ok(DncSpan::Phone(_))));
        let range = DncSpan::parse(None, Some("+14155550100"), Some("+14155550199")).unwrap();
        assert_eq!(range.keys(), (14155550100, 14155550199));
        assert_eq!(field(DncSpan::parse(None, Some("+14155550199"), Some("+14155550100"))), "to");
        assert_eq!(field(DncSpan::parse(None, Some("+14155550100"), Some("+442071838750"))), "to");
        assert_eq!(field(DncSpan::parse(None, Some("+14155550100"), None)), "to");
        assert_eq!(field(DncSpan::parse(None, None, Some("+14155550100"))), "from");
        assert_eq!(field(DncSpan::parse(Some("nope"), None, None)), "phone");
        assert_eq!(field(DncSpan::parse(Some("+14155550100"), Some("+14155550100"), None)), "phone");
        assert_eq!(field(DncSpan::parse(None, Some("x"), Some("+14155550100"))), "from");
        assert_eq!(field(DncSpan::parse(None, None, None)), "phone");
    }
}
