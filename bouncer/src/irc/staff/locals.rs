//! Staff-only channels (`#staff`, `#late-shift`): created by joining,
//! gone when the last member parts. Members are staff users, so every
//! device of a member is in the channel; a detached member stays in it.

use super::Staff;
use crate::irc::conn::ClientId;
use crate::irc::view::{valid_local_name, Local};

impl Staff {
    /// The clients of every member of a staff channel.
    fn local_clients(&self, key: &str) -> Vec<ClientId> {
        let Some(local) = self.view.locals.get(key) else {
            return Vec::new();
        };
        self.clients
            .iter()
            .filter(|(_, c)| local.members.contains(&c.nick))
            .map(|(id, _)| *id)
            .collect()
    }

    pub(super) fn is_local(&self, channel: &str) -> bool {
        self.view.locals.contains_key(&channel.to_ascii_lowercase())
    }

    /// JOIN of a channel that is neither `&msn` nor a conversation.
    pub(super) fn join_local(&mut self, id: ClientId, nick: &str, channel: &str) {
        if !valid_local_name(channel) {
            self.numeric(
                id,
                "403",
                &[channel, "No such channel (staff channels start with #)"],
            );
            return;
        }
        let key = channel.to_ascii_lowercase();
        let local = self.view.locals.entry(key.clone()).or_insert_with(|| Local {
            name: channel.to_owned(),
            ..Local::default()
        });
        let name = local.name.clone();
        if !local.members.insert(nick.to_owned()) {
            // Already a member: this device just (re)joins.
            self.join_burst(id, &name);
            return;
        }
        // Every device of the new member joins; the others see them arrive.
        let (prefix, realname) = (self.user_prefix(nick), self.realname(nick));
        let mine: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| c.nick == nick)
            .map(|(cid, _)| *cid)
            .collect();
        for cid in mine.iter().copied() {
            self.join_burst(cid, &name);
        }
        let others: Vec<ClientId> = self
            .local_clients(&key)
            .into_iter()
            .filter(|c| !mine.contains(c))
            .collect();
        for cid in others {
            let line = self.join_line(cid, &prefix, &name, nick, &realname);
            self.send(cid, line);
        }
    }

    /// PART of a staff channel: every device of the user leaves it.
    pub(super) fn part_local(&mut self, id: ClientId, nick: &str, channel: &str, reason: &str) {
        let key = channel.to_ascii_lowercase();
        let Some(local) = self.view.locals.get(&key) else {
            return;
        };
        if !local.members.contains(nick) {
            self.numeric(id, "442", &[channel, "You're not on that channel"]);
            return;
        }
        let name = local.name.clone();
        let line = format!(":{} PART {name} :{reason}", self.user_prefix(nick));
        for cid in self.local_clients(&key) {
            self.send(cid, line.clone());
        }
        if let Some(local) = self.view.locals.get_mut(&key) {
            local.members.remove(nick);
            if local.members.is_empty() {
                self.view.locals.remove(&key);
            }
        }
    }

    /// A message to a staff channel: to its members' clients.
    pub(super) fn message_local(
        &mut self,
        id: ClientId,
        nick: &str,
        line: &str,
        channel: &str,
        tags: &[(&str, &str)],
        echo: bool,
    ) {
        let key = channel.to_ascii_lowercase();
        if !self
            .view
            .locals
            .get(&key)
            .is_some_and(|l| l.members.contains(nick))
        {
            self.numeric(id, "404", &[channel, "Cannot send to channel (join it first)"]);
            return;
        }
        for cid in self.local_clients(&key) {
            if cid != id || echo {
                self.send_tagged(cid, tags, line.to_owned());
            }
        }
    }

    /// TOPIC on a staff channel: members may set it.
    pub(super) fn topic_local(&mut self, id: ClientId, nick: &str, channel: &str, topic: &str) {
        let key = channel.to_ascii_lowercase();
        let Some(local) = self.view.locals.get_mut(&key) else {
            return;
        };
        if !local.members.contains(nick) {
            self.numeric(id, "442", &[channel, "You're not on that channel"]);
            return;
        }
        local.topic = crate::supervisor::worker::untrusted(topic);
        let (name, topic) = (local.name.clone(), local.topic.clone());
        let line = format!(":{} TOPIC {name} :{topic}", self.user_prefix(nick));
        for cid in self.local_clients(&key) {
            self.send(cid, line.clone());
        }
    }

    /// The staff channels a user is in (joined for each new device).
    pub(super) fn locals_of(&self, nick: &str) -> Vec<String> {
        self.view
            .locals
            .values()
            .filter(|l| l.members.contains(nick))
            .map(|l| l.name.clone())
            .collect()
    }
}
