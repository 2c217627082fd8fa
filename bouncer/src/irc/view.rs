//! What staff see of MSN, as IRC: contacts with stable nicks, the `&msn`
//! roster channel, and one channel per conversation. Pure state; the hub
//! turns its changes into lines for clients.

use std::collections::{BTreeMap, BTreeSet};

use ipc::{ConversationId, Status};

/// The roster channel.
pub const ROSTER: &str = "&msn";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub handle: String,
    /// IRC nick, stable across restarts (from the store).
    pub nick: String,
    pub friendly_name: String,
    pub status: Status,
}

impl Contact {
    pub fn online(&self) -> bool {
        !matches!(self.status, Status::Offline | Status::Hidden)
    }

    /// `nick!local@domain`.
    pub fn prefix(&self) -> String {
        let (local, domain) = self.handle.split_once('@').unwrap_or((&self.handle, "msn"));
        format!("{}!{local}@{domain}", self.nick)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channel {
    pub name: String,
    /// Lower-cased handles of the customers in it.
    pub members: BTreeSet<String>,
}

#[derive(Debug, Default)]
pub struct View {
    /// By lower-cased handle.
    pub contacts: BTreeMap<String, Contact>,
    pub conversations: BTreeMap<ConversationId, Channel>,
    /// Channels whose MSN conversation was lost with the worker while
    /// staff stayed in them, by lower-cased name. The customer writing, or
    /// staff writing there, brings them back to life under the same name.
    pub dormant: BTreeMap<String, Channel>,
    /// Staff-only channels (`#staff`), by lower-cased name.
    pub locals: BTreeMap<String, Local>,
}

/// A channel only staff are in, for talking among themselves.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Local {
    pub name: String,
    pub topic: String,
    /// Staff user names; a user stays a member while detached.
    pub members: BTreeSet<String>,
}

/// A name staff may give a channel of their own: `#`, then no spaces,
/// commas, colons or control characters; at most 64 bytes.
pub fn valid_local_name(name: &str) -> bool {
    name.len() > 1
        && name.len() <= 64
        && name.starts_with('#')
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | ':' | '\x07'))
}

/// An MSN address safe to put in IRC lines: `user@domain`, nothing that
/// could end a line or a prefix.
pub fn valid_handle(h: &str) -> bool {
    h.len() <= 129
        && h.matches('@').count() == 1
        && !h.starts_with('@')
        && !h.ends_with('@')
        && !h
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '!' | ':' | ',' | '*' | '?'))
}

pub fn key(handle: &str) -> String {
    handle.to_ascii_lowercase()
}

impl View {
    pub fn contact(&self, handle: &str) -> Option<&Contact> {
        self.contacts.get(&key(handle))
    }

    pub fn contact_by_nick(&self, nick: &str) -> Option<&Contact> {
        self.contacts.values().find(|c| c.nick.eq_ignore_ascii_case(nick))
    }

    pub fn conversation_by_channel(&self, channel: &str) -> Option<ConversationId> {
        self.conversations
            .iter()
            .find(|(_, c)| c.name.eq_ignore_ascii_case(channel))
            .map(|(id, _)| *id)
    }

    /// The conversation with exactly this one customer, if any.
    pub fn conversation_with(&self, handle: &str) -> Option<ConversationId> {
        let k = key(handle);
        self.conversations
            .iter()
            .find(|(_, c)| c.members.len() == 1 && c.members.contains(&k))
            .map(|(id, _)| *id)
    }

    /// A channel staff are in: a live conversation's or a dormant one.
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        match self.conversation_by_channel(name) {
            Some(id) => self.conversations.get(&id),
            None => self.dormant.get(&name.to_ascii_lowercase()),
        }
    }

    /// Every conversation is gone (the worker stopped): their channels go
    /// dormant. Returns their names.
    pub fn suspend_all(&mut self) -> Vec<String> {
        let lost = std::mem::take(&mut self.conversations);
        lost.into_values()
            .map(|c| {
                let name = c.name.clone();
                self.dormant.insert(name.to_ascii_lowercase(), c);
                name
            })
            .collect()
    }

    /// A new conversation with `handle` alone: their dormant channel, if
    /// there is one, is its channel again.
    pub fn revive(&mut self, conversation: ConversationId, handle: &str) -> Option<String> {
        let k = key(handle);
        let name = self
            .dormant
            .iter()
            .find(|(_, c)| c.members.len() == 1 && c.members.contains(&k))
            .map(|(n, _)| n.clone())?;
        let channel = self.dormant.remove(&name)?;
        let shown = channel.name.clone();
        self.conversations.insert(conversation, channel);
        Some(shown)
    }

    /// A channel name for a new conversation, free among the others.
    pub fn free_channel_name(&self, nick: &str) -> String {
        let base = format!("#{nick}");
        (1u32..)
            .map(|n| {
                if n == 1 {
                    base.clone()
                } else {
                    format!("{base}-{n}")
                }
            })
            .find(|name| {
                self.channel(name).is_none() && !self.locals.contains_key(&name.to_ascii_lowercase())
            })
            .unwrap_or(base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(handle: &str, nick: &str, status: Status) -> Contact {
        Contact {
            handle: handle.into(),
            nick: nick.into(),
            friendly_name: nick.into(),
            status,
        }
    }

    #[test]
    fn only_plain_addresses_are_valid() {
        assert!(valid_handle("bob.smith+shop@example.co.uk"));
        for bad in [
            "bob",
            "@x",
            "x@",
            "a@b@c",
            "bob@ex ample",
            "bob@x\r\nQUIT",
            "bob!x@y",
            "b:ob@x",
            &format!("{}@x", "a".repeat(130)),
        ] {
            assert!(!valid_handle(bad), "{bad:?}");
        }
    }

    #[test]
    fn lookups_and_channel_names() {
        let mut v = View::default();
        v.contacts.insert(
            key("Bob@Example.com"),
            contact("Bob@Example.com", "bob", Status::Away),
        );
        assert_eq!(
            v.contact("bob@example.com").unwrap().prefix(),
            "bob!Bob@Example.com"
        );
        assert!(v.contact_by_nick("BOB").is_some());
        assert!(v.contact("bob@example.com").unwrap().online());
        assert_eq!(v.free_channel_name("bob"), "#bob");
        v.conversations.insert(
            1,
            Channel {
                name: "#bob".into(),
                members: [key("bob@example.com")].into(),
            },
        );
        assert_eq!(v.free_channel_name("bob"), "#bob-2");
        assert_eq!(v.conversation_by_channel("#BOB"), Some(1));
        assert_eq!(v.conversation_with("BOB@example.com"), Some(1));
    }

    #[test]
    fn lost_conversations_go_dormant_and_come_back_under_their_names() {
        let mut v = View::default();
        let channel = |name: &str, members: &[&str]| Channel {
            name: name.into(),
            members: members.iter().map(|m| key(m)).collect(),
        };
        v.conversations.insert(1, channel("#bob", &["bob@example.com"]));
        v.conversations
            .insert(2, channel("#carol", &["carol@example.com", "dave@example.com"]));
        let mut lost = v.suspend_all();
        lost.sort();
        assert_eq!(lost, vec!["#bob", "#carol"]);
        assert!(v.conversations.is_empty());
        // Still a channel, but no conversation; its name is not free.
        assert!(v.channel("#BOB").is_some() && v.conversation_by_channel("#bob").is_none());
        assert_eq!(v.free_channel_name("bob"), "#bob-2");
        // A staff channel's name is taken too.
        v.locals.insert("#bob-2".into(), Local::default());
        assert_eq!(v.free_channel_name("bob"), "#bob-3");
        assert!(valid_local_name("#staff") && valid_local_name("#late-shift"));
        assert!(!valid_local_name("#") && !valid_local_name("staff") && !valid_local_name("#a b"));
        // Bob writes again: a new conversation id, the same channel.
        assert_eq!(v.revive(7, "Bob@Example.com").as_deref(), Some("#bob"));
        assert_eq!(v.conversation_by_channel("#bob"), Some(7));
        assert!(!v.dormant.contains_key("#bob"));
        // A group conversation is not revived for one of its members.
        assert_eq!(v.revive(8, "carol@example.com"), None);
    }
}
