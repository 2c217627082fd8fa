//! The MSN Messenger protocol (MSNP8–MSNP18), sans-IO: parsing,
//! serialising and session state machines as plain types and functions.
//! The async drivers that move bytes live in `crate::session`.

pub mod abch;
pub mod challenge;
pub mod codec;
pub mod errors;
pub mod escape;
pub mod handles;
pub mod message;
pub mod ns;
pub mod oim;
pub mod p2p;
pub mod passport;
pub mod roster;
pub mod sb;
pub mod slp;
pub mod sso;
pub mod xml;
