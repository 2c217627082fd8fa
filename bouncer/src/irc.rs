//! The IRC side, apart from the hub: listeners, connections and their
//! registration (sans-IO), capabilities, command dispatch tables, the
//! bounded line reader, and the sans-IO pieces of the protocol
//! (CHATHISTORY, tags, batches, formatting, splitting).

pub mod admission;
pub mod auth;
pub mod cap;
pub mod chathistory;
pub mod conn;
pub mod dispatch;
pub mod flood;
pub mod format;
pub mod line;
pub mod local_time;
pub mod registration;
pub mod replay;
pub mod reply_batch;
pub mod server;
pub mod split;
pub mod tags;
pub mod throttle;
pub mod tls;
pub mod wire;
