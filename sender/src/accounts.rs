//! Twilio accounts a workspace sends through: SID, auth token (sealed at rest, see
//! `secretbox`), optional API key, base URL (Twilio or the simulator), caps and status.
//! Values are parsed at the edge into the types here; queries take the `WorkspaceId` first and
//! filter by it, so one workspace never reads or changes another's accounts.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::field_error::{FieldError, WriteError};
use crate::secretbox::{self, Sealed, Secret};
use crate::{WorkspaceId, text_enum};

text_enum!(
    /// Whether the sender may use an account. `failing` is set by the engine (bad credentials,
    /// circuit breaker) and by people; `paused` only by people.
    AccountStatus { Active = "active", Paused = "paused", Failing = "failing" }
);

macro_rules! sid_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// `PREFIX` + 32 hex digits; hex is normalized to lowercase.
            pub fn parse(raw: &str) -> Result<Self, String> {
                let raw = raw.trim();
                let hex = raw.strip_prefix($prefix).unwrap_or("");
                if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(format!("Expected {} followed by 32 hexadecimal digits.", $prefix));
                }
                Ok(Self(format!("{}{}", $prefix, hex.to_ascii_lowercase())))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

sid_type!(
    /// A Twilio account SID: `AC` + 32 hex digits.
    AccountSid,
    "AC"
);
sid_type!(
    /// A Twilio API key SID: `SK` + 32 hex digits.
    ApiKeySid,
    "SK"
);

pub const DEFAULT_BASE_URL: &str = "https://api.twilio.com";

/// The carrier's API root: an absolute http(s) URL without credentials, query or fragment,
/// kept without a trailing slash.
pub fn parse_base_url(raw: &str) -> Result<String, String> {
    let url = url::Url::parse(raw.trim()).map_err(|e| format!("Not a URL: {e}."))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err("Use an http:// or https:// URL with a host.".into());
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err("Leave credentials, query and fragment out of the base URL.".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A name of 1–100 characters.
pub fn parse_name(raw: &str) -> Result<String, FieldError> {
    let name = raw.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(FieldError::new("name", "Name the account (1–100 characters)."));
    }
    Ok(name.to_owned())
}

/// An auth token or API key secret as typed: 8–256 visible characters.
pub fn parse_secret(field: &'static str, raw: &str) -> Result<Secret, FieldError> {
    let raw = raw.trim();
    if raw.len() < 8 || raw.len() > 256 || raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(FieldError::new(field, "Expected 8–256 characters without spaces."));
    }
    Ok(Secret::new(raw))
}

/// A positive cap, or None for no cap.
pub fn parse_cap(field: &'static str, value: Option<i64>) -> Result<Option<i32>, FieldError> {
    match value {
        None => Ok(None),
        Some(v) if (1..=10_000_000).contains(&v) => Ok(Some(v as i32)),
        Some(_) => Err(FieldError::new(field, "Use a whole number from 1 to 10,000,000, or null for no cap.")),
    }
}

/// A messages-per-second rate, or None for no cap.
pub fn parse_mps(field: &'static str, value: Option<f64>) -> Result<Option<f64>, FieldError> {
    match value {
        None => Ok(None),
        Some(v) if v.is_finite() && v > 0.0 && v <= 10_000.0 => Ok(Some((v * 1000.0).round() / 1000.0)),
        Some(_) => Err(FieldError::new(field, "Use a number of messages per second above 0 and at most 10,000.")),
    }
}

/// An account as shown to members: everything but the secrets (of which only whether they are
/// set and the token's last four characters).
#[derive(Clone, Debug, Serialize, sqlx::FromRow)]
pub struct CarrierAccount {
    pub id: Uuid,
    pub name: String,
    pub account_sid: String,
    pub auth_token_set: bool,
    pub auth_token_last4: String,
    pub api_key_sid: Option<String>,
    pub api_key_secret_set: bool,
    pub base_url: String,
    pub daily_cap: Option<i32>,
    pub mps_cap: Option<f64>,
    pub status: AccountStatus,
    pub number_count: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

const SELECT_ACCOUNT: &str = "SELECT a.id, a.name, a.account_sid, true AS auth_token_set, a.auth_token_last4, \
    a.api_key_sid, a.api_key_secret_ciphertext IS NOT NULL AS api_key_secret_set, a.base_url, a.daily_cap, \
    a.mps_cap::float8 AS mps_cap, a.status, \
    (SELECT count(*) FROM phone_numbers n WHERE n.workspace_id = a.workspace_id AND n.account_id = a.id) AS number_count, \
    a.created_at, a.updated_at FROM carrier_accounts a WHERE a.workspace_id = $1";

/// A new account, parsed.
#[derive(Debug)]
pub struct NewAccount {
    pub name: String,
    pub account_sid: AccountSid,
    pub auth_token: Secret,
    pub api_key: Option<(ApiKeySid, Secret)>,
    pub base_url: String,
    pub daily_cap: Option<i32>,
    pub mps_cap: Option<f64>,
    pub status: AccountStatus,
}

/// A partial update, parsed; `None` leaves a field alone, `Some(None)` clears an optional one.
#[derive(Debug, Default)]
pub struct AccountChange {
    pub name: Option<String>,
    pub auth_token: Option<Secret>,
    pub api_key: Option<Option<(ApiKeySid, Secret)>>,
    pub base_url: Option<String>,
    pub daily_cap: Option<Option<i32>>,
    pub mps_cap: Option<Option<f64>>,
    pub status: Option<AccountStatus>,
}

pub const AUTH_TOKEN_COLUMN: &str = "auth_token";
pub const API_KEY_SECRET_COLUMN: &str = "api_key_secret";

fn seal(key: &[u8; 32], workspace_id: WorkspaceId, id: Uuid, column: &str, secret: &Secret) -> Sealed {
    secretbox::seal(key, &secretbox::binding(workspace_id, id, column), secret)
}

fn duplicate_sid(e: sqlx::Error) -> WriteError {
    if let sqlx::Error::Database(db) = &e
        && db.constraint() == Some("carrier_accounts_sid_key")
    {
        return WriteError::Duplicate(FieldError::new(
            "account_sid",
            "This workspace already has an account with that SID.",
        ));
    }
    WriteError::Db(e)
}

pub async fn list(conn: &mut PgConnection, workspace_id: WorkspaceId) -> sqlx::Result<Vec<CarrierAccount>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_ACCOUNT} ORDER BY a.name, a.id")))
        .bind(workspace_id)
        .fetch_all(conn)
        .await
}

pub async fn get(conn: &mut PgConnection, workspace_id: WorkspaceId, id: Uuid) -> sqlx::Result<Option<CarrierAccount>> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT_ACCOUNT} AND a.id = $2")))
        .bind(workspace_id)
        .bind(id)
        .fetch_optional(conn)
        .await
}

/// Account ids by SID, for resolving the `account_sid` column of a numbers import.
pub async fn ids_by_sid(
    conn: &mut PgConnection,
    workspace_id: WorkspaceId,
) -> sqlx::Result<std::collections::HashMap<String, Uuid>> {
    let rows: Vec<(String, Uuid)> =
        sqlx::query_as("SELECT account_sid, id FROM carrier_accounts WHERE workspace_id = $1")
            .bind(workspace_id)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().collect())
}

pub async fn insert(
    conn: &mut PgConnection,
    workspace_id: WorkspaceId,
    key: &[u8; 32],
    new: &NewAccount,
) -> Result<CarrierAccount, WriteError> {
    let id = Uuid::now_v7();
    let token = seal(key, workspace_id, id, AUTH_TOKEN_COLUMN, &new.auth_token);
    let api_secret = new.api_key.as_ref().map(|(_, s)| seal(key, workspace_id, id, API_KEY_SECRET_COLUMN, s));
    sqlx::query(
        "INSERT INTO carrier_accounts (workspace_id, id, name, account_sid, auth_token_ciphertext, auth_token_nonce, \
         auth_token_last4, api_key_sid, api_key_secret_ciphertext, api_key_secret_nonce, base_url, daily_cap, mps_cap, \
         status) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,CAST($13::float8 AS numeric),$14)",
    )
    .bind(workspace_id)
    .bind(id)
    .bind(&new.name)
    .bind(new.account_sid.as_str())
    .bind(&token.ciphertext)
    .bind(&token.nonce)
    .bind(new.auth_token.hint())
    .bind(new.api_key.as_ref().map(|(sid, _)| sid.as_str()))
    .bind(api_secret.as_ref().map(|s| &s.ciphertext))
    .bind(api_secret.as_ref().map(|s| &s.nonce))
    .bind(&new.base_url)
    .bind(new.daily_cap)
    .bind(new.mps_cap)
    .bind(new.status)
    .execute(&mut *conn)
    .await
    .map_err(duplicate_sid)?;
    Ok(get(conn, workspace_id, id).await?.ok_or(sqlx::Error::RowNotFound)?)
}

/// Applies `change` to a locked row; returns (before, after), or None when there is no such
/// account in this workspace.
pub async fn update(
    conn: &mut PgConnection,
    workspace_id: WorkspaceId,
    key: &[u8; 32],
    id: Uuid,
    change: &AccountChange,
) -> Result<Option<(CarrierAccount, CarrierAccount)>, WriteError> {
    let locked: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM carrier_accounts WHERE workspace_id = $1 AND id = $2 FOR UPDATE")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    if locked.is_none() {
        return Ok(None);
    }
    let before = get(conn, workspace_id, id).await?.ok_or(sqlx::Error::RowNotFound)?;
    let token = change.auth_token.as_ref().map(|t| (seal(key, workspace_id, id, AUTH_TOKEN_COLUMN, t), t.hint()));
    let api_key = change.api_key.as_ref().map(|k| {
        k.as_ref().map(|(sid, secret)| (sid.as_str(), seal(key, workspace_id, id, API_KEY_SECRET_COLUMN, secret)))
    });
    sqlx::query(
        "UPDATE carrier_accounts SET name = COALESCE($3, name), \
         auth_token_ciphertext = COALESCE($4, auth_token_ciphertext), auth_token_nonce = COALESCE($5, auth_token_nonce), \
         auth_token_last4 = COALESCE($6, auth_token_last4), \
         api_key_sid = CASE WHEN $7 THEN $8 ELSE api_key_sid END, \
         api_key_secret_ciphertext = CASE WHEN $7 THEN $9 ELSE api_key_secret_ciphertext END, \
         api_key_secret_nonce = CASE WHEN $7 THEN $10 ELSE api_key_secret_nonce END, \
         base_url = COALESCE($11, base_url), \
         daily_cap = CASE WHEN $12 THEN $13 ELSE daily_cap END, \
         mps_cap = CASE WHEN $14 THEN CAST($15::float8 AS numeric) ELSE mps_cap END, \
         status = COALESCE($16, status), updated_at = now() \
         WHERE workspace_id = $1 AND id = $2",
    )
    .bind(workspace_id)
    .bind(id)
    .bind(change.name.as_deref())
    .bind(token.as_ref().map(|(s, _)| &s.ciphertext))
    .bind(token.as_ref().map(|(s, _)| &s.nonce))
    .bind(token.as_ref().map(|(_, hint)| hint))
    .bind(api_key.is_some())
    .bind(api_key.as_ref().and_then(|k| k.as_ref().map(|(sid, _)| *sid)))
    .bind(api_key.as_ref().and_then(|k| k.as_ref().map(|(_, s)| &s.ciphertext)))
    .bind(api_key.as_ref().and_then(|k| k.as_ref().map(|(_, s)| &s.nonce)))
    .bind(change.base_url.as_deref())
    .bind(change.daily_cap.is_some())
    .bind(change.daily_cap.flatten())
    .bind(change.mps_cap.is_some())
    .bind(change.mps_cap.flatten())
    .bind(change.status)
    .execute(&mut *conn)
    .await?;
    let after = get(conn, workspace_id, id).await?.ok_or(sqlx::Error::RowNotFound)?;
    Ok(Some((before, after)))
}

/// How a delete went.
#[derive(Debug)]
pub enum Deleted {
    Gone(CarrierAccount),
    NotFound,
    /// Numbers still reference the account.
    InUse(i64),
}

pub async fn delete(conn: &mut PgConnection, workspace_id: WorkspaceId, id: Uuid) -> sqlx::Result<Deleted> {
    let locked: Option<Uuid> =
        sqlx::query_scalar("SELECT id FROM carrier_accounts WHERE workspace_id = $1 AND id = $2 FOR UPDATE")
            .bind(workspace_id)
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    if locked.is_none() {
        return Ok(Deleted::NotFound);
    }
    let account = get(conn, workspace_id, id).await?.ok_or(sqlx::Error::RowNotFound)?;
    if account.number_count > 0 {
        return Ok(Deleted::InUse(account.number_count));
    }
    sqlx::query("DELETE FROM carrier_accounts WHERE workspace_id = $1 AND id = $2")
        .bind(workspace_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(Deleted::Gone(account))
}

/// What the Twilio client needs to call as an account.
#[derive(Debug)]
pub struct Credentials {
    pub account_sid: String,
    pub auth_token: Secret,
    pub api_key: Option<(String, Secret)>,
    pub base_url: String,
}

/// Opens the account's sealed secrets. The only function that returns a plaintext token.
pub async fn credentials(
    conn: &mut PgConnection,
    workspace_id: WorkspaceId,
    key: &[u8; 32],
    id: Uuid,
) -> Result<Option<Credentials>, CredentialsError> {
    type Row = (String, Vec<u8>, Vec<u8>, Option<String>, Option<Vec<u8>>, Option<Vec<u8>>, String);
    let row: Option<Row> = sqlx::query_as(
        "SELECT account_sid, auth_token_ciphertext, auth_token_nonce, api_key_sid, api_key_secret_ciphertext, \
         api_key_secret_nonce, base_url FROM carrier_accounts WHERE workspace_id = $1 AND id = $2",
    )
    .bind(workspace_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    let Some((account_sid, ct, nonce, key_sid, key_ct, key_nonce, base_url)) = row else { return Ok(None) };
    let auth_token = secretbox::open(
        key,
        &secretbox::binding(workspace_id, id, AUTH_TOKEN_COLUMN),
        &Sealed { ciphertext: ct, nonce },
    )?;
    let api_key = match (key_sid, key_ct, key_nonce) {
        (Some(sid), Some(ciphertext), Some(nonce)) => {
            let aad = secretbox::binding(workspace_id, id, API_KEY_SECRET_COLUMN);
            Some((sid, secretbox::open(key, &aad, &Sealed { ciphertext, nonce })?))
        }
        _ => None,
    };
    Ok(Some(Credentials { account_sid, auth_token, api_key, base_url }))
}

/// Errors of [`credentials`].
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Open(#[from] secretbox::OpenError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sids_parse_strictly() {
        let sid = AccountSid::parse(" AC0123456789ABCDEF0123456789abcdef ").unwrap();
        assert_eq!(sid.as_str(), "AC0123456789abcdef0123456789abcdef");
        assert!(AccountSid::parse("AC123").is_err());
        assert!(AccountSid::parse("SK0123456789abcdef0123456789abcdef").is_err());
        assert!(AccountSid::parse("AC0123456789abcdef0123456789abcdeg").is_err());
        assert!(ApiKeySid::parse("SK0123456789abcdef0123456789abcdef").is_ok());
    }

    #[test]
    fn base_urls_are_http_without_extras() {
        assert_eq!(parse_base_url("https://api.twilio.com/").unwrap(), "https://api.twilio.com");
        assert_eq!(parse_base_url("http://127.0.0.1:8089").unwrap(), "http://127.0.0.1:8089");
        assert!(parse_base_url("ftp://x").is_err());
        assert!(parse_base_url("https://u:p@x.test").is_err());
        assert!(parse_base_url("nope").is_err());
    }

    #[test]
    fn caps_are_positive() {
        assert_eq!(parse_cap("daily_cap", Some(5)).unwrap(), Some(5));
        assert!(parse_cap("daily_cap", Some(0)).is_err());
        assert_eq!(parse_mps("mps_cap", Some(1.23456)).unwrap(), Some(1.235));
        assert!(parse_mps("mps_cap", Some(f64::NAN)).is_err());
    }
}
