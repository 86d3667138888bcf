//! Messaging domain and engine.
//!
//! This crate knows nothing of HTTP or WebSockets: the server parses requests into the types
//! defined here and hands them in. It holds the domain values every part shares (ids, phone
//! numbers), the carrier registry (accounts with their sealed secrets, numbers, CSV import of
//! numbers), the Twilio client, and the engine's building blocks (reply intent, suppression
//! lists, templates, sending windows, pacing), the campaign side of the engine (leads,
//! campaigns, crusades and planning: materialization and the dry-run preview), and the engine
//! that sends (`engine`: claim, pace, record, call, classify).

pub mod accounts;
pub mod area_codes;
pub mod audience;
pub mod batch;
pub mod bus;
pub mod campaigns;
pub mod compliance;
pub mod crusades;
pub mod csv_file;
pub mod engine;
pub mod field_error;
pub mod ids;
pub mod inbound;
pub mod leads;
pub mod number_import;
pub mod numbers;
pub mod outbox;
pub mod pacing;
pub mod phone;
pub mod plan;
pub mod secretbox;
pub mod send_log;
pub mod state_zones;
pub mod stats;
pub mod status_writer;
pub mod templates;
pub mod text_enum;
pub mod twilio;
pub mod windows;

pub use bus::Bus;
pub use field_error::{FieldError, InputError, WriteError};
pub use ids::{UserId, WorkspaceId};
pub use phone::E164;
