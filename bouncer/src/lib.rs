//! msnbnc's library half: everything but `main`, so that the protocol
//! cores can be fuzzed and the pieces unit-tested. ARCHITECTURE.md says
//! where each behaviour lives.
// `deny`, not `forbid`: malloc_tuning.rs holds one documented call.
#![deny(unsafe_code)]
// No function over 80 lines (clippy.toml sets the threshold).
#![warn(clippy::too_many_lines)]

pub mod business_hours;
pub mod check_login;
pub mod check_sandbox;
pub mod config;
pub mod daemon;
#[cfg(feature = "demo")]
pub mod demo;
pub mod files;
pub mod http_listener;
pub mod hub;
pub mod irc;
pub mod malloc_tuning;
pub mod metrics;
pub mod store;
pub mod store_cli;
pub mod supervisor;
pub mod systemd;
pub mod token_bucket;
pub mod transcript_cli;
pub mod untrusted;
pub mod users_cli;
