//! A Twilio-compatible simulator for tests and load tests, and (later) the load drivers.
//!
//! The simulator serves Twilio's Programmable Messaging API on loopback with Twilio's auth,
//! error codes and field types; paces each From at its MPS; posts signed status callbacks and
//! simulated replies; injects faults; and records every accepted create. Everything random is
//! seeded. Start it in-process with [`Simulator::start`] or from the command line with
//! `switchboard sim` ([`cli::SimArgs`]). See docs/simulator.md.

pub mod cli;
pub mod config;
mod control;
pub mod create;
mod dispatch;
pub mod error;
mod fetch;
mod gate;
pub mod ids;
pub mod lifecycle;
pub mod message;
mod server;
pub mod state;

pub use config::{Behaviour, BehaviourUpdate, CallbackConfig, Faults, ReplyConfig, SimConfig};
pub use message::RecordEntry;
pub use server::{SimError, SimHandle, Simulator, router};
