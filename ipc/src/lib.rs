//! The whole contract between `msnbnc` (the bouncer) and `msn-worker`.
//!
//! Nothing else is shared between the two processes. The crate has three
//! layers, each usable without the next:
//!
//! * [`message`]: the typed messages that cross the socket, both directions;
//! * [`codec`]: sans-IO framing (4-byte big-endian length + `postcard`
//!   payload, with a hard maximum frame size);
//! * [`phase`]: the table of which message may be sent in which phase of the
//!   connection (hello → configure → credentials → running), enforced by both
//!   ends;
//!
//! and [`channel`] puts them together over a tokio `UnixStream`.
//!
//! Every frame is untrusted input for the receiver: decoding never panics,
//! and each way a frame can be bad has its own [`ProtocolError`] variant.
#![forbid(unsafe_code)]

pub mod channel;
pub mod codec;
pub mod message;
pub mod passport_url;
pub mod phase;
mod secret;
pub mod worker_config;

pub use channel::{BouncerChannel, Channel, WorkerChannel};
pub use codec::{FrameCodec, MAX_FRAME_LEN};
pub use message::*;
pub use phase::{Direction, PhaseTracker};
pub use secret::Secret;
pub use worker_config::*;

/// Version of the message set. Bump it on every change to [`message`]: the
/// two binaries refuse to talk when their versions differ.
pub const PROTOCOL_VERSION: u32 = 5;

/// Every way the other end can break the protocol. Each is distinct so the
/// supervisor can log exactly what happened before it replaces a worker.
#[derive(Debug, thiserror::Error)]
pub enum ProtocolError {
    #[error("frame of {len} bytes exceeds the {max}-byte limit")]
    Oversize { len: usize, max: usize },
    #[error("connection closed in the middle of a frame ({have} of {need} bytes received)")]
    Truncated { have: usize, need: usize },
    #[error("undecodable frame: {0}")]
    Malformed(String),
    #[error("{message} is not allowed while {phase}")]
    WrongPhase {
        message: &'static str,
        phase: &'static str,
    },
    #[error(
        "IPC protocol version mismatch: we speak {ours}, peer speaks {theirs} (peer build {their_build:?})"
    )]
    VersionMismatch {
        ours: u32,
        theirs: u32,
        their_build: String,
    },
    #[error("the peer closed the connection")]
    PeerClosed,
    #[error("I/O error on the IPC socket: {0}")]
    Io(#[from] std::io::Error),
}
