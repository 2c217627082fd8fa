//! Attached staff clients and the users behind them: each client's login,
//! device, capabilities and queue to its writer; each user's nick (their
//! user name, the same on every device), real name and signature.

use std::collections::{BTreeMap, BTreeSet};

use tokio::sync::mpsc::{self, error::TrySendError};

use crate::irc::cap::{Cap, Caps};
use crate::irc::conn::{Attached, ClientId, OutLine};
use crate::irc::registration::Login;
use crate::store::users::Role;
use crate::untrusted::short;

pub struct Client {
    pub login: Login,
    pub nick: String,
    pub role: Role,
    pub caps: Caps,
    /// The fingerprint of the TLS client certificate, if one was sent.
    pub cert: Option<String>,
    /// Every line up to this one was shown to this client (live or replayed).
    pub seen_up_to: i64,
    /// Whether its position may follow what is delivered.
    pub tracking: Tracking,
    /// The channels this client was shown joining (lower-cased): a JOIN
    /// of one of them again changes nothing.
    channels: BTreeSet<String>,
    /// Nicks it MONITORs (lower-cased).
    monitor: BTreeSet<String>,
    tx: mpsc::Sender<OutLine>,
}

/// Whose word a device's position waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tracking {
    /// What it missed is being planned or replayed: the replay moves its
    /// positions as it goes; the hub does not yet.
    Replaying,
    /// Its position follows every delivered line.
    Following,
    /// Its replay failed: its position stays where it was, so that what
    /// it never got is replayed on its next connection.
    Frozen,
}

impl Client {
    /// Whether the hub may save this device's position.
    pub fn follows_delivery(&self) -> bool {
        self.tracking == Tracking::Following
    }

    pub fn has(&self, cap: Cap) -> bool {
        self.caps.has(cap)
    }

    /// The device's name ('' for logins without one).
    pub fn device(&self) -> &str {
        self.login.device.as_deref().unwrap_or_default()
    }

    /// A sender for work that writes to this client beside the hub (replay).
    pub fn sender(&self) -> mpsc::Sender<OutLine> {
        self.tx.clone()
    }
}

/// A staff user with at least one device attached.
#[derive(Debug, Clone)]
pub struct StaffUser {
    /// USER's real name, or SETNAME's.
    pub realname: String,
    /// Their own signature (`None`: the global one; empty: none).
    pub signature: Option<String>,
}

/// What an attach changed.
pub struct AttachedInfo {
    pub first_of_user: bool,
    pub first_of_all: bool,
}

#[derive(Default)]
pub struct Clients {
    by_id: BTreeMap<ClientId, Client>,
    users: BTreeMap<String, StaffUser>,
    /// Every staff account, attached or not: each is a member of `&msn`
    /// and of every conversation, away while no device is attached.
    team: BTreeSet<String>,
    /// Users who said AWAY, and their message.
    away: BTreeMap<String, String>,
    /// Clients whose queue overflowed or closed: dropped at the end of
    /// the turn (they get their backlog when they reconnect).
    gone: Vec<(ClientId, &'static str)>,
}

impl Clients {
    /// A client is attached; its nick is its user name. `seen_up_to`: the
    /// newest line now (older ones reach it by replay).
    pub fn attach(&mut self, a: Attached, seen_up_to: i64) -> AttachedInfo {
        let nick = a.login.user.clone();
        let info = AttachedInfo {
            first_of_user: !self.users.contains_key(&nick),
            first_of_all: self.by_id.is_empty(),
        };
        if info.first_of_user {
            let realname = match a.realname.trim() {
                "" => nick.clone(),
                r => short(r),
            };
            self.users.insert(
                nick.clone(),
                StaffUser {
                    realname,
                    signature: a.signature,
                },
            );
        }
        self.by_id.insert(
            a.id,
            Client {
                login: a.login,
                nick,
                role: a.role,
                caps: a.caps,
                cert: a.cert,
                seen_up_to,
                tracking: Tracking::Replaying,
                channels: BTreeSet::new(),
                monitor: BTreeSet::new(),
                tx: a.tx,
            },
        );
        info
    }

    /// Removes a client; the second value says it was its user's last.
    pub fn detach(&mut self, id: ClientId) -> Option<(Client, bool)> {
        let c = self.by_id.remove(&id)?;
        let last = !self.by_id.values().any(|o| o.nick == c.nick);
        if last {
            self.users.remove(&c.nick);
        }
        Some((c, last))
    }

    /// Client `id` was shown joining `channel`.
    pub fn joined(&mut self, id: ClientId, channel: &str) {
        if let Some(c) = self.by_id.get_mut(&id) {
            c.channels.insert(channel.to_ascii_lowercase());
        }
    }

    /// Client `id` was shown leaving `channel`.
    pub fn left(&mut self, id: ClientId, channel: &str) {
        if let Some(c) = self.by_id.get_mut(&id) {
            c.channels.remove(&channel.to_ascii_lowercase());
        }
    }

    /// Whether client `id` is in `channel` now.
    pub fn is_in(&self, id: ClientId, channel: &str) -> bool {
        self.by_id
            .get(&id)
            .is_some_and(|c| c.channels.contains(&channel.to_ascii_lowercase()))
    }

    /// The staff accounts msnbnc knows (at start).
    pub fn set_team(&mut self, names: impl IntoIterator<Item = String>) {
        self.team = names.into_iter().collect();
    }

    /// A staff account is added (`true` if it was not there).
    pub fn team_joined(&mut self, name: &str) -> bool {
        self.team.insert(name.to_owned())
    }

    /// A staff account is deleted (`true` if it was there).
    pub fn team_left(&mut self, name: &str) -> bool {
        self.away.remove(name);
        self.team.remove(name)
    }

    /// Every staff member — accounts and whoever is attached — by name.
    pub fn team(&self) -> BTreeSet<String> {
        self.team.iter().chain(self.users.keys()).cloned().collect()
    }

    /// The staff member called `nick` (any case), attached or not.
    pub fn member_named(&self, nick: &str) -> Option<String> {
        self.team
            .iter()
            .chain(self.users.keys())
            .find(|n| n.eq_ignore_ascii_case(nick))
            .cloned()
    }

    /// Why `nick` is away: what they said with AWAY, or that no device of
    /// theirs is attached; `None` while they are here.
    pub fn away_message(&self, nick: &str) -> Option<String> {
        if let Some(said) = self.away.get(nick) {
            return Some(said.clone());
        }
        (!self.users.contains_key(nick)).then(|| "not attached".to_owned())
    }

    /// Whether `nick` said AWAY (and has not come back).
    pub fn said_away(&self, nick: &str) -> bool {
        self.away.contains_key(nick)
    }

    /// AWAY: `Some(message)` marks `nick` away, `None` back.
    pub fn set_away(&mut self, nick: &str, message: Option<String>) {
        match message {
            Some(m) => self.away.insert(nick.to_owned(), m),
            None => self.away.remove(nick),
        };
    }

    /// MONITOR +: adds what fits under `limit`; returns what was added.
    pub fn monitor_add(&mut self, id: ClientId, nicks: &[String], limit: usize) -> Vec<String> {
        let Some(c) = self.by_id.get_mut(&id) else {
            return Vec::new();
        };
        let mut added = Vec::new();
        for n in nicks {
            if c.monitor.len() >= limit && !c.monitor.contains(&n.to_ascii_lowercase()) {
                break;
            }
            c.monitor.insert(n.to_ascii_lowercase());
            added.push(n.clone());
        }
        added
    }

    pub fn monitor_remove(&mut self, id: ClientId, nicks: &[String]) {
        if let Some(c) = self.by_id.get_mut(&id) {
            for n in nicks {
                c.monitor.remove(&n.to_ascii_lowercase());
            }
        }
    }

    pub fn monitor_clear(&mut self, id: ClientId) {
        if let Some(c) = self.by_id.get_mut(&id) {
            c.monitor.clear();
        }
    }

    /// What client `id` monitors.
    pub fn monitored(&self, id: ClientId) -> Vec<String> {
        self.by_id
            .get(&id)
            .map(|c| c.monitor.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// The clients monitoring `nick`.
    pub fn monitoring(&self, nick: &str) -> Vec<ClientId> {
        let key = nick.to_ascii_lowercase();
        self.by_id
            .iter()
            .filter(|(_, c)| c.monitor.contains(&key))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Every client's queue closes (shutdown).
    pub fn drop_all(&mut self) {
        self.by_id.clear();
        self.users.clear();
    }

    pub fn get(&self, id: ClientId) -> Option<&Client> {
        self.by_id.get(&id)
    }

    pub fn get_mut(&mut self, id: ClientId) -> Option<&mut Client> {
        self.by_id.get_mut(&id)
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&ClientId, &Client)> {
        self.by_id.iter()
    }

    pub fn ids(&self) -> Vec<ClientId> {
        self.by_id.keys().copied().collect()
    }

    /// Clients that negotiated `cap`.
    pub fn with(&self, cap: Cap) -> Vec<ClientId> {
        self.by_id
            .iter()
            .filter(|(_, c)| c.has(cap))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Every device of user `nick`.
    pub fn devices_of(&self, nick: &str) -> Vec<ClientId> {
        self.by_id
            .iter()
            .filter(|(_, c)| c.nick == nick)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Attached users, by name.
    pub fn users(&self) -> &BTreeMap<String, StaffUser> {
        &self.users
    }

    /// The attached user whose nick is `nick` (any case).
    pub fn user_named(&self, nick: &str) -> Option<&str> {
        self.users
            .keys()
            .find(|n| n.eq_ignore_ascii_case(nick))
            .map(String::as_str)
    }

    pub fn user_mut(&mut self, nick: &str) -> Option<&mut StaffUser> {
        self.users.get_mut(nick)
    }

    /// A staff member's real name (their nick until they give one).
    pub fn realname(&self, nick: &str) -> String {
        self.users
            .get(nick)
            .map_or_else(|| nick.to_owned(), |u| u.realname.clone())
    }

    /// Queues a line for a client's writer. A client whose queue is full
    /// is too slow, one whose writer ended is gone: either is dropped at
    /// the end of the turn.
    pub fn deliver(&mut self, id: ClientId, line: OutLine) {
        let Some(c) = self.by_id.get(&id) else { return };
        match c.tx.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => self.gone.push((id, "too slow: its queue is full")),
            Err(TrySendError::Closed(_)) => self.gone.push((id, "connection closed")),
        }
    }

    /// The clients found gone since the last call.
    pub fn take_gone(&mut self) -> Vec<(ClientId, &'static str)> {
        std::mem::take(&mut self.gone)
    }
}
