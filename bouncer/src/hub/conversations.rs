//! The registry of conversations staff are in (live or dormant), by
//! stable id, with lookups by the worker's conversation id and by
//! channel. Closed conversations leave it (the store keeps them).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use ipc::ConversationId;

use super::conversation::{Conversation, Link};
use super::roster::{key, lookup_key};

#[derive(Debug)]
pub struct Conversations {
    records: BTreeMap<i64, Conversation>,
    /// The worker's conversation ids of live records.
    live: HashMap<ConversationId, i64>,
    /// Lower-cased channel names.
    channels: HashMap<String, i64>,
    next_id: i64,
}

impl Conversations {
    /// An empty registry whose new records get ids from `next_id` on.
    pub fn new(next_id: i64) -> Conversations {
        Conversations {
            records: BTreeMap::new(),
            live: HashMap::new(),
            channels: HashMap::new(),
            next_id,
        }
    }

    /// A fresh id for a new record.
    pub fn allocate_id(&mut self) -> i64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn get(&self, id: i64) -> Option<&Conversation> {
        self.records.get(&id)
    }

    pub fn get_mut(&mut self, id: i64) -> Option<&mut Conversation> {
        self.records.get_mut(&id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Conversation> {
        self.records.values()
    }

    pub fn by_worker(&self, worker: ConversationId) -> Option<i64> {
        self.live.get(&worker).copied()
    }

    pub fn by_channel(&self, channel: &str) -> Option<i64> {
        // Most names are lower-case already: no copy to look them up.
        match channel.bytes().any(|b| b.is_ascii_uppercase()) {
            true => self.channels.get(&channel.to_ascii_lowercase()).copied(),
            false => self.channels.get(channel).copied(),
        }
    }

    /// The record with this customer alone (live or dormant).
    pub fn with_customer(&self, handle: &str) -> Option<i64> {
        let k = key(handle);
        self.records
            .values()
            .find(|c| c.customers.len() == 1 && c.customers.contains(&k))
            .map(|c| c.id)
    }

    /// Adds a record (its channel name must be free).
    pub fn add(&mut self, c: Conversation) {
        if let Link::Live(w) = c.link {
            self.live.insert(w, c.id);
        }
        self.channels.insert(c.channel.to_ascii_lowercase(), c.id);
        self.next_id = self.next_id.max(c.id + 1);
        self.records.insert(c.id, c);
    }

    /// Shows a live MSN conversation in record `id`.
    pub fn bind(&mut self, id: i64, worker: ConversationId, now: Instant) {
        if let Some(c) = self.records.get_mut(&id) {
            if let Some(old) = c.worker_id() {
                self.live.remove(&old);
            }
            c.bind(worker, now);
            self.live.insert(worker, id);
        }
    }

    /// The worker stopped: every live record goes dormant. Returns their ids.
    pub fn suspend_all(&mut self) -> Vec<i64> {
        self.live.clear();
        self.records
            .values_mut()
            .filter_map(|c| c.suspend().then_some(c.id))
            .collect()
    }

    /// Records that went dormant in the outage that just ended (once).
    pub fn take_suspended(&mut self) -> Vec<i64> {
        self.records
            .values_mut()
            .filter(|c| c.link == Link::Dormant { suspended: true })
            .map(|c| {
                c.link = Link::Dormant { suspended: false };
                c.id
            })
            .collect()
    }

    /// The record leaves the registry (its channel is parted).
    pub fn close(&mut self, id: i64) -> Option<Conversation> {
        let c = self.records.remove(&id)?;
        if let Some(w) = c.worker_id() {
            self.live.remove(&w);
        }
        self.channels.remove(&c.channel.to_ascii_lowercase());
        Some(c)
    }

    /// Adds a customer to a record (a group conversation now).
    pub fn add_customer(&mut self, id: i64, handle: &str) -> bool {
        self.records
            .get_mut(&id)
            .is_some_and(|c| !c.customers.contains(&*lookup_key(handle)) && c.customers.insert(key(handle)))
    }

    pub fn remove_customer(&mut self, id: i64, handle: &str) -> bool {
        self.records
            .get_mut(&id)
            .is_some_and(|c| c.customers.remove(&key(handle)))
    }

    /// A channel name for a conversation with `nick`: `wanted` (its old
    /// name) if free, else `#nick`, `#nick-2` …, free among conversations
    /// and the names `taken` refuses (staff channels).
    pub fn free_channel(&self, nick: &str, wanted: Option<&str>, taken: impl Fn(&str) -> bool) -> String {
        let free = |name: &str| self.by_channel(name).is_none() && !taken(name);
        if let Some(w) = wanted.filter(|w| free(w)) {
            return w.to_owned();
        }
        let base = format!("#{nick}");
        (1u32..)
            .map(|n| {
                if n == 1 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                }
            })
            .find(|name| free(name))
            .unwrap_or(base)
    }

    /// Live records nobody touched for `limit`: their worker ids.
    pub fn idle(&self, now: Instant, limit: Duration) -> Vec<ConversationId> {
        self.records
            .values()
            .filter(|c| c.idle(now, limit))
            .filter_map(Conversation::worker_id)
            .collect()
    }

    /// The customers of a new record with one customer.
    pub fn one(handle: &str) -> BTreeSet<String> {
        [key(handle)].into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(c: &mut Conversations, channel: &str, customers: &[&str], link: Link) -> i64 {
        let id = c.allocate_id();
        let customers = customers.iter().map(|h| key(h)).collect();
        c.add(Conversation::new(
            id,
            channel.into(),
            customers,
            link,
            Instant::now(),
        ));
        id
    }

    #[test]
    fn lost_conversations_go_dormant_and_come_back_under_their_names() {
        let mut c = Conversations::new(1);
        let bob = record(&mut c, "#bob", &["Bob@Example.com"], Link::Live(1));
        let group = record(
            &mut c,
            "#carol",
            &["carol@example.com", "dave@example.com"],
            Link::Live(2),
        );
        assert_eq!((c.by_worker(1), c.by_channel("#BOB")), (Some(bob), Some(bob)));
        assert_eq!(c.with_customer("bob@example.com"), Some(bob));
        assert_eq!(c.with_customer("carol@example.com"), None, "not alone");
        let mut lost = c.suspend_all();
        lost.sort();
        assert_eq!(lost, [bob, group]);
        assert_eq!(c.by_worker(1), None);
        // Still a channel, not a conversation; its name is not free.
        assert_eq!(c.by_channel("#bob"), Some(bob));
        assert_eq!(c.free_channel("bob", None, |_| false), "#bob-2");
        assert_eq!(c.free_channel("bob", None, |n| n == "#bob-2"), "#bob-3");
        assert_eq!(c.free_channel("bob", Some("#bobby"), |_| false), "#bobby");
        // Bob writes again: a new worker id, the same record and channel.
        c.bind(bob, 7, Instant::now());
        assert_eq!(c.by_worker(7), Some(bob));
        assert_eq!(c.take_suspended(), [group], "only what is still dormant");
        assert!(c.take_suspended().is_empty(), "told once");
        let closed = c.close(bob).unwrap();
        assert_eq!(closed.channel, "#bob");
        assert_eq!((c.by_worker(7), c.by_channel("#bob")), (None, None));
        assert!(c.add_customer(group, "eve@example.com"));
        assert!(!c.add_customer(group, "EVE@example.com"));
        assert!(c.remove_customer(group, "eve@example.com"));
    }
}
