//! Switchboard's server: HTTP API, auth and roles, operations endpoints, and the console.
//! `startup::App` builds and runs it; `commands` holds the CLI's other verbs.

pub mod api;
pub mod audit;
pub mod auth;
pub mod commands;
pub mod config;
pub mod db;
pub mod demo_campaigns;
pub mod error;
pub mod extract;
pub mod hub;
pub mod ops;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;
pub mod webhooks;

pub use config::Config;
pub use startup::App;
