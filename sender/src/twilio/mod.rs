//! Twilio's Programmable Messaging API as the carrier: the wire types, the REST client with its
//! outcome classification, webhook signatures, and segment counting.

pub mod client;
pub mod outcome;
pub mod resource;
pub mod segments;
pub mod signature;

pub use client::{AccountEndpoint, ClientConfig, Credentials, NewMessage, PreparedAccount, Sender, TwilioClient};
pub use outcome::{RetryReason, SendOutcome};
