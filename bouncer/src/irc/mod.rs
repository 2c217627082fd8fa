//! The IRC side: what staff attach to.

pub mod line;
pub mod registration;
pub mod wire;
