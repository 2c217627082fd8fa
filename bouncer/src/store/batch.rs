//! What the hub changed in one turn, as one unit of work for the writer:
//! new or renamed conversations, lines, outbox moves, device positions,
//! contact names, desk states. The writer applies several batches in one transaction
//! when they queue up (group commit).

use std::collections::BTreeMap;

use ipc::TextFormat;

use super::desk_rows::DeskRow;
use super::lines::{ConversationRow, LineRow};
use super::outbox_rows::State;
use super::{Store, StoreError};

/// A move of a staff message through the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboxChange {
    /// Queued beside its line (in the same batch or an earlier one).
    Add {
        message: i64,
        handle: String,
        body: String,
        format: TextFormat,
        created_ms: i64,
    },
    Set {
        message: i64,
        state: State,
    },
}

/// How far a device has seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSeen {
    pub user: String,
    pub device: String,
    /// (conversation, line) positions that moved.
    pub positions: Vec<(i64, i64)>,
    /// Every line up to this one was shown to the device.
    pub seen_through: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub conversations: Vec<ConversationRow>,
    pub lines: Vec<LineRow>,
    pub outbox: Vec<OutboxChange>,
    pub devices: Vec<DeviceSeen>,
    /// (handle, IRC name) of contacts named for the first time.
    pub contact_names: Vec<(String, String)>,
    /// Desk states, waits and claims that changed.
    pub desk: Vec<DeskRow>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.conversations.is_empty()
            && self.lines.is_empty()
            && self.outbox.is_empty()
            && self.devices.is_empty()
            && self.contact_names.is_empty()
            && self.desk.is_empty()
    }

    /// Whether what the hub shows or sends after this batch must wait for
    /// its commit: it holds lines (stored before shown), or messages for
    /// the outbox (stored before the worker gets them).
    pub fn holds_output(&self) -> bool {
        !self.lines.is_empty() || self.outbox.iter().any(|o| matches!(o, OutboxChange::Add { .. }))
    }

    pub fn append(&mut self, mut other: Batch) {
        self.conversations.append(&mut other.conversations);
        self.lines.append(&mut other.lines);
        self.outbox.append(&mut other.outbox);
        self.devices.append(&mut other.devices);
        self.contact_names.append(&mut other.contact_names);
        self.desk.append(&mut other.desk);
    }
}

impl Store {
    /// Applies a batch (inside the caller's transaction).
    pub fn apply(&mut self, b: &Batch) -> Result<(), StoreError> {
        for c in &b.conversations {
            self.put_conversation(c)?;
        }
        let mut last: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
        for l in &b.lines {
            self.put_line(l)?;
            let (line, time) = last.entry(l.conversation).or_insert((l.id, l.time_ms));
            *line = (*line).max(l.id);
            *time = (*time).max(l.time_ms);
        }
        for (conversation, (line, time_ms)) in last {
            self.put_last_line(conversation, line, time_ms)?;
        }
        for o in &b.outbox {
            match o {
                OutboxChange::Add {
                    message,
                    handle,
                    body,
                    format,
                    created_ms,
                } => self.outbox_add(*message, handle, body, format, *created_ms)?,
                OutboxChange::Set { message, state } => {
                    self.outbox_set(*message, *state)?;
                }
            }
        }
        for d in &b.devices {
            for (conversation, line) in &d.positions {
                self.set_position(&d.user, &d.device, *conversation, *line)?;
            }
            self.set_seen_through(&d.user, &d.device, d.seen_through)?;
        }
        for (handle, name) in &b.contact_names {
            self.put_contact_name(handle, name)?;
        }
        for d in &b.desk {
            self.put_desk(d)?;
        }
        Ok(())
    }

    /// Opens a write transaction.
    pub fn begin(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }

    pub fn commit(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("COMMIT")?;
        Ok(())
    }

    /// Abandons a transaction (after a failed write).
    pub fn rollback(&mut self) {
        let _ = self.conn.execute_batch("ROLLBACK");
    }

    /// Applies `batch` in a transaction of its own.
    pub fn apply_now(&mut self, batch: &Batch) -> Result<(), StoreError> {
        self.begin()?;
        match self.apply(batch) {
            Ok(()) => self.commit(),
            Err(e) => {
                self.rollback();
                Err(e)
            }
        }
    }
}
