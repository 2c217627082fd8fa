//! What leaves the hub, in order: lines for clients and commands for the
//! worker. While a batch of history is being committed, everything after
//! its first line waits behind it and goes out when the writer says it is
//! committed — so nobody sees a line that is not stored, no worker gets a
//! staff message that is not in the outbox, and nothing overtakes a held
//! line. Also: the reply being collected for a labelled command.

use std::collections::VecDeque;
use std::time::SystemTime;

use super::clients::Clients;
use crate::irc::conn::{ClientId, OutLine};
use crate::irc::reply_batch::{BatchIds, Labeled};
use crate::irc::tags::{prefix_for, timestamp, Variant};

/// Something to send.
#[derive(Debug)]
pub enum Item {
    Line(ClientId, OutLine),
    /// A worker command, by id.
    Command(u64, ipc::Command),
}

/// What waits for one batch.
#[derive(Debug)]
struct Held {
    /// The batch; `None` while the turn that opened it is still going.
    seq: Option<u64>,
    items: Vec<Item>,
}

#[derive(Debug, Default)]
pub struct Output {
    held: VecDeque<Held>,
    label: Option<Labeled>,
    batch_ids: BatchIds,
}

impl Output {
    /// This turn stores lines: from here on, output waits for its batch.
    pub fn hold(&mut self) {
        if self.held.back().is_none_or(|h| h.seq.is_some()) {
            self.held.push_back(Held {
                seq: None,
                items: Vec::new(),
            });
        }
    }

    /// The turn's batch went to the writer as `seq`.
    pub fn seal(&mut self, seq: u64) {
        if let Some(h) = self.held.back_mut().filter(|h| h.seq.is_none()) {
            h.seq = Some(seq);
        }
    }

    /// Whether output is waiting for a commit.
    #[cfg(test)]
    pub fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// `item`, unless it must wait (then it is kept, in order).
    pub fn pass(&mut self, item: Item) -> Option<Item> {
        match self.held.back_mut() {
            Some(h) => {
                h.items.push(item);
                None
            }
            None => Some(item),
        }
    }

    /// Batches up to `seq` are done (stored, or given up on): what waited
    /// for them, in order.
    pub fn release(&mut self, seq: u64) -> Vec<Item> {
        let mut out = Vec::new();
        while let Some(h) = self.held.front() {
            if h.seq.is_none_or(|s| s > seq) {
                break;
            }
            if let Some(h) = self.held.pop_front() {
                out.extend(h.items);
            }
        }
        out
    }

    /// Everything held (the store is gone).
    pub fn release_all(&mut self) -> Vec<Item> {
        self.held.drain(..).flat_map(|h| h.items).collect()
    }

    /// Starts collecting the reply to a labelled command.
    pub fn collect_for(&mut self, label: Labeled) {
        self.label = Some(label);
    }

    /// A line for `id`, if it belongs to the reply being collected: kept.
    /// Returns the line when it is not.
    pub fn collect(&mut self, id: ClientId, line: OutLine) -> Option<OutLine> {
        match self.label.as_mut().filter(|l| l.client == id) {
            Some(l) => {
                l.lines.push(line.to_string());
                None
            }
            None => Some(line),
        }
    }

    /// The reply collected so far (the caller finishes it, or carries it to
    /// an answer that comes later).
    pub fn take_label(&mut self) -> Option<Labeled> {
        self.label.take()
    }

    pub fn batch_ids(&mut self) -> &mut BatchIds {
        &mut self.batch_ids
    }
}

/// One line formatted for every client (but `except`), each tag variant
/// once and shared: `(client, line)` pairs to send.
pub fn broadcast(
    clients: &Clients,
    now: SystemTime,
    tags: &[(&str, &str)],
    line: &str,
    except: Option<ClientId>,
) -> Vec<(ClientId, OutLine)> {
    // The server-time stamp is made only if some client wants it.
    let mut stamp: Option<String> = None;
    let mut formatted: [Option<OutLine>; Variant::COUNT] = Default::default();
    let mut out = Vec::new();
    for (id, c) in clients.iter().filter(|(id, _)| Some(**id) != except) {
        let variant = Variant::of(c.caps);
        let slot = &mut formatted[variant.index()];
        if slot.is_none() {
            let stamp = match variant.has_time() {
                true => stamp.get_or_insert_with(|| timestamp(now)).as_str(),
                false => "",
            };
            let mut full = prefix_for(variant, stamp, tags);
            full.push_str(line);
            *slot = Some(full.into());
        }
        if let Some(full) = slot.clone() {
            out.push((*id, full));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(id: ClientId, text: &str) -> Item {
        Item::Line(id, text.into())
    }

    fn texts(items: Vec<Item>) -> Vec<String> {
        items
            .into_iter()
            .map(|i| match i {
                Item::Line(_, l) => l.to_string(),
                Item::Command(id, _) => format!("command {id}"),
            })
            .collect()
    }

    #[test]
    fn nothing_overtakes_a_line_waiting_for_its_commit() {
        let mut o = Output::default();
        assert!(o.pass(line(1, "free")).is_some(), "nothing held: at once");
        o.hold();
        assert!(o.pass(line(1, "stored")).is_none());
        o.seal(1);
        // The next turn stores nothing, but must not overtake.
        assert!(o.pass(line(1, "after")).is_none());
        o.hold();
        assert!(o.pass(Item::Command(9, ipc::Command::SignOut)).is_none());
        o.seal(2);
        assert!(o.holding());
        assert_eq!(texts(o.release(1)), ["stored", "after"]);
        assert_eq!(texts(o.release(2)), ["command 9"]);
        assert!(!o.holding());
    }

    #[test]
    fn an_unsealed_turn_is_not_released() {
        let mut o = Output::default();
        o.hold();
        o.pass(line(1, "x"));
        assert!(o.release(5).is_empty());
        o.seal(6);
        assert_eq!(texts(o.release(6)), ["x"]);
    }
}
