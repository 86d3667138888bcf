//! `POST .../opt-outs/import` and `POST .../dnc/import`: suppression lists as CSV (a `phone`
//! column; DNC files may give ranges as `from`,`to` instead, and a `reason`). Every source row is
//! answered — accepted, already listed, or rejected with the column at fault and why — and the
//! good rows land even when others are rejected (invariant 8). Opt-outs are recorded with source
//! `import` through `record_opt_out` (consent history kept), each one audited and published as
//! `consent.changed` after commit; each new DNC entry is audited; one entry sums up the import.

use axum::extract::State;
use serde::Serialize;
use switchboard_sender::compliance::dnc::{self, DncSpan};
use switchboard_sender::compliance::opt_outs;
use switchboard_sender::compliance::phone_list::{self, Column};
use switchboard_sender::compliance::suppression::{self, ConsentContext, OptOutSource};
use switchboard_sender::{E164, FieldError};
use utoipa::ToSchema;

use super::opt_outs::{audited, parse_phone, publish_consent};
use crate::audit::{self, Entry};
use crate::auth::guard::Member;
use crate::auth::roles::Permission;
use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Csv, Json};
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RowStatus {
    /// Newly opted out, or newly on the DNC list.
    Accepted,
    /// Already opted out (or already on the DNC list, or earlier in this file): nothing changed.
    AlreadyListed,
    Rejected,
}

/// The outcome of one source row.
#[derive(Debug, Serialize, ToSchema)]
pub struct RowResult {
    /// The row's line in the file; the header is line 1.
    pub row: u64,
    pub status: RowStatus,
    /// The phone (or the range's first number) in E.164, when it parsed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// For rejected rows: the column at fault and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportReport {
    pub rows: Vec<RowResult>,
    pub accepted: usize,
    pub already_listed: usize,
    pub rejected: usize,
    /// Header columns that are not part of the format and were ignored.
    pub ignored_columns: Vec<String>,
}

impl ImportReport {
    fn new(rows: Vec<RowResult>, ignored_columns: Vec<String>) -> Self {
        let count = |s: RowStatus| rows.iter().filter(|r| r.status == s).count();
        Self {
            accepted: count(RowStatus::Accepted),
            already_listed: count(RowStatus::AlreadyListed),
            rejected: count(RowStatus::Rejected),
            rows,
            ignored_columns,
        }
    }

    fn summary(&self) -> serde_json::Value {
        serde_json::json!({
            "rows": self.rows.len(), "accepted": self.accepted, "already_listed": self.already_listed,
            "rejected": self.rejected,
        })
    }
}

fn answered(row: u64, status: RowStatus, phone: &E164) -> RowResult {
    RowResult { row, status, phone: Some(phone.to_string()), reason: None, field: None }
}

fn rejected(row: u64, e: FieldError) -> RowResult {
    RowResult {
        row,
        status: RowStatus::Rejected,
        phone: None,
        reason: Some(e.to_string()),
        field: Some(e.field.into()),
    }
}

/// Import opt-outs from CSV (owner, admin, manager): `Content-Type: text/csv`, a `phone` column
/// and optionally `note`.
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/opt-outs/import", tag = "compliance",
    params(("workspace_id" = uuid::Uuid, Path)),
    request_body(content = String, content_type = "text/csv", description = "Header row, then one phone per row: phone, and optionally note."),
    responses((status = 200, body = ImportReport), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 415, body = ErrorBody)))]
pub async fn import_opt_outs(
    State(state): State<AppState>,
    member: Member,
    Csv(body): Csv,
) -> ApiResult<Json<ImportReport>> {
    member.require(&state, Permission::ManageCompliance, "opt_out.imported", "opt_out", None).await?;
    let file = phone_list::parse(&body)?;
    if !file.has(Column::Phone) {
        return Err(FieldError::new("phone", "The header has no phone column.").into());
    }
    let mut tx = state.db.begin().await?;
    let mut rows = Vec::with_capacity(file.rows.len());
    let mut opted_out = Vec::new();
    for source in file.rows {
        let line = source.line;
        let parsed = source.parsed.and_then(|cells| {
            let raw = cells.phone.ok_or_else(|| FieldError::new("phone", "The phone number is missing."))?;
            Ok((parse_phone("phone", &raw)?, opt_outs::parse_note(cells.note.as_deref())?))
        });
        let (phone, note) = match parsed {
            Ok(p) => p,
            Err(e) => {
                rows.push(rejected(line, e));
                continue;
            }
        };
        let ctx = ConsentContext { actor: Some(member.user_id()), note, ..Default::default() };
        let created =
            suppression::record_opt_out(&mut tx, member.workspace_id, &phone, OptOutSource::Import, &ctx).await?;
        if created {
            if let Some(opt_out) = opt_outs::get(&mut tx, member.workspace_id, &phone).await? {
                let mut after = audited(&opt_out);
                after["row"] = line.into();
                audit::record(
                    &mut *tx,
                    &member,
                    Entry::ok("opt_out.created", "opt_out", &phone).change(None, Some(after)),
                )
                .await?;
            }
            rows.push(answered(line, RowStatus::Accepted, &phone));
            opted_out.push(phone);
        } else {
            rows.push(answered(line, RowStatus::AlreadyListed, &phone));
        }
    }
    let report = ImportReport::new(rows, file.ignored_columns);
    let entry = Entry::ok("opt_out.imported", "opt_out", "import").change(None, Some(report.summary()));
    audit::record(&mut *tx, &member, entry).await?;
    tx.commit().await?;
    for phone in &opted_out {
        publish_consent(&state, member.workspace_id, phone, true);
    }
    Ok(Json(report))
}

/// Import DNC entries from CSV (owner, admin, manager): `Content-Type: text/csv`, a `phone`
/// column or `from` and `to` columns (a range per row), and optionally `reason`.
#[utoipa::path(post, path = "/api/workspaces/{workspace_id}/dnc/import", tag = "compliance",
    params(("workspace_id" = uuid::Uuid, Path)),
    request_body(content = String, content_type = "text/csv", description = "Header row, then per row: phone, or from and to (a range); optionally reason."),
    responses((status = 200, body = ImportReport), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
              (status = 415, body = ErrorBody)))]
pub async fn import_dnc(
    State(state): State<AppState>,
    member: Member,
    Csv(body): Csv,
) -> ApiResult<Json<ImportReport>> {
    member.require(&state, Permission::ManageCompliance, "dnc.imported", "dnc", None).await?;
    let file = phone_list::parse(&body)?;
    let ranges = file.has(Column::From) && file.has(Column::To);
    if !file.has(Column::Phone) && !ranges {
        return Err(FieldError::new("phone", "The header has no phone column (nor from and to columns).").into());
    }
    let mut tx = state.db.begin().await?;
    let mut rows = Vec::with_capacity(file.rows.len());
    for source in file.rows {
        let line = source.line;
        let parsed = source.parsed.and_then(|c| {
            let span = DncSpan::parse(c.phone.as_deref(), c.from.as_deref(), c.to.as_deref())?;
            Ok((span, dnc::parse_reason(c.reason.as_deref())?))
        });
        let (span, reason) = match parsed {
            Ok(p) => p,
            Err(e) => {
                rows.push(rejected(line, e));
                continue;
            }
        };
        let (entry, created) =
            dnc::insert(&mut tx, member.workspace_id, &span, &reason, Some(member.user_id())).await?;
        let first = match &span {
            DncSpan::Phone(p) | DncSpan::Range { from: p, .. } => p,
        };
        if created {
            let mut after = super::dnc::audited(&entry);
            after["row"] = line.into();
            audit::record(&mut *tx, &member, Entry::ok("dnc.created", "dnc", entry.id).change(None, Some(after)))
                .await?;
        }
        rows.push(answered(line, if created { RowStatus::Accepted } else { RowStatus::AlreadyListed }, first));
    }
    let report = ImportReport::new(rows, file.ignored_columns);
    let entry = Entry::ok("dnc.imported", "dnc", "import").change(None, Some(report.summary()));
    audit::record(&mut *tx, &member, entry).await?;
    tx.commit().await?;
    Ok(Json(report))
}
