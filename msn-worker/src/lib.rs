//! The worker's library half: everything but `main`, so that the pieces
//! (the sandbox, the IPC service, later the MSNP core) can be unit-tested
//! and reused by test programs.
#![deny(unsafe_code)]
// No function over 80 lines (clippy.toml sets the threshold).
#![warn(clippy::too_many_lines)]

pub mod inherited_fd;
pub mod msnp;
pub mod sandbox;
pub mod service;
pub mod session;
