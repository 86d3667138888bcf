//! Who is calling and what they may do: sessions, API tokens, passwords, passkeys, one-time
//! links, failed-login limiting, and the guard every handler goes through.

pub mod guard;
pub mod mailer;
pub mod passkeys;
pub mod password;
pub mod rate_limit;
pub mod recovery;
pub mod roles;
pub mod secrets;
pub mod sessions;
