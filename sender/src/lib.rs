//! Messaging domain and engine.
//!
//! This crate knows nothing of HTTP or WebSockets: the server parses requests into the types
//! defined here and hands them in. Today it holds the domain values every part shares (ids,
//! phone numbers); accounts, numbers, campaigns, the compliance gate, pacing, the outbox and the
//! send log arrive with the carrier and sender-engine issues.

pub mod bus;
pub mod ids;
pub mod phone;
pub mod twilio;

pub use bus::Bus;
pub use ids::{UserId, WorkspaceId};
pub use phone::E164;
