//! The compliance rules every send passes: what an inbound reply means (opt-out, opt-in, help),
//! and, with the sender engine, the gate the claim statement enforces.

pub mod keywords;
pub mod suppression;

pub use keywords::{ReplyIntent, classify_reply};
