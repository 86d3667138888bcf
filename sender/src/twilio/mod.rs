//! Twilio's Programmable Messaging API as the carrier: the wire types, the REST client with its
//! outcome classification, webhook signatures, and segment counting.

pub mod client;
pub mod outcome;
pub mod resource;
pub mod segments;
pub mod signature;

pub use client::{
    AccountEndpoint, BadBaseUrl, ClientConfig, Credentials, FetchError, NewMessage, PreparedAccount, Sender,
    TransportError, TwilioClient,
};
pub use outcome::{RetryReason, SendOutcome};
