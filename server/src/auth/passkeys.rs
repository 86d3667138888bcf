//! Passkeys (WebAuthn) as a second way in, via webauthn-rs. Ceremony state lives in PostgreSQL
//! (`webauthn_ceremonies`, five minutes) so any instance can finish a ceremony another started.

use chrono::{Duration, Utc};
use sqlx::PgPool;
use switchboard_sender::UserId;
use uuid::Uuid;
use webauthn_rs::prelude::{Passkey, Url};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use crate::config::Config;

/// The relying party is the domain of PUBLIC_URL. Browsers refuse IP addresses as RP ids, so
/// with an IP in PUBLIC_URL passkeys are off (logged) and everything else works.
pub fn relying_party(config: &Config) -> anyhow::Result<Option<Webauthn>> {
    let origin: Url = config.public_url.clone();
    let Some(url::Host::Domain(rp_id)) = origin.host() else {
        tracing::warn!(public_url = %origin, "passkeys are off: PUBLIC_URL needs a domain name (e.g. localhost), not an IP address");
        return Ok(None);
    };
    let rp_id = rp_id.to_owned();
    Ok(Some(WebauthnBuilder::new(&rp_id, &origin)?.rp_name("Switchboard").allow_any_port(true).build()?))
}

#[derive(Clone, Copy)]
pub enum Ceremony {
    Register,
    Authenticate,
}

impl Ceremony {
    fn as_str(self) -> &'static str {
        match self {
            Ceremony::Register => "register",
            Ceremony::Authenticate => "authenticate",
        }
    }
}

pub async fn save_ceremony(
    db: &PgPool,
    user_id: UserId,
    kind: Ceremony,
    state: serde_json::Value,
    name: Option<&str>,
) -> sqlx::Result<Uuid> {
    let id = Uuid::new_v4();
    sqlx::query("DELETE FROM webauthn_ceremonies WHERE expires_at < now()").execute(db).await?;
    sqlx::query(
        "INSERT INTO webauthn_ceremonies (id, user_id, kind, state, name, expires_at) VALUES ($1,$2,$3,$4,$5,$6)",
    )
    .bind(id)
    .bind(user_id)
    .bind(kind.as_str())
    .bind(state)
    .bind(name)
    .bind(Utc::now() + Duration::minutes(5))
    .execute(db)
    .await?;
    Ok(id)
}

/// Takes (deletes and returns) an unexpired ceremony: its user, state and passkey name.
pub async fn take_ceremony(
    db: &PgPool,
    id: Uuid,
    kind: Ceremony,
) -> sqlx::Result<Option<(UserId, serde_json::Value, Option<String>)>> {
    sqlx::query_as(
        "DELETE FROM webauthn_ceremonies WHERE id = $1 AND kind = $2 AND expires_at > now() \
         RETURNING user_id, state, name",
    )
    .bind(id)
    .bind(kind.as_str())
    .fetch_optional(db)
    .await
}

pub async fn passkeys_of(db: &PgPool, user_id: UserId) -> anyhow::Result<Vec<(Uuid, Passkey)>> {
    let rows: Vec<(Uuid, serde_json::Value)> =
        sqlx::query_as("SELECT id, passkey FROM passkeys WHERE user_id = $1").bind(user_id).fetch_all(db).await?;
    rows.into_iter().map(|(id, json)| Ok((id, serde_json::from_value(json)?))).collect()
}
