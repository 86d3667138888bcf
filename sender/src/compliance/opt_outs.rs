//! Reading and curating the workspace's opt-outs: the list (phone-prefix search, the
//! needs-review queue, keyset paging by phone), one opt-out with its consent history, and
//! marking a plain-language revocation reviewed. Recording and lifting opt-outs goes through
//! `suppression::record_opt_out` / `record_opt_in`, so every change lands in `consent_events`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;

use crate::field_error::FieldError;
use crate::ids::{UserId, WorkspaceId};
use crate::phone::E164;

/// One opted-out phone.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct OptOut {
    pub phone: String,
    pub opted_out_at: DateTime<Utc>,
    /// keyword, phrase, carrier, manual or import.
    pub source: String,
    /// Our number they wrote to, or that got 21610.
    pub via_number: Option<String>,
    pub needs_review: bool,
    pub note: Option<String>,
}

/// One entry of a phone's consent history.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct ConsentEvent {
    pub id: i64,
    /// opt_out or opt_in.
    pub kind: String,
    pub source: String,
    pub via_number: Option<String>,
    pub message_sid: Option<String>,
    pub actor_id: Option<UserId>,
    pub at: DateTime<Utc>,
}

/// What the list shows.
#[derive(Clone, Debug, Default)]
pub struct OptOutFilter {
    /// E.164 digits the phone starts with (without the `+`).
    pub prefix: Option<String>,
    pub needs_review: Option<bool>,
    /// Phones after this one (the previous page's last).
    pub after: Option<String>,
    pub limit: i64,
}

/// Parses a phone-prefix search: digits, optionally after a `+` (`1415`, `+1415`); spaces,
/// dashes and brackets are ignored.
pub fn parse_prefix(raw: &str) -> Result<Option<String>, FieldError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let body = trimmed.strip_prefix('+').unwrap_or(trimmed);
    let digits: String = body.chars().filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.')).collect();
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new("q", "Search by the number's first digits with the country code, e.g. 1415."));
    }
    Ok(Some(digits))
}

/// A page of opt-outs ordered by phone.
pub async fn list(conn: &mut PgConnection, workspace: WorkspaceId, f: &OptOutFilter) -> sqlx::Result<Vec<OptOut>> {
    sqlx::query_as(
        "SELECT phone, opted_out_at, source, via_number, needs_review, note FROM opt_outs \
         WHERE workspace_id = $1 AND ($2::text IS NULL OR starts_with(phone, '+' || $2)) \
           AND ($3::boolean IS NULL OR needs_review = $3) AND ($4::text IS NULL OR phone > $4) \
         ORDER BY phone LIMIT $5",
    )
    .bind(workspace)
    .bind(&f.prefix)
    .bind(f.needs_review)
    .bind(&f.after)
    .bind(f.limit)
    .fetch_all(conn)
    .await
}

/// The phone's current opt-out, if it is opted out.
pub async fn get(conn: &mut PgConnection, workspace: WorkspaceId, phone: &E164) -> sqlx::Result<Option<OptOut>> {
    sqlx::query_as(
        "SELECT phone, opted_out_at, source, via_number, needs_review, note FROM opt_outs \
         WHERE workspace_id = $1 AND phone = $2",
    )
    .bind(workspace)
    .bind(phone.as_str())
    .fetch_optional(conn)
    .await
}

/// Every opt-out and opt-in of the phone, oldest first.
pub async fn history(conn: &mut PgConnection, workspace: WorkspaceId, phone: &E164) -> sqlx::Result<Vec<ConsentEvent>> {
    sqlx::query_as(
        "SELECT id, kind, source, via_number, message_sid, actor_id, at FROM consent_events \
         WHERE workspace_id = $1 AND phone = $2 ORDER BY id",
    )
    .bind(workspace)
    .bind(phone.as_str())
    .fetch_all(conn)
    .await
}

/// Clears the review flag (a person read the revocation and agrees); a given note replaces the
/// stored one. Returns the opt-out before and after, or None when the phone is not opted out.
pub async fn mark_reviewed(
    conn: &mut PgConnection,
    workspace: WorkspaceId,
    phone: &E164,
    note: Option<&str>,
) -> sqlx::Result<Option<(OptOut, OptOut)>> {
    let before: Option<OptOut> = sqlx::query_as(
        "SELECT phone, opted_out_at, source, via_number, needs_review, note FROM opt_outs \
         WHERE workspace_id = $1 AND phone = $2 FOR UPDATE",
    )
    .bind(workspace)
    .bind(phone.as_str())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(before) = before else { return Ok(None) };
    let after: OptOut = sqlx::query_as(
        "UPDATE opt_outs SET needs_review = false, note = COALESCE($3, note) WHERE workspace_id = $1 AND phone = $2 \
         RETURNING phone, opted_out_at, source, via_number, needs_review, note",
    )
    .bind(workspace)
    .bind(phone.as_str())
    .bind(note)
    .fetch_one(conn)
    .await?;
    Ok(Some((before, after)))
}

/// A note as people type it: trimmed, at most 1,000 characters, blank is none.
pub fn parse_note(raw: Option<&str>) -> Result<Option<String>, FieldError> {
    let Some(note) = raw.map(str::trim).filter(|n| !n.is_empty()) else { return Ok(None) };
    if note.chars().count() > 1000 {
        return Err(FieldError::new("note", "Keep the note under 1,000 characters."));
    }
    Ok(Some(note.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_digits_with_an_optional_plus() {
        assert_eq!(parse_prefix("+1 415").unwrap().as_deref(), Some("1415"));
        assert_eq!(parse_prefix("1415").unwrap().as_deref(), Some("1415"));
        assert_eq!(parse_prefix("  ").unwrap(), None);
        assert_eq!(parse_prefix("abc").unwrap_err().field, "q");
        assert!(parse_prefix("+").is_err());
    }
}
