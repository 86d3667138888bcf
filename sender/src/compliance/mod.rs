//! The compliance rules every send passes: what an inbound reply means (opt-out, opt-in, help),
//! the workspace's suppression lists (opt-outs with their consent history, the internal DNC
//! list, undeliverable numbers) and how they are read, curated and imported. The gate the claim
//! statement enforces is `send_verdict` (migration 0007, refined in 0008).

pub mod dnc;
pub mod keywords;
pub mod opt_outs;
pub mod phone_list;
pub mod suppression;

pub use keywords::{ReplyIntent, classify_reply};
