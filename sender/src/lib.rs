//! Messaging domain and engine.
//!
//! This crate knows nothing of HTTP or WebSockets: the server parses requests into the types
//! defined here and hands them in. It holds the domain values every part shares (ids, phone
//! numbers), the carrier registry (accounts with their sealed secrets, numbers, CSV import of
//! numbers), the Twilio client, and the engine's building blocks (reply intent, suppression
//! lists, templates, sending windows, pacing); campaigns, the outbox and the send log arrive
//! with the sender-engine issue.

pub mod accounts;
pub mod area_codes;
pub mod bus;
pub mod compliance;
pub mod field_error;
pub mod ids;
pub mod inbound;
pub mod number_import;
pub mod numbers;
pub mod outbox;
pub mod pacing;
pub mod phone;
pub mod secretbox;
pub mod send_log;
pub mod templates;
pub mod text_enum;
pub mod twilio;
pub mod windows;

pub use bus::Bus;
pub use field_error::{FieldError, WriteError};
pub use ids::{UserId, WorkspaceId};
pub use phone::E164;
