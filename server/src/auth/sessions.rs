//! Browser sessions: a random token in an HttpOnly, SameSite=Lax cookie; the database keeps its
//! SHA-256, the user, expiry and the session's CSRF token.

use axum_extra::extract::cookie::{Cookie, SameSite};
use chrono::{Duration, Utc};
use sqlx::PgPool;
use switchboard_sender::UserId;

use super::secrets::{hash_secret, new_secret};
use crate::config::Config;

pub const COOKIE_NAME: &str = "sb_session";

pub struct NewSession {
    pub token: String,
    pub csrf_token: String,
}

pub async fn create(
    db: &PgPool,
    config: &Config,
    user_id: UserId,
    ip: Option<String>,
    user_agent: Option<String>,
) -> sqlx::Result<NewSession> {
    let token = new_secret("");
    let csrf_token = new_secret("");
    sqlx::query(
        "INSERT INTO sessions (token_hash, user_id, csrf_token, expires_at, ip, user_agent) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(hash_secret(&token))
    .bind(user_id)
    .bind(&csrf_token)
    .bind(Utc::now() + Duration::hours(config.session_ttl_hours))
    .bind(ip)
    .bind(user_agent.map(|ua| ua.chars().take(300).collect::<String>()))
    .execute(db)
    .await?;
    Ok(NewSession { token, csrf_token })
}

pub async fn delete(db: &PgPool, token_hash: &[u8]) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE token_hash = $1").bind(token_hash).execute(db).await?;
    Ok(())
}

/// Ends every session of a user (sign-out everywhere, password change).
pub async fn delete_all_for(db: &PgPool, user_id: UserId) -> sqlx::Result<()> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(db).await?;
    Ok(())
}

pub fn cookie(config: &Config, token: String) -> Cookie<'static> {
    Cookie::build((COOKIE_NAME, token))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.secure_cookies())
        .path("/")
        .max_age(time_hours(config.session_ttl_hours))
        .build()
}

pub fn removal_cookie(config: &Config) -> Cookie<'static> {
    Cookie::build((COOKIE_NAME, ""))
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(config.secure_cookies())
        .path("/")
        .max_age(time_hours(0))
        .build()
}

fn time_hours(h: i64) -> cookie::time::Duration {
    cookie::time::Duration::hours(h)
}
