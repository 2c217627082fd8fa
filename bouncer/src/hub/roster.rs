//! The roster: the account's contacts as staff see them — an IRC nick
//! each, stable across restarts and unique among contacts and staff, and
//! their presence. Every contact ever named is known from the start, with
//! the last conversation msnbnc had with them alone, so a customer who
//! comes back finds their history without a store lookup on the hub.

use std::collections::{BTreeMap, HashMap, HashSet};

use ipc::Status;

use crate::store::contacts::{base_name, KnownContact};

/// The roster channel.
pub const ROSTER: &str = "&msn";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    pub handle: String,
    /// IRC nick, stable across restarts.
    pub nick: String,
    pub friendly_name: String,
    pub status: Status,
    /// The personal message, as last seen (empty: none known).
    pub personal_message: String,
}

/// A status as people say it: "be right back", not `BeRightBack`.
pub fn status_words(status: Status) -> &'static str {
    match status {
        Status::Online => "online",
        Status::Busy => "busy",
        Status::Idle => "idle",
        Status::BeRightBack => "be right back",
        Status::Away => "away",
        Status::OnThePhone => "on the phone",
        Status::OutToLunch => "out to lunch",
        Status::Hidden => "hidden",
        Status::Offline => "offline",
    }
}

impl Contact {
    pub fn online(&self) -> bool {
        !matches!(self.status, Status::Offline | Status::Hidden)
    }

    /// Busy, away, lunch …: IRC away states.
    pub fn away(&self) -> Option<String> {
        match self.status {
            Status::Online | Status::Offline | Status::Hidden => None,
            other => Some(status_words(other).to_owned()),
        }
    }

    /// Their name with their personal message, as an IRC real name:
    /// `Bob: "Waiting for order 1234"`.
    pub fn realname(&self) -> String {
        match self.personal_message.as_str() {
            "" => self.friendly_name.clone(),
            psm => format!("{}: \"{psm}\"", self.friendly_name),
        }
    }

    /// `nick!local@domain`.
    pub fn prefix(&self) -> String {
        let (local, domain) = self.handle.split_once('@').unwrap_or((&self.handle, "msn"));
        // Once per customer message: built without the formatting machinery.
        let mut out = String::with_capacity(self.nick.len() + self.handle.len() + 5);
        for part in [self.nick.as_str(), "!", local, "@", domain] {
            out.push_str(part);
        }
        out
    }
}

/// What is known of a contact ever named.
#[derive(Debug, Clone)]
struct Known {
    nick: String,
    /// Their last conversation with them alone: its id and channel.
    conversation: Option<(i64, String)>,
}

/// An MSN address safe to put in IRC lines: `user@domain`, nothing that
/// could end a line or a prefix.
pub fn valid_handle(h: &str) -> bool {
    let refused = |c: char| c.is_whitespace() || c.is_control() || matches!(c, '!' | ':' | ',' | '*' | '?');
    h.len() <= 129
        && h.bytes().filter(|b| *b == b'@').count() == 1
        && !h.starts_with('@')
        && !h.ends_with('@')
        // Plain ASCII is checked a byte at a time.
        && match h.is_ascii() {
            true => !h.bytes().any(|b| refused(char::from(b))),
            false => !h.chars().any(refused),
        }
}

/// Handles are compared without case.
pub fn key(handle: &str) -> String {
    handle.to_ascii_lowercase()
}

/// [`key`] for a lookup: no copy when the handle is lower-case already
/// (as almost every one is).
pub fn lookup_key(handle: &str) -> std::borrow::Cow<'_, str> {
    match handle.bytes().any(|b| b.is_ascii_uppercase()) {
        true => key(handle).into(),
        false => handle.into(),
    }
}

#[derive(Debug, Default)]
pub struct Roster {
    /// Contacts seen since msnbnc started, by lower-cased handle.
    contacts: BTreeMap<String, Contact>,
    known: HashMap<String, Known>,
    /// Lower-cased nicks of contacts and staff.
    taken: HashSet<String>,
    /// Lower-cased handles of people who added the account and are not
    /// accepted yet (only while contacts are not accepted automatically).
    pending: HashSet<String>,
}

/// A contact's state before and after a change, and the name given to a
/// contact seen for the first time (for the store).
pub struct Learned {
    pub before: Option<Contact>,
    pub after: Contact,
    pub named: Option<(String, String)>,
}

impl Roster {
    /// The roster knowing every contact ever named and every staff name.
    pub fn new(known: Vec<KnownContact>, staff: &[String]) -> Roster {
        let mut r = Roster::default();
        for k in known {
            r.taken.insert(k.name.to_ascii_lowercase());
            r.known.insert(
                key(&k.handle),
                Known {
                    nick: k.name,
                    conversation: k.conversation,
                },
            );
        }
        r.taken.extend(staff.iter().map(|s| s.to_ascii_lowercase()));
        r
    }

    pub fn contact(&self, handle: &str) -> Option<&Contact> {
        self.contacts.get(&*lookup_key(handle))
    }

    /// The IRC prefix a contact's lines come from; a handle not on the
    /// roster (yet) speaks as itself.
    pub fn prefix_of(&self, handle: &str) -> String {
        self.contact(handle)
            .map_or_else(|| handle.to_owned(), Contact::prefix)
    }

    pub fn contact_by_nick(&self, nick: &str) -> Option<&Contact> {
        self.contacts.values().find(|c| c.nick.eq_ignore_ascii_case(nick))
    }

    pub fn contacts(&self) -> impl Iterator<Item = &Contact> {
        self.contacts.values()
    }

    /// A staff user added while msnbnc runs: no contact gets their name.
    pub fn staff_added(&mut self, name: &str) {
        self.taken.insert(name.to_ascii_lowercase());
    }

    /// The contact's nick: the one it has, or a new one free among
    /// contacts and staff (returned second, to be stored).
    fn nick_for(&mut self, handle: &str) -> (String, bool) {
        if let Some(k) = self.known.get(&key(handle)) {
            return (k.nick.clone(), false);
        }
        let base = base_name(handle);
        let nick = (1u32..)
            .map(|n| {
                if n == 1 {
                    base.clone()
                } else {
                    format!("{base}{n}")
                }
            })
            .find(|n| !self.taken.contains(&n.to_ascii_lowercase()))
            .unwrap_or(base);
        self.taken.insert(nick.to_ascii_lowercase());
        self.known.insert(
            key(handle),
            Known {
                nick: nick.clone(),
                conversation: None,
            },
        );
        (nick, true)
    }

    /// Notes what MSN says of a contact.
    pub fn learn(&mut self, handle: &str, friendly_name: &str, status: Status) -> Learned {
        let (nick, new) = self.nick_for(handle);
        let personal_message = self
            .contacts
            .get(&key(handle))
            .map(|c| c.personal_message.clone())
            .unwrap_or_default();
        let after = Contact {
            handle: handle.to_owned(),
            nick: nick.clone(),
            friendly_name: friendly_name.to_owned(),
            status,
            personal_message,
        };
        let before = self.contacts.insert(key(handle), after.clone());
        Learned {
            before,
            after,
            named: new.then(|| (handle.to_owned(), nick)),
        }
    }

    /// Whether `handle` added the account and waits to be accepted.
    pub fn pending(&self, handle: &str) -> bool {
        self.pending.contains(&*lookup_key(handle))
    }

    /// Notes whether `handle` waits to be accepted; returns whether that
    /// changed.
    pub fn set_pending(&mut self, handle: &str, pending: bool) -> bool {
        match pending {
            true => self.pending.insert(key(handle)),
            false => self.pending.remove(&*lookup_key(handle)),
        }
    }

    /// A contact's personal message changed.
    pub fn set_personal_message(&mut self, handle: &str, text: &str) {
        if let Some(c) = self.contacts.get_mut(&key(handle)) {
            c.personal_message = text.to_owned();
        }
    }

    /// The last conversation with this customer alone, if any.
    pub fn last_conversation(&self, handle: &str) -> Option<(i64, String)> {
        self.known.get(&key(handle))?.conversation.clone()
    }

    /// Conversation `id` is no longer with this customer alone.
    pub fn forget_conversation(&mut self, handle: &str, id: i64) {
        if let Some(k) = self.known.get_mut(&key(handle)) {
            if k.conversation.as_ref().is_some_and(|(c, _)| *c == id) {
                k.conversation = None;
            }
        }
    }

    pub fn set_last_conversation(&mut self, handle: &str, id: i64, channel: &str) {
        if let Some(k) = self.known.get_mut(&key(handle)) {
            k.conversation = Some((id, channel.to_owned()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn contacts_get_stable_unique_nicks_and_remember_their_conversation() {
        let known = vec![KnownContact {
            handle: "Bob@Example.com".into(),
            name: "bob".into(),
            conversation: Some((4, "#bob".into())),
        }];
        let mut r = Roster::new(known, &["alice".to_owned()]);
        let bob = r.learn("bob@example.com", "Bob", Status::Away);
        assert_eq!((bob.after.nick.as_str(), bob.named), ("bob", None));
        assert_eq!(bob.after.prefix(), "bob!bob@example.com");
        assert!(bob.after.online() && bob.after.away().is_some());
        assert_eq!(r.last_conversation("BOB@example.com"), Some((4, "#bob".into())));
        let other = r.learn("bob@other.org", "B", Status::Online);
        assert_eq!(other.named, Some(("bob@other.org".into(), "bob2".into())));
        assert_eq!(
            r.learn("alice@example.com", "A", Status::Online).after.nick,
            "alice2"
        );
        assert!(r.contact_by_nick("BOB2").is_some());
        let again = r.learn("bob@example.com", "Bobby", Status::Online);
        assert_eq!(again.before.map(|b| b.friendly_name), Some("Bob".into()));
        r.set_last_conversation("bob@other.org", 9, "#bob2");
        assert_eq!(r.last_conversation("bob@other.org"), Some((9, "#bob2".into())));
    }
}
