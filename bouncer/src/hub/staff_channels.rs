//! Staff-only channels (`#staff`, `#late-shift`): created by joining, gone
//! when the last member parts. Members are staff users, so every device
//! of a member is in the channel; a detached member stays in it.

use std::collections::{BTreeMap, BTreeSet};

/// A channel only staff are in, for talking among themselves.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StaffChannel {
    pub name: String,
    pub topic: String,
    /// Staff user names.
    pub members: BTreeSet<String>,
}

/// A name staff may give a channel of their own: `#`, then no spaces,
/// commas, colons or control characters; at most 64 bytes.
pub fn valid_name(name: &str) -> bool {
    name.len() > 1
        && name.len() <= 64
        && name.starts_with('#')
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, ',' | ':' | '\x07'))
}

/// Staff channels one user may be in (ISUPPORT `CHANLIMIT=#:`); `&msn`
/// and the conversations do not count.
pub const PER_USER: usize = 50;

/// What a JOIN did.
#[derive(Debug, PartialEq, Eq)]
pub enum Joined {
    /// The user became a member (the channel may be new).
    Member(String),
    /// Already a member: this device just (re)joins.
    Again(String),
}

#[derive(Debug, Default)]
pub struct StaffChannels {
    /// By lower-cased name.
    channels: BTreeMap<String, StaffChannel>,
}

impl StaffChannels {
    pub fn get(&self, name: &str) -> Option<&StaffChannel> {
        self.channels.get(&name.to_ascii_lowercase())
    }

    pub fn exists(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    pub fn is_member(&self, name: &str, user: &str) -> bool {
        self.get(name).is_some_and(|c| c.members.contains(user))
    }

    /// `user` joins `name` (created if new; the caller checked the name).
    pub fn join(&mut self, name: &str, user: &str) -> Joined {
        let c = self
            .channels
            .entry(name.to_ascii_lowercase())
            .or_insert_with(|| StaffChannel {
                name: name.to_owned(),
                ..StaffChannel::default()
            });
        match c.members.insert(user.to_owned()) {
            true => Joined::Member(c.name.clone()),
            false => Joined::Again(c.name.clone()),
        }
    }

    /// `user` leaves; the channel goes with its last member.
    pub fn part(&mut self, name: &str, user: &str) {
        let k = name.to_ascii_lowercase();
        if let Some(c) = self.channels.get_mut(&k) {
            c.members.remove(user);
            if c.members.is_empty() {
                self.channels.remove(&k);
            }
        }
    }

    /// Sets the topic; returns the channel's name.
    pub fn set_topic(&mut self, name: &str, topic: String) -> Option<String> {
        let c = self.channels.get_mut(&name.to_ascii_lowercase())?;
        c.topic = topic;
        Some(c.name.clone())
    }

    /// The channels a user is in (joined for each new device).
    /// Every staff channel.
    pub fn all(&self) -> impl Iterator<Item = &StaffChannel> {
        self.channels.values()
    }

    pub fn of(&self, user: &str) -> Vec<String> {
        self.channels
            .values()
            .filter(|c| c.members.contains(user))
            .map(|c| c.name.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staff_channels_live_while_they_have_members() {
        assert!(valid_name("#staff") && valid_name("#late-shift"));
        assert!(!valid_name("#") && !valid_name("staff") && !valid_name("#a b"));
        let mut s = StaffChannels::default();
        assert_eq!(s.join("#Staff", "alice"), Joined::Member("#Staff".into()));
        assert_eq!(s.join("#staff", "alice"), Joined::Again("#Staff".into()));
        s.join("#staff", "zoe");
        assert!(s.is_member("#STAFF", "zoe"));
        assert_eq!(s.of("zoe"), ["#Staff"]);
        assert_eq!(s.set_topic("#staff", "hi".into()).as_deref(), Some("#Staff"));
        s.part("#staff", "alice");
        assert!(s.exists("#staff"));
        s.part("#staff", "zoe");
        assert!(!s.exists("#staff"), "gone with its last member");
    }
}
