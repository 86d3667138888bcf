//! Leads: the people campaigns text. Parsed at the edge ([`NewLead::parse`]: E.164 phone, tags,
//! line type, IANA time zone, two-letter state), listed with filters and keyset paging, inserted
//! one at a time or upserted in bulk by phone (every refused item answered with its index and
//! field), deleted. [`Lead::zone`] and [`Lead::region`] say where a lead lives for the sender.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::field_error::{FieldError, InputError, WriteError};
use crate::{E164, WorkspaceId, area_codes, state_zones, text_enum};

/// How many leads one bulk request may carry.
pub const BULK_MAX: usize = 10_000;

text_enum!(
    /// What kind of line a phone is (landlines are never texted).
    LineType { Mobile = "mobile", Landline = "landline", Voip = "voip", Unknown = "unknown" }
);

/// A lead as stored.
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct Lead {
    pub id: Uuid,
    pub phone: String,
    pub first_name: String,
    pub last_name: String,
    pub state: Option<String>,
    pub time_zone: Option<String>,
    pub tags: Vec<String>,
    pub vertical: Option<String>,
    pub line_type: LineType,
    pub attributes: Json<Value>,
    pub created_at: DateTime<Utc>,
}

impl Lead {
    /// The state the lead lives in: its own, else its area code's.
    pub fn region(&self) -> Option<String> {
        self.state.clone().or_else(|| {
            let phone = E164::parse(&self.phone).ok()?;
            area_codes::area_code(&phone).and_then(area_codes::state_of).map(str::to_owned)
        })
    }

    /// The lead's time zone: its own, else its area code's state's, else its address state's,
    /// else [`state_zones::DEFAULT_ZONE`].
    pub fn zone(&self) -> Tz {
        let own = self.time_zone.as_deref().and_then(|z| z.parse::<Tz>().ok());
        let by_area_code = || {
            let phone = E164::parse(&self.phone).ok()?;
            area_codes::area_code(&phone).and_then(area_codes::state_of).and_then(state_zones::zone_of)
        };
        let by_state = || self.state.as_deref().and_then(state_zones::zone_of);
        own.or_else(by_area_code).or_else(by_state).unwrap_or(state_zones::DEFAULT_ZONE)
    }

    /// Template variables: the attributes (strings and numbers), then the named columns.
    pub fn values(&self) -> HashMap<String, String> {
        let mut values: HashMap<String, String> = HashMap::new();
        if let Value::Object(map) = &self.attributes.0 {
            for (k, v) in map {
                let text = match v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => continue,
                };
                values.insert(k.to_ascii_lowercase(), text);
            }
        }
        values.insert("first_name".into(), self.first_name.clone());
        values.insert("last_name".into(), self.last_name.clone());
        values.insert("phone".into(), self.phone.clone());
        if let Some(state) = self.region() {
            values.insert("state".into(), state);
        }
        values
    }
}

/// A lead as sent in a request, before parsing.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLead {
    pub phone: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub state: Option<String>,
    pub time_zone: Option<String>,
    pub tags: Option<Vec<String>>,
    pub vertical: Option<String>,
    pub line_type: Option<String>,
    pub attributes: Option<Value>,
}

/// A lead that is valid by construction.
#[derive(Clone, Debug, Serialize)]
pub struct NewLead {
    pub phone: E164,
    pub first_name: String,
    pub last_name: String,
    pub state: Option<String>,
    pub time_zone: Option<String>,
    pub tags: Vec<String>,
    pub vertical: Option<String>,
    pub line_type: LineType,
    pub attributes: Map<String, Value>,
}

fn name(field: &'static str, raw: Option<String>) -> Result<String, FieldError> {
    let v = raw.unwrap_or_default().trim().to_owned();
    if v.chars().count() > 100 {
        return Err(FieldError::new(field, "Use at most 100 characters."));
    }
    Ok(v)
}

/// A two-letter state or province code the area-code table knows (upper-cased).
pub fn parse_state(field: &'static str, raw: &str) -> Result<String, FieldError> {
    let s = raw.trim().to_ascii_uppercase();
    if s.len() != 2 || !area_codes::is_known_state(&s) {
        return Err(FieldError::new(field, format!("{raw:?} is not a two-letter US state or Canadian province.")));
    }
    Ok(s)
}

/// A tag: 1–50 characters of letters, digits, `-`, `_`, `:` or space (lower-cased).
pub fn parse_tag(field: &'static str, raw: &str) -> Result<String, FieldError> {
    let t = raw.trim().to_lowercase();
    let ok = |c: char| c.is_alphanumeric() || matches!(c, '-' | '_' | ':' | ' ');
    if t.is_empty() || t.chars().count() > 50 || !t.chars().all(ok) {
        return Err(FieldError::new(field, format!("{raw:?}: use 1–50 letters, digits, -, _, : or spaces.")));
    }
    Ok(t)
}

/// A vertical (e.g. `real_estate`): 1–50 lower-case letters, digits or `_`.
pub fn parse_vertical(field: &'static str, raw: &str) -> Result<String, FieldError> {
    let v = raw.trim().to_ascii_lowercase();
    if v.is_empty() || v.len() > 50 || !v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(FieldError::new(field, "Use 1–50 letters, digits or _, e.g. real_estate."));
    }
    Ok(v)
}

impl RawLead {
    pub fn parse(self) -> Result<NewLead, FieldError> {
        let phone =
            E164::parse(&self.phone).map_err(|e| FieldError::new("phone", format!("{:?} is {e}.", self.phone)))?;
        let state = self.state.as_deref().filter(|s| !s.trim().is_empty()).map(|s| parse_state("state", s));
        let time_zone = match self.time_zone.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(z) => Some(
                z.parse::<Tz>()
                    .map_err(|_| {
                        FieldError::new("time_zone", format!("{z:?} is not an IANA zone like America/Chicago."))
                    })?
                    .name()
                    .to_owned(),
            ),
            None => None,
        };
        let mut tags = Vec::new();
        for raw in self.tags.unwrap_or_default() {
            let tag = parse_tag("tags", &raw)?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        if tags.len() > 50 {
            return Err(FieldError::new("tags", "Give at most 50 tags."));
        }
        let attributes = match self.attributes {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => return Err(FieldError::new("attributes", "Give an object of names to values.")),
        };
        Ok(NewLead {
            phone,
            first_name: name("first_name", self.first_name)?,
            last_name: name("last_name", self.last_name)?,
            state: state.transpose()?,
            time_zone,
            tags,
            vertical: self.vertical.as_deref().map(|v| parse_vertical("vertical", v)).transpose()?,
            line_type: match self.line_type.as_deref() {
                None => LineType::Unknown,
                Some(t) => t.parse().map_err(|m| FieldError::new("line_type", m))?,
            },
            attributes,
        })
    }
}

/// Filters and a page of the lead list, ordered by id (creation order).
#[derive(Clone, Debug, Default)]
pub struct LeadFilter {
    /// Part of the phone or a name, case-insensitive.
    pub q: Option<String>,
    pub tag: Option<String>,
    pub state: Option<String>,
    /// Keyset cursor: leads after this id.
    pub after: Option<Uuid>,
    pub limit: i64,
}

const COLUMNS: &str =
    "id, phone, first_name, last_name, state, time_zone, tags, vertical, line_type, attributes, created_at";

pub async fn list(conn: &mut PgConnection, ws: WorkspaceId, f: &LeadFilter) -> sqlx::Result<Vec<Lead>> {
    let pattern =
        f.q.as_deref().map(|q| format!("%{}%", q.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM leads WHERE workspace_id = $1 \
         AND ($2::text IS NULL OR phone ILIKE $2 OR first_name ILIKE $2 OR last_name ILIKE $2 \
              OR (first_name || ' ' || last_name) ILIKE $2) \
         AND ($3::text IS NULL OR tags @> ARRAY[$3]) AND ($4::text IS NULL OR state = $4) \
         AND ($5::uuid IS NULL OR id > $5) ORDER BY id LIMIT $6"
    )))
    .bind(ws)
    .bind(pattern)
    .bind(f.tag.as_deref())
    .bind(f.state.as_deref())
    .bind(f.after)
    .bind(f.limit)
    .fetch_all(conn)
    .await
}

pub async fn get(conn: &mut PgConnection, ws: WorkspaceId, id: Uuid) -> sqlx::Result<Option<Lead>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT {COLUMNS} FROM leads WHERE workspace_id = $1 AND id = $2")))
        .bind(ws)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Inserts one lead; a phone the workspace already has is a duplicate on `phone`.
pub async fn insert(conn: &mut PgConnection, ws: WorkspaceId, lead: &NewLead) -> Result<Lead, WriteError> {
    let (created, _) = upsert(conn, ws, std::slice::from_ref(lead), false).await?;
    if created == 0 {
        return Err(WriteError::Duplicate(FieldError::new(
            "phone",
            "This workspace already has a lead with that phone.",
        )));
    }
    let row: Lead = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM leads WHERE workspace_id = $1 AND phone = $2"
    )))
    .bind(ws)
    .bind(lead.phone.as_str())
    .fetch_one(conn)
    .await?;
    Ok(row)
}

/// Inserts `leads`, updating those whose phone exists when `update` is set (else leaving them).
/// Phones must be distinct within one call. Returns (created, updated).
async fn upsert(conn: &mut PgConnection, ws: WorkspaceId, leads: &[NewLead], update: bool) -> sqlx::Result<(u64, u64)> {
    let rows: Vec<Value> = leads
        .iter()
        .map(|l| {
            let mut v = serde_json::to_value(l).expect("a lead serializes");
            v["id"] = Value::String(Uuid::now_v7().to_string());
            v
        })
        .collect();
    let on_conflict = if update {
        "DO UPDATE SET first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name, state = EXCLUDED.state, \
         time_zone = EXCLUDED.time_zone, tags = EXCLUDED.tags, vertical = EXCLUDED.vertical, \
         line_type = EXCLUDED.line_type, attributes = EXCLUDED.attributes"
    } else {
        "DO NOTHING"
    };
    let inserted: Vec<bool> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "INSERT INTO leads (workspace_id, id, phone, first_name, last_name, state, time_zone, tags, vertical, \
         line_type, attributes) \
         SELECT $1, t.id, t.phone, t.first_name, t.last_name, t.state, t.time_zone, t.tags, t.vertical, \
                t.line_type, t.attributes \
         FROM jsonb_to_recordset($2) AS t(id uuid, phone text, first_name text, last_name text, state text, \
              time_zone text, tags text[], vertical text, line_type text, attributes jsonb) \
         ON CONFLICT (workspace_id, phone) {on_conflict} RETURNING (xmax = 0)"
    )))
    .bind(ws)
    .bind(Json(rows))
    .fetch_all(conn)
    .await?;
    let created = inserted.iter().filter(|i| **i).count() as u64;
    Ok((created, inserted.len() as u64 - created))
}

/// What a bulk upsert did: counts and every refused item.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BulkOutcome {
    pub created: u64,
    pub updated: u64,
    pub errors: Vec<BulkError>,
}

/// An item of a bulk request that was refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BulkError {
    pub index: usize,
    pub field: String,
    pub message: String,
}

/// Parses every item (a repeated phone is refused at its later index) and upserts the valid
/// ones by phone in one statement.
pub async fn bulk_upsert(conn: &mut PgConnection, ws: WorkspaceId, raw: Vec<RawLead>) -> sqlx::Result<BulkOutcome> {
    let mut seen: HashMap<E164, usize> = HashMap::new();
    let mut valid = Vec::new();
    let mut errors = Vec::new();
    for (index, item) in raw.into_iter().enumerate() {
        let refused =
            |e: InputError| BulkError { index, field: format!("leads[{index}].{}", e.field), message: e.message };
        match item.parse() {
            Err(e) => errors.push(refused(e.into())),
            Ok(lead) => match seen.get(&lead.phone) {
                Some(first) => {
                    errors.push(refused(InputError::new("phone", format!("Repeats the phone of item {first}."))))
                }
                None => {
                    seen.insert(lead.phone.clone(), index);
                    valid.push(lead);
                }
            },
        }
    }
    let (created, updated) = if valid.is_empty() { (0, 0) } else { upsert(conn, ws, &valid, true).await? };
    Ok(BulkOutcome { created, updated, errors })
}

pub async fn delete(conn: &mut PgConnection, ws: WorkspaceId, id: Uuid) -> sqlx::Result<Option<Lead>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "DELETE FROM leads WHERE workspace_id = $1 AND id = $2 RETURNING {COLUMNS}"
    )))
    .bind(ws)
    .bind(id)
    .fetch_optional(conn)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(phone: &str) -> RawLead {
        RawLead { phone: phone.into(), ..Default::default() }
    }

    #[test]
    fn parsing_names_the_field_at_fault() {
        assert_eq!(raw("hello").parse().unwrap_err().field, "phone");
        let bad_zone = RawLead { time_zone: Some("Mars/Olympus".into()), ..raw("+14155552671") };
        assert_eq!(bad_zone.parse().unwrap_err().field, "time_zone");
        let bad_state = RawLead { state: Some("ZZ".into()), ..raw("+14155552671") };
        assert_eq!(bad_state.parse().unwrap_err().field, "state");
        let bad_line = RawLead { line_type: Some("fax".into()), ..raw("+14155552671") };
        assert_eq!(bad_line.parse().unwrap_err().field, "line_type");
        let ok =
            RawLead { tags: Some(vec!["Hot".into(), "hot".into()]), state: Some("fl".into()), ..raw("3055550123") };
        let lead = ok.parse().unwrap();
        assert_eq!(
            (lead.phone.as_str(), lead.tags.as_slice(), lead.state.as_deref()),
            ("+13055550123", &["hot".to_owned()][..], Some("FL"))
        );
    }

    fn lead(phone: &str, state: Option<&str>, tz: Option<&str>) -> Lead {
        Lead {
            id: Uuid::nil(),
            phone: phone.into(),
            first_name: String::new(),
            last_name: String::new(),
            state: state.map(Into::into),
            time_zone: tz.map(Into::into),
            tags: vec![],
            vertical: None,
            line_type: LineType::Unknown,
            attributes: Json(Value::Object(Map::new())),
            created_at: Utc::now(),
        }
    }

    #[test]
    fn zone_is_own_else_area_code_else_state() {
        assert_eq!(lead("+14155552671", None, Some("America/Denver")).zone(), chrono_tz::America::Denver);
        assert_eq!(lead("+14155552671", Some("TX"), None).zone(), chrono_tz::America::Los_Angeles);
        assert_eq!(lead("+442079460958", Some("TX"), None).zone(), chrono_tz::America::Chicago);
        assert_eq!(lead("+442079460958", None, None).zone(), state_zones::DEFAULT_ZONE);
        assert_eq!(lead("+13055550123", None, None).region().as_deref(), Some("FL"));
    }
}
