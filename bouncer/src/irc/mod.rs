//! The IRC side: what staff attach to.

pub mod line;
