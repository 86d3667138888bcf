//! One-time links for account recovery and invitations. A link carries a random token; the
//! database keeps its SHA-256, an expiry, and when it was used. Using one sets the password and
//! ends every other session of that user.

use chrono::{Duration, Utc};
use sqlx::PgPool;
use switchboard_sender::UserId;

use super::secrets::{hash_secret, new_secret};
use crate::config::Config;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Recovery,
    Invite,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Recovery => "recovery",
            Purpose::Invite => "invite",
        }
    }

    fn lifetime(self) -> Duration {
        match self {
            Purpose::Recovery => Duration::hours(1),
            Purpose::Invite => Duration::days(7),
        }
    }
}

/// Issues a link and returns its URL (`<PUBLIC_URL>/recover?token=...`).
pub async fn issue(db: &PgPool, config: &Config, user_id: UserId, purpose: Purpose) -> sqlx::Result<String> {
    let token = new_secret("");
    sqlx::query("INSERT INTO recovery_tokens (token_hash, user_id, purpose, expires_at) VALUES ($1, $2, $3, $4)")
        .bind(hash_secret(&token))
        .bind(user_id)
        .bind(purpose.as_str())
        .bind(Utc::now() + purpose.lifetime())
        .execute(db)
        .await?;
    let mut url = config.public_url.join("/recover").expect("static path joins");
    url.query_pairs_mut().append_pair("token", &token);
    Ok(url.to_string())
}

/// Marks the token used and returns its user, if it is valid, unused and unexpired.
/// Atomic: two concurrent uses cannot both succeed.
pub async fn consume(tx: &mut sqlx::PgConnection, token: &str) -> sqlx::Result<Option<UserId>> {
    sqlx::query_scalar(
        "UPDATE recovery_tokens SET used_at = now() \
         WHERE token_hash = $1 AND used_at IS NULL AND expires_at > now() RETURNING user_id",
    )
    .bind(hash_secret(token))
    .fetch_optional(tx)
    .await
}
