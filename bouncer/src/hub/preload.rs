//! What the hub learns from the store before it starts: the next free
//! ids, the contacts and staff, the open outbox, the desk's unresolved
//! conversations, canned replies, and customers' notes and tags.

use crate::store::contacts::KnownContact;
use crate::store::outbox_rows::Queued;
use crate::store::{Store, StoreError};

/// What the hub learns from the store before it starts.
pub struct Preload {
    /// The next free line and conversation ids.
    pub next_line: i64,
    pub next_conversation: i64,
    pub contacts: Vec<KnownContact>,
    pub staff: Vec<String>,
    /// Staff messages MSN does not have for sure.
    pub outbox: Vec<Queued>,
    /// Conversations the desk has not resolved: they come back dormant.
    pub unresolved: Vec<crate::store::desk_rows::Unresolved>,
    pub canned: Vec<crate::store::canned_rows::CannedReply>,
    pub customer_notes: Vec<(String, crate::store::customer_rows::CustomerNote)>,
    pub customer_tags: Vec<(String, String)>,
}

impl Preload {
    /// Reads it (at start, before the hub runs).
    pub fn read(store: &Store) -> Result<Preload, StoreError> {
        let (next_line, next_conversation) = store.high_water()?;
        Ok(Preload {
            next_line,
            next_conversation,
            contacts: store.known_contacts()?,
            staff: store.users()?.into_iter().map(|u| u.name).collect(),
            outbox: store.outbox_open()?,
            unresolved: store.unresolved()?,
            canned: store.canned()?,
            customer_notes: store.all_customer_notes()?,
            customer_tags: store.all_customer_tags()?,
        })
    }
}
