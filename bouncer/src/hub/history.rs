//! The hub's side of history: every change to the store made in one turn,
//! gathered into one batch for the writer; ids for new lines (the hub
//! gives them, so a line can be shown the moment its batch is committed);
//! msgids; whether recording works; and which lines were delivered (stored,
//! then shown) in which conversations, for the positions of attached
//! devices.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::irc::tags::MsgIds;
use crate::store::batch::{Batch, DeviceSeen, OutboxChange};
use crate::store::lines::{ConversationRow, LineRow};

pub struct History {
    next_line: i64,
    msgids: MsgIds,
    batch: Batch,
    /// Why recording failed, while it does.
    broken: Option<String>,
    /// The newest delivered line of each conversation that moved lately.
    moved: HashMap<i64, i64>,
    /// Batches with lines on their way to the store (by writer sequence):
    /// the newest line of each conversation in them.
    in_flight: VecDeque<(u64, Vec<(i64, i64)>)>,
    /// Every line up to this one is stored and was shown.
    delivered: i64,
    /// When the next retention pass may start.
    next_prune: Instant,
}

/// Lines one retention pass deletes at most.
pub const PRUNE_BATCH: usize = 2_000;
/// A pass scans the store: one every ten minutes, back to back only while
/// passes still find full batches.
const PRUNE_PAUSE: Duration = Duration::from_secs(600);

impl History {
    /// `next_line`: above every line id ever given.
    pub fn new(next_line: i64) -> History {
        History {
            next_line,
            msgids: MsgIds::default(),
            batch: Batch::default(),
            broken: None,
            moved: HashMap::new(),
            in_flight: VecDeque::new(),
            delivered: next_line - 1,
            next_prune: Instant::now(),
        }
    }

    /// Whether a retention pass should start now (one at a time).
    pub fn prune_due(&mut self, now: Instant) -> bool {
        if now < self.next_prune {
            return false;
        }
        self.next_prune = now + PRUNE_PAUSE * 6;
        true
    }

    /// A retention pass deleted `n` lines: the next one is due at once if
    /// it found a full batch, else after a pause.
    pub fn pruned(&mut self, n: usize, now: Instant) {
        self.next_prune = match n >= PRUNE_BATCH {
            true => now,
            false => now + PRUNE_PAUSE,
        };
    }

    /// The newest line id given out.
    pub fn newest(&self) -> i64 {
        self.next_line - 1
    }

    pub fn msgid(&mut self) -> String {
        self.msgids.fresh()
    }

    /// Adds a line to the batch; `row` is filled in with its new id,
    /// which is returned.
    pub fn record(&mut self, mut row: LineRow) -> i64 {
        let id = self.next_line;
        self.next_line += 1;
        row.id = id;
        self.batch.lines.push(row);
        id
    }

    pub fn conversation(&mut self, row: ConversationRow) {
        self.batch.conversations.push(row);
    }

    pub fn outbox(&mut self, change: OutboxChange) {
        self.batch.outbox.push(change);
    }

    pub fn desk(&mut self, row: crate::store::desk_rows::DeskRow) {
        self.batch.desk.push(row);
    }

    pub fn contact_named(&mut self, handle: String, name: String) {
        self.batch.contact_names.push((handle, name));
    }

    /// The newest line that is stored and was shown.
    pub fn delivered(&self) -> i64 {
        self.delivered
    }

    /// A device has seen every delivered line: its positions in what moved
    /// since `seen_up_to`.
    pub fn device_saw(&mut self, user: &str, device: &str, seen_up_to: i64) {
        let delivered = self.delivered;
        if seen_up_to >= delivered {
            return;
        }
        let positions = self
            .moved
            .iter()
            .filter(|(_, last)| **last > seen_up_to)
            .map(|(c, last)| (*c, *last))
            .collect();
        self.batch.devices.push(DeviceSeen {
            user: user.to_owned(),
            device: device.to_owned(),
            positions,
            seen_through: delivered,
        });
    }

    /// Forgets moves every attached device has seen (`oldest`: the oldest
    /// `seen_up_to` among them; with none attached, all of them).
    pub fn forget_moves(&mut self, oldest: Option<i64>) {
        match oldest {
            Some(o) => self.moved.retain(|_, last| *last > o),
            None => self.moved.clear(),
        }
    }

    /// The batch of this turn, to hand to the writer, and the newest line
    /// of each conversation in it (for [`History::committing`]).
    pub fn take_batch(&mut self) -> (Batch, Vec<(i64, i64)>) {
        let batch = std::mem::take(&mut self.batch);
        let mut newest: HashMap<i64, i64> = HashMap::new();
        for l in &batch.lines {
            newest.insert(l.conversation, l.id);
        }
        (batch, newest.into_iter().collect())
    }

    /// A batch with these lines went to the writer as `seq`.
    pub fn committing(&mut self, seq: u64, lines: Vec<(i64, i64)>) {
        if !lines.is_empty() {
            self.in_flight.push_back((seq, lines));
        }
    }

    /// Batches up to `seq` are done: their lines, if `stored`, are
    /// delivered now (shown, as the hub releases them). Lines that were
    /// not stored never count: no position may pass a line id the store
    /// does not have.
    pub fn settled(&mut self, seq: u64, stored: bool) {
        while self.in_flight.front().is_some_and(|(s, _)| *s <= seq) {
            let Some((_, lines)) = self.in_flight.pop_front() else {
                break;
            };
            if !stored {
                continue;
            }
            for (conversation, line) in lines {
                self.delivered = self.delivered.max(line);
                let last = self.moved.entry(conversation).or_insert(line);
                *last = (*last).max(line);
            }
        }
    }

    /// A batch failed; returns whether recording just stopped working.
    pub fn failed(&mut self, error: &str) -> bool {
        self.broken.replace(error.to_owned()).is_none()
    }

    /// A batch was stored; returns whether recording just resumed.
    pub fn stored(&mut self) -> bool {
        self.broken.take().is_some()
    }

    /// Why history is not being recorded, while it is not.
    pub fn broken(&self) -> Option<&str> {
        self.broken.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::lines::Kind;

    fn row(conversation: i64) -> LineRow {
        LineRow {
            id: 0,
            conversation,
            time_ms: 1,
            msgid: "m".into(),
            kind: Kind::Customer,
            sender: String::new(),
            source: String::new(),
            command: "PRIVMSG",
            text: String::new(),
            plain: String::new(),
        }
    }

    #[test]
    fn devices_learn_the_positions_of_what_was_delivered_since_they_last_saw() {
        let mut h = History::new(10);
        assert_eq!(h.record(row(1)), 10);
        assert_eq!(h.record(row(2)), 11);
        assert_eq!(h.record(row(1)), 12);
        let (b, lines) = h.take_batch();
        assert_eq!(b.lines.len(), 3);
        h.committing(7, lines);
        h.device_saw("alice", "", 9);
        assert!(
            h.take_batch().0.devices.is_empty(),
            "nothing is delivered before its commit"
        );
        h.settled(7, true);
        h.device_saw("alice", "", 10);
        h.device_saw("zoe", "", 12);
        let (b, _) = h.take_batch();
        assert_eq!(b.devices.len(), 1, "zoe saw it all already");
        let mut p = b.devices[0].positions.clone();
        p.sort();
        assert_eq!((p, b.devices[0].seen_through), (vec![(1, 12), (2, 11)], 12));
        h.forget_moves(Some(11));
        h.device_saw("bob", "", 11);
        assert_eq!(h.take_batch().0.devices[0].positions, [(1, 12)]);
        assert!(h.failed("disk full") && !h.failed("again"));
        assert_eq!(h.broken(), Some("again"));
        assert!(h.stored() && !h.stored());
    }

    #[test]
    fn lines_that_were_not_stored_never_count_as_delivered() {
        let mut h = History::new(10);
        h.record(row(1));
        let (_, lines) = h.take_batch();
        h.committing(3, lines);
        h.record(row(1));
        let (_, lines) = h.take_batch();
        h.committing(4, lines);
        h.settled(3, false);
        assert_eq!(h.delivered(), 9);
        h.settled(4, true);
        assert_eq!(h.delivered(), 11);
    }
}
