//! `POST .../numbers/import`: a CSV file of numbers (format in docs/carrier.md and
//! `switchboard_sender::number_import`). Every source row is answered — created, updated (the
//! workspace already had the number) or rejected with the column at fault and why — and the good
//! rows land even when others are rejected (invariant 8). Each created or updated number is
//! audited like a change through the API, plus one entry for the import as a whole.

use std::collections::HashMap;

use axum::extract::State;
use serde::Serialize;
use sqlx::{Acquire, PgConnection};
use switchboard_sender::number_import::{self, NumberRow};
use switchboard_sender::numbers::{self, Health, NumberSpec, NumberStatus, PhoneNumber};
use switchboard_sender::{FieldError, WorkspaceId, WriteError, accounts};
use utoipa::ToSchema;
use uuid::Uuid;

use super::numbers::audited;
use crate::audit::{self, Entry};
use crate::auth::guard::Member;
use crate::auth::roles::Permission;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Csv, Json};
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RowStatus {
    Created,
    Updated,
    Rejected,
}

/// The outcome of one source row.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowResult {
    /// The row's line in the file; the header is line 1.
    pub row: u64,
    pub status: RowStatus,
    /// For rejected rows: the column at fault and why, e.g. `e164: "12" is not a phone number.`
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For rejected rows: the column at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e164: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number_id: Option<Uuid>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub rows: Vec<RowResult>,
    pub created: usize,
    pub updated: usize,
    pub rejected: usize,
    /// Header columns that are not part of the format and were ignored.
    pub ignored_columns: Vec<String>,
}

fn rejected(row: u64, e: FieldError, e164: Option<String>) -> RowResult {
    RowResult {
        row,
        status: RowStatus::Rejected,
        reason: Some(e.to_string()),
        field: Some(e.field.to_owned()),
        e164,
        number_id: None,
    }
}

/// Import numbers from CSV (owner, admin). Send the file as the body with `Content-Type: text/csv`.
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/numbers/import", tag = "carrier",
    params(("workspace_id" = Uuid, Path)),
    request_body(content = String, content_type = "text/csv",
        description = "Header row, then one number per row: e164 (or phone), account_sid, and optionally sms, mms, campaign_10dlc, mps, daily_cap, state."),
    responses((status = 200, body = ImportReport), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 415, body = ErrorBody)))]
pub async fn import(State(state): State<AppState>, member: Member, Csv(body): Csv) -> ApiResult<Json<ImportReport>> {
    member.require(&state, Permission::ManageCarrier, "number.imported", "number", None).await?;
    let file = number_import::parse(&body)?;
    let mut tx = state.db.begin().await?;
    let sids = accounts::ids_by_sid(&mut tx, member.workspace_id).await?;
    let mut first_seen: HashMap<String, u64> = HashMap::new();
    let mut rows = Vec::with_capacity(file.rows.len());
    for source in file.rows {
        let line = source.line;
        let row = match source.parsed {
            Err(e) => rejected(line, e, None),
            Ok(parsed) => {
                let e164 = parsed.e164.as_str().to_owned();
                if let Some(first) = first_seen.get(&e164) {
                    let why = format!("Duplicate of row {first} in this file.");
                    rows.push(rejected(line, FieldError::new("e164", why), Some(e164)));
                    continue;
                }
                first_seen.insert(e164.clone(), line);
                let Some(&account_id) = sids.get(parsed.account_sid.as_str()) else {
                    let why = format!("No account {} in this workspace.", parsed.account_sid);
                    rows.push(rejected(line, FieldError::new("account_sid", why), Some(e164)));
                    continue;
                };
                // A savepoint per row: a row the database refuses does not undo the others.
                let mut savepoint = tx.begin().await?;
                match upsert(&mut savepoint, member.workspace_id, account_id, &parsed).await {
                    Ok((before, after)) => {
                        let (status, action) = match before {
                            None => (RowStatus::Created, "number.created"),
                            Some(_) => (RowStatus::Updated, "number.updated"),
                        };
                        let mut after_json = audited(&after);
                        after_json["source"] = format!("import row {line}").into();
                        let entry = Entry::ok(action, "number", after.id)
                            .change(before.as_ref().map(audited), Some(after_json));
                        audit::record(&mut *savepoint, &member, entry).await?;
                        savepoint.commit().await?;
                        RowResult {
                            row: line,
                            status,
                            reason: None,
                            field: None,
                            e164: Some(e164),
                            number_id: Some(after.id),
                        }
                    }
                    Err(WriteError::Invalid(e) | WriteError::Duplicate(e)) => {
                        savepoint.rollback().await?;
                        rejected(line, e, Some(e164))
                    }
                    Err(WriteError::Db(e)) => return Err(e.into()),
                }
            }
        };
        rows.push(row);
    }
    let count = |s: RowStatus| rows.iter().filter(|r| r.status == s).count();
    let report = ImportReport {
        created: count(RowStatus::Created),
        updated: count(RowStatus::Updated),
        rejected: count(RowStatus::Rejected),
        rows,
        ignored_columns: file.ignored_columns,
    };
    let summary = serde_json::json!({
        "rows": report.rows.len(), "created": report.created, "updated": report.updated, "rejected": report.rejected,
    });
    audit::record(&mut *tx, &member, Entry::ok("number.imported", "number", "import").change(None, Some(summary)))
        .await?;
    tx.commit().await?;
    Ok(Json(report))
}

/// Creates the number, or updates the one the workspace already has: the file's columns
/// replace the stored ones; warm-up, health and status stay.
async fn upsert(
    conn: &mut PgConnection,
    workspace_id: WorkspaceId,
    account_id: Uuid,
    row: &NumberRow,
) -> Result<(Option<PhoneNumber>, PhoneNumber), WriteError> {
    let existing = numbers::get_by_e164(conn, workspace_id, &row.e164).await?;
    let before = match existing {
        Some(n) => numbers::lock(conn, workspace_id, n.id).await?,
        None => None,
    };
    let (warmup, health, status) = match &before {
        Some(b) => (numbers::spec_of(b).map_err(WriteError::Invalid)?.warmup, b.health, b.status),
        None => (None, Health::Good, NumberStatus::Active),
    };
    let spec = NumberSpec {
        e164: row.e164.clone(),
        account_id,
        sms: row.sms,
        mms: row.mms,
        state: row.state.clone(),
        campaign_10dlc: row.campaign_10dlc.clone(),
        mps: row.mps,
        daily_cap: row.daily_cap,
        warmup,
        health,
        status,
    };
    let after = match &before {
        Some(b) => numbers::replace(conn, workspace_id, b.id, &spec).await?,
        None => numbers::insert(conn, workspace_id, &spec).await?,
    };
    Ok((before, after))
}
