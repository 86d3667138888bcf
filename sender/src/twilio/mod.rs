//! Twilio's Programmable Messaging API as the carrier: the wire types, the REST client with its
//! outcome classification, webhook signatures, and segment counting.

pub mod resource;
pub mod segments;
pub mod signature;
