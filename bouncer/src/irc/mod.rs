//! The IRC side: what staff attach to.

pub mod auth;
pub mod batch;
pub mod chathistory;
pub mod conn;
pub mod flood;
pub mod format;
pub mod line;
pub mod registration;
pub mod replay;
pub mod server;
pub mod service;
pub mod split;
pub mod staff;
pub mod tags;
pub mod throttle;
pub mod tls;
pub mod view;
pub mod wire;
